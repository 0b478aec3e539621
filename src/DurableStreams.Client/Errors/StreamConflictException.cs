namespace DurableStreams;

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
