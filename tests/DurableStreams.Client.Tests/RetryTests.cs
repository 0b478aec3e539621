using System.Net;
using System.Net.Sockets;
using DurableStreams.Testing;

namespace DurableStreams.Tests;

/// <summary>Which failures are retried, how often, how long apart, and what a plain append never does.</summary>
public sealed class RetryTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static HttpRequestException Ambiguous() =>
        new("The response ended prematurely.", new IOException("Connection reset by peer", new SocketException((int)SocketError.ConnectionReset)));

    private static HttpRequestException Refused() =>
        new(HttpRequestError.ConnectionError, "Connection refused (streams.test:80)", new SocketException((int)SocketError.ConnectionRefused));

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.InternalServerError)]
    [InlineData(HttpStatusCode.BadGateway)]
    [InlineData(HttpStatusCode.TooManyRequests)]
    public async Task AppendAsync_TransientStatusThenSuccess_IsRetried(HttpStatusCode status)
    {
        var handler = new RecordingHandler().ThenRespond(status).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        AppendResult result = await client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct);

        Assert.Equal(2, handler.Requests.Count);
        Assert.Equal(handler.Requests[0].Body, handler.Requests[1].Body);
        Assert.Equal(new Offset("0000_0010"), result.NextOffset);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.Conflict)]
    [InlineData(HttpStatusCode.RequestEntityTooLarge)]
    [InlineData(HttpStatusCode.NotImplemented)]
    public async Task Operations_NonTransientStatus_AreNotRetried(HttpStatusCode status)
    {
        var handler = new RecordingHandler().ThenRespond(status);
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "text/plain");

        var append = await Assert.ThrowsAnyAsync<DurableStreamException>(() => stream.AppendAsync("x", cancellationToken: Ct));
        var head = await Assert.ThrowsAnyAsync<DurableStreamException>(() => stream.HeadAsync(Ct));

        Assert.Equal((int)status, append.Status);
        Assert.Equal((int)status, head.Status);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task AppendAsync_TransientStatusUntilRetriesRunOut_ThrowsWithStatusAndRetryAfter()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable, r => r.Headers.TryAddWithoutValidation("Retry-After", "0"));
        using DurableStreamClient client = TestClients.Create(handler, o => o.Retry = TestClients.FastRetry(maxRetries: 2));

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Equal(3, handler.Requests.Count);
        Assert.Equal(503, ex.Status);
        Assert.Equal(DurableStreamErrorCodes.UnexpectedStatus, ex.ErrorCode);
        Assert.Equal(TimeSpan.Zero, ex.RetryAfter);
        Assert.Contains("POST " + TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("999999")]       // 11.5 days
    [InlineData("2147483647")]   // 68 years
    public async Task AppendAsync_RetryAfterBeyondMaxRetryAfter_FailsAtOnceCarryingIt(string seconds)
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable, r => r.Headers.TryAddWithoutValidation("Retry-After", seconds));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Single(handler.Requests);
        Assert.Equal(503, ex.Status);
        Assert.Equal(TimeSpan.FromSeconds(long.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture)), ex.RetryAfter);
    }

    [Fact]
    public async Task AppendAsync_RetryAfterWithinMaxRetryAfter_IsWaitedFor()
    {
        var handler = new RecordingHandler()
            .ThenRespond(HttpStatusCode.ServiceUnavailable, r => r.Headers.TryAddWithoutValidation("Retry-After", "1"))
            .Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler, o => o.Retry.MaxRetryAfter = TimeSpan.FromSeconds(1));

        await client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct);

        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task ReadAsync_RetryAfterBeyondMaxRetryAfter_FailsAtOnceCarryingIt()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable, r => r.Headers.TryAddWithoutValidation("Retry-After", "999999"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").ReadAllBytesAsync(cancellationToken: Ct));

        Assert.Single(handler.Requests);
        Assert.Equal(TimeSpan.FromSeconds(999999), ex.RetryAfter);
    }

    [Fact]
    public void MaxRetryAfter_DefaultsToOneMinuteAndRejectsZero()
    {
        var options = new RetryOptions();

        Assert.Equal(TimeSpan.FromMinutes(1), options.MaxRetryAfter);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => options.MaxRetryAfter = TimeSpan.Zero);
        Assert.Equal(nameof(RetryOptions.MaxRetryAfter), ex.ParamName);
    }

    [Fact]
    public async Task Retry_DiscardedResponses_AreDisposedSoTheirConnectionsAreFreed()
    {
        var discarded = new TrackingContent();
        var handler = new RecordingHandler()
            .Then(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Content = discarded })
            .Then(_ => RecordingHandler.Ok(HttpStatusCode.OK));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl).HeadAsync(Ct);

        Assert.True(discarded.Disposed);
    }

    private sealed class TrackingContent : ByteArrayContent
    {
        public TrackingContent()
            : base([])
        {
        }

        public bool Disposed { get; private set; }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }

    [Fact]
    public async Task AppendAsync_ConnectionFailsAfterSending_IsNotResentAndReportsUnknownOutcome()
    {
        var handler = new RecordingHandler().ThenThrow(Ambiguous).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<AppendOutcomeUnknownException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Single(handler.Requests);
        Assert.Equal(0, ex.Status);
        Assert.Equal(DurableStreamErrorCodes.OutcomeUnknown, ex.ErrorCode);
        Assert.Contains("IdempotentProducer", ex.Message, StringComparison.Ordinal);
        Assert.IsType<HttpRequestException>(ex.InnerException);
    }

    [Fact]
    public async Task AppendAndClose_ConnectionFailsAfterSending_IsNotResent()
    {
        var handler = new RecordingHandler().ThenThrow(Ambiguous).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        await Assert.ThrowsAsync<AppendOutcomeUnknownException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").CloseAsync("final", cancellationToken: Ct));

        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task AppendAsync_ConnectionRefused_IsRetriedBecauseNothingWasSent()
    {
        var handler = new RecordingHandler().ThenThrow(Refused).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct);

        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task AppendAsync_NonSeekableStream_IsNeverRetried()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync(new ForwardOnlyStream("abc"u8.ToArray()), cancellationToken: Ct));

        Assert.Equal(503, ex.Status);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task AppendAsync_SeekableStream_IsRewoundForTheRetry()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);
        using var content = new MemoryStream("xxabc"u8.ToArray()) { Position = 2 };

        await client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync(content, cancellationToken: Ct);

        Assert.All(handler.Requests, r => Assert.Equal("abc"u8.ToArray(), r.Body));
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task SafeOperations_AmbiguousNetworkFailure_AreRetried()
    {
        var handler = new RecordingHandler()
            .ThenThrow(Ambiguous).Then(_ => RecordingHandler.Ok(HttpStatusCode.OK))                // HEAD
            .ThenThrow(Ambiguous).Then(_ => RecordingHandler.Ok(HttpStatusCode.Created))           // PUT
            .ThenThrow(Ambiguous).ThenRespond(HttpStatusCode.NoContent)                             // DELETE
            .ThenThrow(Ambiguous).Then(_ => RecordingHandler.Ok());                                 // close-only
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "text/plain");

        await stream.HeadAsync(Ct);
        await stream.CreateStreamAsync(cancellationToken: Ct);
        await stream.DeleteAsync(Ct);
        await stream.CloseAsync(Ct);

        Assert.Equal(
            [HttpMethod.Head, HttpMethod.Head, HttpMethod.Put, HttpMethod.Put, HttpMethod.Delete, HttpMethod.Delete, HttpMethod.Post, HttpMethod.Post],
            handler.Requests.Select(r => r.Method));
    }

    [Fact]
    public async Task DeleteAsync_RetryFindsNothingAfterAnAmbiguousFailure_CountsAsDeleted()
    {
        var handler = new RecordingHandler().ThenThrow(Ambiguous).ThenRespond(HttpStatusCode.NotFound);
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl).DeleteAsync(Ct);

        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task DeleteAsync_NotFoundAfterARefusedConnection_StillThrowsNotFound()
    {
        var handler = new RecordingHandler().ThenThrow(Refused).ThenRespond(HttpStatusCode.NotFound);
        using DurableStreamClient client = TestClients.Create(handler);

        await Assert.ThrowsAsync<StreamNotFoundException>(() => client.GetStream(TestClients.StreamUrl).DeleteAsync(Ct));
    }

    [Fact]
    public async Task SafeOperation_NetworkFailuresUntilRetriesRunOut_ThrowsNetworkError()
    {
        var handler = new RecordingHandler().ThenThrow(Ambiguous);
        using DurableStreamClient client = TestClients.Create(handler, o => o.Retry = TestClients.FastRetry(maxRetries: 3));

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Equal(4, handler.Requests.Count);
        Assert.Equal(0, ex.Status);
        Assert.Equal(DurableStreamErrorCodes.NetworkError, ex.ErrorCode);
        Assert.Contains("HEAD " + TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_HeadersProvider_IsEvaluatedForEveryAttempt()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable).ThenRespond(HttpStatusCode.ServiceUnavailable).Then(_ => RecordingHandler.Ok());
        int token = 0;
        int parameter = 0;
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.HeadersProvider = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["Authorization"] = $"Bearer t{++token}" });
            o.QueryParametersProvider = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["attempt"] = $"{++parameter}" });
        });

        await client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct);

        Assert.Equal(["Bearer t1", "Bearer t2", "Bearer t3"], handler.Requests.Select(r => r.Header("Authorization")));
        Assert.Equal(["?attempt=1", "?attempt=2", "?attempt=3"], handler.Requests.Select(r => r.Url.Query));
    }

    [Fact]
    public async Task Errors_NeverContainAuthorizationValues()
    {
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.InternalServerError, r => r.Content = new StringContent("internal error"));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.DefaultHeaders["Authorization"] = "Bearer static-s3cret";
            o.HeadersProvider = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["X-Api-Key"] = "dyn-s3cret" });
        });

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Equal("Bearer static-s3cret", handler.Requests[0].Header("Authorization"));
        Assert.DoesNotContain("s3cret", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retry_RetryAfterSeconds_IsTheMinimumWait()
    {
        var time = new SignallingTimeProvider();
        var handler = new RecordingHandler()
            .ThenRespond(HttpStatusCode.TooManyRequests, r => r.Headers.TryAddWithoutValidation("Retry-After", "5"))
            .Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler, o => o.TimeProvider = time);

        Task<AppendResult> append = client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct);
        await PassRetryDelayAsync(time, handler, requestsSoFar: 1, TimeSpan.FromSeconds(5));

        await append.WaitAsync(Ct);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Retry_RetryAfterHttpDate_IsTheMinimumWait()
    {
        var time = new SignallingTimeProvider();
        var handler = new RecordingHandler()
            .ThenRespond(HttpStatusCode.ServiceUnavailable, r => r.Headers.TryAddWithoutValidation("Retry-After", "Thu, 01 Jan 2026 00:00:03 GMT"))
            .Then(_ => RecordingHandler.Ok(HttpStatusCode.OK));
        using DurableStreamClient client = TestClients.Create(handler, o => o.TimeProvider = time);

        Task<StreamMetadata> head = client.GetStream(TestClients.StreamUrl).HeadAsync(Ct);
        await PassRetryDelayAsync(time, handler, requestsSoFar: 1, TimeSpan.FromSeconds(3));

        await head.WaitAsync(Ct);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Retry_Backoff_GrowsByTheMultiplierUpToMaxDelay()
    {
        var time = new SignallingTimeProvider();
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable);
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.TimeProvider = time;
            o.Retry = new RetryOptions(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), multiplier: 2, jitter: false);
        });

        Task<StreamMetadata> head = client.GetStream(TestClients.StreamUrl).HeadAsync(Ct);
        // Expected waits: 1 s, 2 s, then 4 s capped to 3 s.
        foreach ((int afterRequests, int waitMs) in new[] { (1, 1000), (2, 2000), (3, 3000) })
        {
            await PassRetryDelayAsync(time, handler, afterRequests, TimeSpan.FromMilliseconds(waitMs));
        }

        await Assert.ThrowsAsync<DurableStreamException>(() => head.WaitAsync(Ct));
        Assert.Equal(4, handler.Requests.Count);
    }

    [Fact]
    public async Task CallerCancellation_SurfacesAsOperationCanceledException()
    {
        var blocking = new BlockingHandler();
        using var cts = new CancellationTokenSource();
        using DurableStreamClient client = TestClients.Create(blocking);
        cts.CancelAfter(TimeSpan.FromMilliseconds(50));

        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: cts.Token));

        Assert.Equal(cts.Token, ex.CancellationToken);
        Assert.Equal(1, blocking.Calls);
    }

    [Fact]
    public async Task RequestTimeout_OnSafeOperation_IsRetriedThenReportedAsTimeout()
    {
        var blocking = new BlockingHandler();
        using DurableStreamClient client = TestClients.Create(blocking, o =>
        {
            o.RequestTimeout = TimeSpan.FromMilliseconds(50);
            o.Retry = TestClients.FastRetry(maxRetries: 1);
        });

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Equal(DurableStreamErrorCodes.Timeout, ex.ErrorCode);
        Assert.Equal(2, blocking.Calls);
    }

    [Fact]
    public async Task RequestTimeout_OnPlainAppend_ReportsUnknownOutcomeWithoutResending()
    {
        var blocking = new BlockingHandler();
        using DurableStreamClient client = TestClients.Create(blocking, o => o.RequestTimeout = TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAsync<AppendOutcomeUnknownException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Equal(1, blocking.Calls);
    }

    /// <summary>
    /// Once request <paramref name="requestsSoFar"/> was answered and its retry delay scheduled, moves
    /// the clock to just short of <paramref name="wait"/> (no retry yet), then to the end of it.
    /// </summary>
    private async Task PassRetryDelayAsync(SignallingTimeProvider time, RecordingHandler handler, int requestsSoFar, TimeSpan wait)
    {
        await handler.WaitForRequestsAsync(requestsSoFar, Ct);
        await time.WhenTimerPendingAsync(Ct);
        time.Advance(wait - TimeSpan.FromMilliseconds(10));
        await Task.Yield();
        Assert.Equal(requestsSoFar, handler.Requests.Count);
        time.Advance(TimeSpan.FromMilliseconds(10));
    }

    /// <summary>A handler whose requests never complete until cancelled.</summary>
    private sealed class BlockingHandler : HttpMessageHandler
    {
        private int _calls;

        public int Calls => _calls;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    private sealed class ForwardOnlyStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
