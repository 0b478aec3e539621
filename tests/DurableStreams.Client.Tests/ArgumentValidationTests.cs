namespace DurableStreams.Tests;

/// <summary>Bad input fails before any I/O, naming the parameter.</summary>
public sealed class ArgumentValidationTests : IDisposable
{
    private readonly RecordingHandler _handler = new();
    private readonly DurableStreamClient _client;

    public ArgumentValidationTests() => _client = TestClients.Create(_handler);

    public void Dispose()
    {
        Assert.Empty(_handler.Requests);
        _client.Dispose();
    }

    [Theory]
    [InlineData("relative/path")]
    [InlineData("ftp://streams.test/x")]
    [InlineData("file:///tmp/x")]
    [InlineData(" ")]
    public void GetStream_NotAnHttpUrl_ThrowsNamingUrl(string url)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => _client.GetStream(url));
        Assert.Equal("url", ex.ParamName);
    }

    [Fact]
    public void GetStream_EmptyContentType_ThrowsNamingContentType()
    {
        var ex = Assert.Throws<ArgumentException>(() => _client.GetStream(TestClients.StreamUrl, ""));
        Assert.Equal("contentType", ex.ParamName);
    }

    [Fact]
    public async Task CreateStreamAsync_MissingUrl_ThrowsNamingUrl()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _client.CreateStreamAsync(new CreateOptions()));
        Assert.Equal("options.Url", ex.ParamName);
    }

    [Fact]
    public async Task CreateStreamAsync_EmptyContentType_ThrowsNamingContentType()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _client.CreateStreamAsync(new CreateOptions { Url = TestClients.StreamUrl, ContentType = " " }));
        Assert.Equal("options.ContentType", ex.ParamName);
    }

    [Fact]
    public async Task CreateStreamAsync_NegativeTtl_ThrowsNamingTtl()
    {
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _client.CreateStreamAsync(new CreateOptions { Url = TestClients.StreamUrl, Ttl = TimeSpan.FromSeconds(-1) }));
        Assert.Equal("options.Ttl", ex.ParamName);
    }

    [Fact]
    public async Task CreateStreamAsync_FractionalTtl_ThrowsNamingTtl()
    {
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _client.CreateStreamAsync(new CreateOptions { Url = TestClients.StreamUrl, Ttl = TimeSpan.FromMilliseconds(1500) }));
        Assert.Equal("options.Ttl", ex.ParamName);
    }

    [Fact]
    public async Task CreateStreamAsync_TtlAndExpiresAt_ThrowsNamingExpiresAt()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _client.CreateStreamAsync(
            new CreateOptions { Url = TestClients.StreamUrl, Ttl = TimeSpan.FromMinutes(1), ExpiresAt = DateTimeOffset.UtcNow.AddHours(1) }));
        Assert.Equal("options.ExpiresAt", ex.ParamName);
    }

    [Fact]
    public async Task AppendAsync_EmptyData_ThrowsNamingTheParameter()
    {
        DurableStream stream = _client.GetStream(TestClients.StreamUrl, "text/plain");

        Assert.Equal("data", (await Assert.ThrowsAsync<ArgumentException>(() => stream.AppendAsync(Array.Empty<byte>()))).ParamName);
        Assert.Equal("data", (await Assert.ThrowsAsync<ArgumentException>(() => stream.AppendAsync(ReadOnlyMemory<byte>.Empty))).ParamName);
        Assert.Equal("text", (await Assert.ThrowsAsync<ArgumentException>(() => stream.AppendAsync(string.Empty))).ParamName);
        Assert.Equal("content", (await Assert.ThrowsAsync<ArgumentException>(() => stream.AppendAsync(new MemoryStream()))).ParamName);
        Assert.Equal("finalData", (await Assert.ThrowsAsync<ArgumentException>(() => stream.CloseAsync(ReadOnlyMemory<byte>.Empty))).ParamName);
    }

    [Fact]
    public async Task AppendAsync_EmptySequence_ThrowsNamingSequence()
    {
        DurableStream stream = _client.GetStream(TestClients.StreamUrl, "text/plain");

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => stream.AppendAsync("x", new AppendOptions { Sequence = "" }));

        Assert.Equal("options.Sequence", ex.ParamName);
    }

    [Fact]
    public async Task ForkAsync_OtherServerOrNegativeSubOffset_Throws()
    {
        DurableStream source = _client.GetStream(TestClients.StreamUrl);

        var other = await Assert.ThrowsAsync<ArgumentException>(() => source.ForkAsync(new ForkOptions { Url = "http://elsewhere.test/v1/stream/fork" }));
        var negative = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => source.ForkAsync(new ForkOptions { Url = "http://streams.test/v1/stream/fork", SubOffset = -1 }));

        Assert.Equal("options.Url", other.ParamName);
        Assert.Equal("options.SubOffset", negative.ParamName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a,b")]
    [InlineData("a&b")]
    [InlineData("a=b")]
    [InlineData("a?b")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public void Offset_InvalidToken_Throws(string value)
    {
        Assert.ThrowsAny<ArgumentException>(() => new Offset(value));
        Assert.False(Offset.TryParse(value, out _));
    }

    [Fact]
    public void RetryOptions_OutOfRangeValues_ThrowNamingTheOption()
    {
        Assert.Equal("MaxRetries", Assert.Throws<ArgumentOutOfRangeException>(() => new RetryOptions { MaxRetries = -1 }).ParamName);
        Assert.Equal("InitialDelay", Assert.Throws<ArgumentOutOfRangeException>(() => new RetryOptions { InitialDelay = TimeSpan.Zero }).ParamName);
        Assert.Equal("InitialDelay", Assert.Throws<ArgumentOutOfRangeException>(() => new RetryOptions { InitialDelay = TimeSpan.FromMilliseconds(-100) }).ParamName);
        Assert.Equal("Multiplier", Assert.Throws<ArgumentOutOfRangeException>(() => new RetryOptions { Multiplier = 0.5 }).ParamName);
        Assert.Equal("Multiplier", Assert.Throws<ArgumentOutOfRangeException>(() => new RetryOptions { Multiplier = double.NaN }).ParamName);
        Assert.Equal("MaxDelay", Assert.Throws<ArgumentOutOfRangeException>(() => new RetryOptions(3, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500))).ParamName);
        Assert.Equal("MaxDelay", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new DurableStreamClient(new HttpClient(), new DurableStreamClientOptions { Retry = new RetryOptions { InitialDelay = TimeSpan.FromSeconds(30) } })).ParamName);
        _ = new RetryOptions(3, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), 2);
    }

    [Fact]
    public void ClientOptions_InvalidTimeoutOrBaseAddress_Throw()
    {
        Assert.Equal("RequestTimeout", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new DurableStreamClient(new DurableStreamClientOptions { RequestTimeout = TimeSpan.Zero })).ParamName);
        Assert.Equal("BaseAddress", Assert.Throws<ArgumentException>(() =>
            new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri("ftp://x.test/") })).ParamName);
    }
}
