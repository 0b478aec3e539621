using System.Net;
using System.Text;

namespace DurableStreams.Tests.Subscriptions;

public sealed class SubscriptionCallbackTests : IDisposable
{
    private static readonly Uri CallbackUrl = new("http://streams.test/v1/stream/__ds/subscriptions/s/callback");
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static HttpResponseMessage Json(HttpStatusCode status, string body) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    [Fact]
    public async Task AckAsync_Done_PostsWakeAndGenerationWithBearerTokenToTheCallbackUrl()
    {
        var handler = new RecordingHandler().Then(_ => Json(HttpStatusCode.OK, """{"ok":true,"next_wake":true}"""));
        using DurableStreamClient client = TestClients.Create(handler);
        var callback = new SubscriptionCallback(client, "s", "w_1", 7, CallbackUrl, "cb-token");

        SubscriptionAckResult result = await callback.AckAsync([new SubscriptionAck("orders/a", new Offset("0000_0020"))], done: true, Ct);

        SentRequest sent = Assert.Single(handler.Requests);
        Assert.True(result.NextWake);
        Assert.Equal(SubscriptionLeaseState.Completed, callback.State);
        Assert.Equal(HttpMethod.Post, sent.Method);
        Assert.Equal(CallbackUrl, sent.Url);
        Assert.Equal("Bearer cb-token", sent.Header("Authorization"));
        Assert.Equal(
            """{"wake_id":"w_1","generation":7,"acks":[{"stream":"orders/a","offset":"0000_0020"}],"done":true}""",
            Encoding.UTF8.GetString(sent.Body));
    }

    [Fact]
    public async Task AckAsync_Fenced_ThrowsTypedAndNeverSendsAgain()
    {
        var handler = new RecordingHandler()
            .Then(_ => Json(HttpStatusCode.Conflict, """{"error":{"code":"FENCED","message":"Wake generation is stale"}}"""))
            .Then(_ => Json(HttpStatusCode.OK, """{"ok":true,"next_wake":false}"""));
        using DurableStreamClient client = TestClients.Create(handler);
        var callback = new SubscriptionCallback(client, "s", "w_1", 7, CallbackUrl, "cb-token");

        var first = await Assert.ThrowsAsync<SubscriptionFencedException>(() => callback.AckAsync([], done: false, Ct));
        var second = await Assert.ThrowsAsync<SubscriptionFencedException>(() => callback.AckAsync([new SubscriptionAck("orders/a", new Offset("0000_0020"))], done: true, Ct));

        Assert.Equal(7, first.Generation);
        Assert.Equal("s", second.SubscriptionId);
        Assert.Equal(SubscriptionLeaseState.Fenced, callback.State);
        Assert.Single(handler.Requests);
    }

    [Theory]
    [InlineData("TOKEN_EXPIRED")]
    [InlineData("TOKEN_INVALID")]
    public async Task AckAsync_TokenRefused_ThrowsWithCodeAndNeverSendsAgain(string code)
    {
        var handler = new RecordingHandler()
            .Then(_ => Json(HttpStatusCode.Unauthorized, $$$"""{"error":{"code":"{{{code}}}"}}"""))
            .Then(_ => Json(HttpStatusCode.OK, """{"ok":true}"""));
        using DurableStreamClient client = TestClients.Create(handler);
        var callback = new SubscriptionCallback(client, "s", "w_1", 7, CallbackUrl, "cb-token");

        var first = await Assert.ThrowsAsync<DurableStreamException>(() => callback.AckAsync([], done: true, Ct));
        var second = await Assert.ThrowsAsync<DurableStreamException>(() => callback.AckAsync([], done: true, Ct));

        Assert.Equal(code, first.ErrorCode);
        Assert.Equal(code, second.ErrorCode);
        Assert.Equal(SubscriptionLeaseState.Expired, callback.State);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public void Constructor_BadArguments_ThrowNamingTheParameter()
    {
        using DurableStreamClient client = TestClients.Create(new RecordingHandler());

        Assert.Equal("subscriptionId", Assert.Throws<ArgumentException>(() => new SubscriptionCallback(client, " ", "w", 1, CallbackUrl, "t")).ParamName);
        Assert.Equal("wakeId", Assert.Throws<ArgumentException>(() => new SubscriptionCallback(client, "s", "", 1, CallbackUrl, "t")).ParamName);
        Assert.Equal("callbackToken", Assert.Throws<ArgumentException>(() => new SubscriptionCallback(client, "s", "w", 1, CallbackUrl, "")).ParamName);
        Assert.Equal("callbackUrl", Assert.Throws<ArgumentException>(() => new SubscriptionCallback(client, "s", "w", 1, new Uri("/relative", UriKind.Relative), "t")).ParamName);
        Assert.Equal("callbackUrl", Assert.Throws<ArgumentException>(() => new SubscriptionCallback(client, "s", "w", 1, new Uri("ftp://x/cb"), "t")).ParamName);
    }
}
