namespace DurableStreams.IntegrationTests;

[Collection(ReferenceServerCollection.Name)]
public sealed class ExistsTests(ReferenceServerFixture server) : ServerClientTest(server)
{
    [Fact]
    public async Task ExistsAsync_ThroughTheStreamsLife_FollowsCreateCloseAndDelete()
    {
        DurableStream stream = Client.GetStream(Server.NewStreamUrl("exists"));

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
        string url = Server.NewStreamUrl("exists-type");
        await Client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct);
        DurableStream handle = Client.GetStream(url);

        Assert.True(await handle.ExistsAsync(Ct));

        Assert.Equal("application/json", handle.ContentType);
    }
}

[Collection(ReferenceServerCollection.Name)]
public sealed class ClientConnectTests(ReferenceServerFixture server) : ServerClientTest(server)
{
    [Fact]
    public async Task ConnectAsync_RelativeUrlOnConfiguredClient_ReturnsHandleKnowingContentType()
    {
        string url = Server.NewStreamUrl("connect");
        await Client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct);
        string relative = Server.BaseUrl.MakeRelativeUri(new Uri(url)).ToString();

        DurableStream stream = await Client.ConnectAsync(relative, Ct);

        Assert.Equal(new Uri(url), stream.Url);
        Assert.Same(Client, stream.Client);
        Assert.Equal("application/json", stream.ContentType);
    }

    [Fact]
    public async Task ConnectAsync_MissingStream_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<StreamNotFoundException>(() => Client.ConnectAsync(new Uri(Server.NewStreamUrl("connect-missing")), Ct));
    }
}
