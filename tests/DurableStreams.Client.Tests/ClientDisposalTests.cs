using System.Net;
using System.Text;
using DurableStreams.Tests.Reading;
using Microsoft.Extensions.Time.Testing;

namespace DurableStreams.Tests;

/// <summary>Disposing a client ends its reads and requests with ObjectDisposedException naming the client.</summary>
public sealed class ClientDisposalTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    /// <summary>A client on a borrowed HttpClient: disposing it cannot end anything by disposing the HttpClient.</summary>
    private static DurableStreamClient Borrowing(HttpMessageHandler handler, Action<DurableStreamClientOptions>? configure = null)
    {
        var options = new DurableStreamClientOptions { Retry = TestClients.FastRetry(), ReadRetry = TestClients.FastRetry() };
        configure?.Invoke(options);
        return new DurableStreamClient(new HttpClient(handler), options, disposeHttpClient: false);
    }

    private static void AssertNamesTheClient(ObjectDisposedException ex) => Assert.Equal(nameof(DurableStreamClient), ex.ObjectName);

    [Fact]
    public async Task Dispose_DuringAnSseRead_EndsTheReadWithObjectDisposed()
    {
        var sse = new TrickleContent(Encoding.UTF8.GetBytes(ReadScript.Data("\n", "a") + ReadScript.Control("0000_0001")), contentType: "text/event-stream", hangAtEnd: true);
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0000"))
            .Then(_ => ReadScript.Sse(sse));
        DurableStreamClient client = Borrowing(handler);
        await using IAsyncEnumerator<StreamChunk> read = client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct).GetAsyncEnumerator(Ct);
        do
        {
            Assert.True(await read.MoveNextAsync());
        }
        while (read.Current.Data.IsEmpty);

        Task<bool> next = read.MoveNextAsync().AsTask();
        await sse.Hanging.Task.WaitAsync(Ct);
        client.Dispose();

        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => next));
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Dispose_DuringALongPoll_EndsTheReadWithObjectDisposed()
    {
        var longPoll = new HangingHandler(() => ReadScript.CatchUp("a", "0000_0001"));
        DurableStreamClient client = Borrowing(longPoll);

        Task<List<StreamChunk>> read = client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);
        await longPoll.Waiting.Task.WaitAsync(Ct);
        client.Dispose();

        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => read));
        Assert.Contains("live=long-poll", longPoll.LastUrl!.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispose_WhileAReadWaitsToRetry_EndsTheReadWithObjectDisposed()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler().Then(_ => ReadScript.Status(HttpStatusCode.ServiceUnavailable));
        DurableStreamClient client = Borrowing(handler, o =>
        {
            o.TimeProvider = time;
            o.ReadRetry = new RetryOptions(int.MaxValue, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1), multiplier: 1.0, jitter: false);
        });

        Task<byte[]> read = client.GetStream(TestClients.StreamUrl).ReadAllBytesAsync(cancellationToken: Ct);
        await handler.WaitForRequestsAsync(1, Ct);
        client.Dispose();

        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => read));
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Dispose_WhileARequestIsInFlight_EndsItWithObjectDisposed()
    {
        var handler = new HangingHandler();
        DurableStreamClient client = Borrowing(handler);

        Task<AppendResult> append = client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct);
        await handler.Waiting.Task.WaitAsync(Ct);
        client.Dispose();

        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => append));
    }

    [Fact]
    public async Task Dispose_WhileARequestWithoutACallerTokenIsInFlight_EndsItWithObjectDisposed()
    {
        // No caller token: the transport sends with the client's disposal token alone (no linked source).
        var handler = new HangingHandler();
        DurableStreamClient client = Borrowing(handler);

        Task<AppendResult> append = client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x");
        await handler.Waiting.Task.WaitAsync(Ct);
        client.Dispose();

        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => append.WaitAsync(Ct)));
    }

    [Fact]
    public async Task Dispose_WhileAHeadWithoutACallerTokenWaitsToRetry_EndsItWithObjectDisposed()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable);
        DurableStreamClient client = Borrowing(handler, options =>
        {
            options.TimeProvider = time;
            options.Retry = new RetryOptions(3, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), multiplier: 1.0, jitter: false);
        });

        Task<StreamMetadata> head = client.GetStream(TestClients.StreamUrl).HeadAsync();
        await handler.WaitForRequestsAsync(1, Ct);
        client.Dispose();

        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => head.WaitAsync(Ct)));
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Operations_AfterDispose_ThrowObjectDisposedBeforeAnyRequest()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.OK, contentType: "text/plain"));
        DurableStreamClient client = Borrowing(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "text/plain");
        client.Dispose();

        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.HeadAsync(Ct)));
        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.AppendAsync("x", cancellationToken: Ct)));
        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.DeleteAsync(Ct)));
        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => client.CreateStreamAsync(new CreateOptions { Url = TestClients.StreamUrl }, Ct)));
        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.ReadAllBytesAsync(cancellationToken: Ct)));
        AssertNamesTheClient(await Assert.ThrowsAsync<ObjectDisposedException>(() => stream.ReadAsync(cancellationToken: Ct).CollectAsync(Ct)));
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public void HandlesAndProducers_AfterDispose_ThrowObjectDisposed()
    {
        var handler = new RecordingHandler();
        DurableStreamClient client = Borrowing(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "text/plain");
        client.Dispose();

        AssertNamesTheClient(Assert.Throws<ObjectDisposedException>(() => client.GetStream(TestClients.StreamUrl)));
        AssertNamesTheClient(Assert.Throws<ObjectDisposedException>(() => client.GetStream(new Uri(TestClients.StreamUrl))));
        AssertNamesTheClient(Assert.Throws<ObjectDisposedException>(() => stream.CreateProducer("p")));
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task Dispose_CallerCancelsFirst_StillSurfacesOperationCanceled()
    {
        var handler = new HangingHandler();
        DurableStreamClient client = Borrowing(handler);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        Task<List<StreamChunk>> read = client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, cancel.Token).CollectAsync(Ct);
        await handler.Waiting.Task.WaitAsync(Ct);
        await cancel.CancelAsync();
        client.Dispose();

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        Assert.IsNotType<ObjectDisposedException>(ex);
    }

    [Fact]
    public void Dispose_OnTheDefaultClient_DoesNothing()
    {
        DurableStreamClient.Default.Dispose();

        Assert.False(DurableStreamClient.Default.IsDisposed);
        Assert.False(DurableStreamClient.Default.DisposalToken.IsCancellationRequested);
    }

    [Fact]
    public void DisposalToken_IsCancelledByDispose()
    {
        DurableStreamClient client = Borrowing(new RecordingHandler());
        CancellationToken token = client.DisposalToken;

        client.Dispose();
        client.Dispose();

        Assert.True(token.IsCancellationRequested);
        Assert.True(client.DisposalToken.IsCancellationRequested);
    }

    /// <summary>Answers the first request from <c>first</c> when given; every other request waits until it is cancelled.</summary>
    private sealed class HangingHandler(Func<HttpResponseMessage>? first = null) : HttpMessageHandler
    {
        private Func<HttpResponseMessage>? _first = first;

        public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Uri? LastUrl { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            LastUrl = request.RequestUri;
            if (Interlocked.Exchange(ref _first, null) is { } answer)
            {
                return answer();
            }

            Waiting.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("Unreachable.");
        }
    }
}
