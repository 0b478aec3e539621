namespace WorkerProducer;

/// <summary>The "Worker" section of appsettings.json.</summary>
public sealed class WorkerOptions
{
    /// <summary>The stream to write to, relative to DurableStreams:BaseAddress (or a full URL).</summary>
    public string Stream { get; set; } = "v1/stream/worker-events";

    /// <summary>The producer's stable id: a restarted worker claims the next epoch under the same id.</summary>
    public string ProducerId { get; set; } = "worker-events-producer";

    /// <summary>The pause between two events.</summary>
    public int IntervalMilliseconds { get; set; } = 50;

    /// <summary>Stop the host after this many events; 0 runs until Ctrl-C.</summary>
    public int Messages { get; set; }
}

/// <summary>One event the worker writes.</summary>
public sealed record WorkerEvent(string Run, int Sequence, DateTimeOffset At);

/// <summary>What the worker did, for the check after the host stops.</summary>
public sealed class WorkerReport
{
    public string Run { get; } = Guid.NewGuid().ToString("N");

    public int Written { get; set; }

    public Uri? StreamUrl { get; set; }
}
