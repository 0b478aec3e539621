namespace DurableStreams.Transport.Internal;

/// <summary>Everything needed to build one HTTP request afresh for every attempt.</summary>
internal sealed class StreamRequest
{
    public StreamRequest(HttpMethod method, Uri url, string operation)
    {
        Method = method;
        Url = url;
        Operation = operation;
    }

    public HttpMethod Method { get; }

    /// <summary>The stream URL, without the parameters below.</summary>
    public Uri Url { get; }

    /// <summary>A short name for messages: "create", "append", "read"...</summary>
    public string Operation { get; }

    /// <summary>Protocol query parameters (offset, live, cursor).</summary>
    public List<KeyValuePair<string, string>> Query { get; } = [];

    /// <summary>Protocol and per-call headers; they win over client-wide headers of the same name.</summary>
    public List<KeyValuePair<string, string>> Headers { get; } = [];

    /// <summary>Per-call query parameters; they win over client-wide parameters of the same name.</summary>
    public IEnumerable<KeyValuePair<string, string>>? ExtraQuery { get; set; }

    /// <summary>Builds the body for one attempt; null for no body.</summary>
    public Func<HttpContent>? Content { get; set; }

    /// <summary>The Content-Type of the body (sent even when the body is empty).</summary>
    public string? ContentType { get; set; }

    public RetryMode RetryMode { get; set; } = RetryMode.Safe;

    /// <summary>
    /// Send one attempt only, even though the request is safe to repeat: the caller runs its own
    /// retry loop (the read loop, which consults the recovery hook on every failure).
    /// </summary>
    public bool SingleAttempt { get; set; }

    /// <summary>
    /// A read: response headers are returned before the body is read, the read retry options
    /// apply, and no per-attempt timeout cuts it when <see cref="Live"/> is set.
    /// </summary>
    public bool Streaming { get; set; }

    /// <summary>A live read (long-poll or SSE): no per-attempt timeout.</summary>
    public bool Live { get; set; }

    /// <summary>
    /// Set when an attempt failed in a way that may have reached the server, so a later answer
    /// can reflect this request's own earlier effect (a retried DELETE that finds nothing).
    /// </summary>
    public bool EarlierAttemptMayHaveArrived { get; set; }

    /// <summary>How many attempts were retried (for telemetry).</summary>
    public int Retries { get; set; }

    /// <summary>The body's length when known (for telemetry).</summary>
    public long? BodyLength { get; set; }

    public void AddHeader(string name, string value) => Headers.Add(new(name, value));
}
