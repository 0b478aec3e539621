namespace DurableStreams;

/// <summary>The values of <see cref="DurableStreamException.ErrorCode"/>.</summary>
public static class DurableStreamErrorCodes
{
    /// <summary>HTTP 404: the stream does not exist.</summary>
    public const string NotFound = "NOT_FOUND";

    /// <summary>HTTP 409 with <c>Stream-Closed: true</c>: the stream is closed.</summary>
    public const string StreamClosed = "STREAM_CLOSED";

    /// <summary>HTTP 409 caused by a <c>Stream-Seq</c> regression or a producer sequence gap.</summary>
    public const string SequenceConflict = "SEQUENCE_CONFLICT";

    /// <summary>Any other HTTP 409: different configuration, content-type mismatch.</summary>
    public const string Conflict = "CONFLICT";

    /// <summary>HTTP 400 on a read: the offset is malformed.</summary>
    public const string InvalidOffset = "INVALID_OFFSET";

    /// <summary>HTTP 400 on anything but a read: a malformed header or body.</summary>
    public const string BadRequest = "BAD_REQUEST";

    /// <summary>HTTP 410: the stream was soft-deleted, or the offset is no longer retained.</summary>
    public const string Gone = "GONE";

    /// <summary>HTTP 403 with <c>Producer-Epoch</c>: a newer producer epoch fenced this one.</summary>
    public const string StaleEpoch = "STALE_EPOCH";

    /// <summary>The server's response could not be parsed: bad JSON, SSE framing or base64.</summary>
    public const string ParseError = "PARSE_ERROR";

    /// <summary>Any other HTTP status, including 429 and 5xx once retries ran out.</summary>
    public const string UnexpectedStatus = "UNEXPECTED_STATUS";

    /// <summary>The connection failed and retries did not overcome it.</summary>
    public const string NetworkError = "NETWORK_ERROR";

    /// <summary>A request took longer than its timeout.</summary>
    public const string Timeout = "TIMEOUT";

    /// <summary>A plain append may or may not have been stored (see <see cref="AppendOutcomeUnknownException"/>).</summary>
    public const string OutcomeUnknown = "OUTCOME_UNKNOWN";

    /// <summary>No more specific code applies.</summary>
    public const string Unknown = "UNKNOWN";
}
