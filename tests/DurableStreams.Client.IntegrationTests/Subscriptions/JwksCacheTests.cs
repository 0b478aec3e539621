using System.Net;
using System.Text;
using DurableStreams.AspNetCore.Internal;

namespace DurableStreams.IntegrationTests.Subscriptions;

/// <summary>How the webhook key cache behaves when the key set cannot be fetched (scripted HTTP: the reference server always serves it).</summary>
public sealed class JwksCacheTests : IDisposable
{
    private static readonly Uri Url = new("http://streams.test/v1/stream/__ds/jwks.json");
    private const string KeySet = """{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}""";
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task GetKeyAsync_FetchFails_ThrowsUnavailableWithoutRefetchingForTenSecondsThenRetries()
    {
        var time = new ManualTime();
        var handler = new ScriptedHandler(
            _ => new HttpResponseMessage(HttpStatusCode.BadGateway),
            _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(KeySet, Encoding.UTF8, "application/json") });
        using var http = new HttpClient(handler);
        var cache = new JwksCache(Url, () => http, time);

        var first = await Assert.ThrowsAsync<JwksUnavailableException>(() => cache.GetKeyAsync("k1", Ct));
        time.Now += TimeSpan.FromSeconds(9);
        await Assert.ThrowsAsync<JwksUnavailableException>(() => cache.GetKeyAsync("k1", Ct));
        int callsWhileBackingOff = handler.Calls;
        time.Now += TimeSpan.FromSeconds(1);
        byte[]? key = await cache.GetKeyAsync("k1", Ct);

        Assert.Contains("502", first.Message, StringComparison.Ordinal);
        Assert.Equal(1, callsWhileBackingOff);
        Assert.Equal(32, key?.Length);
        Assert.Equal(2, handler.Calls);
    }

    [Fact]
    public async Task GetKeyAsync_HttpClientTimesOutOrBodyIsNotJson_ThrowsUnavailableNotCancellation()
    {
        var handler = new ScriptedHandler(
            _ => throw new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout."),
            _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("<html>", Encoding.UTF8, "text/html") });
        using var http = new HttpClient(handler);
        var time = new ManualTime();
        var cache = new JwksCache(Url, () => http, time);

        var timedOut = await Assert.ThrowsAsync<JwksUnavailableException>(() => cache.GetKeyAsync("k1", Ct));
        time.Now += TimeSpan.FromSeconds(10);
        var notJson = await Assert.ThrowsAsync<JwksUnavailableException>(() => cache.GetKeyAsync("k1", Ct));

        Assert.IsAssignableFrom<OperationCanceledException>(timedOut.InnerException);
        Assert.IsAssignableFrom<System.Text.Json.JsonException>(notJson.InnerException);
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed class ScriptedHandler(params Func<HttpRequestMessage, HttpResponseMessage>[] steps) : HttpMessageHandler
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            int call = Interlocked.Increment(ref _calls);
            return Task.FromResult(steps[Math.Min(call, steps.Length) - 1](request));
        }
    }
}
