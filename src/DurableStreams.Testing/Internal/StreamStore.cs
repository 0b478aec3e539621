namespace DurableStreams.Testing.Internal;

/// <summary>
/// All streams of one mapping. Structural changes (create, fork, delete, expiry) take the store's lock
/// and then, if needed, a stream's lock, never the other way round; appends take only the stream's lock.
/// </summary>
internal sealed class StreamStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, StoredStream> _streams = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly FileJournal? _journal;
    private long _nextId;

    public StreamStore(TimeProvider time, string? dataDirectory)
    {
        _time = time;
        if (dataDirectory is not null)
        {
            _journal = new FileJournal(dataDirectory);
            foreach (var stream in _journal.Load(time.GetUtcNow(), out var lastId))
            {
                if (stream.Lifecycle != StreamLifecycle.Removed)
                {
                    _streams[stream.Path] = stream;
                }

                _nextId = Math.Max(_nextId, lastId);
            }
        }
    }

    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Finds a stream on its URL; expired streams are dropped here (PROTOCOL.md §4 TTL/expiry).</summary>
    public StoredStream? Find(string path)
    {
        lock (_gate)
        {
            if (!_streams.TryGetValue(path, out var stream))
            {
                return null;
            }

            if (stream.Lifecycle == StreamLifecycle.Active && stream.IsExpired(Now))
            {
                ExpireLocked(stream);
                return null;
            }

            return stream;
        }
    }

    public CreateOutcome Create(CreateCommand command)
    {
        lock (_gate)
        {
            var now = Now;
            if (_streams.TryGetValue(command.Path, out var existing) && existing.Lifecycle == StreamLifecycle.Active && existing.IsExpired(now))
            {
                ExpireLocked(existing);
                existing = null;
            }

            if (existing is not null)
            {
                return existing.Lifecycle == StreamLifecycle.SoftDeleted
                    ? new CreateOutcome(CreateStatus.Conflict, existing, "The stream was deleted and its path is held by forks.")
                    : MatchExisting(existing, command);
            }

            StoredStream? source = null;
            var contentType = command.ContentType ?? MediaTypes.OctetStream;
            long forkPosition = 0;
            long? ttl = command.TtlSeconds;
            var expiresAt = command.ExpiresAt;
            if (command.SourcePath is not null)
            {
                _streams.TryGetValue(command.SourcePath, out source);
                if (source is { Lifecycle: StreamLifecycle.Active } && source.IsExpired(now))
                {
                    ExpireLocked(source);
                    source = null;
                }

                if (source is null || source.Lifecycle is StreamLifecycle.Removed or StreamLifecycle.Expired)
                {
                    return new CreateOutcome(CreateStatus.SourceNotFound, null, "The fork source stream does not exist.");
                }

                if (source.Lifecycle == StreamLifecycle.SoftDeleted)
                {
                    return new CreateOutcome(CreateStatus.Conflict, null, "The fork source stream has been deleted.");
                }

                if (command.ContentType is not null && !MediaTypes.SameType(command.ContentType, source.ContentType))
                {
                    return new CreateOutcome(CreateStatus.Conflict, null, "The content type differs from the fork source's.");
                }

                contentType = command.ContentType ?? source.ContentType;
                var (sourceTail, _) = source.Snapshot();
                long anchor;
                if (command.ForkOffset is null or "now")
                {
                    anchor = sourceTail;
                }
                else if (command.ForkOffset == "-1")
                {
                    anchor = 0;
                }
                else if (!StreamOffsets.TryParse(command.ForkOffset, out anchor))
                {
                    return new CreateOutcome(CreateStatus.BadForkOffset, null, "Stream-Fork-Offset is not an offset of this server.");
                }

                if (anchor > sourceTail)
                {
                    return new CreateOutcome(CreateStatus.BadForkOffset, null, "Stream-Fork-Offset is beyond the source stream's tail.");
                }

                // PROTOCOL.md §4.2: the sub-offset may reach the end of the append at the anchor, not past it.
                if (command.ForkSubOffset > 0 && anchor + command.ForkSubOffset > source.NextBoundary(anchor))
                {
                    return new CreateOutcome(CreateStatus.BadSubOffset, null, "Stream-Fork-Sub-Offset goes past the next data boundary.");
                }

                forkPosition = anchor + command.ForkSubOffset;

                // PROTOCOL.md §4.2 expiry table: a fork that asks for neither inherits the source's.
                if (ttl is null && expiresAt is null)
                {
                    ttl = source.TtlSeconds;
                    expiresAt = source.ExpiresAt;
                }
            }

            var stream = new StoredStream(++_nextId, command.Path, contentType, source, forkPosition)
            {
                TtlSeconds = ttl,
                ExpiresAt = expiresAt,
                LastAccess = now,
                ForkedFrom = source is null ? null : $"{source.Path}@{StreamOffsets.Format(forkPosition)}",
            };
            lock (stream.Gate)
            {
                stream.ApplyLocked(command.Units, null, null, command.Close);
            }

            _journal?.Created(stream, command.Units, command.Close);
            if (source is not null)
            {
                source.ForkCount++;
            }

            _streams[command.Path] = stream;
            return new CreateOutcome(CreateStatus.Created, stream);
        }
    }

    private static CreateOutcome MatchExisting(StoredStream existing, CreateCommand command)
    {
        var (_, closed) = existing.Snapshot();
        var sameType = command.ContentType is null
            ? command.SourcePath is not null || MediaTypes.SameType(existing.ContentType, MediaTypes.OctetStream)
            : MediaTypes.SameType(command.ContentType, existing.ContentType);
        var sameFork = command.SourcePath is null
            ? existing.Source is null
            : existing.ForkedFrom is { } forked && forked.StartsWith(command.SourcePath + "@", StringComparison.Ordinal)
                && (command.ForkOffset is null || ForkOffsetMatches(forked, command));
        var sameExpiry = command.SourcePath is not null && command.TtlSeconds is null && command.ExpiresAt is null
            || (existing.TtlSeconds == command.TtlSeconds && existing.ExpiresAt == command.ExpiresAt);
        return sameType && sameFork && sameExpiry && closed == command.Close
            ? new CreateOutcome(CreateStatus.Exists, existing)
            : new CreateOutcome(CreateStatus.Conflict, existing, "A stream with a different configuration exists at this URL.");
    }

    private static bool ForkOffsetMatches(string forkedFrom, CreateCommand command)
    {
        var position = forkedFrom[(forkedFrom.LastIndexOf('@') + 1)..];
        return StreamOffsets.TryParse(command.ForkOffset, out var anchor)
            && StreamOffsets.Format(anchor + command.ForkSubOffset) == position;
    }

    public AppendOutcome Append(StoredStream stream, AppendCommand command)
    {
        lock (stream.Gate)
        {
            var outcome = Decide(stream, command);
            if (outcome.Status == AppendStatus.Appended)
            {
                stream.ApplyLocked(command.Units, command.StreamSeq, command.Producer, command.Close);
                _journal?.Appended(stream, command.Units, command.StreamSeq, command.Producer, command.Close);
                outcome = outcome with { Tail = stream.Tail, Closed = stream.Closed };
            }

            return outcome;
        }
    }

    /// <summary>The pure decision for an append against the stream's current state (PROTOCOL.md §5.2, §5.2.1).</summary>
    private static AppendOutcome Decide(StoredStream stream, AppendCommand command)
    {
        var tail = stream.Tail;
        switch (stream.Lifecycle)
        {
            case StreamLifecycle.Removed or StreamLifecycle.Expired:
                return new AppendOutcome(AppendStatus.NotFound, tail, false);
            case StreamLifecycle.SoftDeleted:
                return new AppendOutcome(AppendStatus.Gone, tail, false);
        }

        var producer = command.Producer;
        if (stream.Closed)
        {
            // §5.2.1: a retry of the very request that closed the stream is a duplicate, not a conflict.
            if (producer is not null && producer == stream.ClosedBy)
            {
                return new AppendOutcome(AppendStatus.Duplicate, tail, true) { ProducerEpoch = producer.Epoch, ProducerSeq = producer.Seq };
            }

            // §5.2: closing an already closed stream without data is idempotent.
            return command.Close && !command.HasBody
                ? new AppendOutcome(AppendStatus.Duplicate, tail, true)
                : new AppendOutcome(AppendStatus.StreamClosed, tail, true) { Message = "The stream is closed." };
        }

        if (command.HasBody && command.ContentType is not null && !MediaTypes.SameType(command.ContentType, stream.ContentType))
        {
            return new AppendOutcome(AppendStatus.ContentTypeMismatch, tail, false) { Message = "The content type does not match the stream's." };
        }

        if (command.JsonError is not null)
        {
            return new AppendOutcome(AppendStatus.InvalidBody, tail, false) { Message = command.JsonError };
        }

        if (producer is not null)
        {
            if (stream.Producers.TryGetValue(producer.Id, out var state))
            {
                if (producer.Epoch < state.Epoch)
                {
                    return new AppendOutcome(AppendStatus.StaleEpoch, tail, false) { ProducerEpoch = state.Epoch, Message = "Stale producer epoch." };
                }

                if (producer.Epoch == state.Epoch)
                {
                    if (producer.Seq <= state.LastSeq)
                    {
                        return new AppendOutcome(AppendStatus.Duplicate, tail, false) { ProducerEpoch = state.Epoch, ProducerSeq = state.LastSeq };
                    }

                    if (producer.Seq != state.LastSeq + 1)
                    {
                        return new AppendOutcome(AppendStatus.SequenceGap, tail, false)
                        {
                            ExpectedSeq = state.LastSeq + 1,
                            ReceivedSeq = producer.Seq,
                            Message = "Producer sequence gap.",
                        };
                    }
                }
                else if (producer.Seq != 0)
                {
                    return new AppendOutcome(AppendStatus.InvalidEpochSeq, tail, false) { Message = "A new producer epoch must start at sequence 0." };
                }
            }
            else if (producer.Seq != 0)
            {
                return new AppendOutcome(AppendStatus.SequenceGap, tail, false)
                {
                    ExpectedSeq = 0,
                    ReceivedSeq = producer.Seq,
                    Message = "Producer sequence gap: a new producer starts at sequence 0.",
                };
            }
        }

        // §5.2: Stream-Seq is scoped per stream here and compared byte-wise.
        if (command.StreamSeq is not null && stream.LastStreamSeq is not null
            && string.CompareOrdinal(command.StreamSeq, stream.LastStreamSeq) <= 0)
        {
            return new AppendOutcome(AppendStatus.StreamSeqConflict, tail, false) { Message = "Sequence conflict: Stream-Seq must be greater than the last one (byte-wise)." };
        }

        return new AppendOutcome(AppendStatus.Appended, tail, false) { ProducerEpoch = producer?.Epoch, ProducerSeq = producer?.Seq };
    }

    /// <summary>Deletes a stream: soft when forks read through it (PROTOCOL.md §5.4). Null when it does not exist.</summary>
    public StreamLifecycle? Delete(string path)
    {
        lock (_gate)
        {
            if (!_streams.TryGetValue(path, out var stream))
            {
                return null;
            }

            if (stream.Lifecycle == StreamLifecycle.SoftDeleted)
            {
                return StreamLifecycle.SoftDeleted;
            }

            if (stream.IsExpired(Now))
            {
                ExpireLocked(stream);
                return null;
            }

            if (stream.ForkCount > 0)
            {
                SetLifecycleLocked(stream, StreamLifecycle.SoftDeleted);
                _journal?.SoftDeleted(stream);
            }
            else
            {
                _streams.Remove(path);
                RemoveLocked(stream);
            }

            return StreamLifecycle.Active;
        }
    }

    private void ExpireLocked(StoredStream stream)
    {
        if (_streams.TryGetValue(stream.Path, out var current) && current == stream)
        {
            _streams.Remove(stream.Path);
        }

        if (stream.ForkCount > 0)
        {
            SetLifecycleLocked(stream, StreamLifecycle.Expired);
        }
        else
        {
            RemoveLocked(stream);
        }
    }

    /// <summary>Drops a stream with no forks and releases its source, cascading up the chain (PROTOCOL.md §4.2).</summary>
    private void RemoveLocked(StoredStream stream)
    {
        SetLifecycleLocked(stream, StreamLifecycle.Removed);
        _journal?.Removed(stream);
        var source = stream.Source;
        if (source is null)
        {
            return;
        }

        source.ForkCount--;
        if (source.ForkCount == 0 && source.Lifecycle is StreamLifecycle.SoftDeleted or StreamLifecycle.Expired)
        {
            if (_streams.TryGetValue(source.Path, out var current) && current == source)
            {
                _streams.Remove(source.Path);
            }

            RemoveLocked(source);
        }
    }

    private static void SetLifecycleLocked(StoredStream stream, StreamLifecycle lifecycle)
    {
        lock (stream.Gate)
        {
            stream.Lifecycle = lifecycle;
            stream.SignalLocked();
        }
    }
}
