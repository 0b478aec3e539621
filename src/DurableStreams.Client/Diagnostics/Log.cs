using Microsoft.Extensions.Logging;

namespace DurableStreams.Diagnostics.Internal;

/// <summary>
/// The SDK's log events (source-generated). Event ids are stable. Messages carry URLs without query
/// strings and never header values or tokens.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Retrying {Method} {StreamUrl} ({Operation}) after attempt {Attempt} failed with {Failure}; waiting {DelayMs} ms.")]
    public static partial void Retrying(ILogger logger, string method, string streamUrl, string operation, int attempt, string failure, double delayMs);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Reconnecting the {LiveMode} read of {StreamUrl} from offset {Offset}: {Reason}.")]
    public static partial void Reconnecting(ILogger logger, string liveMode, string streamUrl, string offset, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The SSE read of {StreamUrl} ended {Count} times in a row without data; switching to long-poll (a proxy may be buffering the event stream).")]
    public static partial void SseFallbackToLongPoll(ILogger logger, string streamUrl, int count);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Producer {ProducerId} on {StreamUrl} was fenced by epoch {ServerEpoch}; claiming epoch {NewEpoch}.")]
    public static partial void EpochClaimed(ILogger logger, string producerId, string streamUrl, long serverEpoch, long newEpoch);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Producer {ProducerId} on {StreamUrl} failed to deliver batch {Sequence} of epoch {Epoch} ({Messages} messages).")]
    public static partial void BatchFailed(ILogger logger, Exception exception, string producerId, string streamUrl, long epoch, long sequence, int messages);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "{Method} {StreamUrl} ({Operation}) answered {Status} in {ElapsedMs} ms.")]
    public static partial void RequestCompleted(ILogger logger, string method, string streamUrl, string operation, int status, double elapsedMs);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "The read of {StreamUrl} gave up after {Attempts} failed attempts (last: {Failure}; had received a response: {Connected}).")]
    public static partial void ReadGaveUp(ILogger logger, string streamUrl, int attempts, string failure, bool connected);
}
