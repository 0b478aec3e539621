namespace DurableStreams;

/// <summary>
/// An append may or may not have been stored: the connection failed after the request body was
/// sent, so the SDK cannot tell, and resending a plain append could store it twice.
/// </summary>
/// <remarks>
/// Use an <c>IdempotentProducer</c> when every message must be stored exactly once
/// through failures: the server deduplicates its retries (PROTOCOL.md §5.2.1).
/// </remarks>
public sealed class AppendOutcomeUnknownException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    /// <param name="innerException">The network failure.</param>
    public AppendOutcomeUnknownException(string message, Uri? streamUrl, Exception? innerException)
        : base(message, 0, DurableStreamErrorCodes.OutcomeUnknown, streamUrl, innerException)
    {
    }
}
