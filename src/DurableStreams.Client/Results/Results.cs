namespace DurableStreams;

/// <summary>The outcome of creating (or forking) a stream.</summary>
public sealed class CreateStreamResult
{
    internal CreateStreamResult(DurableStream stream, bool created, Offset nextOffset, string? contentType, bool streamClosed)
    {
        Stream = stream;
        Created = created;
        NextOffset = nextOffset;
        ContentType = contentType;
        StreamClosed = streamClosed;
    }

    /// <summary>A handle on the stream.</summary>
    public DurableStream Stream { get; }

    /// <summary>
    /// <see langword="true"/> when this call created the stream (201); <see langword="false"/> when a
    /// stream with the same configuration already existed (200).
    /// </summary>
    public bool Created { get; }

    /// <summary>The tail offset after any initial data.</summary>
    public Offset NextOffset { get; }

    /// <summary>The stream's content type, as the server reported it.</summary>
    public string? ContentType { get; }

    /// <summary>Whether the stream is closed.</summary>
    public bool StreamClosed { get; }
}

/// <summary>The outcome of an append.</summary>
public sealed class AppendResult
{
    internal AppendResult(Offset nextOffset, bool streamClosed)
    {
        NextOffset = nextOffset;
        StreamClosed = streamClosed;
    }

    /// <summary>The stream's tail offset after the append: where the next append will land.</summary>
    public Offset NextOffset { get; }

    /// <summary>Whether the stream is now closed.</summary>
    public bool StreamClosed { get; }
}

/// <summary>The outcome of closing a stream (PROTOCOL.md §5.3).</summary>
public sealed class CloseResult
{
    internal CloseResult(Offset finalOffset)
    {
        FinalOffset = finalOffset;
    }

    /// <summary>The stream's final tail offset: readers that reach it see end-of-stream.</summary>
    public Offset FinalOffset { get; }
}

/// <summary>A stream's metadata, from <c>HEAD</c> (PROTOCOL.md §5.5).</summary>
public sealed class StreamMetadata
{
    internal StreamMetadata(string? contentType, Offset nextOffset, TimeSpan? ttl, DateTimeOffset? expiresAt, bool streamClosed, string? etag)
    {
        ContentType = contentType;
        NextOffset = nextOffset;
        Ttl = ttl;
        ExpiresAt = expiresAt;
        StreamClosed = streamClosed;
        ETag = etag;
    }

    /// <summary>The stream's content type.</summary>
    public string? ContentType { get; }

    /// <summary>The tail offset: where the next append will land.</summary>
    public Offset NextOffset { get; }

    /// <summary>The sliding time-to-live, when the stream has one.</summary>
    public TimeSpan? Ttl { get; }

    /// <summary>The absolute expiry time, when the stream has one.</summary>
    public DateTimeOffset? ExpiresAt { get; }

    /// <summary>Whether the stream is closed (no more appends).</summary>
    public bool StreamClosed { get; }

    /// <summary>The entity tag the server sent, if any.</summary>
    public string? ETag { get; }
}
