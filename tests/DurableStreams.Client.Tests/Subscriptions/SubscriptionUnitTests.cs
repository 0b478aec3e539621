using System.Net;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace DurableStreams.Tests.Subscriptions;

public sealed class SubscriptionUnitTests : IDisposable
{
    private const string Root = "http://streams.test/v1/stream/";
    private const string ClaimBody = """
        {"wake_id":"w_1","generation":7,"token":"secret-token","lease_ttl_ms":3000,"extra":{"ignored":true},
         "streams":[{"path":"orders/a","link_type":"glob","acked_offset":"0000_0010","tail_offset":"0000_0020","has_pending":true,"future":1},
                    {"path":"orders/b","link_type":"explicit","acked_offset":"-1","tail_offset":"-1","has_pending":false}]}
        """;

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private static DurableStreamClient Client(RecordingHandler handler, TimeProvider? time = null) =>
        TestClients.Create(handler, o =>
        {
            o.BaseAddress = new Uri(Root);
            if (time is not null)
            {
                o.TimeProvider = time;
            }
        });

    public static TheoryData<long> InvalidTtlsMs => new() { 999, 600_001, 0, -1 };

    [Theory]
    [MemberData(nameof(InvalidTtlsMs))]
    public async Task CreateAsync_LeaseTtlOutsideOneSecondToTenMinutes_ThrowsBeforeAnyRequest(long ttlMs)
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.Created);
        using DurableStreamClient client = Client(handler);
        var options = new SubscriptionOptions { Pattern = "orders/*", WakeStream = "wake", LeaseTtl = TimeSpan.FromMilliseconds(ttlMs) };

        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.Subscriptions.CreateAsync("s", options, Ct));

        Assert.Equal("options.LeaseTtl", ex.ParamName);
        Assert.Empty(handler.Requests);
    }

    [Theory]
    [MemberData(nameof(InvalidTtlsMs))]
    public void Validate_LeaseTtlOutsideOneSecondToTenMinutes_ThrowsNamingIt(long ttlMs)
    {
        var options = new SubscriptionOptions { Pattern = "orders/*", WakeStream = "wake", LeaseTtl = TimeSpan.FromMilliseconds(ttlMs) };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Equal("options.LeaseTtl", ex.ParamName);
    }

    [Fact]
    public async Task CreateAsync_MissingWakeStreamOrMembership_ThrowsBeforeAnyRequest()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.Created);
        using DurableStreamClient client = Client(handler);

        var noWake = await Assert.ThrowsAsync<ArgumentException>(() => client.Subscriptions.CreateAsync("s", new SubscriptionOptions { Pattern = "a/*" }, Ct));
        var noStreams = await Assert.ThrowsAsync<ArgumentException>(() => client.Subscriptions.CreateAsync("s", new SubscriptionOptions { WakeStream = "w" }, Ct));
        var noHook = await Assert.ThrowsAsync<ArgumentException>(() => client.Subscriptions.CreateAsync("s", new SubscriptionOptions { Type = SubscriptionType.Webhook, Pattern = "a/*" }, Ct));

        Assert.Equal("options.WakeStream", noWake.ParamName);
        Assert.Equal("options", noStreams.ParamName);
        Assert.Equal("options.WebhookUrl", noHook.ParamName);
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task CreateAsync_FullOptions_SendsPutWithSnakeCaseBodyUnderReservedPrefix()
    {
        var handler = new RecordingHandler().Then(_ => Json(HttpStatusCode.Created, """
            {"id":"s/1","type":"webhook","pattern":"orders/*","streams":[],"webhook":{"url":"http://localhost:5000/hook",
             "signing":{"alg":"ed25519","kid":"k1","jwks_url":"http://streams.test/v1/stream/__ds/jwks.json"}},"lease_ttl_ms":1500,"status":"failed","unknown":[1,2]}
            """));
        using DurableStreamClient client = Client(handler);
        var options = new SubscriptionOptions
        {
            Type = SubscriptionType.Webhook,
            Pattern = "orders/*",
            WebhookUrl = new Uri("http://localhost:5000/hook"),
            LeaseTtl = TimeSpan.FromMilliseconds(1500),
            Description = "d",
        };
        options.Streams.Add("manual/x");

        CreateSubscriptionResult result = await client.Subscriptions.CreateAsync("s/1", options, Ct);

        SentRequest sent = Assert.Single(handler.Requests);
        Assert.Equal(HttpMethod.Put, sent.Method);
        Assert.Equal("http://streams.test/v1/stream/__ds/subscriptions/s%2F1", sent.Url.AbsoluteUri);
        Assert.Equal("application/json", sent.Header("Content-Type"));
        Assert.Equal(
            """{"type":"webhook","pattern":"orders/*","streams":["manual/x"],"webhook":{"url":"http://localhost:5000/hook"},"lease_ttl_ms":1500,"description":"d"}""",
            Encoding.UTF8.GetString(sent.Body));
        Assert.True(result.Created);
        Assert.Equal(SubscriptionStatus.Failed, result.Subscription.Status);
        Assert.Equal("k1", result.Subscription.WebhookSigning!.KeyId);
        Assert.Equal("ed25519", result.Subscription.WebhookSigning.Algorithm);
        Assert.Equal(new Uri("http://streams.test/v1/stream/__ds/jwks.json"), result.Subscription.WebhookSigning.JwksUrl);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), result.Subscription.LeaseTtl);
    }

    [Fact]
    public async Task RemoveStreamAsync_PathWithSlashes_IsSentUrlEncoded()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.NoContent);
        using DurableStreamClient client = Client(handler);

        await client.Subscriptions.RemoveStreamAsync("s", "orders/eu/42", Ct);

        Assert.Equal("http://streams.test/v1/stream/__ds/subscriptions/s/streams/orders%2Feu%2F42", Assert.Single(handler.Requests).Url.AbsoluteUri);
    }

    [Fact]
    public void Subscriptions_ClientWithoutBaseAddress_ExplainsHowToSetTheStreamRoot()
    {
        using var client = new DurableStreamClient(new HttpClient(new RecordingHandler()), disposeHttpClient: true);

        var ex = Assert.Throws<InvalidOperationException>(() => client.Subscriptions.StreamRoot);

        Assert.Contains("BaseAddress", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClaimAsync_Ok_ParsesLeaseAndIgnoresUnknownFields()
    {
        var handler = new RecordingHandler().Then(_ => Json(HttpStatusCode.OK, ClaimBody)).ThenRespond(HttpStatusCode.NoContent);
        using DurableStreamClient client = Client(handler, new FakeTimeProvider());

        await using SubscriptionLease lease = await client.Subscriptions.ClaimAsync("s", "worker-1", Ct);

        SentRequest claim = handler.Requests[0];
        Assert.Equal("http://streams.test/v1/stream/__ds/subscriptions/s/claim", claim.Url.AbsoluteUri);
        Assert.Equal("""{"worker":"worker-1"}""", Encoding.UTF8.GetString(claim.Body));
        Assert.Null(claim.Header("Authorization"));
        Assert.Equal("w_1", lease.WakeId);
        Assert.Equal(7, lease.Generation);
        Assert.Equal("secret-token", lease.Token);
        Assert.Equal(TimeSpan.FromSeconds(3), lease.LeaseTtl);
        Assert.Equal(TimeSpan.FromSeconds(1), lease.RenewalInterval);
        Assert.Equal(2, lease.Streams.Count);
        Assert.Equal(new Offset("0000_0010"), lease.Streams[0].AckedOffset);
        Assert.Equal(new Offset("0000_0020"), lease.Streams[0].TailOffset);
        Assert.True(lease.Streams[0].HasPending);
        Assert.Equal(SubscriptionLinkType.Explicit, lease.Streams[1].LinkType);
        Assert.True(lease.Streams[1].AckedOffset.IsBeginning);
    }

    [Fact]
    public async Task ClaimAsync_AlreadyClaimed_ThrowsWithHolderAndGeneration()
    {
        var handler = new RecordingHandler().Then(_ => Json(HttpStatusCode.Conflict, """{"error":{"code":"ALREADY_CLAIMED","current_holder":"worker-2","generation":7}}"""));
        using DurableStreamClient client = Client(handler);

        var ex = await Assert.ThrowsAsync<SubscriptionAlreadyClaimedException>(() => client.Subscriptions.ClaimAsync("s", "w", Ct));

        Assert.Equal("worker-2", ex.CurrentHolder);
        Assert.Equal(7, ex.Generation);
        Assert.Equal(DurableStreamErrorCodes.AlreadyClaimed, ex.ErrorCode);
    }

    [Theory]
    [InlineData(409, "NO_PENDING_WORK")]
    [InlineData(401, "TOKEN_INVALID")]
    [InlineData(401, "TOKEN_EXPIRED")]
    [InlineData(409, "INVALID_OFFSET")]
    [InlineData(400, "WEBHOOK_URL_REJECTED")]
    public void Classify_ServerErrorCode_BecomesThatErrorCode(int status, string code)
    {
        var request = new Transport.Internal.StreamRequest(HttpMethod.Post, new Uri(Root + "__ds/subscriptions/s/ack"), "subscription-ack", Transport.Internal.RequestKind.Control);
        string body = "{\"error\":{\"code\":\"" + code + "\",\"message\":\"m\"}}";

        DurableStreamException ex = DurableStreams.Subscriptions.Internal.SubscriptionHttp.Classify(
            status, null, body, DurableStreams.Subscriptions.Internal.SubscriptionHttp.ParseError(body), request, "s", 3, null);

        Assert.Equal(code, ex.ErrorCode);
        Assert.Equal(status, ex.Status);
    }

    [Fact]
    public async Task Lease_AfterAThirdOfTheTtl_SendsHeartbeatWithClaimToken()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler()
            .Then(_ => Json(HttpStatusCode.OK, ClaimBody))
            .Then(_ => Json(HttpStatusCode.OK, """{"ok":true,"next_wake":false}"""));
        using DurableStreamClient client = Client(handler, time);
        SubscriptionLease lease = await client.Subscriptions.ClaimAsync("s", "w", Ct);

        time.Advance(TimeSpan.FromSeconds(1));
        await handler.WaitForRequestsAsync(2, Ct);

        SentRequest heartbeat = handler.Requests[1];
        Assert.Equal("http://streams.test/v1/stream/__ds/subscriptions/s/ack", heartbeat.Url.AbsoluteUri);
        Assert.Equal("Bearer secret-token", heartbeat.Header("Authorization"));
        Assert.Equal("""{"wake_id":"w_1","generation":7,"acks":[]}""", Encoding.UTF8.GetString(heartbeat.Body));
        Assert.Equal(SubscriptionLeaseState.Active, lease.State);
    }

    [Fact]
    public async Task Lease_HeartbeatFenced_CancelsLostAndNeverSendsAgain()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler()
            .Then(_ => Json(HttpStatusCode.OK, ClaimBody))
            .Then(_ => Json(HttpStatusCode.Conflict, """{"error":{"code":"FENCED","message":"Wake generation is stale"}}"""));
        using DurableStreamClient client = Client(handler, time);
        SubscriptionLease lease = await client.Subscriptions.ClaimAsync("s", "w", Ct);
        var lost = new TaskCompletionSource();
        using CancellationTokenRegistration registration = lease.Lost.Register(() => lost.TrySetResult());

        time.Advance(TimeSpan.FromSeconds(1));
        await lost.Task.WaitAsync(Ct);
        var ex = await Assert.ThrowsAsync<SubscriptionFencedException>(() => lease.CompleteAsync([new SubscriptionAck("orders/a", new Offset("0000_0020"))], Ct));
        await lease.DisposeAsync();
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(SubscriptionLeaseState.Fenced, lease.State);
        Assert.Equal(7, ex.Generation);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task CompleteAsync_Done_SendsAcksStopsRenewingAndReportsNextWake()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler()
            .Then(_ => Json(HttpStatusCode.OK, ClaimBody))
            .Then(_ => Json(HttpStatusCode.OK, """{"ok":true,"next_wake":true}"""));
        using DurableStreamClient client = Client(handler, time);
        SubscriptionLease lease = await client.Subscriptions.ClaimAsync("s", "w", Ct);

        SubscriptionAckResult result = await lease.CompleteAsync([new SubscriptionAck("orders/a", new Offset("0000_0020"))], Ct);
        time.Advance(TimeSpan.FromSeconds(10));
        await lease.DisposeAsync();

        Assert.True(result.NextWake);
        Assert.Equal(SubscriptionLeaseState.Completed, lease.State);
        Assert.Equal(
            """{"wake_id":"w_1","generation":7,"acks":[{"stream":"orders/a","offset":"0000_0020"}],"done":true}""",
            Encoding.UTF8.GetString(handler.Requests[1].Body));
        Assert.Equal(2, handler.Requests.Count);
        Assert.False(lease.Lost.IsCancellationRequested);
    }

    [Fact]
    public async Task DisposeAsync_ActiveLease_ReleasesWithTokenAndCancelsLost()
    {
        var handler = new RecordingHandler()
            .Then(_ => Json(HttpStatusCode.OK, ClaimBody))
            .ThenRespond(HttpStatusCode.NoContent);
        using DurableStreamClient client = Client(handler, new FakeTimeProvider());
        SubscriptionLease lease = await client.Subscriptions.ClaimAsync("s", "w", Ct);

        await lease.DisposeAsync();

        SentRequest release = handler.Requests[1];
        Assert.Equal("http://streams.test/v1/stream/__ds/subscriptions/s/release", release.Url.AbsoluteUri);
        Assert.Equal("Bearer secret-token", release.Header("Authorization"));
        Assert.Equal("""{"wake_id":"w_1","generation":7}""", Encoding.UTF8.GetString(release.Body));
        Assert.Equal(SubscriptionLeaseState.Disposed, lease.State);
        Assert.True(lease.Lost.IsCancellationRequested);
    }

    [Fact]
    public async Task GetAsync_BodyNotJson_ThrowsProtocolExceptionNamingTheRequest()
    {
        var handler = new RecordingHandler().Then(_ => Json(HttpStatusCode.OK, "<html>"));
        using DurableStreamClient client = Client(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => client.Subscriptions.GetAsync("s", Ct));

        Assert.Contains("subscription-get", ex.Message, StringComparison.Ordinal);
    }
}
