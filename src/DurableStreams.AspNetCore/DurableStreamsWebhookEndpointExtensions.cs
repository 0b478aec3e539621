using System.Text.Json;
using DurableStreams.AspNetCore.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DurableStreams.AspNetCore;

/// <summary>Maps an endpoint that receives Durable Streams webhook wakes.</summary>
public static class DurableStreamsWebhookEndpointExtensions
{
    /// <summary>
    /// Maps <c>POST {pattern}</c> to receive webhook wakes (PROTOCOL.md §7.1). Before the handler runs,
    /// the request must carry a valid <c>Webhook-Signature</c>: an Ed25519 signature by a key of the
    /// server's JWKS (selected by <c>kid</c>) over <c>&lt;t&gt;.&lt;raw body&gt;</c>, with <c>t</c> inside
    /// the replay window and the same signature never seen before; anything else is answered 401 and
    /// reaches no handler (PROTOCOL.md §12.10).
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="pattern">The route, e.g. <c>/hooks/orders</c>.</param>
    /// <param name="handler">
    /// Handles a verified wake. Return <see langword="true"/> when the work is done: the endpoint answers
    /// <c>{"done":true}</c> and the server acks the wake's snapshot tails and releases the lease.
    /// Return <see langword="false"/> to finish later with <see cref="DurableStreamsWebhook.Callback"/>
    /// (<see cref="SubscriptionCallback.AckAsync"/>). A delivery whose signing key cannot be fetched is
    /// answered 503 with <c>Retry-After</c>, logged as a warning, and reaches no handler.
    /// </param>
    /// <param name="configure">Sets <see cref="DurableStreamsWebhookOptions.JwksUrl"/> (required) and the rest.</param>
    /// <returns>The endpoint's convention builder.</returns>
    /// <exception cref="ArgumentException">The pattern is empty, or no JWKS URL was configured.</exception>
    public static IEndpointConventionBuilder MapDurableStreamsWebhook(
        this IEndpointRouteBuilder endpoints,
        string pattern,
        Func<DurableStreamsWebhook, CancellationToken, Task<bool>> handler,
        Action<DurableStreamsWebhookOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new DurableStreamsWebhookOptions();
        configure(options);
        if (options.JwksUrl is not { IsAbsoluteUri: true } jwksUrl)
        {
            throw new ArgumentException("Set DurableStreamsWebhookOptions.JwksUrl to the server's key set (the subscription's jwks_url).", nameof(configure));
        }

        if (options.ReplayWindow <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(configure), options.ReplayWindow, "ReplayWindow must be positive.");
        }

        Func<HttpClient>? http = options.HttpClient is { } fixedClient
            ? () => fixedClient
            : endpoints.ServiceProvider.GetService<IHttpClientFactory>() is { } factory
                ? () => factory.CreateClient(DurableStreamsWebhookOptions.JwksHttpClientName)
                : null;
        ILogger logger = endpoints.ServiceProvider.GetService<ILoggerFactory>()?.CreateLogger("DurableStreams.AspNetCore.Webhook") ?? NullLogger.Instance;
        var receiver = new WebhookReceiver(options, new JwksCache(jwksUrl, http, options.TimeProvider), handler, logger);
        return endpoints.MapPost(pattern, receiver.HandleAsync);
    }
}
