namespace DurableStreams;

/// <summary>Where a read starts, how it follows the stream, and what it sends (PROTOCOL.md §5.6-§5.8).</summary>
public sealed class ReadOptions
{
    /// <summary>
    /// Where to start: <see cref="DurableStreams.Offset.Beginning"/>, <see cref="DurableStreams.Offset.Now"/>,
    /// or an offset the SDK returned earlier. Ignored when <see cref="Checkpoint"/> is set.
    /// Default: <see cref="DurableStreams.Offset.Beginning"/>.
    /// </summary>
    public Offset Offset { get; set; }

    /// <summary>
    /// A checkpoint saved from an earlier read (<see cref="StreamItem{T}.Checkpoint"/> or
    /// <see cref="StreamChunk.Checkpoint"/>): the read resumes exactly after the item it was taken from.
    /// Default: none (start at <see cref="Offset"/>).
    /// </summary>
    public ReadCheckpoint? Checkpoint { get; set; }

    /// <summary>
    /// How to follow the stream once caught up: SSE after a catch-up, long-poll from the first
    /// request (see <see cref="LiveMode.LongPoll"/>). Ignored by the <c>ReadAll</c> methods. Default:
    /// <see cref="LiveMode.Off"/>.
    /// </summary>
    public LiveMode Live { get; set; }

    /// <summary>Headers added to every request of this read, after the client's default headers. Default: none.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Query parameters added to every request of this read, after the client's defaults. Default: none.</summary>
    public IDictionary<string, string> QueryParameters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Retry policy for failed requests of this read (network errors, 429, 5xx), from the first
    /// request on. Default: the client's <see cref="DurableStreamClientOptions.Retry"/> until the read
    /// has received a successful response (5 retries), then its
    /// <see cref="DurableStreamClientOptions.ReadRetry"/> (retry without limit).
    /// </summary>
    public RetryOptions? Retry { get; set; }

    /// <summary>
    /// Called on every failed request of the read — the first request, catch-up pages, long-polls
    /// and SSE reconnects — before the SDK decides whether to retry. It may supply fresh headers
    /// (for example a new token after a 401) and decide to retry or fail. Returning
    /// <see cref="ReadRecovery.Default"/> keeps the SDK's own decision. Default: none.
    /// </summary>
    /// <remarks>
    /// "Failed" means an error status or a network failure, including one in the middle of a
    /// response body. A response that breaks the protocol (malformed JSON, a malformed SSE control
    /// event) is not a failed request: it fails the read with <see cref="DurableStreamProtocolException"/>
    /// without calling the hook. The hook runs on the reading task; an exception it throws ends the read.
    /// </remarks>
    public Func<ReadFailureContext, CancellationToken, ValueTask<ReadRecovery>>? OnFailure { get; set; }

    /// <summary>
    /// The largest Server-Sent Event the read accepts, in bytes of data; a bigger one fails the read
    /// with a <see cref="DurableStreamProtocolException"/> instead of exhausting memory, as soon as
    /// its joined <c>data</c> lines exceed it; so does a line longer than this plus 64 KiB, before
    /// the line is held whole. Default: 16 MiB.
    /// </summary>
    public int MaxSseEventBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The most data the read holds in memory for one unit it can only hand out whole: the
    /// decompressed body of one catch-up or long-poll response of a JSON stream (its messages are
    /// framed by the closing bracket), or the data events of one SSE group before their control
    /// event. A larger one fails the read with a <see cref="DurableStreamProtocolException"/>
    /// instead of exhausting memory; servers send responses far below it. Responses of other
    /// streams are handed out in parts of at most 1 MiB and are not limited. A JSON body's
    /// <c>Content-Length</c>, when it is within this limit, sizes the array the body is read into.
    /// Default: 64 MiB.
    /// </summary>
    public int MaxBufferedBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>
    /// Whether an SSE read hands out every group of events as a chunk of its own (the data events up
    /// to their control event, PROTOCOL.md §5.8). By default a chunk holds all the groups already
    /// received when the caller asks for the next one (up to 1 MiB of data), as a long-poll response
    /// holds all the data appended since the last one: the read never waits to fill a chunk, and a
    /// caller that keeps up still gets each group as it arrives. Byte boundaries inside a chunk carry
    /// no meaning in the protocol; set this when the caller needs the server's grouping anyway.
    /// Default: <see langword="false"/>.
    /// </summary>
    public bool OneChunkPerSseGroup { get; set; }

    /// <summary>
    /// Whether the read asks for the next page of a backlog before the caller is done with the
    /// current one. When a catch-up or long-poll response says the read is not up to date
    /// (PROTOCOL.md §5.6), its <c>Stream-Next-Offset</c> is already known from the headers, so the
    /// request for that offset is sent at once, while this response's body is still being read and
    /// handed out: the server prepares the next page while the caller works on this one, and over a
    /// network each page's round trip overlaps with receiving and handling the one before. The read
    /// is never more than one request ahead. On a JSON stream, whose pages are read whole before they
    /// are handed out anyway, the page ahead is also received (and, for the raw chunks, checked) on
    /// another thread: one page more in memory, at most <see cref="MaxBufferedBytes"/>. On other
    /// streams its body waits unread (at most what the connection buffers). It is cancelled and
    /// released when the read ends, fails or is cancelled before it gets there. A failure of the
    /// request ahead is handled like any other (retries, <see cref="OnFailure"/>) when the read gets
    /// to it. Live requests (long-polls, SSE) are never sent ahead. Default: <see langword="true"/>.
    /// </summary>
    public bool ReadAhead { get; set; } = true;

    /// <summary>
    /// After this many SSE connections in a row end "short" (sooner than
    /// <see cref="SseShortConnectionDuration"/>, without data), the read switches to long-poll for
    /// the rest of the read: something between the client and the server, typically a buffering
    /// proxy, is breaking the event stream, and long-poll needs only plain request/response.
    /// Short connections before that are retried with the read's backoff. 0 never switches.
    /// Used only when the read follows the stream over SSE (<see cref="LiveMode.Sse"/>, or
    /// <see cref="LiveMode.Auto"/> on a text or JSON stream). Default: 3.
    /// </summary>
    public int SseFallbackShortConnections { get; set; } = 3;

    /// <summary>
    /// An SSE connection that the server ends sooner than this after it connected, without having
    /// delivered data, counts as short (see <see cref="SseFallbackShortConnections"/>). Must be
    /// positive. Default: 1 second.
    /// </summary>
    public TimeSpan SseShortConnectionDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Checks the values together. Every read calls it when it is started, before any request; call
    /// it yourself to check options built from configuration early.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the parameter name says which.</exception>
    /// <exception cref="ArgumentException">A header or query parameter name is empty, or a query parameter is one the SDK sets.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Live))
        {
            throw new ArgumentOutOfRangeException(nameof(Live), Live, "Unknown live mode.");
        }

        if (MaxSseEventBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSseEventBytes), MaxSseEventBytes, "MaxSseEventBytes must be positive.");
        }

        if (MaxBufferedBytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBufferedBytes), MaxBufferedBytes, "MaxBufferedBytes must be positive.");
        }

        if (SseFallbackShortConnections < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(SseFallbackShortConnections), SseFallbackShortConnections, "SseFallbackShortConnections cannot be negative (0 never switches to long-poll).");
        }

        if (SseShortConnectionDuration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SseShortConnectionDuration), SseShortConnectionDuration, "SseShortConnectionDuration must be positive.");
        }

        Retry?.Validate();
        foreach (KeyValuePair<string, string> header in Headers)
        {
            if (string.IsNullOrWhiteSpace(header.Key))
            {
                throw new ArgumentException("A header name cannot be empty.", nameof(Headers));
            }
        }

        foreach (KeyValuePair<string, string> parameter in QueryParameters)
        {
            if (string.IsNullOrEmpty(parameter.Key))
            {
                throw new ArgumentException("A query parameter name cannot be empty.", nameof(QueryParameters));
            }

            if (parameter.Key is "offset" or "live" or "cursor")
            {
                throw new ArgumentException($"The query parameter '{parameter.Key}' is set by the SDK; use Offset, Checkpoint or Live instead.", nameof(QueryParameters));
            }
        }
    }
}
