using System.Globalization;
using System.Net.Http.Headers;

namespace DurableStreams.Protocol.Internal;

/// <summary>Reads protocol headers from responses.</summary>
internal static class ResponseHeaders
{
    /// <summary>
    /// The first value of a protocol header, read without validation: HttpClient has no parser for
    /// the protocol's headers, so the validated view returns the same text, but only after converting
    /// the header's stored entry and allocating for it on every lookup.
    /// </summary>
    public static string? Get(HttpResponseMessage response, string name)
    {
        if (response.Headers.NonValidated.TryGetValues(name, out HeaderStringValues values) ||
            response.Content.Headers.NonValidated.TryGetValues(name, out values))
        {
            foreach (string value in values)
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>PROTOCOL.md §4.1: the header counts only when its value is exactly "true", ignoring case.</summary>
    public static bool IsTrue(HttpResponseMessage response, string name) =>
        string.Equals(Get(response, name)?.Trim(), ProtocolHeaders.True, StringComparison.OrdinalIgnoreCase);

    public static bool IsClosed(HttpResponseMessage response) => IsTrue(response, ProtocolHeaders.Closed);

    public static Offset? TryGetOffset(HttpResponseMessage response, string name) =>
        Offset.TryParse(Get(response, name), out Offset offset) ? offset : null;

    /// <summary>The <c>Stream-Next-Offset</c> a successful response must carry.</summary>
    public static Offset RequireNextOffset(HttpResponseMessage response, Uri streamUrl, string operation)
    {
        string? value = Get(response, ProtocolHeaders.NextOffset);
        if (value is null)
        {
            throw new DurableStreamProtocolException(
                $"The {operation} response from {DurableStreams.Internal.UrlUtilities.WithoutQuery(streamUrl)} (HTTP {(int)response.StatusCode}) has no {ProtocolHeaders.NextOffset} header.",
                streamUrl);
        }

        if (!Offset.TryParse(value, out Offset offset) || offset.IsNow)
        {
            throw new DurableStreamProtocolException(
                $"The {operation} response from {DurableStreams.Internal.UrlUtilities.WithoutQuery(streamUrl)} has an invalid {ProtocolHeaders.NextOffset} header '{value}'.",
                streamUrl);
        }

        return offset;
    }

    public static long? TryGetInt64(HttpResponseMessage response, string name) =>
        long.TryParse(Get(response, name), NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : null;

    public static string? ContentType(HttpResponseMessage response) =>
        response.Content.Headers.TryGetValues("Content-Type", out IEnumerable<string>? values) ? string.Join(", ", values) : null;
}
