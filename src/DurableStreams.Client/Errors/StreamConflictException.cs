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

/// <summary>The server answered 409 Conflict; <see cref="Reason"/> says why.</summary>
public class StreamConflictException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="reason">Why the server refused.</param>
    /// <param name="errorCode">One of <see cref="DurableStreamErrorCodes"/>.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public StreamConflictException(string message, ConflictReason reason, string errorCode, Uri? streamUrl)
        : base(message, 409, errorCode, streamUrl)
    {
        Reason = reason;
    }

    /// <summary>Why the server refused the request.</summary>
    public ConflictReason Reason { get; }
}

/// <summary>
/// The stream is closed (PROTOCOL.md §4.1): the append was refused. <see cref="FinalOffset"/> is
/// the stream's final tail.
/// </summary>
public sealed class StreamClosedException : StreamConflictException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="finalOffset">The final offset of the closed stream, when the server sent it.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public StreamClosedException(string message, Offset? finalOffset, Uri? streamUrl)
        : base(message, ConflictReason.StreamClosed, DurableStreamErrorCodes.StreamClosed, streamUrl)
    {
        FinalOffset = finalOffset;
    }

    /// <summary>The final offset of the closed stream (its <c>Stream-Next-Offset</c>), when the server sent it.</summary>
    public Offset? FinalOffset { get; }
}
