namespace DurableStreams.IntegrationTests;

/// <summary>Disposing a client ends its live reads against the real server (issue: an SSE read kept delivering).</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class ClientDisposalIntegrationTests(ReferenceServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Theory]
    [InlineData(LiveMode.Sse)]
    [InlineData(LiveMode.LongPoll)]
    public async Task Dispose_DuringALiveRead_EndsItWithObjectDisposedNamingTheClient(LiveMode mode)
    {
        using var writer = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });
        DurableStream written = (await writer.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl("dispose"), ContentType = "text/plain" }, Ct)).Stream;
        await written.AppendAsync("first", cancellationToken: Ct);
        // A borrowed HttpClient, as with AddDurableStreams: disposing the client cannot end the read
        // by tearing down the HttpClient's connections.
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
        var reader = new DurableStreamClient(http, new DurableStreamClientOptions { BaseAddress = server.BaseUrl });
        await using IAsyncEnumerator<StreamItem<string>> read = reader.GetStream(written.Url).ReadTextAsync(new ReadOptions { Live = mode }, Ct).GetAsyncEnumerator(Ct);
        Assert.True(await read.MoveNextAsync());
        Assert.Equal("first", read.Current.Value);

        // The read now waits for data that never comes (a long-poll or an open SSE connection).
        Task<bool> next = read.MoveNextAsync().AsTask();
        reader.Dispose();

        var ex = await Assert.ThrowsAsync<ObjectDisposedException>(() => next.WaitAsync(Ct));
        Assert.Equal(nameof(DurableStreamClient), ex.ObjectName);
    }
}
