namespace DurableStreams;

/// <summary>
/// The server rejected the request as malformed (HTTP 400): on a read, an invalid offset
/// (<see cref="DurableStreamErrorCodes.InvalidOffset"/>); otherwise an invalid header or body
/// (<see cref="DurableStreamErrorCodes.BadRequest"/>).
/// </summary>
public sealed class StreamBadRequestException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="errorCode"><see cref="DurableStreamErrorCodes.InvalidOffset"/> or <see cref="DurableStreamErrorCodes.BadRequest"/>.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public StreamBadRequestException(string message, string errorCode, Uri? streamUrl)
        : base(message, 400, errorCode, streamUrl)
    {
    }
}
