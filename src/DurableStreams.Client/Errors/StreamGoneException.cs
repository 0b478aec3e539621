namespace DurableStreams;

/// <summary>
/// The stream was deleted while forks still reference it, or the requested offset is no longer
/// retained (HTTP 410; PROTOCOL.md §4.2, §5.6).
/// </summary>
public sealed class StreamGoneException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public StreamGoneException(string message, Uri? streamUrl)
        : base(message, 410, DurableStreamErrorCodes.Gone, streamUrl)
    {
    }
}
