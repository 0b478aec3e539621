using System.Net.Http.Headers;
using System.Text;

namespace DurableStreams.Testing.Tests;

/// <summary>Plain HTTP against the server, so tests see exact status codes and headers.</summary>
internal static class Raw
{
    public static readonly HttpClient Http = new() { Timeout = Timeout.InfiniteTimeSpan };

    public static async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, string url, string? body = null, string? contentType = "text/plain",
        IEnumerable<KeyValuePair<string, string>>? headers = null, CancellationToken cancellationToken = default) =>
        await SendBytesAsync(method, url, body is null ? null : Encoding.UTF8.GetBytes(body), contentType, headers, cancellationToken);

    public static async Task<HttpResponseMessage> SendBytesAsync(
        HttpMethod method, string url, byte[]? body, string? contentType = "text/plain",
        IEnumerable<KeyValuePair<string, string>>? headers = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null)
            {
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }
        }

        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    public static string? Header(this HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    /// <summary>Reads the whole stream with catch-up GETs, following Stream-Next-Offset until up to date.</summary>
    public static async Task<string> ReadAllAsync(string url, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        string offset = "-1";
        while (true)
        {
            using var response = await Http.GetAsync($"{url}?offset={offset}", cancellationToken);
            response.EnsureSuccessStatusCode();
            text.Append(await response.Content.ReadAsStringAsync(cancellationToken));
            if (response.Header("Stream-Up-To-Date") == "true")
            {
                return text.ToString();
            }

            offset = response.Header("Stream-Next-Offset") ?? throw new InvalidOperationException("no Stream-Next-Offset");
        }
    }
}
