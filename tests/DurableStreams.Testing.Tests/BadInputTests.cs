using System.Net;
using System.Text;

namespace DurableStreams.Testing.Tests;

/// <summary>Bad requests get the protocol's 4xx and leave the stream exactly as it was.</summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private DurableStreamTestServer? _server;

    private CancellationToken Ct => _timeout.Token;

    private DurableStreamTestServer Server => _server!;

    public async Task InitializeAsync() =>
        _server = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { MaxRequestBodySize = 1024 });

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        _timeout.Dispose();
    }

    private async Task<string> NewStreamAsync(string contentType, string initial)
    {
        string url = Server.StreamUrl("bad-" + Guid.NewGuid().ToString("N"));
        using var created = await Raw.SendAsync(HttpMethod.Put, url, initial, contentType, cancellationToken: Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return url;
    }

    [Theory]
    [InlineData("Producer-Epoch", "1e3")]
    [InlineData("Producer-Epoch", "-1")]
    [InlineData("Producer-Seq", "0x10")]
    [InlineData("Producer-Seq", "9007199254740992")]
    [InlineData("Producer-Id", "")]
    public async Task Post_MalformedProducerHeader_Returns400AndStoresNothing(string header, string value)
    {
        string url = await NewStreamAsync("text/plain", "kept");
        var headers = new Dictionary<string, string> { ["Producer-Id"] = "p", ["Producer-Epoch"] = "0", ["Producer-Seq"] = "0" };
        headers[header] = value;

        using var response = await Raw.SendAsync(HttpMethod.Post, url, "lost", headers: headers, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("kept", await Raw.ReadAllAsync(url, Ct));
    }

    [Fact]
    public async Task Post_OnlySomeProducerHeaders_Returns400()
    {
        string url = await NewStreamAsync("text/plain", "kept");

        using var response = await Raw.SendAsync(HttpMethod.Post, url, "lost",
            headers: new Dictionary<string, string> { ["Producer-Id"] = "p", ["Producer-Epoch"] = "0" }, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("kept", await Raw.ReadAllAsync(url, Ct));
    }

    [Fact]
    public async Task Post_BodyOverTheLimit_Returns413AndStoresNothing()
    {
        string url = await NewStreamAsync("application/octet-stream", "kept");

        using var response = await Raw.SendBytesAsync(HttpMethod.Post, url, new byte[1025], "application/octet-stream", cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("kept", await Raw.ReadAllAsync(url, Ct));
    }

    [Fact]
    public async Task Post_ChunkedBodyOverTheLimit_Returns413AndStoresNothing()
    {
        string url = await NewStreamAsync("application/octet-stream", "kept");
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = new StreamContent(new MemoryStream(new byte[4096])) { Headers = { { "Content-Type", "application/octet-stream" } } },
        };
        request.Headers.TransferEncodingChunked = true;

        using var response = await Raw.Http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("kept", await Raw.ReadAllAsync(url, Ct));
    }

    [Fact]
    public async Task Put_BodyOverTheLimit_Returns413AndCreatesNothing()
    {
        string url = Server.StreamUrl("bad-" + Guid.NewGuid().ToString("N"));

        using var response = await Raw.SendBytesAsync(HttpMethod.Put, url, new byte[2048], "application/octet-stream", cancellationToken: Ct);
        using var head = await Raw.SendAsync(HttpMethod.Head, url, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Theory]
    [InlineData("{\"a\":")]
    [InlineData("{\"a\":1,}")]
    [InlineData("nope")]
    [InlineData("[]")]
    [InlineData("{\"a\":1} {\"b\":2}")]
    public async Task Post_InvalidJsonOrEmptyArray_Returns400AndStoresNothing(string body)
    {
        string url = await NewStreamAsync("application/json", "{\"kept\":true}");

        using var response = await Raw.SendAsync(HttpMethod.Post, url, body, "application/json", cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("[{\"kept\":true}]", await Raw.ReadAllAsync(url, Ct));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("0000000000000000_00000000000000x1")]
    [InlineData("0000000000000000_0000000000000099")]
    [InlineData("-2")]
    public async Task Get_BadOffset_Returns400(string offset)
    {
        string url = await NewStreamAsync("text/plain", "data");

        using var response = await Raw.Http.GetAsync($"{url}?offset={Uri.EscapeDataString(offset)}", Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("Stream-TTL", "+60")]
    [InlineData("Stream-TTL", "060")]
    [InlineData("Stream-TTL", "6e1")]
    [InlineData("Stream-Expires-At", "tomorrow")]
    public async Task Put_MalformedExpiry_Returns400(string header, string value)
    {
        string url = Server.StreamUrl("bad-" + Guid.NewGuid().ToString("N"));

        using var response = await Raw.SendAsync(HttpMethod.Put, url, "", headers: new Dictionary<string, string> { [header] = value }, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Post_WithoutContentType_Returns400AndStoresNothing()
    {
        string url = await NewStreamAsync("text/plain", "kept");

        using var response = await Raw.SendBytesAsync(HttpMethod.Post, url, Encoding.UTF8.GetBytes("lost"), contentType: null, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("kept", await Raw.ReadAllAsync(url, Ct));
    }

    [Theory]
    [InlineData("__ds/subscriptions/s1")]
    [InlineData("__ds")]
    [InlineData("__ds/jwks.json")]
    public async Task AnyMethod_ReservedControlPrefix_Returns404AndCreatesNoStream(string path)
    {
        string url = Server.StreamUrl(path);

        using var put = await Raw.SendAsync(HttpMethod.Put, url, "", cancellationToken: Ct);
        using var get = await Raw.Http.GetAsync(url, Ct);

        Assert.Equal(HttpStatusCode.NotFound, put.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }
}
