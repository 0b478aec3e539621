namespace DurableStreams.IntegrationTests;

[Collection(ReferenceServerCollection.Name)]
public sealed class ExistsTests(ReferenceServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));
    private readonly DurableStreamClient _client = new(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _client.Dispose();
        _timeout.Dispose();
    }

    [Fact]
    public async Task ExistsAsync_ThroughTheStreamsLife_FollowsCreateCloseAndDelete()
    {
        DurableStream stream = _client.GetStream(server.NewStreamUrl("exists"));

        Assert.False(await stream.ExistsAsync(Ct));
        await stream.CreateStreamAsync(new CreateOptions { ContentType = "text/plain" }, Ct);
        Assert.True(await stream.ExistsAsync(Ct));
        await stream.CloseAsync(Ct);
        Assert.True(await stream.ExistsAsync(Ct));
        await stream.DeleteAsync(Ct);
        Assert.False(await stream.ExistsAsync(Ct));
    }

    [Fact]
    public async Task ExistsAsync_ExistingStream_RemembersItsContentType()
    {
        string url = server.NewStreamUrl("exists-type");
        await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct);
        DurableStream handle = _client.GetStream(url);

        Assert.True(await handle.ExistsAsync(Ct));

        Assert.Equal("application/json", handle.ContentType);
    }
}

[Collection(ReferenceServerCollection.Name)]
public sealed class ClientConnectTests(ReferenceServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));
    private readonly DurableStreamClient _client = new(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _client.Dispose();
        _timeout.Dispose();
    }

    [Fact]
    public async Task ConnectAsync_RelativeUrlOnConfiguredClient_ReturnsHandleKnowingContentType()
    {
        string url = server.NewStreamUrl("connect");
        await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct);
        string relative = server.BaseUrl.MakeRelativeUri(new Uri(url)).ToString();

        DurableStream stream = await _client.ConnectAsync(relative, Ct);

        Assert.Equal(new Uri(url), stream.Url);
        Assert.Same(_client, stream.Client);
        Assert.Equal("application/json", stream.ContentType);
    }

    [Fact]
    public async Task ConnectAsync_MissingStream_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<StreamNotFoundException>(() => _client.ConnectAsync(new Uri(server.NewStreamUrl("connect-missing")), Ct));
    }
}
