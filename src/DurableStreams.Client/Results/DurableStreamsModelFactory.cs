namespace DurableStreams;

/// <summary>
/// Builds the SDK's result types with chosen values, so that code which consumes them can be unit
/// tested without a server: a fake <see cref="DurableStream"/> (a subclass overriding the operations
/// the code under test calls) returns what these methods make.
/// </summary>
/// <remarks>
/// The SDK itself never calls these methods. Every parameter has the meaning of the property of the
/// same name; nothing is validated beyond what the type's own properties promise.
/// </remarks>
public static class DurableStreamsModelFactory
{
    /// <summary>Makes a <see cref="CreateStreamResult"/>.</summary>
    /// <param name="stream">The handle returned as <see cref="CreateStreamResult.Stream"/>.</param>
    /// <param name="created">Whether the call created the stream (201) or found it (200).</param>
    /// <param name="nextOffset">The tail offset after any initial data.</param>
    /// <param name="contentType">The stream's content type.</param>
    /// <param name="streamClosed">Whether the stream is closed.</param>
    /// <returns>The result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is <see langword="null"/>.</exception>
    public static CreateStreamResult CreateStreamResult(DurableStream stream, bool created = true, Offset nextOffset = default, string? contentType = null, bool streamClosed = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new(stream, created, nextOffset, contentType, streamClosed);
    }

    /// <summary>Makes an <see cref="AppendResult"/>.</summary>
    /// <param name="nextOffset">The tail offset after the append.</param>
    /// <param name="streamClosed">Whether the stream is now closed.</param>
    /// <returns>The result.</returns>
    public static AppendResult AppendResult(Offset nextOffset, bool streamClosed = false) => new(nextOffset, streamClosed);

    /// <summary>Makes a <see cref="CloseResult"/>.</summary>
    /// <param name="finalOffset">The stream's final tail offset.</param>
    /// <returns>The result.</returns>
    public static CloseResult CloseResult(Offset finalOffset) => new(finalOffset);

    /// <summary>Makes a <see cref="StreamMetadata"/>.</summary>
    /// <param name="contentType">The stream's content type.</param>
    /// <param name="nextOffset">The tail offset.</param>
    /// <param name="ttl">The stream's time-to-live, if it has one.</param>
    /// <param name="expiresAt">The stream's absolute expiry, if it has one.</param>
    /// <param name="streamClosed">Whether the stream is closed.</param>
    /// <param name="etag">The response's entity tag.</param>
    /// <returns>The result.</returns>
    public static StreamMetadata StreamMetadata(string? contentType = null, Offset nextOffset = default, TimeSpan? ttl = null, DateTimeOffset? expiresAt = null, bool streamClosed = false, string? etag = null) =>
        new(contentType, nextOffset, ttl, expiresAt, streamClosed, etag);

    /// <summary>Makes a whole-response <see cref="StreamChunk"/> (its checkpoint resumes at <paramref name="nextOffset"/>).</summary>
    /// <param name="data">The chunk's bytes; for a JSON stream, one JSON array of its messages.</param>
    /// <param name="startOffset">The offset the chunk's data starts at.</param>
    /// <param name="nextOffset">The offset after the chunk.</param>
    /// <param name="upToDate">Whether the reader has caught up.</param>
    /// <param name="streamClosed">Whether the stream is closed and this chunk reaches its end.</param>
    /// <param name="cursor">The last <c>Stream-Cursor</c>, if any.</param>
    /// <param name="status">The HTTP status the chunk came with (200, or 204 for an empty long-poll).</param>
    /// <param name="contentType">The stream's content type.</param>
    /// <returns>The chunk.</returns>
    public static StreamChunk StreamChunk(ReadOnlyMemory<byte> data, Offset startOffset, Offset nextOffset, bool upToDate = false, bool streamClosed = false, string? cursor = null, int status = 200, string? contentType = null) =>
        new(data, startOffset, nextOffset, cursor, upToDate, streamClosed, status, contentType);

    /// <summary>Makes a <see cref="StreamItem{T}"/>.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="value">The item.</param>
    /// <param name="checkpoint">Where a read resumes after the item.</param>
    /// <param name="upToDate">Whether this is the last item the server had.</param>
    /// <param name="streamClosed">Whether this is the last item of a closed stream.</param>
    /// <returns>The item.</returns>
    public static StreamItem<T> StreamItem<T>(T value, ReadCheckpoint checkpoint, bool upToDate = false, bool streamClosed = false) =>
        new(value, checkpoint, upToDate, streamClosed);

    /// <summary>Makes a <see cref="ReadFailureContext"/>, for testing a <see cref="ReadOptions.OnFailure"/> hook.</summary>
    /// <param name="stream">The stream being read.</param>
    /// <param name="exception">The failure.</param>
    /// <param name="status">The HTTP status, or 0 when no response arrived.</param>
    /// <param name="attempt">How many consecutive failed attempts this is, from 1.</param>
    /// <param name="offset">The offset the failed request asked for.</param>
    /// <param name="willRetry">What the SDK would do on its own.</param>
    /// <returns>The context.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="exception"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is below 1.</exception>
    public static ReadFailureContext ReadFailureContext(DurableStream stream, Exception exception, int status = 0, int attempt = 1, Offset offset = default, bool willRetry = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        return new(stream, exception, status, attempt, offset, willRetry);
    }
}
