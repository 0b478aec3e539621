namespace DurableStreams.Transport.Internal;

/// <summary>Which failures a request may be retried after.</summary>
internal enum RetryMode
{
    /// <summary>
    /// The request is safe to repeat (reads, HEAD, PUT create, DELETE, close-only, producer
    /// requests deduplicated by the server): network failures, 429 and 5xx are retried.
    /// </summary>
    Safe,

    /// <summary>
    /// A plain append, which the server would store twice if it were repeated after it arrived:
    /// retried only on 429/5xx answers (the server refused it) or when the request provably never
    /// left this machine. Any other network failure becomes <see cref="AppendOutcomeUnknownException"/>.
    /// </summary>
    UnsafeBody,

    /// <summary>Never retried (a body that can only be sent once).</summary>
    None,
}
