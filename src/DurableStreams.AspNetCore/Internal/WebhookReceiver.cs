using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace DurableStreams.AspNetCore.Internal;

/// <summary>Verifies a delivery, then runs the handler (PROTOCOL.md §7.1, §12.10).</summary>
internal sealed class WebhookReceiver(
    DurableStreamsWebhookOptions options,
    JwksCache keys,
    Func<DurableStreamsWebhook, CancellationToken, Task<bool>> handler)
{
    private readonly ReplayGuard _replays = new();

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

        DurableStreamsWebhook? wake = await VerifyAsync(context.Request.Headers["Webhook-Signature"].ToString(), body, ct).ConfigureAwait(false);
        if (wake is null)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return;
        }

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
