using Microsoft.Extensions.Time.Testing;

namespace DurableStreams.Testing;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that knows which one-shot timers are waiting and tells a test
/// when one is scheduled, so that the test moves the clock exactly to the next timer
/// (<see cref="AdvanceToNextTimer"/>) after awaiting <see cref="WhenTimerPendingAsync"/>, instead
/// of advancing it on a real-time poll. Timers made through <see cref="CreateTimer"/> count, which
/// includes <c>Task.Delay(delay, provider)</c> and <c>new CancellationTokenSource(delay, provider)</c>.
/// </summary>
public sealed class SignallingTimeProvider : FakeTimeProvider
{
    private readonly object _lock = new();
    private readonly HashSet<TrackedTimer> _timers = [];
    private TaskCompletionSource _scheduled = NewSignal();

    /// <summary>A clock starting at 2026-01-01T00:00:00Z.</summary>
    public SignallingTimeProvider()
        : base(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>How many one-shot timers are waiting for a time still to come.</summary>
    public int PendingTimers
    {
        get
        {
            lock (_lock)
            {
                return PendingLocked().Count();
            }
        }
    }

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new TrackedTimer(this, base.CreateTimer(callback, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Completes when at least one one-shot timer is waiting (at once if one is already).</summary>
    public async Task WhenTimerPendingAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task scheduled;
            lock (_lock)
            {
                if (PendingLocked().Any())
                {
                    return;
                }

                scheduled = _scheduled.Task;
            }

            await scheduled.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Moves the clock to the earliest waiting timer, which fires; returns how far it moved (zero when none waits).</summary>
    public TimeSpan AdvanceToNextTimer()
    {
        DateTimeOffset now = GetUtcNow();
        DateTimeOffset next;
        lock (_lock)
        {
            List<TrackedTimer> pending = [.. PendingLocked()];
            if (pending.Count == 0)
            {
                return TimeSpan.Zero;
            }

            next = pending.Min(t => t.Due);
        }

        // Outside the lock: the timers' callbacks may reschedule timers.
        SetUtcNow(next);
        return next - now;
    }

    /// <summary>Waits for a timer to be scheduled, then moves the clock to the earliest one.</summary>
    public async Task<TimeSpan> AdvanceToNextTimerAsync(CancellationToken cancellationToken)
    {
        await WhenTimerPendingAsync(cancellationToken).ConfigureAwait(false);
        return AdvanceToNextTimer();
    }

    private IEnumerable<TrackedTimer> PendingLocked()
    {
        DateTimeOffset now = GetUtcNow();
        return _timers.Where(t => t.Armed && t.Due > now);
    }

    /// <summary>Records a timer's next due time before the inner timer is armed (a callback that reschedules then wins).</summary>
    private long Schedule(TrackedTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        lock (_lock)
        {
            timer.Armed = false;
            timer.Generation++;

            // Periodic timers never stop being pending; only one-shot timers are tracked.
            if (dueTime == Timeout.InfiniteTimeSpan || (period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero))
            {
                _timers.Remove(timer);
            }
            else
            {
                timer.Due = GetUtcNow() + dueTime;
                _timers.Add(timer);
            }

            return timer.Generation;
        }
    }

    /// <summary>The inner timer is armed for the due time recorded by <paramref name="generation"/>: it counts as pending now.</summary>
    private void Armed(TrackedTimer timer, long generation)
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            if (timer.Generation != generation || !_timers.Contains(timer))
            {
                return;
            }

            timer.Armed = true;
            signal = _scheduled;
            _scheduled = NewSignal();
        }

        signal.TrySetResult();
    }

    private void Forget(TrackedTimer timer)
    {
        lock (_lock)
        {
            _timers.Remove(timer);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class TrackedTimer(SignallingTimeProvider owner, ITimer inner) : ITimer
    {
        // Guarded by the owner's lock.
        public DateTimeOffset Due { get; set; }

        public long Generation { get; set; }

        public bool Armed { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            long generation = owner.Schedule(this, dueTime, period);
            bool changed = inner.Change(dueTime, period);
            owner.Armed(this, generation);
            return changed;
        }

        public void Dispose()
        {
            owner.Forget(this);
            inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            owner.Forget(this);
            return inner.DisposeAsync();
        }
    }
}
