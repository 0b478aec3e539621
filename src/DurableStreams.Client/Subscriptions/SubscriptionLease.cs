using System.Net;
using DurableStreams.Subscriptions.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams;

/// <summary>Where a <see cref="SubscriptionLease"/> is in its life.</summary>
public enum SubscriptionLeaseState
{
    /// <summary>Held: acks and heartbeats are accepted, and the lease renews itself.</summary>
    Active = 0,

    /// <summary>Finished with a final ack (<c>done</c>); the server released it.</summary>
    Completed = 1,

    /// <summary>Given back without a final ack; pending work is woken again.</summary>
    Released = 2,

    /// <summary>The server refused it as stale (<c>FENCED</c>): another wake replaced it. Nothing more is sent.</summary>
    Fenced = 3,

    /// <summary>
    /// Lost without a <c>FENCED</c> answer: the token was refused (<c>TOKEN_EXPIRED</c>/<c>TOKEN_INVALID</c>), or no
    /// renewal succeeded for a whole TTL, so the server has most likely expired it.
    /// </summary>
    Expired = 4,

    /// <summary>Disposed while still active: renewal stopped and the lease was released.</summary>
    Disposed = 5,
}

/// <summary>
/// A claim on a pull-wake subscription's pending work (PROTOCOL.md §7.2–§7.3): the wake, its fencing
/// generation and token, and every linked stream with the offset to read from and the tail to read to.
/// </summary>
/// <remarks>
/// <para>
/// The lease renews itself with a heartbeat (an ack without <c>done</c>) every third of
/// <see cref="LeaseTtl"/>, driven by the client's <see cref="TimeProvider"/>, until it is completed,
/// released, fenced or disposed. When the server answers <c>FENCED</c> (another wake replaced this one),
/// or renewals failed for a whole TTL, <see cref="Lost"/> is canceled: stop processing. After that
/// every operation throws <see cref="SubscriptionFencedException"/> (or the failure that ended the
/// lease) without sending anything, so a stale worker can never move a cursor.
/// </para>
/// <para>
/// Thread safety: every member is safe to call concurrently; requests of one lease are sent one at
/// a time. Acks are inclusive: acking offset N means processing resumes after N. Dispose the lease
/// when done: <see cref="DisposeAsync"/> stops renewal and releases a lease still active.
/// </para>
/// </remarks>
public class SubscriptionLease : IAsyncDisposable
{
    private readonly DurableStreamSubscriptions? _owner;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stopRenewing = new();
    private volatile SubscriptionLeaseState _state;
    private DurableStreamException? _failure;
    private long _lastRenewedTimestamp;
    private Task _renewal = Task.CompletedTask;

    internal SubscriptionLease(
        DurableStreamSubscriptions owner,
        string subscriptionId,
        string worker,
        string wakeId,
        long generation,
        string token,
        IReadOnlyList<SubscriptionWakeStream> streams,
        TimeSpan leaseTtl)
    {
        _owner = owner;
        SubscriptionId = subscriptionId;
        Worker = worker;
        WakeId = wakeId;
        Generation = generation;
        Token = token;
        Streams = streams;
        LeaseTtl = leaseTtl;
        _lastRenewedTimestamp = owner.TimeProvider.GetTimestamp();
    }

    /// <summary>For mocking: a lease with no connection, whose virtual members a test double overrides.</summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="wakeId">The wake id.</param>
    /// <param name="generation">The generation.</param>
    /// <param name="streams">The streams of the wake.</param>
    /// <param name="leaseTtl">The lease TTL.</param>
    protected SubscriptionLease(string subscriptionId, string wakeId, long generation, IReadOnlyList<SubscriptionWakeStream> streams, TimeSpan leaseTtl)
    {
        SubscriptionId = subscriptionId;
        Worker = string.Empty;
        WakeId = wakeId;
        Generation = generation;
        Token = string.Empty;
        Streams = streams;
        LeaseTtl = leaseTtl;
    }

    /// <summary>The subscription id.</summary>
    public string SubscriptionId { get; }

    /// <summary>The worker name the lease was claimed with.</summary>
    public string Worker { get; }

    /// <summary>The wake this lease belongs to.</summary>
    public string WakeId { get; }

    /// <summary>The subscription's fencing counter for this wake; a later wake has a higher one.</summary>
    public long Generation { get; }

    /// <summary>The claim token sent as the bearer token of acks and releases. A secret: never log it.</summary>
    public string Token { get; }

    /// <summary>Every linked stream with the acked offset to read from and the tail of the wake snapshot to read to.</summary>
    public IReadOnlyList<SubscriptionWakeStream> Streams { get; }

    /// <summary>How long the lease lasts without a heartbeat.</summary>
    public TimeSpan LeaseTtl { get; }

    /// <summary>How often the lease renews itself: a third of <see cref="LeaseTtl"/>.</summary>
    public TimeSpan RenewalInterval => LeaseTtl / 3;

    /// <summary>The lease's state.</summary>
    public virtual SubscriptionLeaseState State => _state;

    /// <summary>
    /// Canceled when the lease is fenced, expires, or is disposed while active: pass it to the work done
    /// under the lease so that it stops when the lease is gone. Not canceled by completion or release.
    /// </summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>
    /// Acks progress without finishing (PROTOCOL.md §7.2): moves the cursors and renews the lease.
    /// </summary>
    /// <param name="acks">The offsets processed, per stream; may be empty (a pure heartbeat).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the server accepted the acks.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="acks"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The lease was completed, released or disposed.</exception>
    /// <exception cref="SubscriptionFencedException">The lease was fenced; nothing was applied.</exception>
    /// <exception cref="DurableStreamException">An offset regresses or passes the tail (<see cref="DurableStreamErrorCodes.InvalidOffset"/>),
    /// the token expired, or the server could not be reached.</exception>
    public virtual async Task AckAsync(IEnumerable<SubscriptionAck> acks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(acks);
        await SendAckAsync([.. acks], done: false, "subscription-ack", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Renews the lease without moving any cursor (an ack with no offsets).</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the server renewed the lease.</returns>
    /// <exception cref="InvalidOperationException">The lease was completed, released or disposed.</exception>
    /// <exception cref="SubscriptionFencedException">The lease was fenced.</exception>
    /// <exception cref="DurableStreamException">The token expired, or the server could not be reached.</exception>
    public virtual Task HeartbeatAsync(CancellationToken cancellationToken = default) =>
        SendAckAsync([], done: false, "subscription-heartbeat", cancellationToken);

    /// <summary>
    /// Acks the final offsets and finishes the wake (<c>done</c>, PROTOCOL.md §7.2): the server applies the
    /// acks and releases the lease. If work is pending past them, it issues a new wake
    /// (<see cref="SubscriptionAckResult.NextWake"/>).
    /// </summary>
    /// <remarks>
    /// If the connection failed after the request may have arrived and the retry is refused as
    /// <c>FENCED</c>, the first attempt most likely finished the wake: the lease counts as completed and
    /// <see cref="SubscriptionAckResult.NextWake"/> is <see langword="false"/> (a worker following the wake
    /// stream sees any new wake). If it had not arrived, the lease expires and the work is delivered again.
    /// </remarks>
    /// <param name="acks">The offsets processed, per stream.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>Whether a new wake was issued.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="acks"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The lease was completed, released or disposed.</exception>
    /// <exception cref="SubscriptionFencedException">The lease was fenced; nothing was applied.</exception>
    /// <exception cref="DurableStreamException">An offset is invalid, the token expired, or the server could not be reached.</exception>
    public virtual async Task<SubscriptionAckResult> CompleteAsync(IEnumerable<SubscriptionAck> acks, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(acks);
        return await SendAckAsync([.. acks], done: true, "subscription-complete", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives the lease back without a final ack (<c>POST …/release</c>, PROTOCOL.md §7.2); acks sent
    /// before stay applied, and pending work is woken again for any worker.
    /// </summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the server released the lease.</returns>
    /// <exception cref="InvalidOperationException">The lease was completed, released or disposed.</exception>
    /// <exception cref="SubscriptionFencedException">The lease was fenced.</exception>
    /// <exception cref="DurableStreamException">The token expired, or the server could not be reached.</exception>
    public virtual async Task ReleaseAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfNotActive();
            await ReleaseCoreAsync(cancellationToken).ConfigureAwait(false);
            _state = SubscriptionLeaseState.Released;
            _stopRenewing.Cancel();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops renewal and, when the lease is still active, releases it (failures ignored) and cancels <see cref="Lost"/>.</summary>
    /// <returns>A task that completes when renewal stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Stops renewal and releases a lease still active.</summary>
    /// <returns>A task that completes when renewal stopped.</returns>
    protected virtual async ValueTask DisposeAsyncCore()
    {
        if (_owner is null)
        {
            return;
        }

        _stopRenewing.Cancel();
        try
        {
            await _renewal.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_state != SubscriptionLeaseState.Active)
            {
                return;
            }

            _state = SubscriptionLeaseState.Disposed;
            _lost.Cancel();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await ReleaseCoreAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DurableStreamException or OperationCanceledException)
            {
                // Best effort: an unreleased lease expires on the server after its TTL.
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    internal void StartRenewing() => _renewal = RenewLoopAsync(_stopRenewing.Token);

    private async Task RenewLoopAsync(CancellationToken stop)
    {
        TimeProvider time = Owner.TimeProvider;
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(RenewalInterval, time, stop).ConfigureAwait(false);
            try
            {
                await SendAckAsync([], done: false, "subscription-heartbeat", stop).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                return;
            }
            catch (SubscriptionFencedException)
            {
                return;
            }
            catch (DurableStreamException ex)
            {
                if (time.GetElapsedTime(Interlocked.Read(ref _lastRenewedTimestamp)) >= LeaseTtl)
                {
                    await MarkLostAsync(SubscriptionLeaseState.Expired, ex).ConfigureAwait(false);
                    return;
                }
            }
        }
    }

    private async Task MarkLostAsync(SubscriptionLeaseState state, DurableStreamException failure)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_state == SubscriptionLeaseState.Active)
            {
                _state = state;
                _failure = failure;
                _lost.Cancel();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<SubscriptionAckResult> SendAckAsync(List<SubscriptionAck> acks, bool done, string operation, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfNotActive();
            var body = new AckRequestWire
            {
                WakeId = WakeId,
                Generation = Generation,
                Acks = acks.ConvertAll(a => new AckWire { Stream = a.Stream, Offset = a.Offset.Value }),
                Done = done,
            };
            StreamRequest request = SubscriptionHttp.Request(
                HttpMethod.Post, Owner.ActionUrl(SubscriptionId, "ack"), operation, body, SubscriptionJsonContext.Default.AckRequestWire, Token);
            using HttpResponseMessage response = await Owner.Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                DurableStreamException failure = await Fail(response, request).ConfigureAwait(false);
                if (done && failure is SubscriptionFencedException && request.EarlierAttemptMayHaveArrived)
                {
                    Finish(SubscriptionLeaseState.Completed);
                    return new SubscriptionAckResult(nextWake: false);
                }

                throw failure;
            }

            AckResponseWire wire = await SubscriptionHttp.ReadJsonAsync(response, request, SubscriptionJsonContext.Default.AckResponseWire, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastRenewedTimestamp, Owner.TimeProvider.GetTimestamp());
            if (done)
            {
                Finish(SubscriptionLeaseState.Completed);
            }

            return new SubscriptionAckResult(wire.NextWake == true);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ReleaseCoreAsync(CancellationToken cancellationToken)
    {
        var body = new ReleaseRequestWire { WakeId = WakeId, Generation = Generation };
        StreamRequest request = SubscriptionHttp.Request(
            HttpMethod.Post, Owner.ActionUrl(SubscriptionId, "release"), "subscription-release", body, SubscriptionJsonContext.Default.ReleaseRequestWire, Token);
        using HttpResponseMessage response = await Owner.Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.NoContent or HttpStatusCode.OK))
        {
            DurableStreamException failure = await Fail(response, request).ConfigureAwait(false);
            if (failure is SubscriptionFencedException && request.EarlierAttemptMayHaveArrived)
            {
                return; // The first attempt most likely released it.
            }

            throw failure;
        }
    }

    /// <summary>Maps a refusal and, for the ones that end the lease, records it (the caller holds the gate).</summary>
    private async Task<DurableStreamException> Fail(HttpResponseMessage response, StreamRequest request)
    {
        DurableStreamException failure = await SubscriptionHttp.ToExceptionAsync(response, request, SubscriptionId, Generation, Owner.TimeProvider).ConfigureAwait(false);
        SubscriptionLeaseState? lost = failure switch
        {
            SubscriptionFencedException => SubscriptionLeaseState.Fenced,
            SubscriptionNotFoundException => SubscriptionLeaseState.Fenced,
            { ErrorCode: DurableStreamErrorCodes.TokenExpired or DurableStreamErrorCodes.TokenInvalid } => SubscriptionLeaseState.Expired,
            _ => null,
        };
        if (lost is { } state && !(failure is SubscriptionFencedException && request.EarlierAttemptMayHaveArrived))
        {
            _state = state;
            _failure = failure;
            _stopRenewing.Cancel();
            _lost.Cancel();
        }

        return failure;
    }

    private void Finish(SubscriptionLeaseState state)
    {
        _state = state;
        _stopRenewing.Cancel();
    }

    private void ThrowIfNotActive() =>
        WakeGuard.ThrowIfNotActive(_state, _failure, SubscriptionId, Generation, () => $"The lease of generation {Generation} on subscription '{SubscriptionId}' is {_state}; claim again for more work.");

    private DurableStreamSubscriptions Owner => _owner ?? throw new InvalidOperationException("This SubscriptionLease was created for mocking; override the member you call.");
}
