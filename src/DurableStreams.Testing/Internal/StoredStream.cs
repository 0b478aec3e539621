namespace DurableStreams.Testing.Internal;

/// <summary>One stored unit: an append's bytes (byte streams) or one JSON message (JSON streams).</summary>
/// <param name="Start">The logical position of the first byte (or of the message).</param>
/// <param name="Data">The bytes; for JSON streams, one message's UTF-8 text.</param>
/// <param name="BatchEnd">The position just past the append that stored this entry: the next data boundary
/// a fork sub-offset may not pass (PROTOCOL.md §4.2).</param>
internal sealed record StreamEntry(long Start, ReadOnlyMemory<byte> Data, long BatchEnd);

/// <summary>The idempotent producer state of one producer id on one stream (PROTOCOL.md §5.2.1).</summary>
internal sealed class ProducerState
{
    public long Epoch { get; set; }

    public long LastSeq { get; set; }
}

/// <summary>The producer tuple that closed a stream, so a retry of that close deduplicates.</summary>
internal sealed record ProducerTuple(string Id, long Epoch, long Seq);

/// <summary>Where a stream is in its life; only <see cref="Active"/> streams answer on their URL.</summary>
internal enum StreamLifecycle
{
    Active,

    /// <summary>Deleted while forks still read through it: 410 on its URL (PROTOCOL.md §5.4).</summary>
    SoftDeleted,

    /// <summary>Expired while forks still read through it: 404 on its URL, data kept for the forks.</summary>
    Expired,

    /// <summary>Gone for good; in-flight readers stop.</summary>
    Removed,
}

/// <summary>What a read saw: the data parts, where it ended, and the stream's tail and closure then.</summary>
internal sealed record ReadSnapshot(List<ReadOnlyMemory<byte>> Parts, long Next, long Tail, bool ClosedAtEnd)
{
    public bool UpToDate => Next >= Tail;
}

/// <summary>
/// A stream's state. Mutations and the short copy of entry references a read makes both take
/// <see cref="Gate"/>; readers never hold it while writing to a socket, so they do not block appends.
/// </summary>
internal sealed class StoredStream
{
    private readonly List<StreamEntry> _entries = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public StoredStream(long id, string path, string contentType, StoredStream? source, long forkPosition)
    {
        Id = id;
        Path = path;
        ContentType = contentType;
        IsJson = MediaTypes.IsJson(contentType);
        Source = source;
        ForkPosition = forkPosition;
        Tail = forkPosition;
    }

    public object Gate { get; } = new();

    public long Id { get; }

    public string Path { get; }

    public string ContentType { get; }

    public bool IsJson { get; }

    /// <summary>The stream this one was forked from; its data below <see cref="ForkPosition"/> is read from there.</summary>
    public StoredStream? Source { get; }

    /// <summary>Where this stream's own data starts (0 unless a fork).</summary>
    public long ForkPosition { get; }

    /// <summary>The <c>Stream-Forked-From</c> and resolved fork offset a fork was created with, for idempotent PUTs.</summary>
    public string? ForkedFrom { get; init; }

    public long? TtlSeconds { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    public DateTimeOffset LastAccess { get; set; }

    public long Tail { get; private set; }

    public bool Closed { get; private set; }

    public ProducerTuple? ClosedBy { get; private set; }

    public string? LastStreamSeq { get; private set; }

    public Dictionary<string, ProducerState> Producers { get; } = new(StringComparer.Ordinal);

    /// <summary>How many forks read through this stream; changed under the store's lock.</summary>
    public int ForkCount { get; set; }

    public StreamLifecycle Lifecycle { get; set; }

    /// <summary>Completes on the next append, close or removal; take it before reading to never miss a wake-up.</summary>
    public Task Changed
    {
        get
        {
            lock (Gate)
            {
                return _changed.Task;
            }
        }
    }

    public bool IsExpired(DateTimeOffset now)
    {
        lock (Gate)
        {
            return (ExpiresAt is { } at && now >= at)
                || (TtlSeconds is { } ttl && now >= LastAccess + TimeSpan.FromSeconds(ttl));
        }
    }

    /// <summary>Resets the sliding TTL window (PROTOCOL.md §5.1: every read and write, never HEAD).</summary>
    public void Touch(DateTimeOffset now)
    {
        lock (Gate)
        {
            LastAccess = now;
        }
    }

    /// <summary>Adds data and state changes; the caller holds <see cref="Gate"/> and has validated everything.</summary>
    public void ApplyLocked(IReadOnlyList<ReadOnlyMemory<byte>> units, string? streamSeq, ProducerTuple? producer, bool close)
    {
        var batchEnd = Tail;
        foreach (var unit in units)
        {
            batchEnd += IsJson ? 1 : unit.Length;
        }

        foreach (var unit in units)
        {
            _entries.Add(new StreamEntry(Tail, unit, batchEnd));
            Tail += IsJson ? 1 : unit.Length;
        }

        if (streamSeq is not null)
        {
            LastStreamSeq = streamSeq;
        }

        if (producer is not null)
        {
            if (!Producers.TryGetValue(producer.Id, out var state))
            {
                Producers[producer.Id] = state = new ProducerState();
            }

            state.Epoch = producer.Epoch;
            state.LastSeq = producer.Seq;
        }

        if (close && !Closed)
        {
            Closed = true;
            ClosedBy = producer;
        }

        SignalLocked();
    }

    /// <summary>Wakes every waiting long-poll and SSE reader; the caller holds <see cref="Gate"/>.</summary>
    public void SignalLocked()
    {
        var previous = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        previous.TrySetResult();
    }

    public void Signal()
    {
        lock (Gate)
        {
            SignalLocked();
        }
    }

    public (long Tail, bool Closed) Snapshot()
    {
        lock (Gate)
        {
            return (Tail, Closed);
        }
    }

    /// <summary>Reads from <paramref name="from"/> up to about <paramref name="maxBytes"/> (at least one unit).</summary>
    public ReadSnapshot Read(long from, int maxBytes)
    {
        var (tail, closed) = Snapshot();
        var parts = new List<ReadOnlyMemory<byte>>();
        long budget = maxBytes;
        var next = ReadInto(from, tail, parts, ref budget);
        return new ReadSnapshot(parts, next, tail, closed && next >= tail);
    }

    /// <summary>The end of the append that contains <paramref name="position"/>, or the tail when at it.</summary>
    public long NextBoundary(long position)
    {
        if (position < ForkPosition && Source is not null)
        {
            return Math.Min(Source.NextBoundary(position), ForkPosition);
        }

        lock (Gate)
        {
            var index = FindEntryLocked(position);
            return index < _entries.Count ? _entries[index].BatchEnd : Tail;
        }
    }

    private long ReadInto(long position, long limit, List<ReadOnlyMemory<byte>> parts, ref long budget)
    {
        if (position < ForkPosition && Source is not null)
        {
            var inheritedLimit = Math.Min(limit, ForkPosition);
            position = Source.ReadInto(position, inheritedLimit, parts, ref budget);
            if (position < inheritedLimit)
            {
                return position;
            }
        }

        lock (Gate)
        {
            var index = FindEntryLocked(position);
            while (index < _entries.Count && position < limit && (budget > 0 || parts.Count == 0))
            {
                var entry = _entries[index];
                if (IsJson)
                {
                    parts.Add(entry.Data);
                    budget -= entry.Data.Length;
                    position = entry.Start + 1;
                    index++;
                    continue;
                }

                var entryEnd = Math.Min(entry.Start + entry.Data.Length, limit);
                var take = entryEnd - position;
                if (budget > 0 && take > budget)
                {
                    take = budget;
                }

                parts.Add(entry.Data.Slice((int)(position - entry.Start), (int)take));
                budget -= take;
                position += take;
                if (position >= entry.Start + entry.Data.Length)
                {
                    index++;
                }
            }

            return position;
        }
    }

    /// <summary>The index of the entry holding <paramref name="position"/>, or the count when past the end.</summary>
    private int FindEntryLocked(long position)
    {
        int low = 0, high = _entries.Count - 1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            var entry = _entries[mid];
            var length = IsJson ? 1 : entry.Data.Length;
            if (position < entry.Start)
            {
                high = mid - 1;
            }
            else if (position >= entry.Start + length)
            {
                low = mid + 1;
            }
            else
            {
                return mid;
            }
        }

        return low;
    }
}
