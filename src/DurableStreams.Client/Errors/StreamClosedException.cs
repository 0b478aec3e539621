namespace DurableStreams;

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
