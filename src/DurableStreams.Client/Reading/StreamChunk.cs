namespace DurableStreams;

/// <summary>
/// One step of a read: the data of one catch-up or long-poll response, or of the groups of
/// Server-Sent Events (data events ended by a control event) received so far, with the stream
/// position after it.
/// </summary>
/// <remarks>
/// A large response of a stream that is not JSON is handed out in parts of at most 1 MiB, so that
/// a big catch-up never sits in memory whole; only the last part carries the response's
/// <see cref="NextOffset"/>, <see cref="UpToDate"/> and <see cref="StreamClosed"/>, and the
/// <see cref="Checkpoint"/> of every part resumes exactly after it. A response of a JSON stream is
/// read whole, up to <see cref="ReadOptions.MaxBufferedBytes"/>.
/// 
/// Over SSE a chunk holds every group already received when it is asked for (up to 1 MiB of data;
/// the read never waits for more to fill it), and ends at the last group's control event; with
/// <see cref="ReadOptions.OneChunkPerSseGroup"/> each group is a chunk of its own.
/// 
/// A read also yields chunks with empty <see cref="Data"/> (a long-poll that timed out, an SSE
/// keep-alive, an empty catch-up) so that callers see <see cref="UpToDate"/> and
/// <see cref="StreamClosed"/> change. A <see cref="LiveMode.LongPoll"/> read starts with a long-poll
/// (PROTOCOL.md §5.7), so at the tail of an open stream its first chunk comes with new data or when the
/// long-poll times out (<see cref="Status"/> 204), not at once. For a JSON stream (PROTOCOL.md §9.1) <see cref="Data"/> is
/// always one JSON array holding the chunk's messages, also when SSE delivered them as several events,
/// or empty when the chunk has no messages.
/// The caller owns <see cref="Data"/>: the SDK never reuses its memory.
/// </remarks>
public sealed class StreamChunk
{
    internal StreamChunk(ReadOnlyMemory<byte> data, Offset startOffset, Offset nextOffset, string? cursor, bool upToDate, bool streamClosed, int status, string? contentType)
    {
        Data = data;
        ContentType = contentType;
        StartOffset = startOffset;
        NextOffset = nextOffset;
        Cursor = cursor;
        UpToDate = upToDate;
        StreamClosed = streamClosed;
        Status = status;
    }

    /// <summary>The bytes of this chunk; empty when the response carried no data.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The offset this chunk's data starts at (the offset its request asked for).</summary>
    public Offset StartOffset { get; }

    /// <summary>
    /// The offset after this chunk: where the next read continues (<c>Stream-Next-Offset</c>). For a
    /// part of a large response other than the last (see remarks) it is <see cref="StartOffset"/>,
    /// since offsets exist only at response boundaries (PROTOCOL.md §8); use <see cref="Checkpoint"/> to resume.
    /// </summary>
    public Offset NextOffset { get; }

    /// <summary>The last non-empty <c>Stream-Cursor</c> the server sent, or <see langword="null"/>.</summary>
    public string? Cursor { get; }

    /// <summary>Whether the reader has caught up with the tail of the stream. Not the same as the end of the stream.</summary>
    public bool UpToDate { get; }

    /// <summary>Whether the stream is closed and this chunk reaches its final offset: the read ends after this chunk.</summary>
    public bool StreamClosed { get; }

    /// <summary>The HTTP status of the response this chunk came from: 200, or 204 for a long-poll that timed out.</summary>
    public int Status { get; }

    /// <summary>The stream's content type, from the response's <c>Content-Type</c>.</summary>
    public string? ContentType { get; }

    /// <summary>How many leading items (JSON messages, or bytes on other streams) the SDK dropped from this chunk because a checkpoint had already processed them.</summary>
    internal long SkippedItems { get; init; }

    /// <summary>Whether more parts of the same response follow (a large response split into parts).</summary>
    internal bool Partial { get; init; }

    /// <summary>For a part of a split response: how many bytes of the response came before this part's original data.</summary>
    internal long ResponsePosition { get; init; }

    /// <summary>A checkpoint that resumes right after this chunk.</summary>
    public ReadCheckpoint Checkpoint => Partial
        ? new(StartOffset, ResponsePosition + SkippedItems + Data.Length, Cursor)
        : new(NextOffset, 0, Cursor);
}
