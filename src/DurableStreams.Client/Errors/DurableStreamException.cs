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
