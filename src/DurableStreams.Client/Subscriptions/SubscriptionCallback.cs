using System.Net;
using DurableStreams.Subscriptions.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams;

/// <summary>
/// Acks a webhook wake after the webhook request returned (<c>POST …/callback</c>, PROTOCOL.md §7.1):
/// for a handler that answers without <c>done</c> and finishes the work later. Requests go through the
/// client's transport, so its retries, timeouts, headers and telemetry apply.
/// </summary>
/// <remarks>
/// <para>
/// The callback token is scoped to the wake's generation. When the server answers <c>FENCED</c> (a newer
/// wake replaced this one, for example because the lease expired first), the callback is
/// <see cref="SubscriptionLeaseState.Fenced"/> and every later <see cref="AckAsync"/> throws
/// <see cref="SubscriptionFencedException"/> without sending anything: stop working on this wake, the
/// newer one carries the same pending events. A refused token (<see cref="DurableStreamErrorCodes.TokenInvalid"/>,
/// <see cref="DurableStreamErrorCodes.TokenExpired"/>) ends it the same way as <see cref="SubscriptionLeaseState.Expired"/>.
/// After a successful ack with <c>done</c> it is <see cref="SubscriptionLeaseState.Completed"/> and refuses
/// further acks with <see cref="InvalidOperationException"/>.
/// </para>
/// <para>
/// Unlike a pull-wake <see cref="SubscriptionLease"/> it does not renew itself: every successful ack
/// renews the server's lease for one lease TTL, so a long job acks (possibly with no offsets) more often
/// than the TTL. Thread safety: every member is safe to call concurrently; acks are sent one at a time.
/// </para>
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "A SemaphoreSlim whose wait handle is never used holds nothing to release.")]
public class SubscriptionCallback
{
    private readonly DurableStreamClient? _client;
    private readonly string _token = string.Empty;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile SubscriptionLeaseState _state;
    private DurableStreamException? _failure;

    /// <summary>Creates a callback for one webhook wake. Does no I/O.</summary>
    /// <param name="client">The client whose transport sends the callback.</param>
    /// <param name="subscriptionId">The wake's <c>subscription_id</c>.</param>
    /// <param name="wakeId">The wake's <c>wake_id</c>.</param>
    /// <param name="generation">The wake's <c>generation</c>.</param>
    /// <param name="callbackUrl">The wake's <c>callback_url</c>. Only use one from a verified delivery: the token is sent there.</param>
    /// <param name="callbackToken">The wake's <c>callback_token</c>, sent as the bearer token. A secret: never log it.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">An id or the token is empty, or <paramref name="callbackUrl"/> is not an absolute http(s) URL.</exception>
    public SubscriptionCallback(DurableStreamClient client, string subscriptionId, string wakeId, long generation, Uri callbackUrl, string callbackToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(wakeId);
        ArgumentNullException.ThrowIfNull(callbackUrl);
        ArgumentException.ThrowIfNullOrWhiteSpace(callbackToken);
        if (!callbackUrl.IsAbsoluteUri || (callbackUrl.Scheme != Uri.UriSchemeHttp && callbackUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException("The callback URL must be an absolute http or https URL.", nameof(callbackUrl));
        }

        _client = client;
        _token = callbackToken;
        SubscriptionId = subscriptionId;
        WakeId = wakeId;
        Generation = generation;
        CallbackUrl = callbackUrl;
    }

    /// <summary>For mocking: a callback with no connection, whose virtual members a test double overrides.</summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="wakeId">The wake id.</param>
    /// <param name="generation">The generation.</param>
    /// <param name="callbackUrl">The callback URL.</param>
    protected SubscriptionCallback(string subscriptionId, string wakeId, long generation, Uri callbackUrl)
    {
        SubscriptionId = subscriptionId;
        WakeId = wakeId;
        Generation = generation;
        CallbackUrl = callbackUrl;
    }

    /// <summary>The subscription id.</summary>
    public string SubscriptionId { get; }

    /// <summary>The wake this callback acks.</summary>
    public string WakeId { get; }

    /// <summary>The wake's fencing generation.</summary>
    public long Generation { get; }

    /// <summary>Where the acks are posted.</summary>
    public Uri CallbackUrl { get; }

    /// <summary>
    /// <see cref="SubscriptionLeaseState.Active"/> until a <c>done</c> ack succeeded (<see cref="SubscriptionLeaseState.Completed"/>),
    /// the server answered <c>FENCED</c> (<see cref="SubscriptionLeaseState.Fenced"/>) or refused the token (<see cref="SubscriptionLeaseState.Expired"/>).
    /// </summary>
    public virtual SubscriptionLeaseState State => _state;

    /// <summary>
    /// Posts acks for the wake (PROTOCOL.md §7.1). Without <paramref name="done"/> it moves the cursors and
    /// renews the lease; with it the server applies the acks, releases the lease, and wakes again if work
    /// is pending past them (<see cref="SubscriptionAckResult.NextWake"/>). Acks are inclusive: acking
    /// offset N means processing resumes after N.
    /// </summary>
    /// <remarks>
    /// If the connection failed after a <c>done</c> request may have arrived and the retry is refused as
    /// <c>FENCED</c>, the first attempt most likely finished the wake: the callback counts as completed and
    /// <see cref="SubscriptionAckResult.NextWake"/> is <see langword="false"/>.
    /// </remarks>
    /// <param name="acks">The offsets processed, per stream; may be empty (a pure lease renewal).</param>
    /// <param name="done">Whether the work of this wake is finished.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>Whether a new wake was issued.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="acks"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The wake was already finished with <c>done</c>.</exception>
    /// <exception cref="SubscriptionFencedException">The wake is stale; nothing was applied, and nothing more is sent.</exception>
    /// <exception cref="SubscriptionNotFoundException">The subscription was deleted.</exception>
    /// <exception cref="DurableStreamException">The token was refused (<see cref="DurableStreamErrorCodes.TokenInvalid"/>,
    /// <see cref="DurableStreamErrorCodes.TokenExpired"/>), an offset is invalid (<see cref="DurableStreamErrorCodes.InvalidOffset"/>),
    /// or the server could not be reached.</exception>
    public virtual async Task<SubscriptionAckResult> AckAsync(IEnumerable<SubscriptionAck> acks, bool done, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(acks);
        List<SubscriptionAck> list = [.. acks];
        DurableStreamClient client = _client ?? throw new InvalidOperationException("This SubscriptionCallback was created for mocking; override the member you call.");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfNotActive();
            var body = new AckRequestWire
            {
                WakeId = WakeId,
                Generation = Generation,
                Acks = list.ConvertAll(a => new AckWire { Stream = a.Stream, Offset = a.Offset.Value }),
                Done = done,
            };
            StreamRequest request = SubscriptionHttp.Request(
                HttpMethod.Post, CallbackUrl, done ? "subscription-callback-done" : "subscription-callback", body, SubscriptionJsonContext.Default.AckRequestWire, _token);
            using HttpResponseMessage response = await client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                DurableStreamException failure = await SubscriptionHttp.ToExceptionAsync(
                    response, request, SubscriptionId, Generation, client.Options.TimeProvider).ConfigureAwait(false);
                if (failure is SubscriptionFencedException && request.EarlierAttemptMayHaveArrived && done)
                {
                    _state = SubscriptionLeaseState.Completed;
                    return new SubscriptionAckResult(nextWake: false);
                }

                SubscriptionLeaseState? lost = failure switch
                {
                    SubscriptionFencedException or SubscriptionNotFoundException => SubscriptionLeaseState.Fenced,
                    { ErrorCode: DurableStreamErrorCodes.TokenExpired or DurableStreamErrorCodes.TokenInvalid } => SubscriptionLeaseState.Expired,
                    _ => null,
                };
                if (lost is { } state)
                {
                    _failure = failure;
                    _state = state;
                }

                throw failure;
            }

            AckResponseWire wire = await SubscriptionHttp.ReadJsonAsync(response, request, SubscriptionJsonContext.Default.AckResponseWire, cancellationToken).ConfigureAwait(false);
            if (done)
            {
                _state = SubscriptionLeaseState.Completed;
            }

            return new SubscriptionAckResult(wire.NextWake == true);
        }
        finally
        {
            _gate.Release();
        }
    }

    private void ThrowIfNotActive() =>
        WakeGuard.ThrowIfNotActive(_state, _failure, SubscriptionId, Generation, () => $"The callback of wake '{WakeId}' (generation {Generation}) on subscription '{SubscriptionId}' is {_state}; a later wake brings any new work.");
}
