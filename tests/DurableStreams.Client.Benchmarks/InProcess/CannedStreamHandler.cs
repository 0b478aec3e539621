using System.Net;
using System.Net.Http.Headers;

namespace DurableStreams.Benchmarks.InProcess;

/// <summary>
/// An in-memory stream server for the in-process benchmarks: answers every read with canned bytes
/// built once, so that a benchmark measures the SDK's own cost (no sockets, no server).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>live=sse</c>: <see cref="SseBody"/> (which the benchmark ends with a control event carrying
/// <c>streamClosed:true</c>).</item>
/// <item><c>live=long-poll</c>: 204 with <c>Stream-Closed: true</c> (EOF).</item>
/// <item>catch-up from <c>offset=-1</c>: <see cref="CatchUpBody"/> with <c>Stream-Up-To-Date</c> (and
/// <c>Stream-Closed</c> unless there is an SSE body to read); from any other offset: an empty body with the same headers.</item>
/// <item>HEAD: the stream's metadata. POST: accepted (the producer benchmarks).</item>
/// </list>
/// The response bodies wrap the shared arrays without copying them.
/// </remarks>
internal sealed class CannedStreamHandler : HttpMessageHandler
{
    /// <summary>The tail offset every canned response reports.</summary>
    public const string TailOffset = "0000000000000001_0000000000000000";

    private readonly string _contentType;
    private long _appendTail;

    public CannedStreamHandler(string contentType, byte[]? sseBody = null, byte[]? catchUpBody = null)
    {
        _contentType = contentType;
        SseBody = sseBody ?? [];
        CatchUpBody = catchUpBody ?? [];
    }

    public byte[] SseBody { get; }

    public byte[] CatchUpBody { get; }

    /// <summary>Whether the stream's SSE data events are base64 (PROTOCOL.md §5.8: neither text/* nor JSON).</summary>
    public bool Base64 => !(_contentType.StartsWith("text/", StringComparison.OrdinalIgnoreCase) || _contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method == HttpMethod.Post)
        {
            if (request.Content is not null)
            {
                await request.Content.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            }

            var accepted = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            accepted.Headers.TryAddWithoutValidation("Stream-Next-Offset", $"0000000000000000_{Interlocked.Increment(ref _appendTail):D16}");
            return accepted;
        }

        string query = request.RequestUri!.Query;
        if (query.Contains("live=sse", StringComparison.Ordinal))
        {
            var sse = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(SseBody) };
            sse.Content.Headers.ContentType = new MediaTypeHeaderValue("text/event-stream");
            sse.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
            if (Base64)
            {
                sse.Headers.TryAddWithoutValidation("Stream-SSE-Data-Encoding", "base64");
            }

            return sse;
        }

        HttpResponseMessage response;
        if (query.Contains("live=long-poll", StringComparison.Ordinal))
        {
            response = new HttpResponseMessage(HttpStatusCode.NoContent) { Content = new ByteArrayContent([]) };
        }
        else
        {
            bool fromStart = request.Method == HttpMethod.Get && (!query.Contains("offset=", StringComparison.Ordinal) || query.Contains("offset=-1", StringComparison.Ordinal));
            response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(fromStart ? CatchUpBody : []) };
        }

        response.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(_contentType);
        response.Headers.TryAddWithoutValidation("Stream-Next-Offset", TailOffset);
        response.Headers.TryAddWithoutValidation("Stream-Up-To-Date", "true");
        response.Headers.TryAddWithoutValidation("Stream-Cursor", "1");
        if (SseBody.Length == 0)
        {
            // A stream read over SSE stays open until the SSE body's last control event closes it.
            response.Headers.TryAddWithoutValidation("Stream-Closed", "true");
        }

        return response;
    }
}
