namespace DurableStreams.Transport.Internal;

/// <summary>Everything needed to build one HTTP request afresh for every attempt.</summary>
internal sealed class StreamRequest
{
    public StreamRequest(HttpMethod method, Uri url, string operation, RequestKind kind)
    {
        Method = method;
        Url = url;
        Operation = operation;
        Kind = kind;
        Policy = RequestPolicy.Of(kind);
    }

    public HttpMethod Method { get; }

    /// <summary>The stream URL, without the parameters below.</summary>
    public Uri Url { get; }

    /// <summary>A short name for messages: "create", "append", "read"...</summary>
    public string Operation { get; }

    /// <summary>What the request is; it decides retries, streaming and the timeout (<see cref="Policy"/>).</summary>
    public RequestKind Kind { get; }

    /// <summary>How the request is sent: the <see cref="RequestPolicy.Of"/> row of its <see cref="Kind"/>.</summary>
    public RequestPolicy Policy { get; }

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
