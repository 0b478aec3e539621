using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DurableStreams.AspNetCore.Internal;

/// <summary>Verifies a delivery, then runs the handler (PROTOCOL.md §7.1, §12.10).</summary>
internal sealed partial class WebhookReceiver(
    DurableStreamsWebhookOptions options,
    JwksCache keys,
    Func<DurableStreamsWebhook, CancellationToken, Task<bool>> handler,
    ILogger logger)
{
    /// <summary>How long the server is asked to wait before redelivering when the keys could not be fetched.</summary>
    internal static readonly TimeSpan KeysUnavailableRetryAfter = TimeSpan.FromSeconds(10);

    private readonly ReplayGuard _replays = new();
    private readonly Lazy<DurableStreamClient> _ownClient = new(static () => new DurableStreamClient(), LazyThreadSafetyMode.ExecutionAndPublication);

    public JwksCache Keys => keys;

    public async Task HandleAsync(HttpContext context)
    {
        CancellationToken ct = context.RequestAborted;
        byte[]? body = await ReadBodyAsync(context.Request, options.MaxBodyBytes, ct).ConfigureAwait(false);
        if (body is null)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }

        DurableStreamsWebhook? wake;
        try
        {
            wake = await VerifyAsync(context.Request.Headers["Webhook-Signature"].ToString(), body, ct).ConfigureAwait(false);
        }
        catch (JwksUnavailableException ex)
        {
            // The delivery may be genuine, but it cannot be verified now: refuse it without running the
            // handler, and ask the server to deliver it again later (PROTOCOL.md §7.1 retries non-2xx).
            LogKeysUnavailable(logger, options.JwksUrl, ex);
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = ((int)KeysUnavailableRetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return;
        }

        if (wake is null)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

        wake = wake.WithCallback(options.Client ?? context.RequestServices.GetService<DurableStreamClient>() ?? _ownClient.Value);

        bool done = await handler(wake, ct).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(done ? """{"done":true}""" : "{}", ct).ConfigureAwait(false);
    }

    /// <summary>The verified wake, or null when the request must be refused.</summary>
    internal async Task<DurableStreamsWebhook?> VerifyAsync(string header, byte[] body, CancellationToken cancellationToken)
    {
        if (!WebhookSignature.TryParse(header, out WebhookSignature signature))
        {
            return null;
        }

        DateTimeOffset now = options.TimeProvider.GetUtcNow();
        DateTimeOffset signedAt = DateTimeOffset.FromUnixTimeSeconds(signature.Timestamp);
        if ((now - signedAt).Duration() > options.ReplayWindow)
        {
            return null;
        }

        byte[]? key = await keys.GetKeyAsync(signature.KeyId, cancellationToken).ConfigureAwait(false);
        if (key is null || !signature.Verify(key, body))
        {
            return null;
        }

        DurableStreamsWebhook? wake = Parse(body);
        if (wake is null || (options.SubscriptionId is { } expected && wake.SubscriptionId != expected))
        {
            return null;
        }

        // Only a genuine, fresh delivery is remembered; an identical one later is a replay.
        return _replays.TryAccept(signature.Signature, signedAt + options.ReplayWindow, now) ? wake : null;
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Webhook delivery refused with 503: the signing keys at {JwksUrl} could not be fetched, so the signature cannot be verified; the server will retry.")]
    private static partial void LogKeysUnavailable(ILogger logger, Uri? jwksUrl, Exception exception);

    private static DurableStreamsWebhook? Parse(byte[] body)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(body);
            JsonElement root = doc.RootElement;
            var streams = new List<DurableStreamsWebhookStream>();
            if (root.TryGetProperty("streams", out JsonElement list) && list.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement s in list.EnumerateArray())
                {
                    streams.Add(new DurableStreamsWebhookStream(
                        s.GetProperty("path").GetString()!,
                        new Offset(s.GetProperty("acked_offset").GetString()!),
                        new Offset(s.GetProperty("tail_offset").GetString()!),
                        s.TryGetProperty("has_pending", out JsonElement p) && p.ValueKind == JsonValueKind.True));
                }
            }

            return new DurableStreamsWebhook(
                root.GetProperty("subscription_id").GetString()!,
                root.GetProperty("wake_id").GetString()!,
                root.GetProperty("generation").GetInt64(),
                streams,
                root.TryGetProperty("callback_url", out JsonElement url) && Uri.TryCreate(url.GetString(), UriKind.Absolute, out Uri? callback) ? callback : null,
                root.TryGetProperty("callback_token", out JsonElement token) ? token.GetString() : null);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int max, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
