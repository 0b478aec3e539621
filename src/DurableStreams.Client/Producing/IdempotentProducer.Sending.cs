using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Errors.Internal;
using DurableStreams.Producing.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams;

public partial class IdempotentProducer
{
    // Everything below is guarded by _gate.
    private readonly Queue<ProducerBatch> _queued = new();
    private readonly List<ProducerBatch> _window = [];
    private ProducerBatch? _open;
    private bool _sequential;
    private bool _openLingerExpired;
    private long _openGeneration;
    private long _armedGeneration;
    private long _nextOrdinal;
    private long _ackedThrough = -1;
    private long _epoch;
    private long _nextSeq;
    private bool _epochConfirmed;
    private long _claimedEpoch = -1;
    private bool _claiming;
    private long _claimServerEpoch;
    private long _lastServerEpoch = -1;
    private int _inFlight;
    private int _outstanding;
    private long _bufferedBytes;
    private int _bufferedMessages;
    private int _pendingMessages;
    private Offset? _lastAcked;
    private DurableStreamException? _fault;
    private bool _faultObserved;
    private bool _stopped;
    private Task<CloseResult>? _closeTask;
    private Task<string>? _contentTypeTask;
    private string? _contentType;
    private TaskCompletionSource _changed = NewSignal();

    // ---- Flush, close, detach, restart ----------------------------------------------------------

    /// <summary>
    /// Sends what is batched now (without waiting for <see cref="ProducerOptions.Linger"/>) and waits
    /// until every message appended before this call is acknowledged by the server.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the messages are still sent.</param>
    /// <returns>A task that completes when everything appended so far is stored.</returns>
    /// <exception cref="DurableStreamException">A batch could not be stored (its subtypes say why: <see cref="StaleEpochException"/>, <see cref="SequenceGapException"/>, <see cref="StreamClosedException"/>, ...).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public virtual async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        long target;
        lock (_gate)
        {
            ThrowIfFaultedLocked();
            SealOpenLocked();
            target = _nextOrdinal - 1;
            PumpLocked();
        }

        while (true)
        {
            Task changed;
            lock (_gate)
            {
                ThrowIfFaultedLocked();
                if (_ackedThrough >= target)
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Flushes, then closes the stream (PROTOCOL.md §5.2.1, §5.3) with this producer's headers, so
    /// that readers see its end. The producer accepts no more messages. Calling it again returns the
    /// result of the first call (a later final message is ignored).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <exception cref="StreamClosedException">Another writer had already closed the stream.</exception>
    /// <exception cref="DurableStreamException">A batch or the close could not be stored.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed before.</exception>
    public virtual Task<CloseResult> CloseAsync(CancellationToken cancellationToken = default) =>
        StartClose(static (_, _, _) => { }, 0, cancellationToken);

    /// <summary>Flushes, then appends <paramref name="finalMessage"/> and closes the stream in one atomic request.</summary>
    /// <param name="finalMessage">The last message; must not be empty; on a JSON stream one JSON value.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/remarks"/>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    public virtual Task<CloseResult> CloseAsync(ReadOnlyMemory<byte> finalMessage, CancellationToken cancellationToken = default)
    {
        RequireNonEmpty(finalMessage.Length, nameof(finalMessage));
        return StartClose(static (self, batch, data) => self.WriteCloseItem(batch, data.Span), finalMessage, cancellationToken);
    }

    /// <summary>Flushes, then appends <paramref name="finalMessage"/> (UTF-8, sent as it is) and closes the stream in one atomic request.</summary>
    /// <param name="finalMessage">The last message; must not be empty; on a JSON stream one JSON value.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    public virtual Task<CloseResult> CloseAsync(string finalMessage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(finalMessage);
        RequireNonEmpty(finalMessage.Length, nameof(finalMessage));
        return StartClose(
            static (self, batch, text) =>
            {
                int start = batch.BeginItem();
                WriteText(batch, text, System.Text.Encoding.UTF8.GetByteCount(text));
                self.CheckCloseItem(batch, start, rawJson: true);
            },
            finalMessage,
            cancellationToken);
    }

    /// <summary>Flushes, then serializes <paramref name="finalMessage"/> (trimming- and AOT-safe), appends it and closes the stream in one atomic request.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="finalMessage">The last message.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    public virtual Task<CloseResult> CloseAsync<T>(T finalMessage, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return StartClose(
            static (self, batch, state) =>
            {
                int start = batch.BeginItem();
                self.WriteJsonLocked(batch, start, state.finalMessage, state.jsonTypeInfo);
                self.CheckCloseItem(batch, start, rawJson: false);
            },
            (finalMessage, jsonTypeInfo),
            cancellationToken);
    }

    /// <summary>
    /// Flushes, then serializes <paramref name="finalMessage"/> with the client's serializer options
    /// (raw bytes and strings are sent as raw data), appends it and closes the stream atomically.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="finalMessage">The last message.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual Task<CloseResult> CloseAsync<T>(T finalMessage, CancellationToken cancellationToken = default)
    {
        switch (finalMessage)
        {
            case null:
                throw new ArgumentNullException(nameof(finalMessage));
            case byte[] bytes:
                return CloseAsync(new ReadOnlyMemory<byte>(bytes), cancellationToken);
            case ReadOnlyMemory<byte> memory:
                return CloseAsync(memory, cancellationToken);
            case Memory<byte> memory:
                return CloseAsync((ReadOnlyMemory<byte>)memory, cancellationToken);
            case ArraySegment<byte> segment:
                return CloseAsync(segment.AsMemory(), cancellationToken);
            case string text:
                return CloseAsync(text, cancellationToken);
            default:
                return StartClose(
                    static (self, batch, value) =>
                    {
                        int start = batch.BeginItem();
                        self.WriteJsonLocked<T>(batch, start, value, jsonTypeInfo: null);
                        self.CheckCloseItem(batch, start, rawJson: false);
                    },
                    finalMessage,
                    cancellationToken);
        }
    }

    /// <summary>
    /// Flushes and stops the producer without closing the stream: another producer (or a later
    /// epoch of this one) can continue it.
    /// </summary>
    /// <param name="cancellationToken">Cancels the flush; the producer then stops and abandons what was not yet stored.</param>
    /// <returns>A task that completes when everything appended is stored and the producer has stopped.</returns>
    /// <exception cref="DurableStreamException">A batch could not be stored.</exception>
    public virtual async Task DetachAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            bool stopped;
            lock (_gate)
            {
                stopped = _stopped;
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
    /// Flushes and stops without closing the stream, like <see cref="DetachAsync"/>. Throws the
    /// producer's failure if no earlier call has thrown it; a second call does nothing.
    /// </summary>
    /// <returns>A task that completes when the producer has stopped.</returns>
    /// <exception cref="DurableStreamException">A batch could not be stored and no earlier call reported it.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        GC.SuppressFinalize(this);
        Task<CloseResult>? close;
        bool observed;
        lock (_gate)
        {
            close = _closeTask;
            observed = _faultObserved;
        }

        try
        {
            if (close is not null)
            {
                await close.ConfigureAwait(false);
            }
            else
            {
                await DetachAsync().ConfigureAwait(false);
            }
        }
        catch (DurableStreamException) when (observed)
        {
            // Already thrown to the caller by an earlier call.
        }
        finally
        {
            Stop();
        }
    }

    /// <summary>
    /// Starts a new epoch (PROTOCOL.md §5.2.1 restart flow): waits until no batch is in flight,
    /// then raises the epoch by one (or past the server's epoch, if a stale-epoch answer reported
    /// one), restarts sequence numbers at 0, clears a failure, and sends any queued messages in the
    /// new epoch. Batches that failed are not resent: their failure was reported.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The new epoch.</returns>
    /// <exception cref="InvalidOperationException">The producer is closing or closed the stream.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed.</exception>
    public virtual async Task<long> RestartAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_closeTask is not null)
            {
                throw new InvalidOperationException("The producer is closing or has closed the stream.");
            }

            ObjectDisposedException.ThrowIf(_stopped, this);
            SealOpenLocked();
            PumpLocked();
        }

        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_inFlight == 0 && (_queued.Count == 0 || _fault is not null))
                {
                    _epoch = Math.Max(_epoch + 1, _lastServerEpoch + 1);
                    _nextSeq = 0;
                    _epochConfirmed = false;
                    _claimedEpoch = -1;
                    _fault = null;
                    _faultObserved = false;
                    _window.Clear();
                    _ackedThrough = _nextOrdinal - 1;
                    if (_contentTypeTask is { IsCompletedSuccessfully: false, IsCompleted: true })
                    {
                        _contentTypeTask = null;
                    }

                    SignalLocked();
                    PumpLocked();
                    return _epoch;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<CloseResult> StartClose<TState>(Action<IdempotentProducer, ProducerBatch, TState> writeFinal, TState state, CancellationToken cancellationToken)
    {
        Task<CloseResult> close;
        lock (_gate)
        {
            if (_closeTask is null)
            {
                ObjectDisposedException.ThrowIf(_stopped, this);
                ProducerBatch batch = NewBatchLocked(isClose: true);
                try
                {
                    writeFinal(this, batch, state);
                }
                catch
                {
                    batch.Release();
                    throw;
                }

                _closeTask = CloseCoreAsync(batch);
            }

            close = _closeTask;
        }

        return close.WaitAsync(cancellationToken);
    }

    private void WriteCloseItem(ProducerBatch batch, ReadOnlySpan<byte> data)
    {
        int start = batch.BeginItem();
        data.CopyTo(batch.GetSpan(data.Length));
        batch.Advance(data.Length);
        CheckCloseItem(batch, start, rawJson: true);
    }

    private void CheckCloseItem(ProducerBatch batch, int start, bool rawJson, string paramName = "finalMessage")
    {
        if (rawJson && _mode == ContentMode.Json && !IsOneJsonValue(batch.ItemSince(start)))
        {
            batch.RollbackItem(start);
            throw new ArgumentException("On a JSON stream the final message must be exactly one JSON value (PROTOCOL.md §9.1).", paramName);
        }

        batch.EndItem(start);
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
            closeBatch.Seal();
            closeBatch.Ordinal = _nextOrdinal++;
            _bufferedBytes += closeBatch.PayloadBytes;
            DurableStreamsTelemetry.ProducerBufferedBytes.Add(closeBatch.PayloadBytes);
            _bufferedMessages += closeBatch.Count;
            _pendingMessages += closeBatch.Count;
            _queued.Enqueue(closeBatch);
            PumpLocked();
        }

        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (closeBatch.Done && closeBatch.Succeeded)
                {
                    _stopped = true;
                    break;
                }

                ThrowIfFaultedLocked();
                changed = _changed.Task;
            }

            await changed.ConfigureAwait(false);
        }

        Stop();
        return new CloseResult(closeBatch.NextOffset ?? default);
    }

    private void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
            SignalLocked();
        }

        _lingerTimer?.Dispose();
        if (!_stop.IsCancellationRequested)
        {
            _stop.Cancel();
        }
    }

    // ---- Dispatch ----------------------------------------------------------------------------------

    /// <summary>Starts sending queued batches while request slots are free.</summary>
    private void PumpLocked()
    {
        if (_fault is not null || _claiming || _stopped)
        {
            return;
        }

        // Until a batch of the current epoch is acknowledged, only one request is in flight: a new
        // epoch must start with seq 0 at the server (PROTOCOL.md §5.2.1), and a pipelined seq 1
        // arriving first would be refused.
        int limit = _epochConfirmed && !_sequential ? _maxInFlight : 1;
        while (_inFlight < limit)
        {
            if (_queued.Count == 0)
            {
                if (_open is { Count: > 0 } && _openLingerExpired)
                {
                    SealOpenLocked();
                }
                else
                {
                    break;
                }
            }

            ProducerBatch batch = _queued.Dequeue();
            batch.Epoch = _epoch;
            batch.Seq = _nextSeq++;
            batch.Dispatched = true;
            _inFlight++;
            DurableStreamsTelemetry.ProducerInFlight.Add(1);
            DurableStreamsTelemetry.ProducerBatchBytes.Record(batch.PayloadBytes);
            DurableStreamsTelemetry.ProducerBatchMessages.Record(batch.Count);
            _pendingMessages -= batch.Count;
            _window.Add(batch);
            StartBatch(batch);
        }
    }

    // A method of its own: a lambda capturing `batch` inside the loop above would allocate its
    // closure on every PumpLocked call that enters the loop, i.e. on every append (32 B each).
    private void StartBatch(ProducerBatch batch) => _ = Task.Run(() => RunBatchAsync(batch));

    private void SignalLocked()
    {
        TaskCompletionSource old = _changed;
        _changed = NewSignal();
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ---- Sending one batch -------------------------------------------------------------------------

    private async Task RunBatchAsync(ProducerBatch batch)
    {
        Exception? failure = null;
        bool aborted = false;
        using Activity? activity = StartBatchActivity(batch);
        int attempts = 0;
        (long Epoch, long Seq) attemptKey = (-1, -1);
        int attemptsOfKey = 0;
        try
        {
            string? contentType = await ContentTypeForAsync(batch).ConfigureAwait(false);
            int retries = 0;
            while (true)
            {
                (bool proceed, long epoch, long seq, bool earlierStored) = await EnterAttemptAsync(batch).ConfigureAwait(false);
                if (!proceed)
                {
                    aborted = true;
                    return;
                }

                StreamRequest? request = null;
                HttpResponseMessage? response = null;
                Exception? networkFailure = null;
                attempts++;
                attemptsOfKey = attemptKey == (epoch, seq) ? attemptsOfKey + 1 : 1;
                attemptKey = (epoch, seq);
                try
                {
                    request = await BuildRequestAsync(batch, contentType, epoch, seq).ConfigureAwait(false);
                    response = await _transport.SendOnceAsync(request, _stop.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (!_stop.IsCancellationRequested && FailureClassifier.IsNetworkFailure(ex))
                {
                    networkFailure = ex;
                }
                finally
                {
                    LeaveAttempt(batch, ambiguous: response is null && request is not null);
                }

                using (response)
                {
                    if (networkFailure is not null || FailureClassifier.IsTransientStatus(response!.StatusCode))
                    {
                        // PROTOCOL.md §5.2.1: the server deduplicates (epoch, seq), so resending the
                        // same batch after a lost response or a refusal is safe.
                        TimeSpan? delay = retries < _retry.MaxRetries ? BackoffFor(retries, response) : null;
                        if (delay is null)
                        {
                            // Out of retries, or the server asked for a longer wait than
                            // RetryOptions.MaxRetryAfter: the answer's exception carries its Retry-After.
                            throw networkFailure is not null
                                ? RetriesExhausted(request!, epoch, seq, retries, networkFailure)
                                : await ErrorMapper.ToExceptionAsync(response!, request!, _time).ConfigureAwait(false);
                        }

                        retries++;
                        ProducerLog.Retrying(_logger, _urlForLogs, epoch, seq, networkFailure?.GetType().Name ?? $"HTTP {(int)response!.StatusCode}", delay.Value.TotalMilliseconds, retries, _retry.MaxRetries);
                        await Task.Delay(delay.Value, _time, _stop.Token).ConfigureAwait(false);
                        continue;
                    }

                    switch (response.StatusCode)
                    {
                        case HttpStatusCode.NoContent when attemptsOfKey == 1 && !batch.IsClose:
                            // A duplicate answer to the first attempt of this (epoch, seq): no earlier
                            // attempt of ours can have stored it, so another instance with the same id
                            // and epoch did — typically this producer's previous run, restarted without
                            // a higher epoch (PROTOCOL.md §5.2.1). Treating it as success would drop
                            // this batch silently.
                            await HandleForeignDuplicateAsync(batch, epoch, seq).ConfigureAwait(false);
                            continue;

                        case HttpStatusCode.OK or HttpStatusCode.NoContent:
                            activity?.SetTag("http.response.status_code", (int)response.StatusCode);
                            batch.NextOffset = batch.IsClose
                                ? ResponseHeaders.RequireNextOffset(response, _stream.Url, request!.Operation)
                                : ResponseHeaders.TryGetOffset(response, ProtocolHeaders.NextOffset);
                            return;

                        case HttpStatusCode.Forbidden when ResponseHeaders.TryGetInt64(response, ProtocolHeaders.ProducerEpoch) is { } serverEpoch:
                            await HandleStaleEpochAsync(batch, epoch, serverEpoch).ConfigureAwait(false);
                            continue;

                        case HttpStatusCode.Conflict when !ResponseHeaders.IsClosed(response) &&
                                                          ResponseHeaders.TryGetInt64(response, ProtocolHeaders.ProducerExpectedSeq) is { } expected:
                            long received = ResponseHeaders.TryGetInt64(response, ProtocolHeaders.ProducerReceivedSeq) ?? seq;
                            lock (_gate)
                            {
                                // The server has not stored this sequence: an earlier lost response is resolved.
                                batch.Ambiguous = false;
                            }

                            if (expected < seq && !earlierStored)
                            {
                                lock (_gate)
                                {
                                    // This batch overtook an earlier one on another connection and the
                                    // server refused it rather than wait: it processes requests in
                                    // arrival order, and every overtaking batch would be uploaded twice.
                                    // Send one batch at a time from now on (ProducerOptions.MaxInFlight).
                                    _sequential = true;
                                }
                            }

                            if (expected < seq && !earlierStored && await WaitForEarlierBatchesAsync(batch, epoch, expected, seq).ConfigureAwait(false))
                            {
                                continue;
                            }

                            throw new SequenceGapException(
                                $"POST {_urlForLogs} (producer batch, epoch {epoch}) was refused: the server expected sequence {expected} but received {received}, and no earlier batch of this producer is still being sent.",
                                expected,
                                received,
                                _stream.Url);

                        default:
                            throw await ErrorMapper.ToExceptionAsync(response, request!, _time).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception ex)
        {
            failure = ex;
            DurableStreamsTelemetry.RecordError(activity, ex);
        }
        finally
        {
            activity?.SetTag("durable_streams.retry_count", Math.Max(0, attempts - 1));
            CompleteBatch(batch, failure, aborted);
        }
    }

    /// <summary>One span per producer batch, covering every attempt to send it.</summary>
    private Activity? StartBatchActivity(ProducerBatch batch)
    {
        Activity? activity = DurableStreamsTelemetry.ActivitySource.StartActivity(
            batch.IsClose ? "durable_streams.producer.close" : "durable_streams.producer.batch", ActivityKind.Client);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("durable_streams.operation", batch.IsClose ? "producer.close" : "producer.batch");
        activity.SetTag("url.full", _urlForLogs);
        activity.SetTag("durable_streams.producer.epoch", batch.Epoch);
        activity.SetTag("durable_streams.producer.seq", batch.Seq);
        activity.SetTag("durable_streams.messages", batch.Count);
        activity.SetTag("durable_streams.bytes", batch.PayloadBytes);
        return activity;
    }

    private async ValueTask<string?> ContentTypeForAsync(ProducerBatch batch)
    {
        Task<string>? learn = null;
        lock (_gate)
        {
            if (_mode == ContentMode.Unknown)
            {
                learn = _contentTypeTask ??= LearnContentTypeAsync();
            }
        }

        if (learn is not null)
        {
            await learn.ConfigureAwait(false);
        }

        if (batch.TrackItems && _mode == ContentMode.Bytes)
        {
            // Built before the content type was known, in JSON layout: make it a concatenation.
            batch.ConvertToByteLayout();
        }

        return _contentType;
    }

    private async Task<string> LearnContentTypeAsync()
    {
        string contentType = await _stream.EnsureContentTypeAsync(_stop.Token).ConfigureAwait(false);
        lock (_gate)
        {
            _contentType = contentType;
            _mode = ModeOf(contentType);
        }

        return contentType;
    }

    /// <summary>
    /// Waits until the batch may be sent (no epoch claim running; seq 0 or a confirmed epoch) and
    /// counts it outstanding. <c>EarlierStored</c> says whether every earlier batch was acknowledged
    /// before this attempt left, which makes a sequence gap answer to it a real gap.
    /// </summary>
    private async ValueTask<(bool Proceed, long Epoch, long Seq, bool EarlierStored)> EnterAttemptAsync(ProducerBatch batch)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_fault is not null)
                {
                    return (false, 0, 0, false);
                }

                _stop.Token.ThrowIfCancellationRequested();
                if (!_claiming && (batch.Seq == 0 || _epochConfirmed))
                {
                    _outstanding++;
                    return (true, batch.Epoch, batch.Seq, _ackedThrough >= batch.Ordinal - 1);
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
    }

    private void LeaveAttempt(ProducerBatch batch, bool ambiguous)
    {
        lock (_gate)
        {
            _outstanding--;
            if (ambiguous)
            {
                // No answer: the server may or may not have stored this (epoch, seq).
                batch.Ambiguous = true;
            }

            TryCompleteClaimLocked();
            SignalLocked();
        }
    }

    private async ValueTask<StreamRequest> BuildRequestAsync(ProducerBatch batch, string? contentType, long epoch, long seq)
    {
        var request = new StreamRequest(HttpMethod.Post, _stream.Url, batch.IsClose ? "producer close" : "producer append")
        {
            RetryMode = RetryMode.Safe,
        };
        request.AddHeader(ProtocolHeaders.ProducerId, _producerId);
        request.AddHeader(ProtocolHeaders.ProducerEpoch, epoch.ToString(CultureInfo.InvariantCulture));
        request.AddHeader(ProtocolHeaders.ProducerSeq, seq.ToString(CultureInfo.InvariantCulture));
        if (batch.IsClose)
        {
            request.AddHeader(ProtocolHeaders.Closed, ProtocolHeaders.True);
        }

        if (batch.Body.Length > 0)
        {
            request.ContentType = contentType ?? MediaTypes.OctetStream;
            request.Content = batch.CreateContent;
        }

        if (_headersProvider is not null)
        {
            IReadOnlyDictionary<string, string> dynamicHeaders = await _headersProvider(_stop.Token).ConfigureAwait(false);
            request.Headers.AddRange(dynamicHeaders);
        }

        request.Headers.AddRange(_headers);
        return request;
    }

    private TimeSpan? BackoffFor(int retry, HttpResponseMessage? response) =>
        Backoff.Delay(_retry, retry, response is null ? null : HttpTransport.RetryAfterOf(response, _time));

    private DurableStreamException RetriesExhausted(StreamRequest request, long epoch, long seq, int retries, Exception failure) =>
        new(
            $"POST {_urlForLogs} (producer batch, epoch {epoch}, seq {seq}) failed after {retries} retries: {failure.Message} " +
            "The batch may or may not have been stored; no later batch was sent.",
            0,
            failure is TimeoutException ? DurableStreamErrorCodes.Timeout : DurableStreamErrorCodes.NetworkError,
            request.Url,
            failure);

    /// <summary>
    /// 409 with <c>Producer-Expected-Seq</c> below this batch's sequence: with pipelining the batch
    /// overtook earlier ones (PROTOCOL.md §5.2.1 concurrency). Waits until they are acknowledged
    /// (completions are recorded whether or not anyone waits, so one that came first counts) and
    /// returns <see langword="true"/> to resend the same (epoch, seq).
    /// </summary>
    private async ValueTask<bool> WaitForEarlierBatchesAsync(ProducerBatch batch, long sentEpoch, long expected, long seq)
    {
        bool first = true;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_fault is { } fault)
                {
                    ExceptionDispatchInfo.Throw(fault);
                }

                if (batch.Epoch != sentEpoch)
                {
                    return true;
                }

                if (_ackedThrough >= batch.Ordinal - 1)
                {
                    return true;
                }

                if (first)
                {
                    ProducerLog.WaitingForEarlierBatches(_logger, _urlForLogs, sentEpoch, seq, expected);
                }

                changed = _changed.Task;
            }

            first = false;
            await changed.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// 403: a newer epoch fenced this one. Without auto-claim the batch fails. With it, the producer
    /// waits until no request of the old epoch is outstanding, then claims the server's epoch + 1 and
    /// renumbers every unacknowledged batch from seq 0 (PROTOCOL.md §5.2.1 auto-claim flow).
    /// </summary>
    private ValueTask HandleForeignDuplicateAsync(ProducerBatch batch, long sentEpoch, long seq)
    {
        if (!_autoClaim)
        {
            throw new StaleEpochException(
                $"POST {_urlForLogs} (producer batch, epoch {sentEpoch}, seq {seq}) was answered as a duplicate although this producer never sent it: " +
                $"another instance with producer id '{_producerId}' already used epoch {sentEpoch}. A restarted producer must use a higher ProducerOptions.Epoch, or AutoClaim; the batch was not stored.",
                sentEpoch,
                _stream.Url,
                status: 204);
        }

        // The server's epoch is the one we sent (a lower one would have been answered 403): claim the next.
        return HandleStaleEpochAsync(batch, sentEpoch, sentEpoch);
    }

    private async ValueTask HandleStaleEpochAsync(ProducerBatch batch, long sentEpoch, long serverEpoch)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                _lastServerEpoch = Math.Max(_lastServerEpoch, serverEpoch);
                if (_fault is { } fault)
                {
                    ExceptionDispatchInfo.Throw(fault);
                }

                if (batch.Epoch != sentEpoch)
                {
                    return;
                }

                if (!_claiming)
                {
                    if (!_autoClaim || (_claimedEpoch == sentEpoch && !_epochConfirmed))
                    {
                        throw new StaleEpochException(
                            $"POST {_urlForLogs} (producer batch, epoch {sentEpoch}, seq {batch.Seq}) was refused: the server's epoch for this producer is {serverEpoch}" +
                            (_autoClaim ? ", and the epoch this producer claimed was fenced again before any batch was stored." : ". A newer instance of this producer took over (zombie fencing, PROTOCOL.md §5.2.1)."),
                            serverEpoch,
                            _stream.Url);
                    }

                    _claiming = true;
                    _claimServerEpoch = serverEpoch;
                }
                else
                {
                    _claimServerEpoch = Math.Max(_claimServerEpoch, serverEpoch);
                }

                TryCompleteClaimLocked();
                if (_fault is { } claimFault)
                {
                    ExceptionDispatchInfo.Throw(claimFault);
                }

                if (batch.Epoch != sentEpoch)
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
    }

    private void TryCompleteClaimLocked()
    {
        if (!_claiming || _outstanding > 0)
        {
            return;
        }

        _claiming = false;
        long newEpoch = _claimServerEpoch + 1;
        int count = 0;
        foreach (ProducerBatch batch in _window)
        {
            if (batch.Done)
            {
                continue;
            }

            if (batch.Ambiguous)
            {
                // A request of the fenced epoch got no answer: it may be stored, and the fenced epoch
                // can no longer tell. Renumbering it could store it twice, so fail loudly instead.
                FaultLocked(new StaleEpochException(
                    $"The producer on {_urlForLogs} was fenced by epoch {_claimServerEpoch} while the outcome of one of its batches was unknown (its response was lost); auto-claim cannot resend it without risking a duplicate.",
                    _claimServerEpoch,
                    _stream.Url));
                return;
            }

            count++;
        }

        int seq = 0;
        foreach (ProducerBatch batch in _window)
        {
            if (!batch.Done)
            {
                batch.Epoch = newEpoch;
                batch.Seq = seq++;
                batch.Ambiguous = false;
            }
        }

        ProducerLog.ClaimingEpoch(_logger, _urlForLogs, _claimServerEpoch, newEpoch, count);
        _epoch = newEpoch;
        _nextSeq = seq;
        _epochConfirmed = false;
        _claimedEpoch = newEpoch;
        SignalLocked();
        PumpLocked();
    }

    private void CompleteBatch(ProducerBatch batch, Exception? failure, bool aborted)
    {
        DurableStreamException? reported = null;
        lock (_gate)
        {
            batch.Done = true;
            _inFlight--;
            _bufferedBytes -= batch.PayloadBytes;
            _bufferedMessages -= batch.Count;
            DurableStreamsTelemetry.ProducerInFlight.Add(-1);
            DurableStreamsTelemetry.ProducerBufferedBytes.Add(-batch.PayloadBytes);
            if (failure is null && !aborted)
            {
                batch.Succeeded = true;
                DurableStreamsTelemetry.BytesAppended.Add(batch.PayloadBytes);
                DurableStreamsTelemetry.MessagesAppended.Add(batch.Count);
                batch.Ambiguous = false;
                if (batch.NextOffset is { } offset && (_lastAcked is not { } last || offset.CompareTo(last) > 0))
                {
                    _lastAcked = offset;
                }

                if (batch.Epoch == _epoch)
                {
                    _epochConfirmed = true;
                }

                while (_window.Count > 0 && _window[0].Succeeded)
                {
                    _ackedThrough = _window[0].Ordinal;
                    _window.RemoveAt(0);
                }
            }
            else if (failure is not null)
            {
                DurableStreamException exception = failure as DurableStreamException ?? new DurableStreamException(
                    $"The producer on {_urlForLogs} stopped before a batch (epoch {batch.Epoch}, seq {batch.Seq}) was acknowledged: {failure.Message}",
                    0,
                    DurableStreamErrorCodes.Unknown,
                    _stream.Url,
                    failure);
                if (FaultLocked(exception))
                {
                    reported = exception;
                }
            }

            batch.Release();
            SignalLocked();
            PumpLocked();
        }

        if (reported is not null)
        {
            Report(reported, batch);
        }
    }

    /// <summary>Records the first failure; unsent messages are dropped (they are reported by it).</summary>
    private bool FaultLocked(DurableStreamException exception)
    {
        if (_fault is not null)
        {
            return false;
        }

        _fault = exception;
        while (_queued.TryDequeue(out ProducerBatch? queued))
        {
            queued.Done = true;
            _bufferedBytes -= queued.PayloadBytes;
            DurableStreamsTelemetry.ProducerBufferedBytes.Add(-queued.PayloadBytes);
            _bufferedMessages -= queued.Count;
            _pendingMessages -= queued.Count;
            queued.Release();
        }

        if (_open is { } open)
        {
            _open = null;
            _bufferedBytes -= open.PayloadBytes;
            DurableStreamsTelemetry.ProducerBufferedBytes.Add(-open.PayloadBytes);
            _bufferedMessages -= open.Count;
            _pendingMessages -= open.Count;
            open.Release();
        }

        SignalLocked();
        return true;
    }

    private void Report(DurableStreamException exception, ProducerBatch batch)
    {
        ProducerLog.Failed(_logger, exception, _urlForLogs, batch.Epoch, batch.Seq);
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
                ProducerLog.CallbackFailed(_logger, ex, _urlForLogs);
            }
        }
    }
}
