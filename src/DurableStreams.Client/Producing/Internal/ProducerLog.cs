using Microsoft.Extensions.Logging;

namespace DurableStreams.Producing.Internal;

/// <summary>The producer's log messages. They name the stream, epoch and sequence, never header values.</summary>
internal static partial class ProducerLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Producer batch (epoch {Epoch}, seq {Seq}) to {StreamUrl} failed with {Reason}; resending the same epoch and sequence in {DelayMs} ms (retry {Retry} of {MaxRetries}).")]
    public static partial void Retrying(ILogger logger, string streamUrl, long epoch, long seq, string reason, double delayMs, int retry, int maxRetries);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "Producer batch (epoch {Epoch}, seq {Seq}) to {StreamUrl} arrived before earlier batches (server expects seq {Expected}); resending after they are stored.")]
    public static partial void WaitingForEarlierBatches(ILogger logger, string streamUrl, long epoch, long seq, long expected);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Producer on {StreamUrl} was fenced by epoch {ServerEpoch}; auto-claiming epoch {NewEpoch} and resending {Batches} unacknowledged batch(es) from sequence 0.")]
    public static partial void ClaimingEpoch(ILogger logger, string streamUrl, long serverEpoch, long newEpoch, int batches);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Error, Message = "Producer on {StreamUrl} failed (epoch {Epoch}, seq {Seq}); no further batches are sent until RestartAsync.")]
    public static partial void Failed(ILogger logger, Exception exception, string streamUrl, long epoch, long seq);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "The OnError callback of the producer on {StreamUrl} threw.")]
    public static partial void CallbackFailed(ILogger logger, Exception exception, string streamUrl);
}
