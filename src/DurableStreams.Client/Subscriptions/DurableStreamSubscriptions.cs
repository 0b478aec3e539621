using System.Net;
using DurableStreams.Subscriptions.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams;

/// <summary>
/// The subscription API of one Durable Streams server (PROTOCOL.md §6–§7): create, inspect and delete
/// subscriptions, change their explicit streams, and claim pull-wake work. Get one from
/// <see cref="DurableStreamClient.Subscriptions"/>, or construct one for an explicit stream root.
/// </summary>
/// <remarks>
/// <para>
/// Addressing: subscriptions live at <c>{stream root}/__ds/subscriptions/{id}</c>, and every stream
/// path in a subscription (pattern, explicit streams, wake stream) is relative to the same stream
/// root. <see cref="DurableStreamClient.Subscriptions"/> takes the client's
/// <see cref="DurableStreamClient.BaseAddress"/> as the stream root, so set the base address to the
/// URL that stream paths hang off: with the reference server that is <c>http://host:port/v1/stream/</c>,
/// where <c>client.GetStream("orders/42")</c> and the subscription path <c>orders/42</c> name the same stream.
/// The stream root is the server's, not any folder under it: the server reserves <c>__ds</c> only
/// directly below its root, so a deeper base address would send subscription requests to an
/// ordinary stream path (the SDK then reports the unexpected answer as a <see cref="DurableStreamProtocolException"/>).
/// </para>
/// <para>
/// Requests go through the client's transport: its retries (network failures, 429, 5xx),
/// headers provider (e.g. a service token for claims), default headers and telemetry apply.
/// Thread safety: every member is safe to call concurrently. Construction does no I/O.
/// </para>
/// </remarks>
public class DurableStreamSubscriptions
{
    private readonly DurableStreamClient? _client;
    private readonly Uri? _streamRoot;

    /// <summary>Creates the subscription API for the streams under <paramref name="streamRoot"/>. Does no I/O.</summary>
    /// <param name="client">The client whose transport sends the requests.</param>
    /// <param name="streamRoot">The URL stream paths are relative to, e.g. <c>http://localhost:4437/v1/stream/</c>;
    /// relative URLs resolve against the client's base address.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="streamRoot"/> is not an http(s) URL.</exception>
    public DurableStreamSubscriptions(DurableStreamClient client, Uri streamRoot)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(streamRoot);
        _client = client;
        _streamRoot = AsDirectory(client.ResolveUrl(streamRoot, nameof(streamRoot)));
    }

    internal DurableStreamSubscriptions(DurableStreamClient client)
    {
        _client = client;
        _streamRoot = client.BaseAddress is { } baseAddress ? AsDirectory(baseAddress) : null;
    }

    /// <summary>For mocking: an instance with no client, whose virtual members a test double overrides.</summary>
    protected DurableStreamSubscriptions()
    {
    }

    /// <summary>The URL stream paths are relative to, ending in <c>/</c>.</summary>
    /// <exception cref="InvalidOperationException">The client has no base address and no stream root was given.</exception>
    public virtual Uri StreamRoot => _streamRoot ?? throw new InvalidOperationException(
        "Subscriptions need a stream root: set DurableStreamClientOptions.BaseAddress to the stream root (for example http://host:port/v1/stream/), " +
        "or construct DurableStreamSubscriptions with an explicit stream root.");

    internal DurableStreamClient Client => _client ?? throw new InvalidOperationException("This DurableStreamSubscriptions was created for mocking; override the member you call.");

    private TimeProvider Time => Client.Options.TimeProvider;

    /// <summary>Returns a handle on the stream at a stream-root-relative path (as subscriptions name streams). Does no I/O.</summary>
    /// <param name="path">The stream path, e.g. <c>orders/42</c>.</param>
    /// <param name="contentType">The stream's content type if known.</param>
    /// <returns>The handle.</returns>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    public virtual DurableStream GetStream(string path, string? contentType = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return Client.GetStream(new Uri(StreamRoot, EscapePath(path.Trim('/'))), contentType);
    }

    /// <summary>
    /// Creates a subscription, or confirms that one with the identical configuration exists (<c>PUT</c>, PROTOCOL.md §6.2).
    /// A new pattern subscription links the matching streams that exist at their current tails, so history is not replayed.
    /// </summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="options">The configuration; validated before any I/O.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The subscription and whether this call created it.</returns>
    /// <exception cref="ArgumentException">The id is empty or an option is invalid (lease TTL outside 1 s–10 min, missing wake stream or webhook URL, neither pattern nor streams).</exception>
    /// <exception cref="SubscriptionConflictException">A subscription with this id exists with another configuration.</exception>
    /// <exception cref="DurableStreamException">The server refused (e.g. <see cref="DurableStreamErrorCodes.WebhookUrlRejected"/>) or could not be reached.</exception>
    public virtual async Task<CreateSubscriptionResult> CreateAsync(string subscriptionId, SubscriptionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(nameof(options));
        var body = new CreateSubscriptionWire
        {
            Type = options.Type == SubscriptionType.Webhook ? "webhook" : "pull-wake",
            Pattern = options.Pattern,
            Streams = options.Streams.Count > 0 ? [.. options.Streams] : null,
            Webhook = options.WebhookUrl is { } hook ? new WebhookWire { Url = hook.AbsoluteUri } : null,
            WakeStream = options.WakeStream,
            LeaseTtlMs = options.LeaseTtl is { } ttl ? (long)ttl.TotalMilliseconds : null,
            Description = options.Description,
        };
        StreamRequest request = SubscriptionHttp.Request(HttpMethod.Put, SubscriptionUrl(subscriptionId), "subscription-create", body, SubscriptionJsonContext.Default.CreateSubscriptionWire, bearerToken: null);
        using HttpResponseMessage response = await Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!SubscriptionHttp.IsSuccess(response, HttpStatusCode.Created, HttpStatusCode.OK))
        {
            throw await SubscriptionHttp.ToExceptionAsync(response, request, subscriptionId, 0, Time).ConfigureAwait(false);
        }

        SubscriptionWire wire = await SubscriptionHttp.ReadJsonAsync(response, request, SubscriptionJsonContext.Default.SubscriptionWire, cancellationToken).ConfigureAwait(false);
        return new CreateSubscriptionResult(SubscriptionHttp.ToInfo(wire, request, subscriptionId), response.StatusCode == HttpStatusCode.Created);
    }

    /// <summary>Reads a subscription with its streams and cursors (<c>GET</c>, PROTOCOL.md §6.3).</summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The subscription.</returns>
    /// <exception cref="ArgumentException">The id is empty.</exception>
    /// <exception cref="SubscriptionNotFoundException">No such subscription.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual async Task<SubscriptionInfo> GetAsync(string subscriptionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        StreamRequest request = SubscriptionHttp.Request(HttpMethod.Get, SubscriptionUrl(subscriptionId), "subscription-get");
        using HttpResponseMessage response = await Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw await SubscriptionHttp.ToExceptionAsync(response, request, subscriptionId, 0, Time).ConfigureAwait(false);
        }

        SubscriptionWire wire = await SubscriptionHttp.ReadJsonAsync(response, request, SubscriptionJsonContext.Default.SubscriptionWire, cancellationToken).ConfigureAwait(false);
        return SubscriptionHttp.ToInfo(wire, request, subscriptionId);
    }

    /// <summary>
    /// Deletes a subscription (<c>DELETE</c>, PROTOCOL.md §6.3). Later acks, releases and callbacks of its
    /// wakes fail. Deleting a subscription that does not exist succeeds.
    /// </summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the server confirmed.</returns>
    /// <exception cref="ArgumentException">The id is empty.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual async Task DeleteAsync(string subscriptionId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        StreamRequest request = SubscriptionHttp.Request(HttpMethod.Delete, SubscriptionUrl(subscriptionId), "subscription-delete");
        using HttpResponseMessage response = await Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!SubscriptionHttp.IsSuccess(response, HttpStatusCode.NoContent, HttpStatusCode.OK, HttpStatusCode.NotFound))
        {
            throw await SubscriptionHttp.ToExceptionAsync(response, request, subscriptionId, 0, Time).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Links streams by name (<c>POST …/streams</c>, PROTOCOL.md §6.4), at their current tails; adding a
    /// linked stream again changes nothing.
    /// </summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="streams">Stream paths relative to the stream root; at least one.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the server confirmed.</returns>
    /// <exception cref="ArgumentException">The id is empty, or <paramref name="streams"/> is empty or holds an empty path.</exception>
    /// <exception cref="SubscriptionNotFoundException">No such subscription.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual async Task AddStreamsAsync(string subscriptionId, IEnumerable<string> streams, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        ArgumentNullException.ThrowIfNull(streams);
        List<string> list = [.. streams];
        if (list.Count == 0 || list.Exists(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("Give at least one stream path, and no empty ones.", nameof(streams));
        }

        StreamRequest request = SubscriptionHttp.Request(
            HttpMethod.Post, new Uri(SubscriptionUrl(subscriptionId) + "/streams"), "subscription-add-streams", new StreamListWire { Streams = list }, SubscriptionJsonContext.Default.StreamListWire, bearerToken: null);
        using HttpResponseMessage response = await Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!SubscriptionHttp.IsSuccess(response, HttpStatusCode.NoContent, HttpStatusCode.OK))
        {
            throw await SubscriptionHttp.ToExceptionAsync(response, request, subscriptionId, 0, Time).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Removes one explicit stream link (<c>DELETE …/streams/{path}</c>, PROTOCOL.md §6.4). A glob link of
    /// the same stream stays; removing a link that does not exist succeeds.
    /// </summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="stream">The stream path relative to the stream root; may contain <c>/</c> (sent URL-encoded).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the server confirmed.</returns>
    /// <exception cref="ArgumentException">The id or path is empty.</exception>
    /// <exception cref="SubscriptionNotFoundException">No such subscription.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual async Task RemoveStreamAsync(string subscriptionId, string stream, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(stream);
        var url = new Uri(SubscriptionUrl(subscriptionId) + "/streams/" + Uri.EscapeDataString(stream.Trim('/')));
        StreamRequest request = SubscriptionHttp.Request(HttpMethod.Delete, url, "subscription-remove-stream");
        using HttpResponseMessage response = await Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!SubscriptionHttp.IsSuccess(response, HttpStatusCode.NoContent, HttpStatusCode.OK))
        {
            throw await SubscriptionHttp.ToExceptionAsync(response, request, subscriptionId, 0, Time).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Claims a pull-wake subscription's pending work for this worker (<c>POST …/claim</c>, PROTOCOL.md §7.2).
    /// The returned lease renews itself in the background until it is completed, released or disposed.
    /// </summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="worker">This worker's name, shown to competitors as the lease holder.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The lease: the wake, its generation and token, and every stream with its acked and tail offsets.</returns>
    /// <exception cref="ArgumentException">An argument is empty.</exception>
    /// <exception cref="SubscriptionAlreadyClaimedException">Another worker holds the lease.</exception>
    /// <exception cref="SubscriptionNotFoundException">No such subscription.</exception>
    /// <exception cref="DurableStreamException">No pending work (<see cref="DurableStreamErrorCodes.NoPendingWork"/>), a webhook subscription
    /// (<see cref="DurableStreamErrorCodes.BadRequest"/>), or the server refused or could not be reached.</exception>
    public virtual async Task<SubscriptionLease> ClaimAsync(string subscriptionId, string worker, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(worker);
        StreamRequest request = SubscriptionHttp.Request(
            HttpMethod.Post, ActionUrl(subscriptionId, "claim"), "subscription-claim", new ClaimRequestWire { Worker = worker }, SubscriptionJsonContext.Default.ClaimRequestWire, bearerToken: null);
        using HttpResponseMessage response = await Client.Transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw await SubscriptionHttp.ToExceptionAsync(response, request, subscriptionId, 0, Time).ConfigureAwait(false);
        }

        ClaimWire wire = await SubscriptionHttp.ReadJsonAsync(response, request, SubscriptionJsonContext.Default.ClaimWire, cancellationToken).ConfigureAwait(false);
        var lease = new SubscriptionLease(
            this,
            subscriptionId,
            worker,
            wire.WakeId ?? throw SubscriptionHttp.Malformed(request, "\"wake_id\""),
            wire.Generation ?? throw SubscriptionHttp.Malformed(request, "\"generation\""),
            wire.Token ?? throw SubscriptionHttp.Malformed(request, "\"token\""),
            SubscriptionHttp.WakeStreams(wire.Streams, request),
            TimeSpan.FromMilliseconds(wire.LeaseTtlMs ?? 30_000));
        lease.StartRenewing();
        return lease;
    }

    internal Uri SubscriptionUrl(string subscriptionId) => new(StreamRoot, "__ds/subscriptions/" + Uri.EscapeDataString(subscriptionId));

    internal Uri ActionUrl(string subscriptionId, string action) => new(SubscriptionUrl(subscriptionId) + "/" + action);

    internal TimeProvider TimeProvider => Time;

    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private static Uri AsDirectory(Uri url)
    {
        string text = url.GetLeftPart(UriPartial.Path);
        return new Uri(text.EndsWith('/') ? text : text + "/", UriKind.Absolute);
    }
}
