namespace DurableStreams;

/// <summary>How to create a stream (PROTOCOL.md §5.1).</summary>
public class CreateOptions
{
    /// <summary>
    /// The stream's URL: absolute, or relative to the client's base address when the client has one.
    /// Required.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>The stream's content type, stored as given. Default: <c>application/octet-stream</c>.</summary>
    public string? ContentType { get; set; }

    /// <summary>
    /// A sliding time-to-live: the stream expires after this long without reads or writes. Sent as
    /// whole seconds (<c>Stream-TTL</c>). Cannot be combined with <see cref="ExpiresAt"/>. Default: none.
    /// </summary>
    public TimeSpan? Ttl { get; set; }

    /// <summary>An absolute expiry time (<c>Stream-Expires-At</c>). Cannot be combined with <see cref="Ttl"/>. Default: none.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    /// <summary>Create the stream already closed: <see cref="InitialData"/> becomes its whole content. Default: <see langword="false"/>.</summary>
    public bool Closed { get; set; }

    /// <summary>The stream's first bytes, sent as they are (for a JSON stream, a JSON value or array). Default: none.</summary>
    public ReadOnlyMemory<byte> InitialData { get; set; }

    /// <summary>Headers added to this request only. Default: none.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>How to fork a stream (PROTOCOL.md §4.2): a new stream that starts with the source's data up to an offset.</summary>
public sealed class ForkOptions : CreateOptions
{
    /// <summary>
    /// Where the fork diverges from the source: it inherits every byte before this offset.
    /// Must be an offset the server returned for the source. Default: the source's tail.
    /// </summary>
    public Offset? Offset { get; set; }

    /// <summary>
    /// A refinement past <see cref="Offset"/>: for JSON streams a number of messages, for other
    /// streams a number of bytes (<c>Stream-Fork-Sub-Offset</c>). Default: none (0).
    /// </summary>
    public long? SubOffset { get; set; }
}

/// <summary>Per-call options of an append (PROTOCOL.md §5.2).</summary>
public sealed class AppendOptions
{
    /// <summary>
    /// A writer sequence value (<c>Stream-Seq</c>); the server rejects a value that is not greater,
    /// by ordinal string comparison, than the last one it accepted. Default: none.
    /// </summary>
    public string? Sequence { get; set; }

    /// <summary>Headers added to this request only. Default: none.</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Query parameters added to this request only. Default: none.</summary>
    public IDictionary<string, string> QueryParameters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
}
