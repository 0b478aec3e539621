namespace DurableStreams.Cli;

/// <summary>Turns a stream argument into a URL: a full http(s) URL as is, a bare name under the server's <c>/v1/stream/</c>.</summary>
internal static class StreamLocator
{
    public const string StreamPath = "/v1/stream/";

    public static Uri Resolve(string stream, string? server)
    {
        if (string.IsNullOrWhiteSpace(stream))
        {
            throw new UsageException("The stream name cannot be empty.");
        }

        if (stream.Contains("://", StringComparison.Ordinal))
        {
            return Uri.TryCreate(stream, UriKind.Absolute, out Uri? url) && IsHttp(url)
                ? url
                : throw new UsageException($"'{stream}' is not an http(s) URL.");
        }

        if (string.IsNullOrWhiteSpace(server))
        {
            throw new UsageException($"No server for the stream name '{stream}': set STREAM_URL or pass --url (or give the stream's full URL).");
        }

        if (!Uri.TryCreate(server, UriKind.Absolute, out Uri? baseUrl) || !IsHttp(baseUrl))
        {
            throw new UsageException($"The server URL '{server}' is not an absolute http(s) URL.");
        }

        // Names may have several path segments ("tenant/orders"); each is escaped on its own.
        string[] segments = stream.Trim('/').Split('/');
        string path = string.Join('/', segments.Select(Uri.EscapeDataString));
        return new Uri(server.TrimEnd('/') + StreamPath + path);
    }

    private static bool IsHttp(Uri url) => url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps;
}
