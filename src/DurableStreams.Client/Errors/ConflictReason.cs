namespace DurableStreams;

/// <summary>Why the server answered 409 Conflict.</summary>
public enum ConflictReason
{
    /// <summary>The server did not say which conflict occurred.</summary>
    Unknown = 0,

    /// <summary>A stream already exists at the URL with a different configuration (PROTOCOL.md §5.1).</summary>
    ExistsWithDifferentConfiguration,

    /// <summary>The request's content type differs from the stream's (PROTOCOL.md §5.2).</summary>
    ContentTypeMismatch,

    /// <summary>A <c>Stream-Seq</c> regression or an idempotent producer sequence gap (PROTOCOL.md §5.2, §5.2.1).</summary>
    SequenceConflict,

    /// <summary>The stream is closed and accepts no more appends (PROTOCOL.md §4.1).</summary>
    StreamClosed,
}
