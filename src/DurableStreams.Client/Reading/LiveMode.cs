namespace DurableStreams;

/// <summary>How a read continues once it has caught up with the tail of the stream (PROTOCOL.md §5.6-§5.8).</summary>
public enum LiveMode
{
    /// <summary>Stop at the first up-to-date response: read what exists now, then end.</summary>
    Off = 0,

    /// <summary>
    /// Follow the stream with long-poll requests (<c>live=long-poll</c>), one response at a time.
    /// The read starts with a long-poll, not with a catch-up request: a long-poll at an offset where
    /// data exists answers at once (PROTOCOL.md §5.7), so one request reaches the data. At the tail of
    /// an open stream the first chunk therefore comes with the first new data, or empty with status
    /// 204 when the server's long-poll times out, not at once as an empty up-to-date chunk.
    /// </summary>
    LongPoll = 1,

    /// <summary>Follow the stream over one Server-Sent Events response (<c>live=sse</c>), reconnecting as needed.</summary>
    Sse = 2,

    /// <summary>
    /// Let the SDK choose: Server-Sent Events for text and JSON streams, long-poll for every other
    /// content type (where SSE would carry base64 and cost a third more bytes). An SSE read that sees
    /// three very short connections in a row (a buffering proxy) switches to long-poll and carries on.
    /// SSE always catches up with plain requests first; when the stream's content type is known before
    /// the read starts and picks long-poll, the read starts with a long-poll as <see cref="LongPoll"/> does.
    /// </summary>
    Auto = 3,
}
