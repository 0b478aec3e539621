namespace DurableStreams.Protocol.Internal;

/// <summary>Header and query names of the protocol (PROTOCOL.md §13.2).</summary>
internal static class ProtocolHeaders
{
    public const string NextOffset = "Stream-Next-Offset";
    public const string Cursor = "Stream-Cursor";
    public const string UpToDate = "Stream-Up-To-Date";
    public const string Closed = "Stream-Closed";
    public const string Ttl = "Stream-TTL";
    public const string ExpiresAt = "Stream-Expires-At";
    public const string Seq = "Stream-Seq";
    public const string ForkedFrom = "Stream-Forked-From";
    public const string ForkOffset = "Stream-Fork-Offset";
    public const string ForkSubOffset = "Stream-Fork-Sub-Offset";
    public const string SseDataEncoding = "stream-sse-data-encoding";
    public const string ProducerId = "Producer-Id";
    public const string ProducerEpoch = "Producer-Epoch";
    public const string ProducerSeq = "Producer-Seq";
    public const string ProducerExpectedSeq = "Producer-Expected-Seq";
    public const string ProducerReceivedSeq = "Producer-Received-Seq";

    public const string OffsetParameter = "offset";
    public const string LiveParameter = "live";
    public const string CursorParameter = "cursor";
    public const string LongPollValue = "long-poll";
    public const string SseValue = "sse";

    public const string True = "true";
}
