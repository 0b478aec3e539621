namespace DurableStreams.Reading.Internal;

/// <summary>Where a read is (PROTOCOL.md §5.6-§5.8); <see cref="ReadSession"/> changes it in one place.</summary>
internal enum ReadPhase
{
    /// <summary>Plain GETs until a response is up to date (the start, and after a long-poll that is not).</summary>
    CatchUp,

    /// <summary>Caught up, waiting for new data with long-polls (PROTOCOL.md §5.7).</summary>
    LongPoll,

    /// <summary>Caught up, following the stream over SSE connections (PROTOCOL.md §5.8).</summary>
    Sse,

    /// <summary>The read has ended: caught up without a live mode, or the stream is closed.</summary>
    Done,
}
