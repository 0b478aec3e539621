using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DurableStreams.Producing.Internal;

/// <summary>The producer's life, changed only under its lock (<see cref="ProducerCore"/>).</summary>
internal enum ProducerState
{
    /// <summary>Accepts messages and sends batches.</summary>
    Open,

    /// <summary><c>CloseAsync</c> was called: no more messages; what is buffered is flushed, then the close request goes.</summary>
    Closing,

    /// <summary>This producer closed the stream and has stopped.</summary>
    Closed,

    /// <summary>Detached or disposed (or its client was disposed): stopped without closing the stream.</summary>
    Detached,

    /// <summary>A batch could not be stored: nothing more is sent until <c>RestartAsync</c>.</summary>
    Faulted,
}

/// <summary>What <see cref="ProducerCore.TryAddOwned"/> did with a message appended with ownership.</summary>
internal enum OwnedAppend
{
    /// <summary>The buffer is full: nothing was added; the caller still owns the memory.</summary>
    NoRoom,

    /// <summary>The bytes were copied into a batch; the caller still owns the memory.</summary>
    Copied,

    /// <summary>The message is a batch over the memory; the batch disposes the owner when it is done.</summary>
    Taken,
}

/// <summary>Whether batches of a confirmed epoch may be pipelined.</summary>
internal enum Pipelining
{
    /// <summary>Up to <see cref="ProducerOptions.MaxInFlight"/> batches at once.</summary>
    Allowed,

    /// <summary>The server refused a batch that overtook an earlier one: one batch at a time from then on.</summary>
    OneAtATime,
}

/// <summary>
/// The working part of an <see cref="IdempotentProducer"/>: owns the lock, the life
/// (<see cref="ProducerState"/>), the failure, and the hand-offs between the parts — the
/// <see cref="ProducerBuffer"/> (what is not yet sent), the <see cref="EpochSequencer"/> (epoch and
/// sequence numbers) and the <see cref="BatchSender"/> (one batch's attempts). Every wait is
/// <see cref="WaitUntilAsync{TState, TResult}"/>.
/// </summary>
#pragma warning disable CA1001 // _stop and the buffer's timer are disposed by Stop(), which every way out of the producer reaches.
internal sealed class ProducerCore
#pragma warning restore CA1001
{
    internal const string ReflectionJsonMessage =
        "JSON serialization of arbitrary types may need code that trimming removes; use the overload that takes a JsonTypeInfo<T>.";

    internal const string DynamicCodeJsonMessage =
        "JSON serialization of arbitrary types may need runtime code generation; use the overload that takes a JsonTypeInfo<T>.";

    /// <summary>
    /// The largest body behind which another batch is sent before its answer arrives
    /// (<see cref="MayStartAnotherLocked"/>). Against the reference server on loopback, 1 MiB
    /// batches sent this way were overtaken in most runs and 64 KiB ones now and then; re-sending
    /// a body this small costs little.
    /// </summary>
    internal const int PipelinedBodyLimit = 64 * 1024;

    private readonly object _gate = new();
    private readonly ProducerBuffer _buffer;
    private readonly EpochSequencer _sequencer;
    private readonly BatchSender _sender;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenRegistration _clientDisposedRegistration;
    private readonly int _maxInFlight;
    private readonly int _maxBatchBytes;
    private readonly TimeSpan _disposeTimeout;
    private readonly Action<DurableStreamException>? _onError;

    // Guarded by _gate.
    private ProducerState _state;
    private Pipelining _pipelining;
    private int _inFlight;
    private Offset? _lastAcked;
    private DurableStreamException? _fault;
    private bool _faultObserved;
    private bool _clientDisposed;
    private Task<CloseResult>? _closeTask;
    private ProducerBatch? _lastDispatched;
    private bool _handOverNext;
    private ProducerBatch? _handedOver;
    private Task<string>? _contentTypeTask;
    private string? _contentType;
    private TaskCompletionSource _changed = NewSignal();
    private int _disposed;

    /// <param name="stream">The stream.</param>
    /// <param name="producerId">The producer id, already validated.</param>
    /// <param name="options">The options, already validated.</param>
    /// <param name="clientDisposed">Cancelled when the owning <see cref="DurableStreamClient"/> is disposed: the producer then stops.</param>
    public ProducerCore(DurableStream stream, string producerId, ProducerOptions options, CancellationToken clientDisposed)
    {
        DurableStreamClient client = stream.Client;
        Stream = stream;
        ProducerId = producerId;
        Time = options.TimeProvider ?? client.Options.TimeProvider;
        Logger = options.Logger ?? (ILogger?)client.Options.LoggerFactory?.CreateLogger<IdempotentProducer>() ?? NullLogger.Instance;
        UrlForLogs = UrlUtilities.WithoutQuery(stream.Url);
        _maxInFlight = options.MaxInFlight;
        _maxBatchBytes = options.MaxBatchBytes;
        _disposeTimeout = options.DisposeTimeout;
        _onError = options.OnError;
        _contentType = stream.ContentType;
        _buffer = new ProducerBuffer(options, client.Options.JsonSerializerOptions ?? DurableStream.DefaultJsonOptions, _contentType, Time, OnLingerElapsed);
        _sequencer = new EpochSequencer(options.Epoch, options.AutoClaim);
        _sender = new BatchSender(this, client.Transport, options, (options.Retry ?? client.Options.Retry).Clone(), _stop.Token);

        // Last: a token cancelled already runs the callback here.
        _clientDisposedRegistration = clientDisposed.Register(static state => ((ProducerCore)state!).OnClientDisposed(), this);
    }

    /// <summary>A condition evaluated under the lock; <paramref name="result"/> is what the wait returns once it holds.</summary>
    internal delegate bool LockedCondition<TState, TResult>(ProducerCore core, TState state, out TResult result);

    public DurableStream Stream { get; }

    public string ProducerId { get; }

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

    public string UrlForLogs { get; }

    public long Epoch
    {
        get
        {
            lock (_gate)
            {
                return _sequencer.Epoch;
            }
        }
    }

    public long NextSequence
    {
        get
        {
            lock (_gate)
            {
                return _sequencer.NextSequence;
            }
        }
    }

    public int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _buffer.PendingMessages;
            }
        }
    }

    public int InFlightCount
    {
        get
        {
            lock (_gate)
            {
                return _inFlight;
            }
        }
    }

    public Offset? LastAcknowledgedOffset
    {
        get
        {
            lock (_gate)
            {
                return _lastAcked;
            }
        }
    }

    public DurableStreamException? Failure
    {
        get
        {
            lock (_gate)
            {
                return _fault;
            }
        }
    }

    /// <summary>The producer's life; for tests and diagnostics.</summary>
    internal ProducerState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    // ---- Appending --------------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryAddBytes(ReadOnlySpan<byte> data)
    {
        if (data.Length >= _maxBatchBytes)
        {
            return TryAddBatchSizedCopy(data);
        }

        lock (_gate)
        {
            if (!AcceptLocked())
            {
                return false;
            }

            _buffer.AddBytes(data, nameof(data));
            DispatchLocked();
            return true;
        }
    }

    /// <summary>
    /// A message that fills a batch by itself: copied outside the lock into a pooled array that its
    /// batch then owns. Copied under the lock, a 1 MiB message held it for the whole copy, and a
    /// caller appending many such messages in a row kept the sender of the first one from starting
    /// (measured with 50 x 1 MiB: the first request left 5.6-10.2 ms after the first append, median;
    /// 1.5 ms with the copy outside the lock).
    /// </summary>
    private bool TryAddBatchSizedCopy(ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            // Check first: a full buffer or a stopped producer costs no copy.
            if (!AcceptLocked())
            {
                return false;
            }
        }

        // A pooled array behind an owner, like memory appended with ownership: disposing it
        // returns the array.
        IMemoryOwner<byte> copy = MemoryPool<byte>.Shared.Rent(data.Length);
        data.CopyTo(copy.Memory.Span);
        OwnedAppend added;
        try
        {
            added = TryAddOwned(copy, data.Length, nameof(data));
        }
        catch
        {
            copy.Dispose();
            throw;
        }

        if (added != OwnedAppend.Taken)
        {
            copy.Dispose();
        }

        return added != OwnedAppend.NoRoom;
    }

    /// <summary>
    /// Adds the first <paramref name="length"/> bytes of <paramref name="owner"/>'s memory: whether
    /// there was no room, the bytes were copied (the caller still owns them), or the producer took
    /// the memory (it disposes the owner when the batch is done).
    /// </summary>
    public OwnedAppend TryAddOwned(IMemoryOwner<byte> owner, int length, string paramName)
    {
        lock (_gate)
        {
            if (!AcceptLocked())
            {
                return OwnedAppend.NoRoom;
            }

            bool taken = _buffer.AddOwned(owner, length, paramName);
            DispatchLocked();
            return taken ? OwnedAppend.Taken : OwnedAppend.Copied;
        }
    }

    public bool TryAddText(string text)
    {
        lock (_gate)
        {
            if (!AcceptLocked())
            {
                return false;
            }

            _buffer.AddText(text, nameof(text));
            DispatchLocked();
            return true;
        }
    }

    /// <summary>Adds a value serialized with <paramref name="jsonTypeInfo"/>, or by reflection when it is <see langword="null"/> (only from the annotated public overloads).</summary>
    public bool TryAddJson<T>(T value, JsonTypeInfo<T>? jsonTypeInfo)
    {
        lock (_gate)
        {
            if (!AcceptLocked())
            {
                return false;
            }

            _buffer.AddJson(value, jsonTypeInfo, nameof(value));
            DispatchLocked();
            return true;
        }
    }

    /// <summary>Waits until the buffer has room (or the producer cannot accept messages any more, which throws).</summary>
    public Task WaitForRoomAsync(CancellationToken cancellationToken) =>
        WaitUntilAsync(
            0,
            static (ProducerCore core, int _, out bool done) =>
            {
                core.ThrowIfCannotAcceptLocked();
                return done = core._buffer.HasRoom;
            },
            cancellationToken).AsTask();

    // ---- Flush, close, detach, restart, dispose ------------------------------------------------------

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        long target;
        lock (_gate)
        {
            ThrowIfFaultedLocked();
            _buffer.SealOpen();
            target = _buffer.LastOrdinal;
            DispatchLocked();
        }

        await WaitUntilAsync(
            target,
            static (ProducerCore core, long target, out bool done) =>
            {
                core.ThrowIfFaultedLocked();
                return done = core._sequencer.AcknowledgedThrough >= target;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts the close once (<paramref name="writeFinal"/> writes the final message, if any) and returns its task.</summary>
    public Task<CloseResult> StartClose<TState>(Action<ProducerBuffer, ProducerBatch, TState> writeFinal, TState state, CancellationToken cancellationToken)
    {
        Task<CloseResult> close;
        lock (_gate)
        {
            if (_closeTask is null)
            {
                ThrowIfStoppedLocked();
                ProducerBatch batch = _buffer.NewCloseBatch();
                try
                {
                    writeFinal(_buffer, batch, state);
                }
                catch
                {
                    batch.Release();
                    throw;
                }

                if (_state == ProducerState.Open)
                {
                    _state = ProducerState.Closing;
                }

                _closeTask = CloseCoreAsync(batch);
            }

            close = _closeTask;
        }

        return close.WaitAsync(cancellationToken);
    }

    public async Task DetachAsync(CancellationToken cancellationToken)
    {
        try
        {
            bool stopped;
            lock (_gate)
            {
                stopped = IsStoppedLocked;
            }

            if (!stopped)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Stop();
        }
    }

    /// <summary>
    /// Flushes (or finishes a close) within <see cref="ProducerOptions.DisposeTimeout"/>, then
    /// stops. After the timeout what is not acknowledged is abandoned: the failure says so, is
    /// logged and passed to OnError, and thrown here.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Task<CloseResult>? close;
        bool observed;
        bool stopped;
        lock (_gate)
        {
            close = _closeTask;
            observed = _faultObserved;
            stopped = IsStoppedLocked;
        }

        DurableStreamException? abandoned = null;
        using var bound = new CancellationTokenSource(_disposeTimeout, Time);
        try
        {
            if (close is not null)
            {
                await close.WaitAsync(bound.Token).ConfigureAwait(false);
            }
            else if (!stopped)
            {
                await FlushAsync(bound.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (bound.IsCancellationRequested)
        {
            abandoned = Abandon();
        }
        catch (DurableStreamException) when (observed)
        {
            // Already thrown to the caller by an earlier call.
        }
        catch (ObjectDisposedException) when (IsClientDisposed)
        {
            // The client went first; what was abandoned then was reported then.
        }
        finally
        {
            Stop();
        }

        if (abandoned is not null)
        {
            throw abandoned;
        }
    }

    public async Task<long> RestartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_closeTask is not null)
            {
                throw new InvalidOperationException("The producer is closing or has closed the stream.");
            }

            ThrowIfStoppedLocked();
            _buffer.SealOpen();
            DispatchLocked();
        }

        return await WaitUntilAsync(0, static (ProducerCore core, int _, out long epoch) => core.TryRestartLocked(out epoch), cancellationToken).ConfigureAwait(false);
    }

    private bool IsStoppedLocked => _state is ProducerState.Closed or ProducerState.Detached;

    private bool IsClientDisposed
    {
        get
        {
            lock (_gate)
            {
                return _clientDisposed;
            }
        }
    }

    private bool TryRestartLocked(out long epoch)
    {
        epoch = 0;
        if (_inFlight != 0 || (_buffer.QueuedBatches != 0 && _fault is null))
        {
            return false;
        }

        epoch = _sequencer.Restart(_buffer.LastOrdinal);
        _fault = null;
        _faultObserved = false;
        if (_state == ProducerState.Faulted)
        {
            _state = ProducerState.Open;
        }

        if (_contentTypeTask is { IsCompletedSuccessfully: false, IsCompleted: true })
        {
            _contentTypeTask = null;
        }

        SignalLocked();
        DispatchLocked();
        return true;
    }

    private async Task<CloseResult> CloseCoreAsync(ProducerBatch closeBatch)
    {
        try
        {
            await FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            closeBatch.Release();
            throw;
        }

        lock (_gate)
        {
            _buffer.EnqueueClose(closeBatch);
            DispatchLocked();
        }

        await WaitUntilAsync(
            closeBatch,
            static (ProducerCore core, ProducerBatch batch, out bool done) =>
            {
                if (batch.State == BatchState.Acknowledged)
                {
                    core._state = ProducerState.Closed;
                    return done = true;
                }

                core.ThrowIfFaultedLocked();
                return done = false;
            },
            CancellationToken.None).ConfigureAwait(false);

        Stop();
        return new CloseResult(closeBatch.NextOffset ?? default);
    }

    private void Stop()
    {
        lock (_gate)
        {
            if (_state != ProducerState.Closed)
            {
                _state = ProducerState.Detached;
            }

            // Nothing is sent any more: free what was never sent (pooled buffers, and the owners of
            // messages appended with ownership).
            _buffer.DropUnsent();

            SignalLocked();
        }

        _buffer.Dispose();
        _clientDisposedRegistration.Unregister();
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }
    }

    /// <summary>The dispose timeout elapsed: records (and reports) that what is not acknowledged is abandoned.</summary>
    private DurableStreamException Abandon()
    {
        DurableStreamException abandoned;
        long epoch;
        long seq;
        lock (_gate)
        {
            abandoned = new DurableStreamException(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"DisposeAsync of the producer on {UrlForLogs} waited {_disposeTimeout.TotalSeconds:0.###} s (ProducerOptions.DisposeTimeout) and stopped with {_buffer.UnacknowledgedMessages} message(s) not acknowledged: they were abandoned and may or may not be stored."),
                0,
                DurableStreamErrorCodes.Timeout,
                Stream.Url);
            if (!FaultLocked(abandoned))
            {
                return _fault!;
            }

            _faultObserved = true;
            epoch = _sequencer.Epoch;
            seq = _sequencer.NextSequence;
        }

        Report(abandoned, epoch, seq);
        return abandoned;
    }

    /// <summary>The owning client was disposed: the producer stops; unacknowledged messages are abandoned and reported.</summary>
    private void OnClientDisposed()
    {
        DurableStreamException? abandoned = null;
        long epoch;
        long seq;
        lock (_gate)
        {
            if (IsStoppedLocked)
            {
                return;
            }

            _clientDisposed = true;
            int unacknowledged = _buffer.UnacknowledgedMessages;
            if (unacknowledged > 0)
            {
                var abandonedException = new DurableStreamException(
                    $"The DurableStreamClient that created the producer on {UrlForLogs} was disposed with {unacknowledged} message(s) not acknowledged: they were abandoned and may or may not be stored.",
                    0,
                    DurableStreamErrorCodes.Unknown,
                    Stream.Url,
                    new ObjectDisposedException(typeof(DurableStreamClient).FullName));
                if (FaultLocked(abandonedException, signal: false))
                {
                    abandoned = abandonedException;
                }
            }

            epoch = _sequencer.Epoch;
            seq = _sequencer.NextSequence;
        }

        if (abandoned is not null)
        {
            Report(abandoned, epoch, seq);
        }

        Stop(); // wakes every waiter
    }

    // ---- Dispatch ------------------------------------------------------------------------------------

    /// <summary>Starts sending queued batches while request slots are free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DispatchLocked()
    {
        if (_state is not (ProducerState.Open or ProducerState.Closing) || _sequencer.State == EpochState.Claiming)
        {
            return;
        }

        // Until a batch of the current epoch is acknowledged, only one request is in flight: a new
        // epoch must start with seq 0 at the server (PROTOCOL.md §5.2.1), and a pipelined seq 1
        // arriving first would be refused.
        int limit = _sequencer.InFlightLimit(_maxInFlight, _pipelining == Pipelining.Allowed);
        while (_inFlight < limit && MayStartAnotherLocked() && _buffer.TryTakeNext(out ProducerBatch? batch))
        {
            _sequencer.Assign(batch);
            _lastDispatched = batch;
            batch.State = BatchState.InFlight;
            _inFlight++;
            DurableStreamsTelemetry.ProducerInFlight.Add(1);
            DurableStreamsTelemetry.ProducerBatchBytes.Record(batch.PayloadBytes);
            DurableStreamsTelemetry.ProducerBatchMessages.Record(batch.Count);
            StartBatch(batch);
        }
    }

    /// <summary>
    /// Whether the next batch may be sent now. Pipelined batches travel on separate connections, and
    /// the server reads a whole body before it checks the sequence number: a batch whose upload
    /// ends before its predecessor's is refused (409) and must be uploaded again (PROTOCOL.md
    /// §5.2.1). So a batch starts only after the previous one's body has been handed to the
    /// connection in full (which also keeps sends in sequence order), and, when that body is larger
    /// than <see cref="PipelinedBodyLimit"/>, only after its answer: a large body is the one most
    /// likely to be overtaken, and the most expensive to upload twice.
    /// </summary>
    private bool MayStartAnotherLocked() =>
        _lastDispatched is not { } previous || previous.IsDone || previous.BodySent;

    // A method of its own: a lambda capturing `batch` inside the loop above would allocate its
    // closure on every DispatchLocked call that enters the method, i.e. on every append (32 B each).
    private void StartBatch(ProducerBatch batch)
    {
        if (_handOverNext)
        {
            // Called from CompleteBatch: the finishing sender sends this one next itself.
            _handOverNext = false;
            _handedOver = batch;
            return;
        }

        _ = Task.Run(() => _sender.RunAsync(batch));
    }

    private void OnLingerElapsed()
    {
        lock (_gate)
        {
            if (_buffer.ExpireLinger())
            {
                DispatchLocked();
            }
        }
    }

    // ---- The sender's hand-offs -----------------------------------------------------------------------

    /// <summary>
    /// Waits until the batch may be sent (no epoch claim running; seq 0 or a confirmed epoch) and
    /// counts it outstanding. <c>EarlierStored</c> says whether every earlier batch was acknowledged
    /// before this attempt left, which makes a sequence gap answer to it a real gap.
    /// </summary>
    internal ValueTask<(bool Proceed, long Epoch, long Seq, bool EarlierStored)> EnterAttemptAsync(ProducerBatch batch) =>
        WaitUntilAsync(
            batch,
            static (ProducerCore core, ProducerBatch batch, out (bool Proceed, long Epoch, long Seq, bool EarlierStored) attempt) =>
            {
                attempt = default;
                if (core._fault is not null)
                {
                    return true;
                }

                core._stop.Token.ThrowIfCancellationRequested();
                if (!core._sequencer.TryEnterAttempt(batch))
                {
                    return false;
                }

                attempt = (true, batch.Epoch, batch.Seq, core._sequencer.EarlierStored(batch));
                return true;
            },
            _stop.Token);

    internal void LeaveAttempt(ProducerBatch batch, bool ambiguous)
    {
        lock (_gate)
        {
            _sequencer.LeaveAttempt();
            if (ambiguous)
            {
                // No answer: the server may or may not have stored this (epoch, seq).
                batch.Ambiguous = true;
            }

            TryCompleteClaimLocked();
            SignalLocked();
        }
    }

    /// <summary>
    /// The body of an attempt of <paramref name="batch"/> was handed to the connection in full (the
    /// request content calls this): if it is small, the next batch may start
    /// (<see cref="MayStartAnotherLocked"/>).
    /// </summary>
    internal void BodySent(ProducerBatch batch)
    {
        if (batch.WireLength > PipelinedBodyLimit)
        {
            return;
        }

        lock (_gate)
        {
            if (!batch.BodySent)
            {
                batch.BodySent = true;
                if (ReferenceEquals(batch, _lastDispatched))
                {
                    DispatchLocked();
                }
            }
        }
    }

    /// <summary>A 409 naming the expected sequence: the server has not stored this one, so an earlier lost response is resolved.</summary>
    internal void ResolveAmbiguity(ProducerBatch batch)
    {
        lock (_gate)
        {
            batch.Ambiguous = false;
        }
    }

    /// <summary>
    /// A batch overtook an earlier one on another connection and the server refused it rather than
    /// wait: it processes requests in arrival order, and every overtaking batch would be uploaded
    /// twice. Send one batch at a time from now on (<see cref="ProducerOptions.MaxInFlight"/>).
    /// </summary>
    internal void StopPipelining()
    {
        lock (_gate)
        {
            _pipelining = Pipelining.OneAtATime;
        }
    }

    /// <summary>
    /// Waits until every batch before <paramref name="batch"/> is acknowledged (completions are
    /// recorded whether or not anyone waits, so one that came first counts), or the batch was
    /// renumbered; the caller then resends it.
    /// </summary>
    internal async ValueTask WaitForEarlierBatchesAsync(ProducerBatch batch, long sentEpoch, long expected, long seq)
    {
        lock (_gate)
        {
            if (EarlierBatchesSettledLocked(batch, sentEpoch))
            {
                return;
            }

            ProducerLog.WaitingForEarlierBatches(Logger, UrlForLogs, sentEpoch, seq, expected);
        }

        await WaitUntilAsync(
            (batch, sentEpoch),
            static (ProducerCore core, (ProducerBatch batch, long sentEpoch) s, out bool done) => done = core.EarlierBatchesSettledLocked(s.batch, s.sentEpoch),
            _stop.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// 403: a newer epoch fenced this one. Without auto-claim the batch fails. With it, the producer
    /// waits until no request of the old epoch is outstanding, then claims the server's epoch + 1 and
    /// renumbers every unacknowledged batch from seq 0 (PROTOCOL.md §5.2.1 auto-claim flow).
    /// </summary>
    internal async ValueTask HandleStaleEpochAsync(ProducerBatch batch, long sentEpoch, long serverEpoch) =>
        await WaitUntilAsync(
            (batch, sentEpoch, serverEpoch),
            static (ProducerCore core, (ProducerBatch batch, long sentEpoch, long serverEpoch) s, out bool done) => done = core.FencedLocked(s.batch, s.sentEpoch, s.serverEpoch),
            _stop.Token).ConfigureAwait(false);

    /// <summary>The stream's content type for <paramref name="batch"/>, learned with one HEAD when the handle did not know it.</summary>
    internal async ValueTask<string?> ContentTypeForAsync(ProducerBatch batch)
    {
        Task<string>? learn = null;
        lock (_gate)
        {
            if (_buffer.Mode == ContentMode.Unknown)
            {
                learn = _contentTypeTask ??= LearnContentTypeAsync();
            }
        }

        if (learn is not null)
        {
            await learn.ConfigureAwait(false);
        }

        if (batch.TrackItems && _buffer.Mode == ContentMode.Bytes)
        {
            // Built before the content type was known, in JSON layout: make it a concatenation.
            batch.ConvertToByteLayout();
        }

        return _contentType;
    }

    /// <summary>
    /// The sender is done with <paramref name="batch"/>: stored, failed (<paramref name="failure"/>)
    /// or abandoned (<paramref name="aborted"/>). Returns the first batch this lets start, for the
    /// caller to send itself (any further ones are started on their own tasks).
    /// </summary>
    internal ProducerBatch? CompleteBatch(ProducerBatch batch, Exception? failure, bool aborted)
    {
        ProducerBatch? next;
        DurableStreamException? reported = null;
        lock (_gate)
        {
            _inFlight--;
            _buffer.Release(batch);
            DurableStreamsTelemetry.ProducerInFlight.Add(-1);
            if (failure is null && !aborted)
            {
                batch.State = BatchState.Acknowledged;
                DurableStreamsTelemetry.BytesAppended.Add(batch.PayloadBytes);
                DurableStreamsTelemetry.MessagesAppended.Add(batch.Count);
                batch.Ambiguous = false;
                if (batch.NextOffset is { } offset && (_lastAcked is not { } last || offset.CompareTo(last) > 0))
                {
                    _lastAcked = offset;
                }

                _sequencer.Acknowledge(batch);
            }
            else if (failure is not null)
            {
                batch.State = BatchState.Failed;
                DurableStreamException exception = failure as DurableStreamException ?? new DurableStreamException(
                    $"The producer on {UrlForLogs} stopped before a batch (epoch {batch.Epoch}, seq {batch.Seq}) was acknowledged: {failure.Message}",
                    0,
                    DurableStreamErrorCodes.Unknown,
                    Stream.Url,
                    failure);
                if (FaultLocked(exception, signal: false))
                {
                    reported = exception;
                }
            }
            else
            {
                batch.State = BatchState.Abandoned;
            }

            batch.Release();
            if (reported is null)
            {
                SignalLocked();
            }

            _handOverNext = true;
            DispatchLocked();
            _handOverNext = false;
            next = _handedOver;
            _handedOver = null;
        }

        if (reported is not null)
        {
            // Waiters wake after the failure is logged and passed to OnError, so that a caller who
            // catches it from FlushAsync finds it reported.
            Report(reported, batch.Epoch, batch.Seq);
            lock (_gate)
            {
                SignalLocked();
            }
        }

        return next;
    }

    // ---- Waiting, failing, reporting ---------------------------------------------------------------------

    /// <summary>
    /// The producer's one way to wait: evaluates <paramref name="condition"/> under the lock, and
    /// again after every change of state, until it holds (its result is returned) or throws.
    /// </summary>
    internal async ValueTask<TResult> WaitUntilAsync<TState, TResult>(TState state, LockedCondition<TState, TResult> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (condition(this, state, out TResult result))
                {
                    return result;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private bool EarlierBatchesSettledLocked(ProducerBatch batch, long sentEpoch)
    {
        if (_fault is { } fault)
        {
            ExceptionDispatchInfo.Throw(fault);
        }

        return batch.Epoch != sentEpoch || _sequencer.EarlierStored(batch);
    }

    /// <summary>One step of a fenced batch: <see langword="true"/> to resend it (renumbered), <see langword="false"/> to wait; throws when it fails.</summary>
    private bool FencedLocked(ProducerBatch batch, long sentEpoch, long serverEpoch)
    {
        _sequencer.NoteServerEpoch(serverEpoch);
        if (_fault is { } fault)
        {
            ExceptionDispatchInfo.Throw(fault);
        }

        switch (_sequencer.Fence(batch, sentEpoch, serverEpoch))
        {
            case FenceStep.Resend:
                return true;
            case FenceStep.Refuse:
                throw new StaleEpochException(
                    $"POST {UrlForLogs} (producer batch, epoch {sentEpoch}, seq {batch.Seq}) was refused: the server's epoch for this producer is {serverEpoch}" +
                    (_sequencer.AutoClaim ? ", and the epoch this producer claimed was fenced again before any batch was stored." : ". A newer instance of this producer took over (zombie fencing, PROTOCOL.md §5.2.1)."),
                    serverEpoch,
                    Stream.Url);
        }

        TryCompleteClaimLocked();
        if (_fault is { } claimFault)
        {
            ExceptionDispatchInfo.Throw(claimFault);
        }

        return batch.Epoch != sentEpoch;
    }

    private void TryCompleteClaimLocked()
    {
        if (!_sequencer.TryCompleteClaim(out int renumbered, out bool ambiguous))
        {
            return;
        }

        long serverEpoch = _sequencer.ClaimServerEpoch;
        if (ambiguous)
        {
            // A request of the fenced epoch got no answer: it may be stored, and the fenced epoch
            // can no longer tell. Renumbering it could store it twice, so fail loudly instead.
            FaultLocked(new StaleEpochException(
                $"The producer on {UrlForLogs} was fenced by epoch {serverEpoch} while the outcome of one of its batches was unknown (its response was lost); auto-claim cannot resend it without risking a duplicate.",
                serverEpoch,
                Stream.Url));
            return;
        }

        ProducerLog.ClaimingEpoch(Logger, UrlForLogs, serverEpoch, _sequencer.Epoch, renumbered);
        SignalLocked();
        DispatchLocked();
    }

    private async Task<string> LearnContentTypeAsync()
    {
        string contentType = await Stream.EnsureContentTypeAsync(_stop.Token).ConfigureAwait(false);
        lock (_gate)
        {
            _contentType = contentType;
            _buffer.LearnContentType(contentType);
        }

        return contentType;
    }

    private bool AcceptLocked()
    {
        ThrowIfCannotAcceptLocked();
        return _buffer.HasRoom;
    }

    private void ThrowIfCannotAcceptLocked()
    {
        ThrowIfFaultedLocked();
        if (_closeTask is not null)
        {
            throw new InvalidOperationException("The producer is closing or has closed the stream; no more messages can be appended.");
        }

        ThrowIfStoppedLocked();
    }

    private void ThrowIfStoppedLocked()
    {
        ObjectDisposedException.ThrowIf(_clientDisposed, typeof(DurableStreamClient));
        ObjectDisposedException.ThrowIf(IsStoppedLocked, typeof(IdempotentProducer));
    }

    private void ThrowIfFaultedLocked()
    {
        // The client's disposal ends the producer before any failure it caused.
        ObjectDisposedException.ThrowIf(_clientDisposed, typeof(DurableStreamClient));
        if (_fault is { } fault)
        {
            _faultObserved = true;
            ExceptionDispatchInfo.Throw(fault);
        }
    }

    /// <summary>Records the first failure; unsent messages are dropped (they are reported by it). Waiters wake now unless <paramref name="signal"/> is off (the caller signals after reporting).</summary>
    private bool FaultLocked(DurableStreamException exception, bool signal = true)
    {
        if (_fault is not null)
        {
            return false;
        }

        _fault = exception;
        if (_state is ProducerState.Open or ProducerState.Closing)
        {
            _state = ProducerState.Faulted;
        }

        _buffer.DropUnsent();
        if (signal)
        {
            SignalLocked();
        }

        return true;
    }

    private void Report(DurableStreamException exception, long epoch, long seq)
    {
        ProducerLog.Failed(Logger, exception, UrlForLogs, epoch, seq);
        if (_onError is { } onError)
        {
            try
            {
                onError(exception);
            }
#pragma warning disable CA1031 // A throwing observer must not break the producer.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                ProducerLog.CallbackFailed(Logger, ex, UrlForLogs);
            }
        }
    }

    private void SignalLocked()
    {
        TaskCompletionSource old = _changed;
        _changed = NewSignal();
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
