namespace DurableStreams;

/// <summary>
/// The configuration of a subscription (PROTOCOL.md §6.2), for
/// <see cref="DurableStreamSubscriptions.CreateAsync(string, SubscriptionOptions, CancellationToken)"/>.
/// Stream paths are relative to the stream root (see <see cref="DurableStreamSubscriptions.StreamRoot"/>),
/// for example <c>orders/42</c>.
/// </summary>
public sealed class SubscriptionOptions
{
    /// <summary>The smallest lease TTL the protocol allows: 1 second.</summary>
    public static readonly TimeSpan MinLeaseTtl = TimeSpan.FromSeconds(1);

    /// <summary>The largest lease TTL the protocol allows: 10 minutes.</summary>
    public static readonly TimeSpan MaxLeaseTtl = TimeSpan.FromMinutes(10);

    /// <summary>How workers are woken. Default: <see cref="SubscriptionType.PullWake"/>.</summary>
    public SubscriptionType Type { get; set; }

    /// <summary>
    /// A glob over stream paths: <c>*</c> matches one path segment, <c>**</c> zero or more
    /// (<c>orders/*</c>). Default: none. At least one of <see cref="Pattern"/> and <see cref="Streams"/> is required.
    /// </summary>
    public string? Pattern { get; set; }

    /// <summary>Stream paths linked by name, in addition to <see cref="Pattern"/>. Default: empty.</summary>
    public IList<string> Streams { get; } = [];

    /// <summary>
    /// The URL that receives webhook wakes; required for <see cref="SubscriptionType.Webhook"/>, not
    /// allowed otherwise. Servers accept <c>https</c>, and <c>http</c> only for <c>localhost</c>/<c>127.0.0.x</c>
    /// (PROTOCOL.md §12.8). Default: none.
    /// </summary>
    public Uri? WebhookUrl { get; set; }

    /// <summary>
    /// The path of the stream the server appends wake events to; required for
    /// <see cref="SubscriptionType.PullWake"/>, not allowed otherwise. The application creates it
    /// (as a JSON stream) before work arrives. Default: none.
    /// </summary>
    public string? WakeStream { get; set; }

    /// <summary>
    /// How long a claim or wake stays valid without a heartbeat, from 1 s to 10 min in whole
    /// milliseconds. Default: <see langword="null"/> (the server's default, 30 s).
    /// </summary>
    public TimeSpan? LeaseTtl { get; set; }

    /// <summary>A human-readable description. Default: none.</summary>
    public string? Description { get; set; }

    /// <summary>
    /// Checks the values together; the SDK calls it before any request. Call it yourself to check
    /// options built from configuration early.
    /// </summary>
    /// <exception cref="ArgumentException">A value is invalid or missing; the parameter name says which.</exception>
    public void Validate() => Validate("options");

    internal void Validate(string paramName)
    {
        if (!Enum.IsDefined(Type))
        {
            throw new ArgumentOutOfRangeException(paramName + "." + nameof(Type), Type, "Unknown subscription type.");
        }

        if (Pattern is not null && string.IsNullOrWhiteSpace(Pattern))
        {
            throw new ArgumentException("Pattern cannot be empty; leave it null for none.", paramName + "." + nameof(Pattern));
        }

        foreach (string stream in Streams)
        {
            if (string.IsNullOrWhiteSpace(stream))
            {
                throw new ArgumentException("Streams cannot contain an empty path.", paramName + "." + nameof(Streams));
            }
        }

        if (Pattern is null && Streams.Count == 0)
        {
            throw new ArgumentException("Set Pattern, Streams, or both (PROTOCOL.md §6.2).", paramName);
        }

        if (Type == SubscriptionType.Webhook)
        {
            if (WebhookUrl is null || !WebhookUrl.IsAbsoluteUri || (WebhookUrl.Scheme != Uri.UriSchemeHttp && WebhookUrl.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException("A webhook subscription needs an absolute http(s) WebhookUrl.", paramName + "." + nameof(WebhookUrl));
            }

            if (WakeStream is not null)
            {
                throw new ArgumentException("WakeStream applies only to pull-wake subscriptions.", paramName + "." + nameof(WakeStream));
            }
        }
        else
        {
            if (string.IsNullOrWhiteSpace(WakeStream))
            {
                throw new ArgumentException("A pull-wake subscription needs a WakeStream.", paramName + "." + nameof(WakeStream));
            }

            if (WebhookUrl is not null)
            {
                throw new ArgumentException("WebhookUrl applies only to webhook subscriptions.", paramName + "." + nameof(WebhookUrl));
            }
        }

        if (LeaseTtl is { } ttl && (ttl < MinLeaseTtl || ttl > MaxLeaseTtl || ttl.Ticks % TimeSpan.TicksPerMillisecond != 0))
        {
            throw new ArgumentOutOfRangeException(paramName + "." + nameof(LeaseTtl), ttl, "LeaseTtl must be a whole number of milliseconds from 1 second to 10 minutes (PROTOCOL.md §6.2).");
        }
    }
}
