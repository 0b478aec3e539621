namespace DurableStreams;

/// <summary>How a read continues once it has caught up with the tail of the stream (PROTOCOL.md §5.6-§5.8).</summary>
public enum LiveMode
{
    /// <summary>Stop at the first up-to-date response: read what exists now, then end.</summary>
    Off = 0,

    /// <summary>Follow the stream with long-poll requests (<c>live=long-poll</c>), one response at a time.</summary>
    LongPoll = 1,

    /// <summary>Follow the stream over one Server-Sent Events response (<c>live=sse</c>), reconnecting as needed.</summary>
    Sse = 2,

    /// <summary>
    /// Let the SDK choose: Server-Sent Events for text and JSON streams, long-poll for every other
    /// content type (where SSE would carry base64 and cost a third more bytes). An SSE read that sees
    /// three very short connections in a row (a buffering proxy) switches to long-poll and carries on.
    /// </summary>
    Auto = 3,
}
