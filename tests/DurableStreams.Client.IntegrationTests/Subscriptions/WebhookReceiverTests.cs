using System.Collections.Concurrent;
using System.Net;
using System.Text;
using DurableStreams.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DurableStreams.IntegrationTests.Subscriptions;

/// <summary>A reference server with webhook subscriptions enabled (they are off by default).</summary>
public sealed class WebhookReferenceServerFixture : ReferenceServerFixture
{
    protected override bool Webhooks => true;
}

/// <summary>
/// Real deliveries from the reference server to an ASP.NET Core app on loopback, and forged,
/// replayed, old and unknown-key requests that must be refused before the handler.
/// </summary>
public sealed class WebhookReceiverTests(WebhookReferenceServerFixture server) : IClassFixture<WebhookReferenceServerFixture>, IAsyncLifetime
{
    private static readonly HttpClient Raw = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly SubscriptionTestContext _ctx = new(server);
    private readonly ConcurrentQueue<DurableStreamsWebhook> _handled = new();
    private readonly ConcurrentQueue<(string Signature, byte[] Body)> _received = new();
    private int _jwksFetches;
    private WebApplication? _app;
    private string _baseUrl = "";

    private CancellationToken Ct => _timeout.Token;

    /// <summary>What the handler answers: true = done now; false = ack later by callback.</summary>
    private bool DoneSynchronously { get; set; } = true;

    public async Task InitializeAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddHttpClient(DurableStreamsWebhookOptions.JwksHttpClientName).AddHttpMessageHandler(() => new CountingHandler(() => Interlocked.Increment(ref _jwksFetches)));
        _app = builder.Build();

        // Record every raw delivery (before verification) so tests can replay and tamper with it.
        _app.Use(async (context, next) =>
        {
            context.Request.EnableBuffering();
            using var copy = new MemoryStream();
            await context.Request.Body.CopyToAsync(copy);
            context.Request.Body.Position = 0;
            _received.Enqueue((context.Request.Headers["Webhook-Signature"].ToString(), copy.ToArray()));
            await next(context);
        });
        var jwks = new Uri(_ctx.StreamRoot, "__ds/jwks.json");
        _app.MapDurableStreamsWebhook("/hook", (wake, ct) =>
        {
            _handled.Enqueue(wake);
            return Task.FromResult(DoneSynchronously);
        }, o => o.JwksUrl = jwks);
        _app.MapDurableStreamsWebhook("/hook-six-minutes-later", (wake, ct) =>
        {
            _handled.Enqueue(wake);
            return Task.FromResult(true);
        }, o =>
        {
            o.JwksUrl = jwks;
            o.TimeProvider = new ShiftedTime(TimeSpan.FromMinutes(6));
        });
        _app.MapDurableStreamsWebhook("/hook-keys-missing", (wake, ct) =>
        {
            _handled.Enqueue(wake);
            return Task.FromResult(true);
        }, o => o.JwksUrl = new Uri(_ctx.StreamRoot, "__ds/no-such-jwks.json"));
        WebApplication app = _app;

        // README "Subscriptions" webhook block (compiled here; its JWKS URL is the README's).
        app.MapDurableStreamsWebhook("/hooks/orders", (wake, cancellationToken) =>
        {
            foreach (DurableStreamsWebhookStream stream in wake.Streams) { /* read AckedOffset..TailOffset */ }
            return Task.FromResult(true); // done: the server acks the wake's tails; false = ack later with wake.Callback
        }, o => o.JwksUrl = new Uri("http://localhost:4437/v1/stream/__ds/jwks.json"));

        // README "Subscriptions" asynchronous webhook block (compiled here).
        var jobs = System.Threading.Channels.Channel.CreateUnbounded<DurableStreamsWebhook>();
        app.MapDurableStreamsWebhook("/hooks/orders-later", async (wake, cancellationToken) =>
        {
            await jobs.Writer.WriteAsync(wake, cancellationToken); // a Channel<DurableStreamsWebhook> a BackgroundService drains
            return false; // not done yet
        }, o => o.JwksUrl = new Uri("http://localhost:4437/v1/stream/__ds/jwks.json"));
        _ = (Func<DurableStreamsWebhook, CancellationToken, Task>)(async (wake, cancellationToken) =>
            await wake.Callback!.AckAsync(wake.Streams.Select(s => new SubscriptionAck(s.Path, s.TailOffset)), done: true, cancellationToken));

        await _app.StartAsync(Ct);
        _baseUrl = _app.Urls.First().TrimEnd('/');
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _ctx.Dispose();
        _timeout.Dispose();
    }

    private async Task<(string Id, DurableStream Stream)> SubscribeAsync(int leaseTtlSeconds = 5)
    {
        string id = _ctx.NewId();
        DurableStream stream = await _ctx.CreateJsonStreamAsync($"{_ctx.Prefix}/orders/1", Ct);
        CreateSubscriptionResult created = await _ctx.Subscriptions.CreateAsync(id, new SubscriptionOptions
        {
            Type = SubscriptionType.Webhook,
            Pattern = $"{_ctx.Prefix}/orders/*",
            WebhookUrl = new Uri(_baseUrl + "/hook"),
            LeaseTtl = TimeSpan.FromSeconds(leaseTtlSeconds),
        }, Ct);
        Assert.Equal("ed25519", created.Subscription.WebhookSigning?.Algorithm);
        Assert.Equal(new Uri(_ctx.StreamRoot, "__ds/jwks.json"), created.Subscription.WebhookSigning?.JwksUrl);
        return (id, stream);
    }

    private async Task WaitUntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(50, Ct);
        }
    }

    private async Task<Offset> AckedAsync(string id) => (await _ctx.Subscriptions.GetAsync(id, Ct)).Streams[0].AckedOffset;

    private async Task<HttpStatusCode> PostAsync(string path, string signature, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _baseUrl + path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        if (signature.Length > 0)
        {
            request.Headers.TryAddWithoutValidation("Webhook-Signature", signature);
        }

        using HttpResponseMessage response = await Raw.SendAsync(request, Ct);
        return response.StatusCode;
    }

    [Fact]
    public async Task MapDurableStreamsWebhook_RealDeliveryHandledSynchronously_ServerAcksTheSnapshot()
    {
        (string id, DurableStream stream) = await SubscribeAsync();

        AppendResult appended = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await WaitUntilAsync(() => !_handled.IsEmpty);
        while (await AckedAsync(id) != appended.NextOffset)
        {
            await Task.Delay(50, Ct);
        }

        DurableStreamsWebhook wake = Assert.Single(_handled);
        Assert.Equal(id, wake.SubscriptionId);
        Assert.Equal($"{_ctx.Prefix}/orders/1", wake.Streams[0].Path);
        Assert.Equal(appended.NextOffset, wake.Streams[0].TailOffset);
        Assert.NotNull(wake.CallbackUrl);
    }

    [Fact]
    public async Task MapDurableStreamsWebhook_HandlerAcksLaterByCallback_CursorMoves()
    {
        DoneSynchronously = false;
        (string id, DurableStream stream) = await SubscribeAsync();
        AppendResult appended = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await WaitUntilAsync(() => !_handled.IsEmpty);
        DurableStreamsWebhook wake = Assert.Single(_handled);
        Offset before = await AckedAsync(id);

        string ack = $$"""{"wake_id":"{{wake.WakeId}}","generation":{{wake.Generation}},"acks":[{"stream":"{{wake.Streams[0].Path}}","offset":"{{appended.NextOffset}}"}],"done":true}""";
        using var callback = new HttpRequestMessage(HttpMethod.Post, wake.CallbackUrl) { Content = new StringContent(ack, Encoding.UTF8, "application/json") };
        callback.Headers.TryAddWithoutValidation("Authorization", "Bearer " + wake.CallbackToken);
        using HttpResponseMessage response = await Raw.SendAsync(callback, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(appended.NextOffset, before);
        Assert.Equal(appended.NextOffset, await AckedAsync(id));
    }

    [Fact]
    public async Task MapDurableStreamsWebhook_ForgedReplayedOldOrUnknownKey_Returns401WithoutRunningTheHandler()
    {
        (_, DurableStream stream) = await SubscribeAsync();
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await WaitUntilAsync(() => !_handled.IsEmpty);
        (string signature, byte[] body) = _received.First(r => r.Signature.Length > 0);
        byte[] forged = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("\"generation\":", "\"generation\":9", StringComparison.Ordinal));
        string unknownKid = System.Text.RegularExpressions.Regex.Replace(signature, "kid=[^,]+", "kid=ds_unknown");
        string otherTime = System.Text.RegularExpressions.Regex.Replace(signature, "t=([0-9]+)", m => "t=" + (long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) - 1));

        HttpStatusCode replayed = await PostAsync("/hook", signature, body);
        HttpStatusCode tampered = await PostAsync("/hook", signature, forged);
        HttpStatusCode wrongKid = await PostAsync("/hook", unknownKid, body);
        HttpStatusCode retimed = await PostAsync("/hook", otherTime, body);
        HttpStatusCode unsigned = await PostAsync("/hook", "", body);
        HttpStatusCode old = await PostAsync("/hook-six-minutes-later", signature, body);

        Assert.Equal(HttpStatusCode.Unauthorized, replayed);
        Assert.Equal(HttpStatusCode.Unauthorized, tampered);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKid);
        Assert.Equal(HttpStatusCode.Unauthorized, retimed);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned);
        Assert.Equal(HttpStatusCode.Unauthorized, old);
        Assert.Single(_handled);
    }

    [Fact]
    public async Task Callback_HandlerAcksLaterWithSubscriptionCallback_CursorMovesAndWakeCompletes()
    {
        DoneSynchronously = false;
        (string id, DurableStream stream) = await SubscribeAsync();
        AppendResult appended = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await WaitUntilAsync(() => !_handled.IsEmpty);
        DurableStreamsWebhook wake = Assert.Single(_handled);
        SubscriptionCallback callback = Assert.IsType<SubscriptionCallback>(wake.Callback);
        Offset before = await AckedAsync(id);

        SubscriptionAckResult heartbeat = await callback.AckAsync([], done: false, Ct);
        SubscriptionAckResult result = await callback.AckAsync([new SubscriptionAck(wake.Streams[0].Path, appended.NextOffset)], done: true, Ct);

        Assert.False(heartbeat.NextWake);
        Assert.False(result.NextWake);
        Assert.NotEqual(appended.NextOffset, before);
        Assert.Equal(appended.NextOffset, await AckedAsync(id));
        Assert.Equal(SubscriptionLeaseState.Completed, callback.State);
        Assert.Equal(wake.CallbackUrl, callback.CallbackUrl);
        await Assert.ThrowsAsync<InvalidOperationException>(() => callback.AckAsync([], done: true, Ct));
    }

    [Fact]
    public async Task Callback_StaleGenerationAfterLeaseExpired_ThrowsFencedChangesNothingAndRefusesFurtherAcks()
    {
        DoneSynchronously = false;
        (string id, DurableStream stream) = await SubscribeAsync(leaseTtlSeconds: 1);
        AppendResult appended = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);

        // The handler never acks, so the 1 s lease expires and the server wakes again with a newer generation.
        await WaitUntilAsync(() => _handled.Count >= 2);
        DurableStreamsWebhook[] wakes = [.. _handled];
        SubscriptionCallback stale = wakes[0].Callback!;
        SubscriptionCallback current = wakes[^1].Callback!;
        Offset before = await AckedAsync(id);
        var ack = new SubscriptionAck(wakes[0].Streams[0].Path, appended.NextOffset);

        var fenced = await Assert.ThrowsAsync<SubscriptionFencedException>(() => stale.AckAsync([ack], done: true, Ct));
        Offset afterStaleAck = await AckedAsync(id);
        var again = await Assert.ThrowsAsync<SubscriptionFencedException>(() => stale.AckAsync([ack], done: true, Ct));
        await current.AckAsync([ack], done: true, Ct);

        Assert.True(wakes[^1].Generation > wakes[0].Generation);
        Assert.Equal(wakes[0].Generation, fenced.Generation);
        Assert.Equal(DurableStreamErrorCodes.Fenced, again.ErrorCode);
        Assert.Equal(SubscriptionLeaseState.Fenced, stale.State);
        Assert.Equal(before, afterStaleAck);
        Assert.NotEqual(appended.NextOffset, before);
        Assert.Equal(appended.NextOffset, await AckedAsync(id));
    }

    [Fact]
    public async Task Callback_WrongToken_ThrowsTokenInvalidAndStopsSending()
    {
        DoneSynchronously = false;
        (_, DurableStream stream) = await SubscribeAsync();
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await WaitUntilAsync(() => !_handled.IsEmpty);
        DurableStreamsWebhook wake = Assert.Single(_handled);
        var forged = new SubscriptionCallback(_ctx.Client, wake.SubscriptionId, wake.WakeId, wake.Generation, wake.CallbackUrl!, "not.a-token");

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => forged.AckAsync([], done: true, Ct));

        Assert.Equal(DurableStreamErrorCodes.TokenInvalid, ex.ErrorCode);
        Assert.Equal(401, ex.Status);
        Assert.Equal(SubscriptionLeaseState.Expired, forged.State);
    }

    [Fact]
    public async Task MapDurableStreamsWebhook_SigningKeysCannotBeFetched_Returns503WithRetryAfterWithoutRunningTheHandler()
    {
        (_, DurableStream stream) = await SubscribeAsync();
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await WaitUntilAsync(() => !_handled.IsEmpty);
        (string signature, byte[] body) = _received.First(r => r.Signature.Length > 0);

        using var request = new HttpRequestMessage(HttpMethod.Post, _baseUrl + "/hook-keys-missing") { Content = new ByteArrayContent(body) };
        request.Headers.TryAddWithoutValidation("Webhook-Signature", signature);
        using HttpResponseMessage response = await Raw.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(10), response.Headers.RetryAfter?.Delta);
        Assert.Single(_handled);
    }

    [Fact]
    public async Task MapDurableStreamsWebhook_HttpClientFactoryRegistered_FetchesKeysWithTheNamedClient()
    {
        (_, DurableStream stream) = await SubscribeAsync();
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await WaitUntilAsync(() => !_handled.IsEmpty);

        Assert.True(Volatile.Read(ref _jwksFetches) > 0);
    }

    private sealed class CountingHandler(Action onSend) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            onSend();
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class ShiftedTime(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }
}
