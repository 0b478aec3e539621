namespace DurableStreams.Producing.Internal;

/// <summary>Whether the server has accepted the producer's current epoch.</summary>
internal enum EpochState
{
    /// <summary>
    /// No batch of the current epoch is acknowledged yet. A new epoch must start with seq 0 at the
    /// server (PROTOCOL.md §5.2.1), so only seq 0 may be in flight.
    /// </summary>
    Unconfirmed,

    /// <summary>A batch of the current epoch was acknowledged: later sequences may be pipelined.</summary>
    Confirmed,

    /// <summary>
    /// Fenced by a newer epoch with auto-claim on: waiting until no request of the old epoch is
    /// outstanding, then claiming the server's epoch + 1 and renumbering (PROTOCOL.md §5.2.1).
    /// </summary>
    Claiming,
}

/// <summary>What a fenced batch does next (<see cref="EpochSequencer.Fence"/>).</summary>
internal enum FenceStep
{
    /// <summary>The batch was renumbered into a newer epoch already: resend it.</summary>
    Resend,

    /// <summary>A claim is pending: wait for it.</summary>
    Wait,

    /// <summary>The batch fails with a stale-epoch error (no auto-claim, or the claimed epoch was fenced again).</summary>
    Refuse,
}

/// <summary>
/// The producer's epoch and sequence numbers (PROTOCOL.md §5.2.1): numbers batches as they are
/// sent, keeps the sent and not yet acknowledged ones in order (the window), confirms the epoch,
/// claims a new one when fenced and renumbers, and starts a new one on restart. Every member runs
/// under the producer's lock.
/// </summary>
internal sealed class EpochSequencer(long epoch, bool autoClaim)
{
    private readonly List<ProducerBatch> _window = [];
    private long _nextSeq;
    private long _claimedEpoch = -1;
    private long _claimServerEpoch;
    private long _lastServerEpoch = -1;
    private int _outstanding;

    public long Epoch { get; private set; } = epoch;

    public long NextSequence => _nextSeq;

    public EpochState State { get; private set; }

    public bool AutoClaim => autoClaim;

    /// <summary>The ordinal through which every batch is acknowledged (-1: none).</summary>
    public long AcknowledgedThrough { get; private set; } = -1;

    /// <summary>The server's epoch named by the pending claim.</summary>
    public long ClaimServerEpoch => _claimServerEpoch;

    /// <summary>How many requests may be in flight: one until the epoch is confirmed (and always, once pipelining is off).</summary>
    public int InFlightLimit(int maxInFlight, bool pipelining) => State == EpochState.Confirmed && pipelining ? maxInFlight : 1;

    /// <summary>Numbers a batch leaving the buffer with the current epoch and the next sequence.</summary>
    public void Assign(ProducerBatch batch)
    {
        batch.Epoch = Epoch;
        batch.Seq = _nextSeq++;
        _window.Add(batch);
    }

    /// <summary>Whether an attempt of <paramref name="batch"/> may leave now (counted until <see cref="LeaveAttempt"/>).</summary>
    public bool TryEnterAttempt(ProducerBatch batch)
    {
        if (State == EpochState.Claiming || (batch.Seq != 0 && State != EpochState.Confirmed))
        {
            return false;
        }

        _outstanding++;
        return true;
    }

    public void LeaveAttempt() => _outstanding--;

    /// <summary>Whether every batch before <paramref name="batch"/> is acknowledged.</summary>
    public bool EarlierStored(ProducerBatch batch) => AcknowledgedThrough >= batch.Ordinal - 1;

    /// <summary>A batch was stored: confirms its epoch and moves the acknowledged prefix of the window on.</summary>
    public void Acknowledge(ProducerBatch batch)
    {
        if (batch.Epoch == Epoch && State == EpochState.Unconfirmed)
        {
            State = EpochState.Confirmed;
        }

        while (_window.Count > 0 && _window[0].State == BatchState.Acknowledged)
        {
            AcknowledgedThrough = _window[0].Ordinal;
            _window.RemoveAt(0);
        }
    }

    /// <summary>Remembers the highest epoch a server named, so that a restart goes past it.</summary>
    public void NoteServerEpoch(long serverEpoch) => _lastServerEpoch = Math.Max(_lastServerEpoch, serverEpoch);

    /// <summary>A 403 named <paramref name="serverEpoch"/> for a batch sent in <paramref name="sentEpoch"/>.</summary>
    public FenceStep Fence(ProducerBatch batch, long sentEpoch, long serverEpoch)
    {
        NoteServerEpoch(serverEpoch);
        if (batch.Epoch != sentEpoch)
        {
            return FenceStep.Resend;
        }

        if (State == EpochState.Claiming)
        {
            _claimServerEpoch = Math.Max(_claimServerEpoch, serverEpoch);
            return FenceStep.Wait;
        }

        if (!autoClaim || (_claimedEpoch == sentEpoch && State == EpochState.Unconfirmed))
        {
            return FenceStep.Refuse;
        }

        State = EpochState.Claiming;
        _claimServerEpoch = serverEpoch;
        return FenceStep.Wait;
    }

    /// <summary>
    /// Completes a pending claim once no request of the old epoch is outstanding: the new epoch is
    /// the server's + 1 and every unacknowledged batch is renumbered from seq 0. Returns
    /// <see langword="false"/> when there is nothing to complete yet; <paramref name="ambiguous"/>
    /// is set when a batch's outcome is unknown, in which case nothing is renumbered (the caller fails).
    /// </summary>
    public bool TryCompleteClaim(out int renumbered, out bool ambiguous)
    {
        renumbered = 0;
        ambiguous = false;
        if (State != EpochState.Claiming || _outstanding > 0)
        {
            return false;
        }

        State = EpochState.Unconfirmed;
        foreach (ProducerBatch batch in _window)
        {
            if (batch.IsDone)
            {
                continue;
            }

            if (batch.Ambiguous)
            {
                // A request of the fenced epoch got no answer: it may be stored, and the fenced epoch
                // can no longer tell. Renumbering it could store it twice.
                ambiguous = true;
                return true;
            }

            renumbered++;
        }

        long newEpoch = _claimServerEpoch + 1;
        int seq = 0;
        foreach (ProducerBatch batch in _window)
        {
            if (!batch.IsDone)
            {
                batch.Epoch = newEpoch;
                batch.Seq = seq++;
                batch.Ambiguous = false;
                batch.BodySent = false;
            }
        }

        Epoch = newEpoch;
        _nextSeq = seq;
        _claimedEpoch = newEpoch;
        return true;
    }

    /// <summary>
    /// Starts the next epoch (above the last one a server named) at seq 0, forgetting the window;
    /// everything through <paramref name="lastOrdinal"/> counts as settled.
    /// </summary>
    public long Restart(long lastOrdinal)
    {
        Epoch = Math.Max(Epoch + 1, _lastServerEpoch + 1);
        _nextSeq = 0;
        State = EpochState.Unconfirmed;
        _claimedEpoch = -1;
        _window.Clear();
        AcknowledgedThrough = lastOrdinal;
        return Epoch;
    }
}
