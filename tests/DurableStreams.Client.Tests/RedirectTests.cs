using System.Net;
using System.Text;
using DurableStreams.Transport.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace DurableStreams.Tests;

/// <summary>
/// The redirect policy: same origin only, at most five hops, methods and bodies kept for 307/308,
/// writes refused on 301/302/303, and never a header or a body sent to another origin.
/// </summary>
public sealed class RedirectTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static HttpResponseMessage Redirect(HttpStatusCode status, string location)
    {
        var response = new HttpResponseMessage(status) { Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("Location", location);
        return response;
    }

    // ------------------------------------------------------------------ the decision, as a table

    [Theory]
    [InlineData("GET", 301, "/v2/s", "http://a.test/v2/s")]
    [InlineData("GET", 302, "http://a.test/v2/s", "http://a.test/v2/s")]
    [InlineData("HEAD", 303, "/v2/s", "http://a.test/v2/s")]
    [InlineData("POST", 307, "/v2/s", "http://a.test/v2/s")]
    [InlineData("PUT", 308, "s2?x=1", "http://a.test/v1/s2?x=1")]
    [InlineData("DELETE", 307, "/v2/s", "http://a.test/v2/s")]
    public void Decide_SameOriginRedirect_Follows(string method, int status, string location, string expected)
    {
        (Uri? next, string? refusal) = RedirectPolicy.Decide(new HttpMethod(method), hasBody: method is "POST" or "PUT", bodyRepeatable: true, new Uri("http://a.test/v1/s"), (HttpStatusCode)status, location, followed: 0);

        Assert.Null(refusal);
        Assert.Equal(new Uri(expected), next);
    }

    [Theory]
    [InlineData("GET", 307, "http://b.test/v1/s", "another origin")]
    [InlineData("GET", 307, "https://a.test/v1/s", "another origin")]
    [InlineData("GET", 307, "http://a.test:8080/v1/s", "another origin")]
    [InlineData("GET", 307, "//b.test/v1/s", "another origin")]
    [InlineData("GET", 302, "file:///etc/passwd", "not an http or https URL")]
    [InlineData("GET", 302, "ftp://a.test/s", "not an http or https URL")]
    [InlineData("GET", 302, "http://[::1", "not a valid URL")]
    [InlineData("GET", 302, "", "without a Location")]
    [InlineData("POST", 301, "/v2/s", "turn the POST into a GET")]
    [InlineData("POST", 302, "/v2/s", "turn the POST into a GET")]
    [InlineData("PUT", 303, "/v2/s", "turn the PUT into a GET")]
    [InlineData("DELETE", 303, "/v2/s", "turn the DELETE into a GET")]
    public void Decide_UnsafeRedirect_RefusesAndSaysWhy(string method, int status, string location, string reason)
    {
        (Uri? next, string? refusal) = RedirectPolicy.Decide(new HttpMethod(method), hasBody: false, bodyRepeatable: true, new Uri("http://a.test/v1/s"), (HttpStatusCode)status, location, followed: 0);

        Assert.Null(next);
        Assert.Contains(reason, refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_SixthRedirect_Refuses()
    {
        Assert.NotNull(RedirectPolicy.Decide(HttpMethod.Get, false, true, new Uri("http://a.test/s"), HttpStatusCode.Found, "/t", followed: RedirectPolicy.MaxRedirects - 1).Next);
        Assert.Contains("at most 5", RedirectPolicy.Decide(HttpMethod.Get, false, true, new Uri("http://a.test/s"), HttpStatusCode.Found, "/t", followed: RedirectPolicy.MaxRedirects).Refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_BodyThatCannotBeResent_Refuses()
    {
        (Uri? next, string? refusal) = RedirectPolicy.Decide(HttpMethod.Post, hasBody: true, bodyRepeatable: false, new Uri("http://a.test/s"), HttpStatusCode.TemporaryRedirect, "/t", followed: 0);

        Assert.Null(next);
        Assert.Contains("non-seekable", refusal, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ the transport, scripted

    [Fact]
    public async Task Append_SameOrigin307_ResendsMethodBodyAndHeadersToTheLocation()
    {
        var handler = new RecordingHandler()
            .Then(_ => Redirect(HttpStatusCode.TemporaryRedirect, "/v2/stream/orders?region=eu"))
            .Then(_ => RecordingHandler.Ok(nextOffset: "0000_0005"));
        using DurableStreamClient client = TestClients.Create(handler, o => o.DefaultHeaders["X-Api-Key"] = "k1");

        AppendResult result = await client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("hello", cancellationToken: Ct);

        Assert.Equal("0000_0005", result.NextOffset.Value);
        Assert.Equal(2, handler.Requests.Count);
        SentRequest followed = handler.Requests[1];
        Assert.Equal(HttpMethod.Post, followed.Method);
        Assert.Equal("http://streams.test/v2/stream/orders?region=eu", followed.Url.ToString());
        Assert.Equal("hello", Encoding.UTF8.GetString(followed.Body));
        Assert.Equal("k1", followed.Header("X-Api-Key"));
        Assert.Equal("text/plain", followed.Header("Content-Type"));
    }

    [Fact]
    public async Task Read_SameOrigin302_FollowsWithAGet()
    {
        var handler = new RecordingHandler()
            .Then(_ => Redirect(HttpStatusCode.Found, "http://streams.test/v2/stream/orders?offset=-1"))
            .Then(_ => Reading.ReadScript.CatchUp("abc", "0000_0003"));
        using DurableStreamClient client = TestClients.Create(handler);

        string text = await client.GetStream(TestClients.StreamUrl).ReadAllTextAsync(cancellationToken: Ct);

        Assert.Equal("abc", text);
        Assert.Equal([HttpMethod.Get, HttpMethod.Get], handler.Requests.Select(r => r.Method));
        Assert.Equal("/v2/stream/orders", handler.Requests[1].Url.AbsolutePath);
    }

    [Theory]
    [InlineData(HttpStatusCode.MovedPermanently)]
    [InlineData(HttpStatusCode.Found)]
    [InlineData(HttpStatusCode.SeeOther)]
    public async Task Append_301302303_RefusesRatherThanTurnTheWriteIntoAGet(HttpStatusCode status)
    {
        var handler = new RecordingHandler().Then(_ => Redirect(status, "/v2/stream/orders"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Equal((int)status, ex.Status);
        Assert.Contains("http://streams.test/v2/stream/orders", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Head_EndlessSameOriginRedirects_FailsAfterFiveHops()
    {
        int hop = 0;
        var handler = new RecordingHandler().Then(_ => Redirect(HttpStatusCode.Found, $"/hop/{++hop}"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Equal(302, ex.Status);
        Assert.Contains("at most 5", ex.Message, StringComparison.Ordinal);
        Assert.Equal(6, handler.Requests.Count);
    }

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("http://[::1")]
    [InlineData("http://elsewhere.test/v1/stream/orders")]
    public async Task Head_RedirectItMustNotFollow_ThrowsADurableStreamExceptionNamingTheLocation(string location)
    {
        var handler = new RecordingHandler().Then(_ => Redirect(HttpStatusCode.TemporaryRedirect, location));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Equal(307, ex.Status);
        Assert.Contains(location, ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Read_RedirectToAnotherOrigin_FailsTheReadWithoutRetrying()
    {
        var handler = new RecordingHandler().Then(_ => Redirect(HttpStatusCode.TemporaryRedirect, "http://elsewhere.test/v1/stream/orders"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).ReadAllBytesAsync(cancellationToken: Ct));

        Assert.Contains("http://elsewhere.test/v1/stream/orders", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Append_NonSeekableStream307_RefusesBecauseTheBodyCannotBeResent()
    {
        var handler = new RecordingHandler().Then(_ => Redirect(HttpStatusCode.TemporaryRedirect, "/v2/stream/orders"));
        using DurableStreamClient client = TestClients.Create(handler);
        using var body = new NonSeekableStream("payload"u8.ToArray());

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync(body, cancellationToken: Ct));

        Assert.Contains("non-seekable", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    // ------------------------------------------------------------------ real sockets, two origins

    private static Func<RawHttpRequest, byte[]> RedirectTo(Uri location, int status = 307) =>
        _ => RawHttpServer.Response(status, [("Location", location.ToString())]);

    private static byte[] Appended(RawHttpRequest request) =>
        RawHttpServer.Response(204, [("Stream-Next-Offset", "0000_0001")]);

    [Fact]
    public async Task OwnedClient_307ToAnotherOrigin_SendsNothingThereAndThrowsNamingTheLocation()
    {
        await using var other = new RawHttpServer(Appended);
        await using var origin = new RawHttpServer(RedirectTo(new Uri(other.BaseUrl, "v1/stream/orders")));
        var options = new DurableStreamClientOptions { BaseAddress = origin.BaseUrl, Retry = TestClients.FastRetry() };
        options.DefaultHeaders["X-Api-Key"] = "secret";
        using var client = new DurableStreamClient(options);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream("v1/stream/orders", "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Equal(307, ex.Status);
        Assert.Contains(new Uri(other.BaseUrl, "v1/stream/orders").ToString(), ex.Message, StringComparison.Ordinal);
        Assert.Empty(other.Requests);
        Assert.Equal("secret", Assert.Single(origin.Requests).Header("X-Api-Key"));
    }

    [Fact]
    public async Task DefaultClient_302ToAnotherOrigin_SendsNothingThere()
    {
        await using var other = new RawHttpServer(Appended);
        await using var origin = new RawHttpServer(RedirectTo(other.BaseUrl, 302));

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => DurableStreamClient.Default.GetStream(new Uri(origin.BaseUrl, "v1/stream/x")).HeadAsync(Ct));

        Assert.Equal(302, ex.Status);
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task DependencyInjectionClient_307ToAnotherOrigin_SendsNothingThere()
    {
        await using var other = new RawHttpServer(Appended);
        await using var origin = new RawHttpServer(RedirectTo(other.BaseUrl));
        var services = new ServiceCollection();
        services.AddDurableStreams(o =>
        {
            o.BaseAddress = origin.BaseUrl;
            o.DefaultHeaders["X-Api-Key"] = "secret";
        });
        await using ServiceProvider provider = services.BuildServiceProvider();

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => provider.GetRequiredService<DurableStreamClient>().GetStream("v1/stream/x", "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Equal(307, ex.Status);
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task OwnedClient_SameOrigin308_FollowsWithTheBodyAndHeaders()
    {
        RawHttpServer? server = null;
        server = new RawHttpServer(request => request.Target == "/old/x"
            ? RawHttpServer.Response(308, [("Location", "/new/x")])
            : Appended(request));
        await using (server)
        {
            var options = new DurableStreamClientOptions { BaseAddress = server.BaseUrl };
            options.DefaultHeaders["X-Api-Key"] = "secret";
            using var client = new DurableStreamClient(options);

            AppendResult result = await client.GetStream("old/x", "text/plain").AppendAsync("payload", cancellationToken: Ct);

            Assert.Equal("0000_0001", result.NextOffset.Value);
            Assert.Equal(["/old/x", "/new/x"], server.Requests.Select(r => r.Target));
            Assert.All(server.Requests, r => Assert.Equal("POST", r.Method));
            Assert.All(server.Requests, r => Assert.Equal("payload", Encoding.UTF8.GetString(r.Body)));
            Assert.All(server.Requests, r => Assert.Equal("secret", r.Header("X-Api-Key")));
        }
    }

    [Fact]
    public async Task CallersHttpClientThatFollowsRedirects_AnswerFromAnotherOrigin_IsRejected()
    {
        await using var other = new RawHttpServer(Appended);
        await using var origin = new RawHttpServer(RedirectTo(new Uri(other.BaseUrl, "elsewhere")));
        using var http = new HttpClient(); // AllowAutoRedirect is true by default
        using var client = new DurableStreamClient(http, new DurableStreamClientOptions { BaseAddress = origin.BaseUrl });

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream("v1/stream/x", "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Contains("AllowAutoRedirect", ex.Message, StringComparison.Ordinal);
        Assert.Contains(new Uri(other.BaseUrl, "elsewhere").ToString(), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Producer_307ToAnotherOrigin_FailsTheBatchAndSendsNothingThere()
    {
        await using var other = new RawHttpServer(Appended);
        await using var origin = new RawHttpServer(RedirectTo(new Uri(other.BaseUrl, "v1/stream/x")));
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = origin.BaseUrl });
        IdempotentProducer producer = client.GetStream("v1/stream/x", "text/plain").CreateProducer("p1", new ProducerOptions { Retry = TestClients.FastRetry() });
        await using (producer)
        {
            producer.Append("x");

            var ex = await Assert.ThrowsAnyAsync<DurableStreamException>(() => producer.FlushAsync(Ct));

            Assert.Equal(307, ex.Status);
            Assert.Empty(other.Requests);
        }
    }

    [Fact]
    public async Task Producer_SameOrigin307_FollowsWithTheProducerHeadersAndBody()
    {
        await using var server = new RawHttpServer(request => request.Target == "/old/x"
            ? RawHttpServer.Response(307, [("Location", "/new/x")])
            : RawHttpServer.Response(200, [("Stream-Next-Offset", "0000_0001"), ("Producer-Epoch", request.Header("Producer-Epoch")!), ("Producer-Seq", request.Header("Producer-Seq")!)]));
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });
        IdempotentProducer producer = client.GetStream("old/x", "text/plain").CreateProducer("p1");
        await using (producer)
        {
            producer.Append("payload");
            await producer.FlushAsync(Ct);
        }

        Assert.Equal(["/old/x", "/new/x"], server.Requests.Select(r => r.Target));
        Assert.All(server.Requests, r => Assert.Equal("p1", r.Header("Producer-Id")));
        Assert.All(server.Requests, r => Assert.Equal("payload", Encoding.UTF8.GetString(r.Body)));
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
