namespace DurableStreams.AspNetCore;

/// <summary>How a webhook endpoint verifies deliveries (PROTOCOL.md §7.1, §12.10).</summary>
public sealed class DurableStreamsWebhookOptions
{
    /// <summary>
    /// Where the server publishes its signing keys: the subscription's <c>jwks_url</c>
    /// (<see cref="WebhookSigningInfo.JwksUrl"/>) or <c>{stream root}/__ds/jwks.json</c>. Required.
    /// </summary>
    public Uri? JwksUrl { get; set; }

    /// <summary>How far a delivery's timestamp may be from now, either way. Default: 5 minutes.</summary>
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>When set, deliveries for any other subscription are refused with 401. Default: any.</summary>
    public string? SubscriptionId { get; set; }

    /// <summary>The largest body accepted, in bytes. Default: 1 MiB.</summary>
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>The clock for the replay window and the key cache. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The client that fetches the key set. Default: a shared one.</summary>
    public HttpClient? HttpClient { get; set; }
}
