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

    /// <summary>HTTP 400 on a read: the offset is malformed. HTTP 409 on a subscription ack: the offset regresses, passes the tail, or names no linked stream (PROTOCOL.md §7.2).</summary>
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

    /// <summary>HTTP 404 from a subscription route: the subscription does not exist (PROTOCOL.md §6.3).</summary>
    public const string SubscriptionNotFound = "SUBSCRIPTION_NOT_FOUND";

    /// <summary>HTTP 409 on a subscription create: one exists with this id and another configuration (PROTOCOL.md §6.2).</summary>
    public const string SubscriptionAlreadyExists = "SUBSCRIPTION_ALREADY_EXISTS";

    /// <summary>HTTP 409 on an ack, release or callback: the wake is no longer current (PROTOCOL.md §7.3).</summary>
    public const string Fenced = "FENCED";

    /// <summary>HTTP 409 on a claim: another worker holds the subscription's lease (PROTOCOL.md §7.2).</summary>
    public const string AlreadyClaimed = "ALREADY_CLAIMED";

    /// <summary>HTTP 409 on a claim: no linked stream has events past its acked offset (PROTOCOL.md §7.2).</summary>
    public const string NoPendingWork = "NO_PENDING_WORK";

    /// <summary>HTTP 401 on an ack, release or callback: the claim or callback token is not valid (PROTOCOL.md §12.9).</summary>
    public const string TokenInvalid = "TOKEN_INVALID";

    /// <summary>HTTP 401 on an ack, release or callback: the claim or callback token expired (PROTOCOL.md §12.9).</summary>
    public const string TokenExpired = "TOKEN_EXPIRED";

    /// <summary>HTTP 400 on a subscription create: the server refused the webhook URL (PROTOCOL.md §12.8).</summary>
    public const string WebhookUrlRejected = "WEBHOOK_URL_REJECTED";

    /// <summary>No more specific code applies.</summary>
    public const string Unknown = "UNKNOWN";
}
