namespace DurableStreams;

/// <summary>
/// The root of every exception the SDK throws for a failed protocol operation: an HTTP error
/// status, a network failure that retries did not overcome, or a response that breaks the protocol.
/// </summary>
/// <remarks>
/// Catch this type to handle every SDK failure at once; catch a subtype to branch on one case.
/// Caller cancellation is never wrapped: it surfaces as <see cref="OperationCanceledException"/>.
/// Messages name the method, the stream URL and the server's text, and never contain header values.
/// </remarks>
public class DurableStreamException : Exception
{
    /// <summary>Creates an exception with no details.</summary>
    public DurableStreamException()
        : this("A Durable Streams operation failed.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public DurableStreamException(string message)
        : this(message, null)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The underlying failure.</param>
    public DurableStreamException(string message, Exception? innerException)
        : this(message, status: 0, DurableStreamErrorCodes.Unknown, streamUrl: null, innerException)
    {
    }

    /// <summary>Creates an exception with every detail.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="status">The HTTP status code, or 0 when no response was received.</param>
    /// <param name="errorCode">One of <see cref="DurableStreamErrorCodes"/>.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    /// <param name="innerException">The underlying failure.</param>
    /// <param name="retryAfter">The server's <c>Retry-After</c>, when it sent one.</param>
    public DurableStreamException(string message, int status, string errorCode, Uri? streamUrl, Exception? innerException = null, TimeSpan? retryAfter = null)
        : base(message, innerException)
    {
        Status = status;
        ErrorCode = errorCode ?? DurableStreamErrorCodes.Unknown;
        StreamUrl = streamUrl;
        RetryAfter = retryAfter;
    }

    /// <summary>The HTTP status code of the failing response, or 0 when there was no response.</summary>
    public int Status { get; }

    /// <summary>A stable, machine-readable code: one of <see cref="DurableStreamErrorCodes"/>.</summary>
    public string ErrorCode { get; }

    /// <summary>The URL of the stream the operation addressed, when known.</summary>
    public Uri? StreamUrl { get; }

    /// <summary>How long the server asked the client to wait (<c>Retry-After</c>), when it said.</summary>
    public TimeSpan? RetryAfter { get; }
}

/// <summary>The stream does not exist (HTTP 404; PROTOCOL.md §5).</summary>
public sealed class StreamNotFoundException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public StreamNotFoundException(string message, Uri? streamUrl)
        : base(message, 404, DurableStreamErrorCodes.NotFound, streamUrl)
    {
    }
}

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
