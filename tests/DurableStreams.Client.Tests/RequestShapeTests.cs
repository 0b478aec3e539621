using System.Net;
using System.Text;

namespace DurableStreams.Tests;

public sealed class RequestShapeTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task CreateStreamAsync_AllOptions_SendsPutWithProtocolHeadersAndBody()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.Created, contentType: "application/json"));
        using DurableStreamClient client = TestClients.Create(handler);

        CreateStreamResult result = await client.CreateStreamAsync(new CreateOptions
        {
            Url = TestClients.StreamUrl,
            ContentType = "application/json",
            Ttl = TimeSpan.FromHours(1),
            Closed = true,
            InitialData = """[{"a":1}]"""u8.ToArray(),
        }, Ct);

        SentRequest put = Assert.Single(handler.Requests);
        Assert.Equal(HttpMethod.Put, put.Method);
        Assert.Equal(TestClients.StreamUrl, put.Url.ToString());
        Assert.Equal("application/json", put.Header("Content-Type"));
        Assert.Equal("3600", put.Header("Stream-TTL"));
        Assert.Equal("true", put.Header("Stream-Closed"));
        Assert.Null(put.Header("Stream-Expires-At"));
        Assert.Equal("""[{"a":1}]""", Encoding.UTF8.GetString(put.Body));
        Assert.True(result.Created);
        Assert.Equal(new Offset("0000_0010"), result.NextOffset);
    }

    [Fact]
    public async Task CreateStreamAsync_EmptyBody_StillSendsContentTypeAndExpiry()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.OK));
        using DurableStreamClient client = TestClients.Create(handler);

        CreateStreamResult result = await client.CreateStreamAsync(new CreateOptions
        {
            Url = TestClients.StreamUrl,
            ContentType = "text/plain; charset=utf-8",
            ExpiresAt = new DateTimeOffset(2030, 5, 6, 7, 8, 9, TimeSpan.FromHours(2)),
        }, Ct);

        SentRequest put = Assert.Single(handler.Requests);
        Assert.Equal("text/plain; charset=utf-8", put.Header("Content-Type"));
        Assert.Equal("2030-05-06T05:08:09.000Z", put.Header("Stream-Expires-At"));
        Assert.Empty(put.Body);
        Assert.False(result.Created);
        Assert.Equal("text/plain; charset=utf-8", result.Stream.ContentType);
    }

    [Fact]
    public async Task AppendAsync_OnJsonStream_WrapsEachCallInOneArraySoItIsOneMessage()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "application/json; charset=utf-8");

        await stream.AppendAsync(new { Event = "user.created" }, cancellationToken: Ct);
        await stream.AppendAsync(new[] { 1, 2 }, cancellationToken: Ct);
        await stream.AppendAsync("""{"raw":true}""", cancellationToken: Ct);
        await stream.AppendAsync("""[3]"""u8.ToArray(), cancellationToken: Ct);

        Assert.Equal(
            ["""[{"event":"user.created"}]""", "[[1,2]]", """[{"raw":true}]""", "[[3]]"],
            handler.Requests.Select(r => Encoding.UTF8.GetString(r.Body)));
        Assert.All(handler.Requests, r => Assert.Equal(HttpMethod.Post, r.Method));
        Assert.All(handler.Requests, r => Assert.Equal("application/json; charset=utf-8", r.Header("Content-Type")));
    }

    [Fact]
    public async Task AppendAsync_OnByteStream_SendsBytesUnchanged()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "application/octet-stream");
        byte[] payload = [0x00, 0xFF, 0xFE, 0xFD, 0xFC];

        await stream.AppendAsync(payload, cancellationToken: Ct);
        await stream.AppendAsync(new Memory<byte>(payload), cancellationToken: Ct);

        Assert.All(handler.Requests, r => Assert.Equal(payload, r.Body));
    }

    [Fact]
    public async Task AppendAsync_Stream_IsSentChunkedWithoutContentLength()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "text/plain");
        using var body = new MemoryStream("streamed"u8.ToArray());

        await stream.AppendAsync(body, cancellationToken: Ct);

        SentRequest post = Assert.Single(handler.Requests);
        Assert.Equal("streamed"u8.ToArray(), post.Body);
        Assert.Null(post.Header("Content-Length"));
    }

    [Fact]
    public async Task AppendAsync_WithSeqHeadersAndQuery_SendsThemInOrderWithPrecedence()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok());
        int evaluations = 0;
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.DefaultHeaders["X-Tenant"] = "default";
            o.DefaultHeaders["X-Region"] = "eu";
            o.HeadersProvider = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(
                new Dictionary<string, string> { ["X-Tenant"] = $"dynamic-{++evaluations}", ["X-Call"] = "provider" });
            o.DefaultQueryParameters["z"] = "last";
            o.DefaultQueryParameters["b"] = "default";
        });
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "text/plain");
        var options = new AppendOptions { Sequence = "000042" };
        options.Headers["X-Call"] = "per-call";
        options.QueryParameters["b"] = "per-call";
        options.QueryParameters["a"] = "x y";

        await stream.AppendAsync("hi", options, Ct);

        SentRequest post = Assert.Single(handler.Requests);
        Assert.Equal("000042", post.Header("Stream-Seq"));
        Assert.Equal("dynamic-1", post.Header("X-Tenant"));
        Assert.Equal("eu", post.Header("X-Region"));
        Assert.Equal("per-call", post.Header("X-Call"));
        Assert.Equal("?a=x%20y&b=per-call&z=last", post.Url.Query);
    }

    [Fact]
    public async Task CloseAsync_CloseOnly_SendsEmptyPostWithStreamClosed()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(nextOffset: "0000_0099"));
        using DurableStreamClient client = TestClients.Create(handler);

        CloseResult result = await client.GetStream(TestClients.StreamUrl).CloseAsync(Ct);

        SentRequest post = Assert.Single(handler.Requests);
        Assert.Equal(HttpMethod.Post, post.Method);
        Assert.Equal("true", post.Header("Stream-Closed"));
        Assert.Empty(post.Body);
        Assert.Equal(new Offset("0000_0099"), result.FinalOffset);
    }

    [Fact]
    public async Task CloseAsync_WithFinalMessage_SendsBodyAndStreamClosed()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl, "application/json").CloseAsync(new { Done = true }, cancellationToken: Ct);

        SentRequest post = Assert.Single(handler.Requests);
        Assert.Equal("true", post.Header("Stream-Closed"));
        Assert.Equal("""[{"done":true}]""", Encoding.UTF8.GetString(post.Body));
    }

    [Fact]
    public async Task ForkAsync_SendsSourcePathOffsetAndSubOffset_AndInheritsContentType()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.Created, contentType: "application/json"));
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream source = client.GetStream(TestClients.StreamUrl, "application/json");

        CreateStreamResult fork = await source.ForkAsync(new ForkOptions { Url = "http://streams.test/v1/stream/orders-fork", Offset = new Offset("0000_0005"), SubOffset = 2 }, Ct);

        SentRequest put = Assert.Single(handler.Requests);
        Assert.Equal(HttpMethod.Put, put.Method);
        Assert.Equal("http://streams.test/v1/stream/orders-fork", put.Url.ToString());
        Assert.Equal("/v1/stream/orders", put.Header("Stream-Forked-From"));
        Assert.Equal("0000_0005", put.Header("Stream-Fork-Offset"));
        Assert.Equal("2", put.Header("Stream-Fork-Sub-Offset"));
        Assert.Null(put.Header("Content-Type"));
        Assert.Equal("application/json", fork.Stream.ContentType);
    }

    [Fact]
    public async Task HeadAsync_ParsesEveryMetadataHeader()
    {
        var handler = new RecordingHandler().Then(_ =>
        {
            HttpResponseMessage response = RecordingHandler.Ok(HttpStatusCode.OK, nextOffset: "0000_0123", contentType: "text/plain");
            response.Headers.TryAddWithoutValidation("Stream-TTL", "60");
            response.Headers.TryAddWithoutValidation("Stream-Closed", "TRUE");
            response.Headers.TryAddWithoutValidation("ETag", "\"abc:1:2\"");
            return response;
        });
        using DurableStreamClient client = TestClients.Create(handler);

        StreamMetadata metadata = await client.GetStream(TestClients.StreamUrl).HeadAsync(Ct);

        Assert.Equal(HttpMethod.Head, Assert.Single(handler.Requests).Method);
        Assert.Equal("text/plain", metadata.ContentType);
        Assert.Equal(new Offset("0000_0123"), metadata.NextOffset);
        Assert.Equal(TimeSpan.FromSeconds(60), metadata.Ttl);
        Assert.True(metadata.StreamClosed);
        Assert.Equal("\"abc:1:2\"", metadata.ETag);
    }

    [Fact]
    public async Task HeadAsync_ResponseWithoutNextOffset_ThrowsProtocolExceptionNamingTheHeader()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.OK);
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Contains("Stream-Next-Offset", ex.Message, StringComparison.Ordinal);
        Assert.Contains(TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStream_RelativePath_ResolvesAgainstBaseAddress()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.OK));
        using DurableStreamClient client = TestClients.Create(handler, o => o.BaseAddress = new Uri("http://streams.test/v1/stream"));

        await client.GetStream("orders/2024").HeadAsync(Ct);
        await client.GetStream("/orders/2025").HeadAsync(Ct);

        Assert.Equal(
            ["http://streams.test/v1/stream/orders/2024", "http://streams.test/v1/stream/orders/2025"],
            handler.Requests.Select(r => r.Url.ToString()));
    }

    [Fact]
    public async Task Errors_CompressedErrorBody_AppearsDecompressedInTheMessage()
    {
        var handler = new RecordingHandler().Then(_ =>
        {
            using var buffer = new MemoryStream();
            using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write("Stream not found"u8);
            }

            var response = new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new ByteArrayContent(buffer.ToArray()) };
            response.Content.Headers.ContentEncoding.Add("gzip");
            return response;
        });
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<StreamNotFoundException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.EndsWith("Stream not found", ex.Message, StringComparison.Ordinal);
    }
}
