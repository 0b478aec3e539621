using System.Threading.Channels;
using DurableStreams.Subscriptions.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DurableStreams;

/// <summary>
/// A competing-consumer worker for one pull-wake subscription (PROTOCOL.md §7.2–§7.3): follows the
/// wake stream live, races other workers to claim on every wake, reads every pending stream from
/// its acked offset to the tail of the wake snapshot, hands each read response to an
/// <see cref="ISubscriptionHandler"/>, acks handled progress, and finishes each wake with a final ack.
/// </summary>
/// <remarks>
/// <para>
/// Several workers (threads, processes, machines) may run on one subscription: the server grants the
/// lease to one at a time, and the others wait for the next wake event. The lease renews itself while
/// the handler works (<see cref="SubscriptionLease"/>).
/// </para>
/// <para>
/// Delivery is at least once. A batch is acked only after <see cref="ISubscriptionHandler.HandleAsync"/>
/// returned, and is handed to a handler again (under a later generation) when its ack did not reach
/// the server: the worker crashed or was killed after handling it but before the next periodic ack
/// (<see cref="SubscriptionWorkerOptions.AckInterval"/>) or the final ack; the lease was lost (fenced
/// or expired, e.g. after a network partition longer than the TTL) in that window; or the handler
/// threw, in which case the worker acks the batches before it, releases the lease and fails. On
/// shutdown the worker acks what was handled, releases the lease, and never acks the batch it was
/// canceled in. A stream that is not JSON and whose read response is split into parts (over 1 MiB)
/// is acked only at the end of the response, so every part of it may be handed over again.
/// </para>
/// </remarks>
public class SubscriptionWorker
{
    private static readonly Action<ILogger, string, long, string, Exception?> LogClaimed =
        LoggerMessage.Define<string, long, string>(LogLevel.Debug, new EventId(100, "SubscriptionClaimed"), "Claimed subscription {SubscriptionId} generation {Generation} as {Worker}");

    private static readonly Action<ILogger, string, long, Exception?> LogLeaseLost =
        LoggerMessage.Define<string, long>(LogLevel.Warning, new EventId(101, "SubscriptionLeaseLost"), "Lost the lease of subscription {SubscriptionId} generation {Generation}; waiting for the next wake");

    private static readonly Action<ILogger, string, long, Exception?> LogHandlerFailed =
        LoggerMessage.Define<string, long>(LogLevel.Error, new EventId(102, "SubscriptionHandlerFailed"), "The handler of subscription {SubscriptionId} failed under generation {Generation}; the lease was released");

    private readonly DurableStreamSubscriptions _subscriptions;
    private readonly Func<SubscriptionLease, CancellationToken, ValueTask<ISubscriptionHandler>> _handlerFactory;
    private readonly SubscriptionWorkerOptions _options;
    private readonly ILogger _logger;
    private readonly bool _ownsHandlers;
    private int _started;

    /// <summary>Creates a worker. Does no I/O.</summary>
    /// <param name="subscriptions">The subscription API of the server.</param>
    /// <param name="subscriptionId">The pull-wake subscription to work on.</param>
    /// <param name="handler">The handler of every batch.</param>
    /// <param name="options">Settings; validated here. Default: <see cref="SubscriptionWorkerOptions"/> defaults.</param>
    /// <param name="logger">Where to log claims, lost leases and handler failures. Default: none.</param>
    /// <exception cref="ArgumentException">An argument is empty or an option invalid.</exception>
    public SubscriptionWorker(DurableStreamSubscriptions subscriptions, string subscriptionId, ISubscriptionHandler handler, SubscriptionWorkerOptions? options = null, ILogger? logger = null)
        : this(subscriptions, subscriptionId, (_, _) => ValueTask.FromResult(handler ?? throw new ArgumentNullException(nameof(handler))), options, logger)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _ownsHandlers = false;
    }

    internal SubscriptionWorker(
        DurableStreamSubscriptions subscriptions,
        string subscriptionId,
        Func<SubscriptionLease, CancellationToken, ValueTask<ISubscriptionHandler>> handlerFactory,
        SubscriptionWorkerOptions? options,
        ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        options ??= new SubscriptionWorkerOptions();
        options.Validate(nameof(options));
        _subscriptions = subscriptions;
        _handlerFactory = handlerFactory;
        _ownsHandlers = true;
        SubscriptionId = subscriptionId;
        _options = new SubscriptionWorkerOptions
        {
            WorkerName = options.WorkerName ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}",
            AckInterval = options.AckInterval,
            ClaimPollInterval = options.ClaimPollInterval,
            WakeLiveMode = options.WakeLiveMode,
            ClientName = options.ClientName,
        };
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The subscription this worker works on.</summary>
    public string SubscriptionId { get; }

    /// <summary>The name this worker claims with.</summary>
    public string WorkerName => _options.WorkerName!;

    /// <summary>
    /// Runs until <paramref name="cancellationToken"/> is canceled: follows the wake stream and works
    /// every wake it can claim. One run per instance.
    /// </summary>
    /// <param name="cancellationToken">Stops the worker: the current wake's handled progress is acked and its lease released.</param>
    /// <returns>A task that ends with <see cref="OperationCanceledException"/> when stopped, or with the failure that stopped the worker.</returns>
    /// <exception cref="InvalidOperationException">The subscription is not pull-wake, or the worker already ran.</exception>
    /// <exception cref="SubscriptionNotFoundException">The subscription does not exist.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached after retries.</exception>
    public virtual async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A SubscriptionWorker runs once; create another one.");
        }

        SubscriptionInfo info = await _subscriptions.GetAsync(SubscriptionId, cancellationToken).ConfigureAwait(false);
        if (info.Type != SubscriptionType.PullWake || info.WakeStream is null)
        {
            throw new InvalidOperationException($"The subscription '{SubscriptionId}' is a {info.Type} subscription; a SubscriptionWorker needs a pull-wake one.");
        }

        DurableStream wakeStream = _subscriptions.GetStream(info.WakeStream);

        // Start following from the wake stream's tail *before* the first claim, so no wake written
        // after that claim attempt is missed.
        StreamMetadata wakeTail = await wakeStream.HeadAsync(cancellationToken).ConfigureAwait(false);
        var wakes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        wakes.Writer.TryWrite(true);

        using var stopFollowing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task follower = FollowWakesAsync(wakeStream, wakeTail.NextOffset, wakes.Writer, stopFollowing.Token);
        try
        {
            TimeProvider time = _subscriptions.TimeProvider;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (var poll = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    Task<bool> woken = wakes.Reader.WaitToReadAsync(poll.Token).AsTask();
                    Task timer = Task.Delay(_options.ClaimPollInterval, time, poll.Token);
                    Task first = await Task.WhenAny(woken, timer, follower).ConfigureAwait(false);
                    poll.Cancel();
                    if (first == follower)
                    {
                        await follower.ConfigureAwait(false);
                        throw new DurableStreamException($"The wake stream of subscription '{SubscriptionId}' ended unexpectedly.");
                    }
                }

                cancellationToken.ThrowIfCancellationRequested();
                while (wakes.Reader.TryRead(out _))
                {
                }

                // After a final ack with next_wake, claim again at once.
                while (await TryWorkOneWakeAsync(cancellationToken).ConfigureAwait(false))
                {
                }
            }
        }
        finally
        {
            await stopFollowing.CancelAsync().ConfigureAwait(false);
            try
            {
                await follower.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private async Task FollowWakesAsync(DurableStream wakeStream, Offset from, ChannelWriter<bool> wakes, CancellationToken cancellationToken)
    {
        var read = new ReadOptions { Offset = from, Live = _options.WakeLiveMode };
        await foreach (StreamItem<WakeEventWire> item in wakeStream.ReadJsonAsync(SubscriptionJsonContext.Default.WakeEventWire, read, cancellationToken).ConfigureAwait(false))
        {
            if (string.Equals(item.Value.SubscriptionId, SubscriptionId, StringComparison.Ordinal))
            {
                wakes.TryWrite(true);
            }
        }
    }

    /// <summary>Claims and works one wake; returns whether the server issued the next wake at once.</summary>
    private async Task<bool> TryWorkOneWakeAsync(CancellationToken stoppingToken)
    {
        SubscriptionLease lease;
        try
        {
            lease = await _subscriptions.ClaimAsync(SubscriptionId, WorkerName, stoppingToken).ConfigureAwait(false);
        }
        catch (SubscriptionAlreadyClaimedException)
        {
            return false; // Another worker has it; its finish or expiry writes the next wake.
        }
        catch (DurableStreamException ex) when (ex.ErrorCode == DurableStreamErrorCodes.NoPendingWork)
        {
            return false;
        }

        await using (lease.ConfigureAwait(false))
        {
            LogClaimed(_logger, SubscriptionId, lease.Generation, WorkerName, null);
            return await WorkAsync(lease, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> WorkAsync(SubscriptionLease lease, CancellationToken stoppingToken)
    {
        using var work = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lease.Lost);
        TimeProvider time = _subscriptions.TimeProvider;
        var handled = new Dictionary<string, Offset>(StringComparer.Ordinal);
        long lastAck = time.GetTimestamp();
        ISubscriptionHandler? handler = null;
        try
        {
            handler = await _handlerFactory(lease, work.Token).ConfigureAwait(false);
            foreach (SubscriptionWakeStream pending in lease.Streams)
            {
                if (!pending.HasPending)
                {
                    continue;
                }

                DurableStream stream = _subscriptions.GetStream(pending.Path);
                var read = new ReadOptions { Offset = pending.AckedOffset };
                try
                {
                    await foreach (StreamChunk chunk in stream.ReadAsync(read, work.Token).ConfigureAwait(false))
                    {
                        if (!chunk.Data.IsEmpty)
                        {
                            var batch = new SubscriptionBatch(SubscriptionId, lease.Generation, pending.Path, chunk.Data, chunk.ContentType, chunk.StartOffset, chunk.NextOffset);
                            await handler.HandleAsync(batch, work.Token).ConfigureAwait(false);
                        }

                        if (chunk.Partial)
                        {
                            continue; // Offsets exist only at response boundaries (PROTOCOL.md §8).
                        }

                        if (chunk.NextOffset.CompareTo(pending.AckedOffset) > 0)
                        {
                            handled[pending.Path] = chunk.NextOffset;
                        }

                        if (handled.Count > 0 && time.GetElapsedTime(lastAck) >= _options.AckInterval)
                        {
                            await lease.AckAsync(Acks(handled), work.Token).ConfigureAwait(false);
                            handled.Clear();
                            lastAck = time.GetTimestamp();
                        }

                        if (chunk.NextOffset.CompareTo(pending.TailOffset) >= 0 || chunk.UpToDate || chunk.StreamClosed)
                        {
                            break;
                        }
                    }
                }
                catch (StreamNotFoundException)
                {
                    // Deleted since the wake: the server unlinks it (PROTOCOL.md §6.1), nothing to ack.
                }
            }

            SubscriptionAckResult done = await lease.CompleteAsync(Acks(handled), work.Token).ConfigureAwait(false);
            return done.NextWake;
        }
        catch (Exception ex) when (lease.State is SubscriptionLeaseState.Fenced or SubscriptionLeaseState.Expired
                                   && (ex is OperationCanceledException or SubscriptionFencedException or DurableStreamException))
        {
            LogLeaseLost(_logger, SubscriptionId, lease.Generation, ex);
            return false;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await AckHandledAndReleaseAsync(lease, handled).ConfigureAwait(false);
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogHandlerFailed(_logger, SubscriptionId, lease.Generation, ex);
            await AckHandledAndReleaseAsync(lease, handled).ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (handler is IAsyncDisposable owned && _ownsHandlers)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task AckHandledAndReleaseAsync(SubscriptionLease lease, Dictionary<string, Offset> handled)
    {
        if (lease.State != SubscriptionLeaseState.Active)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            if (handled.Count > 0)
            {
                await lease.AckAsync(Acks(handled), timeout.Token).ConfigureAwait(false);
            }

            await lease.ReleaseAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DurableStreamException or OperationCanceledException or InvalidOperationException)
        {
            // Best effort: an unreleased lease expires after its TTL and the work is woken again.
        }
    }

    private static List<SubscriptionAck> Acks(Dictionary<string, Offset> handled) =>
        [.. handled.Select(p => new SubscriptionAck(p.Key, p.Value))];
}
