namespace DurableStreams;

/// <summary>
/// The server's response broke the protocol: a missing or malformed header, an unparsable JSON body,
/// a malformed SSE control event or invalid base64 data.
/// </summary>
public sealed class DurableStreamProtocolException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was wrong, and where.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    /// <param name="innerException">The parser's failure, if any.</param>
    public DurableStreamProtocolException(string message, Uri? streamUrl, Exception? innerException = null)
        : base(message, 0, DurableStreamErrorCodes.ParseError, streamUrl, innerException)
    {
    }
}
