using System.Text;

namespace DurableStreams.Internal;

internal static class UrlUtilities
{
    public static bool IsHttpUrl(Uri url) =>
        url.IsAbsoluteUri && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps);

    /// <summary>
    /// Builds the request URL: the stream URL's own query, then <paramref name="parameters"/>,
    /// ordered by key (PROTOCOL.md §10.1 asks for lexicographic order for cache hits), every key
    /// and value percent-encoded (§8: offsets must be URL-encoded).
    /// </summary>
    public static Uri WithQuery(Uri url, List<KeyValuePair<string, string>> parameters)
    {
        if (parameters.Count == 0)
        {
            return url;
        }

        // Stable sort by key so that a caller's duplicate keys keep their relative order: an
        // insertion sort, as there are a handful of parameters.
        KeyValuePair<string, string>[] sorted = [.. parameters];
        for (int i = 1; i < sorted.Length; i++)
        {
            KeyValuePair<string, string> current = sorted[i];
            int j = i - 1;
            while (j >= 0 && string.CompareOrdinal(sorted[j].Key, current.Key) > 0)
            {
                sorted[j + 1] = sorted[j];
                j--;
            }

            sorted[j + 1] = current;
        }

        var builder = new StringBuilder(url.GetLeftPart(UriPartial.Path));
        string existing = url.Query;
        char separator = '?';
        if (existing.Length > 1)
        {
            builder.Append(existing);
            separator = '&';
        }

        foreach (KeyValuePair<string, string> parameter in sorted)
        {
            builder.Append(separator)
                .Append(Uri.EscapeDataString(parameter.Key))
                .Append('=')
                .Append(Uri.EscapeDataString(parameter.Value));
            separator = '&';
        }

        return new Uri(builder.ToString(), UriKind.Absolute);
    }

    /// <summary>The URL without query or fragment, for messages and telemetry.</summary>
    public static string WithoutQuery(Uri url) => url.GetLeftPart(UriPartial.Path);
}
