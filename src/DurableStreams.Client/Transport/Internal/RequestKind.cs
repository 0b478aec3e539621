namespace DurableStreams.Transport.Internal;

/// <summary>
/// What a request is. The kind alone decides how <see cref="HttpTransport"/> sends it; see
/// <see cref="RequestPolicy.Of"/> for the table.
/// </summary>
internal enum RequestKind
{
    /// <summary>Create, fork, HEAD, DELETE, close-only and subscription requests: safe to repeat.</summary>
    Control,

    /// <summary>A plain append whose body can be built again (bytes, a value, a seekable stream).</summary>
    PlainAppend,

    /// <summary>A plain append of a non-seekable stream: its body can be sent only once.</summary>
    OneShotAppend,

    /// <summary>One attempt of an idempotent producer's batch, deduplicated by (producer, epoch, seq).</summary>
    ProducerBatch,

    /// <summary>A catch-up read (no <c>live</c> parameter).</summary>
    CatchUpRead,

    /// <summary>A long-poll or SSE read, which may stay open as long as the server holds it.</summary>
    LiveRead,
}

/// <summary>Which failures a request may be retried after.</summary>
internal enum RetryScope
{
    /// <summary>
    /// The request is safe to repeat: network failures, 429 and 5xx are retried, and a network
    /// failure that outlives the retries is an ordinary <see cref="DurableStreamException"/>.
    /// </summary>
    Safe,

    /// <summary>
    /// A plain append, which the server would store twice if it were repeated after it arrived:
    /// retried only on 429/5xx answers (the server refused it) or when the request provably never
    /// left this machine. Any other network failure becomes <see cref="AppendOutcomeUnknownException"/>.
    /// </summary>
    UnsafeBody,

    /// <summary>
    /// Never repeated, not even to follow a redirect (a body that can only be sent once); a
    /// network failure that may have reached the server becomes <see cref="AppendOutcomeUnknownException"/>.
    /// </summary>
    Never,
}

/// <summary>How <see cref="HttpTransport"/> sends a request of one <see cref="RequestKind"/>.</summary>
/// <param name="Retry">Which failures may be retried (by Polly or by the caller's own loop).</param>
/// <param name="PollyRetries">
/// Whether <see cref="HttpTransport.SendAsync"/> repeats the request through the Polly pipeline built
/// from <see cref="DurableStreamClientOptions.Retry"/>; when false it sends one attempt and any retry
/// is the caller's.
/// </param>
/// <param name="StreamedResponse">
/// Whether the response is returned as soon as its headers arrive
/// (<see cref="HttpCompletionOption.ResponseHeadersRead"/>) so the caller reads the body as it comes.
/// </param>
/// <remarks>
/// <see cref="DurableStreamClientOptions.RequestTimeout"/> bounds every attempt of every kind (for a
/// live read, the wait for its response headers), so it has no column here.
/// </remarks>
internal readonly record struct RequestPolicy(RetryScope Retry, bool PollyRetries, bool StreamedResponse)
{
    /// <summary>The one table of request kinds.</summary>
    /// <remarks>
    /// Polly retries only control operations and plain appends, where the same request is repeated
    /// unchanged. Reads and producer batches own their attempt loops (sharing <see cref="Backoff"/>):
    /// between attempts they resume from state that changes — a read from the offset and cursor of
    /// the last response, consulting its recovery hook and switching SSE to long-poll; a producer
    /// batch keeps or renumbers its (epoch, seq) and waits for earlier batches or a fence — which a
    /// retry strategy repeating a fixed request cannot express.
    /// </remarks>
    public static RequestPolicy Of(RequestKind kind) => kind switch
    {
        RequestKind.Control => new(RetryScope.Safe, PollyRetries: true, StreamedResponse: false),
        RequestKind.PlainAppend => new(RetryScope.UnsafeBody, PollyRetries: true, StreamedResponse: false),
        RequestKind.OneShotAppend => new(RetryScope.Never, PollyRetries: false, StreamedResponse: false),
        RequestKind.ProducerBatch => new(RetryScope.Safe, PollyRetries: false, StreamedResponse: false),
        RequestKind.CatchUpRead => new(RetryScope.Safe, PollyRetries: false, StreamedResponse: true),
        RequestKind.LiveRead => new(RetryScope.Safe, PollyRetries: false, StreamedResponse: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown request kind."),
    };
}
