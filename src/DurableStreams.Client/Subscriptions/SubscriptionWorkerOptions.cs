namespace DurableStreams;

/// <summary>Settings of a <see cref="SubscriptionWorker"/>.</summary>
public sealed class SubscriptionWorkerOptions
{
    /// <summary>The name this worker claims with. Default: <c>{machine}-{process id}-{random}</c>.</summary>
    public string? WorkerName { get; set; }

    /// <summary>
    /// How often handled progress is acked while a wake is processed, so a crash repeats little; the
    /// final ack happens when the wake's streams are read to their snapshot tails. Default: 1 second.
    /// </summary>
    public TimeSpan AckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the worker tries to claim even when it saw no wake event: a safety net for wakes it
    /// could not see. Default: 30 seconds.
    /// </summary>
    public TimeSpan ClaimPollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How the wake stream is followed. Default: <see cref="LiveMode.LongPoll"/>.</summary>
    public LiveMode WakeLiveMode { get; set; } = LiveMode.LongPoll;

    /// <summary>For the hosted worker: the name of the <c>AddDurableStreams</c> client to use. Default: the unnamed client.</summary>
    public string? ClientName { get; set; }

    /// <summary>
    /// Checks the values together; the SDK calls it before any request. Call it yourself to check
    /// options built from configuration early.
    /// </summary>
    /// <exception cref="ArgumentException">A value is invalid or missing; the parameter name says which.</exception>
    public void Validate() => Validate("options");

    internal void Validate(string paramName)
    {
        if (AckInterval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName + "." + nameof(AckInterval), AckInterval, "AckInterval must be >= 0.");
        }

        if (ClaimPollInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(paramName + "." + nameof(ClaimPollInterval), ClaimPollInterval, "ClaimPollInterval must be positive.");
        }

        if (WakeLiveMode == LiveMode.Off || !Enum.IsDefined(WakeLiveMode))
        {
            throw new ArgumentOutOfRangeException(paramName + "." + nameof(WakeLiveMode), WakeLiveMode, "The wake stream must be followed live.");
        }

        if (WorkerName is not null && string.IsNullOrWhiteSpace(WorkerName))
        {
            throw new ArgumentException("WorkerName cannot be empty; leave it null for the default.", paramName + "." + nameof(WorkerName));
        }
    }
}
