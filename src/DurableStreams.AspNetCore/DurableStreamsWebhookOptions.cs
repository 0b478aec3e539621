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

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that fetches the key set, when
    /// <see cref="HttpClient"/> is not set and a factory is registered (configure its timeout and redirect
    /// policy with <c>services.AddHttpClient(DurableStreamsWebhookOptions.JwksHttpClientName, …)</c>).
    /// </summary>
    public const string JwksHttpClientName = "DurableStreams.Webhooks.Jwks";

    /// <summary>
    /// The client that fetches the key set. Default: one from <see cref="System.Net.Http.IHttpClientFactory"/>
    /// named <see cref="JwksHttpClientName"/> when a factory is registered, else a shared client with a
    /// 10-second timeout. When the fetch fails, deliveries are answered 503 with <c>Retry-After</c>
    /// (the server retries them) and never reach the handler.
    /// </summary>
    public HttpClient? HttpClient { get; set; }

    /// <summary>
    /// The client that sends <see cref="DurableStreamsWebhook.Callback"/> requests. Default: the
    /// <see cref="DurableStreamClient"/> registered in DI (<c>AddDurableStreams</c>), else one owned by the endpoint.
    /// </summary>
    public DurableStreamClient? Client { get; set; }
}
