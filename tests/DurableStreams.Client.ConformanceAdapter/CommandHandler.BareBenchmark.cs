using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance.Adapter;

/// <summary>
/// The benchmark operations done with a bare <see cref="HttpClient"/> and no SDK type: the floor that
/// every .NET client of the protocol shares on the official benchmark (ADAPTER.md §11). Chosen with
/// <c>DURABLE_STREAMS_BENCH_CLIENT</c>: <c>bare</c> is a default <see cref="SocketsHttpHandler"/>
/// (no Accept-Encoding, so the server never compresses); <c>bare-gzip</c> has the handler settings
/// the SDK's own default client had until it stopped asking for compression on loopback (every
/// request accepts compressed responses). Each operation is the
/// fewest requests PROTOCOL.md allows, timed and reported like the SDK path
/// (<see cref="BenchmarkAsync"/>). Throughput operations are not done: batching and pipelining
/// have no bare-request floor.
/// </summary>
internal sealed partial class CommandHandler
{
    /// <summary>Selects the client of the benchmark operations: unset, empty or <c>sdk</c> = the SDK; <c>bare</c>; <c>bare-gzip</c>.</summary>
    public const string BenchClientVariable = "DURABLE_STREAMS_BENCH_CLIENT";

    private readonly byte[] _bareBuffer = new byte[16 * 1024];
    private HttpClient? _bare;

    /// <summary>Creates the bare client the variable asks for (one per adapter process); returns its name, or null for the SDK.</summary>
    private string? StartBareClient()
    {
        StopBareClient();
        string? mode = Environment.GetEnvironmentVariable(BenchClientVariable);
        (string? name, _bare) = mode switch
        {
            null or "" or "sdk" => ((string?)null, (HttpClient?)null),
            "bare" => ("bare HttpClient", new HttpClient(new SocketsHttpHandler())),
            "bare-gzip" => ("bare HttpClient (gzip)", new HttpClient(new SocketsHttpHandler
            {
                // As DurableStreamClient's default client was before it stopped decompressing in the handler.
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                AutomaticDecompression = DecompressionMethods.All,
                ConnectTimeout = TimeSpan.FromSeconds(15),
                AllowAutoRedirect = false,
            })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            }),
            _ => throw new ArgumentException($"{BenchClientVariable} is '{mode}'; expected bare, bare-gzip, sdk or nothing.", BenchClientVariable),
        };
        return name;
    }

    private void StopBareClient()
    {
        _bare?.Dispose();
        _bare = null;
    }

    /// <summary>The operation with the bare client, or null when the bare mode does not do it.</summary>
    private async Task<JsonObject?> BareBenchmarkAsync(HttpClient http, string op, JsonObject operation, CancellationToken cancellationToken) => op switch
    {
        "append" => await BareAppendAsync(http, operation, cancellationToken),
        "create" => await BareCreateAsync(http, operation, cancellationToken),
        "read" => await BareReadAsync(http, operation, cancellationToken),
        "roundtrip" => await BareRoundtripAsync(http, operation, cancellationToken),
        _ => null,
    };

    private async Task<JsonObject> BareAppendAsync(HttpClient http, JsonObject operation, CancellationToken cancellationToken)
    {
        string path = Required(operation, "path");
        int size = (int)(OptionalLong(operation, "size") ?? 100);
        using HttpResponseMessage response = await http.PostAsync(UrlOf(path), Body(Payload(size), ContentTypeOf(path)), cancellationToken);
        response.EnsureSuccessStatusCode();
        return new JsonObject { ["bytesTransferred"] = size };
    }

    private async Task<JsonObject> BareCreateAsync(HttpClient http, JsonObject operation, CancellationToken cancellationToken)
    {
        string path = Required(operation, "path");
        string contentType = OptionalString(operation, "contentType") ?? OctetStream;
        using HttpResponseMessage response = await BarePutAsync(http, path, contentType, cancellationToken);
        return [];
    }

    /// <summary>Catch-up from the offset (or the start) until <c>Stream-Up-To-Date</c>, counting body bytes (PROTOCOL.md §5.6).</summary>
    private async Task<JsonObject> BareReadAsync(HttpClient http, JsonObject operation, CancellationToken cancellationToken)
    {
        string url = UrlOf(Required(operation, "path"));
        string offset = OptionalString(operation, "offset") ?? "-1";
        long bytes = 0;
        while (true)
        {
            using HttpResponseMessage response = await http.GetAsync($"{url}?offset={Uri.EscapeDataString(offset)}", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            bytes += await CountBodyAsync(response, cancellationToken);
            if (HeaderOf(response, "Stream-Up-To-Date") == "true" || HeaderOf(response, "Stream-Closed") == "true")
            {
                return new JsonObject { ["bytesTransferred"] = bytes };
            }

            offset = NextOffsetOf(response);
        }
    }

    /// <summary>
    /// PUT (200 or 201), a live read from the tail the PUT names, the append, and the first non-empty
    /// data of the read: the SDK path's sequence with plain requests.
    /// </summary>
    private async Task<JsonObject> BareRoundtripAsync(HttpClient http, JsonObject operation, CancellationToken cancellationToken)
    {
        string path = Required(operation, "path");
        int size = (int)(OptionalLong(operation, "size") ?? 100);
        string contentType = OptionalString(operation, "contentType") ?? OctetStream;
        bool sse = OptionalString(operation, "live") == "sse";

        string tail;
        using (HttpResponseMessage created = await BarePutAsync(http, path, contentType, cancellationToken))
        {
            tail = NextOffsetOf(created);
        }

        byte[] payload = RoundtripPayload(contentType, size);
        string url = UrlOf(path);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<long> first = sse ? FirstSseDataAsync(http, url, tail, stop.Token) : FirstLongPollDataAsync(http, url, tail, stop.Token);
        try
        {
            using HttpResponseMessage appended = await http.PostAsync(url, Body(payload, contentType), cancellationToken);
            appended.EnsureSuccessStatusCode();
            return new JsonObject { ["bytesTransferred"] = size + await first };
        }
        finally
        {
            // Abandons the live read when the append failed; a no-op once it has its data.
            await stop.CancelAsync();
        }
    }

    /// <summary>Long-polls until a response has a body (PROTOCOL.md §5.7: 204 on timeout names the tail to poll again).</summary>
    private async Task<long> FirstLongPollDataAsync(HttpClient http, string url, string offset, CancellationToken cancellationToken)
    {
        while (true)
        {
            using HttpResponseMessage response = await http.GetAsync($"{url}?offset={Uri.EscapeDataString(offset)}&live=long-poll", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            response.EnsureSuccessStatusCode();
            long bytes = await CountBodyAsync(response, cancellationToken);
            if (bytes > 0)
            {
                return bytes;
            }

            offset = NextOffsetOf(response);
        }
    }

    /// <summary>The payload size of the first non-empty <c>data</c> event (PROTOCOL.md §5.8; base64 on binary streams).</summary>
    private static async Task<long> FirstSseDataAsync(HttpClient http, string url, string offset, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.GetAsync($"{url}?offset={Uri.EscapeDataString(offset)}&live=sse", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        bool base64 = HeaderOf(response, "Stream-SSE-Data-Encoding") == "base64";
        using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (SseItem<string> item in SseParser.Create(body).EnumerateAsync(cancellationToken))
        {
            if (item.EventType == "data" && item.Data.Length > 0)
            {
                // Convert.FromBase64String skips the line breaks between a payload's data lines.
                return base64 ? Convert.FromBase64String(item.Data).Length : Encoding.UTF8.GetByteCount(item.Data);
            }
        }

        throw new HttpRequestException("The SSE response ended before a data event.");
    }

    private async Task<HttpResponseMessage> BarePutAsync(HttpClient http, string path, string contentType, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await http.PutAsync(UrlOf(path), Body([], contentType), cancellationToken);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            response.Dispose();
            throw new HttpRequestException($"PUT {path} answered {(int)response.StatusCode}.");
        }

        _contentTypes[path] = contentType;
        return response;
    }

    private async Task<long> CountBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken);
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(_bareBuffer, cancellationToken)) > 0)
        {
            total += read;
        }

        return total;
    }

    private static ByteArrayContent Body(byte[] bytes, string contentType) =>
        new(bytes) { Headers = { ContentType = MediaTypeHeaderValue.Parse(contentType) } };

    private static string? HeaderOf(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? values.FirstOrDefault() : null;

    private static string NextOffsetOf(HttpResponseMessage response) =>
        HeaderOf(response, "Stream-Next-Offset") ?? throw new HttpRequestException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered without Stream-Next-Offset.");
}
