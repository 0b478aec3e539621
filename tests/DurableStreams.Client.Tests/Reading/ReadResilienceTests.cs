using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using DurableStreams.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace DurableStreams.Tests.Reading;

/// <summary>Retries, the recovery hook, SSE reconnects and fallback, error mapping, cancellation and disposal.</summary>
public sealed class ReadResilienceTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static IOException Reset() => new("Connection reset by peer", new SocketException((int)SocketError.ConnectionReset));

    [Fact]
    public async Task Sse_ConnectionDropsMidEvent_ResumesFromTheLastControlOffsetWithoutDuplicates()
    {
        var failures = new List<ReadFailureContext>();
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0000", cursor: "1"))
            .Then(_ => ReadScript.Sse(
                ReadScript.Data("\n", "a") + ReadScript.Control("0000_0001", cursor: "2") + "event: data\ndata:b",
                reads: [3],
                failAtEnd: Reset))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "b") + ReadScript.Control("0000_0002", cursor: null, closed: true)));
        using DurableStreamClient client = TestClients.Create(handler);
        var options = new ReadOptions
        {
            Live = LiveMode.Sse,
            OnFailure = (context, _) =>
            {
                failures.Add(context);
                return ValueTask.FromResult(ReadRecovery.Default);
            },
        };

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct).CollectAsync(Ct);

        Assert.Equal(["", "a", "b"], chunks.Select(c => c.Utf8()));
        Assert.Equal(["offset=-1", "cursor=1&live=sse&offset=0000_0000", "cursor=2&live=sse&offset=0000_0001"], handler.Requests.Select(r => r.Query()));
        ReadFailureContext failure = Assert.Single(failures);
        Assert.Equal(0, failure.Status);
        Assert.IsType<IOException>(failure.Exception);
        Assert.True(failure.WillRetry);
        Assert.Equal(new Offset("0000_0001"), failure.Offset);
    }

    [Fact]
    public async Task Sse_ServerEndsAHealthyResponse_ReconnectsFromTheLastControlOffset()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0000", cursor: "1"))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "a") + ReadScript.Control("0000_0001", cursor: "2") + ReadScript.Data("\n", "never-confirmed")))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "b") + ReadScript.Control("0000_0002", cursor: null, closed: true)));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct).CollectAsync(Ct);

        Assert.Equal(["", "a", "b"], chunks.Select(c => c.Utf8()));
        Assert.Equal("cursor=2&live=sse&offset=0000_0001", handler.Requests[2].Query());
    }

    [Fact]
    public async Task Sse_ThreeShortConnectionsWithoutData_SwitchToLongPollAndKeepReading()
    {
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(collector)));
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "1"))
            .Then(_ => ReadScript.Sse(""))
            .Then(_ => ReadScript.Sse(""))
            .Then(_ => ReadScript.Sse(""))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002", cursor: "2"))
            .Then(_ => ReadScript.NoContent("0000_0002", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler, o => o.LoggerFactory = loggerFactory);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.Auto }, Ct).CollectAsync(Ct);

        Assert.Equal(
            [
                "offset=-1",
                "cursor=1&live=sse&offset=0000_0001",
                "cursor=1&live=sse&offset=0000_0001",
                "cursor=1&live=sse&offset=0000_0001",
                "cursor=1&live=long-poll&offset=0000_0001",
                "cursor=2&live=long-poll&offset=0000_0002",
            ],
            handler.Requests.Select(r => r.Query()));
        Assert.Equal(["a", "b", ""], chunks.Select(c => c.Utf8()));
        FakeLogRecord fallback = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 3);
        Assert.Equal(LogLevel.Warning, fallback.Level);
        Assert.Equal(2, collector.GetSnapshot().Count(r => r.Id.Id == 2));
    }

    [Fact]
    public async Task Sse_FallbackAfterOneShortConnectionConfigured_SwitchesToLongPollAfterTheFirst()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "1"))
            .Then(_ => ReadScript.Sse(""))
            .Then(_ => ReadScript.NoContent("0000_0001", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Live = LiveMode.Sse, SseFallbackShortConnections = 1 }, Ct)
            .CollectAsync(Ct);

        Assert.Equal(
            ["offset=-1", "cursor=1&live=sse&offset=0000_0001", "cursor=1&live=long-poll&offset=0000_0001"],
            handler.Requests.Select(r => r.Query()));
        Assert.True(chunks[^1].StreamClosed);
    }

    [Fact]
    public async Task Sse_FallbackDisabledWithZero_KeepsReconnectingWithSse()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "1"));
        for (int i = 0; i < 5; i++)
        {
            handler.Then(_ => ReadScript.Sse(""));
        }

        handler.Then(_ => ReadScript.Sse(ReadScript.Control("0000_0001", cursor: null, closed: true)));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Live = LiveMode.Sse, SseFallbackShortConnections = 0 }, Ct)
            .CollectAsync(Ct);

        Assert.Equal(7, handler.Requests.Count);
        Assert.All(handler.Requests.Skip(1), r => Assert.Equal("cursor=1&live=sse&offset=0000_0001", r.Query()));
        Assert.True(chunks[^1].StreamClosed);
    }

    [Theory]
    [InlineData(1, "sse")]
    [InlineData(5, "long-poll")]
    public async Task Sse_ShortConnectionDuration_DecidesWhetherAnEmptyConnectionCountsAsShort(int durationSeconds, string secondLiveRequest)
    {
        // Each empty SSE connection lasts 2 s of fake time: healthy under a 1 s threshold, short under 5 s.
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "1"))
            .Then(_ => ClockAdvancingSse(time, TimeSpan.FromSeconds(2)))
            .Then(r => r.Query().Contains("live=sse", StringComparison.Ordinal)
                ? ReadScript.Sse(ReadScript.Control("0000_0001", cursor: null, closed: true))
                : ReadScript.NoContent("0000_0001", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler, o => o.TimeProvider = time);

        await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Live = LiveMode.Sse, SseFallbackShortConnections = 1, SseShortConnectionDuration = TimeSpan.FromSeconds(durationSeconds) }, Ct)
            .CollectAsync(Ct);

        Assert.Equal(3, handler.Requests.Count);
        Assert.Contains("live=" + secondLiveRequest, handler.Requests[2].Query(), StringComparison.Ordinal);
    }

    /// <summary>An empty SSE response whose body, when first read, moves the fake clock (the connection "lasts" that long).</summary>
    private static HttpResponseMessage ClockAdvancingSse(FakeTimeProvider time, TimeSpan lasts) =>
        new(HttpStatusCode.OK) { Content = new ClockAdvancingContent(time, lasts) };

    private sealed class ClockAdvancingContent : HttpContent
    {
        private readonly FakeTimeProvider _time;
        private readonly TimeSpan _lasts;

        public ClockAdvancingContent(FakeTimeProvider time, TimeSpan lasts)
        {
            _time = time;
            _lasts = lasts;
            Headers.TryAddWithoutValidation("Content-Type", "text/event-stream");
        }

        protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(new EndStream(this));

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => Task.CompletedTask;

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        private sealed class EndStream(ClockAdvancingContent owner) : MemoryStream
        {
            private bool _advanced;

            public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                if (!_advanced)
                {
                    _advanced = true;
                    owner._time.Advance(owner._lasts);
                }

                return ValueTask.FromResult(0);
            }
        }
    }

    [Fact]
    public async Task Read_401ThenTheHookSuppliesANewToken_ContinuesAndKeepsTheTokenForLaterRequests()
    {
        var handler = new RecordingHandler()
            .Then(r => r.Header("Authorization") == "Bearer fresh" ? ReadScript.CatchUp("a", "0000_0001") : ReadScript.Status(HttpStatusCode.Unauthorized))
            .Then(r => r.Header("Authorization") == "Bearer fresh" ? ReadScript.CatchUp("a", "0000_0001") : ReadScript.Status(HttpStatusCode.Unauthorized))
            .Then(r => r.Header("Authorization") == "Bearer fresh" ? ReadScript.NoContent("0000_0001", closed: true) : ReadScript.Status(HttpStatusCode.Unauthorized));
        using DurableStreamClient client = TestClients.Create(handler, o => o.DefaultHeaders["Authorization"] = "Bearer stale");
        var seen = new List<ReadFailureContext>();
        var options = new ReadOptions
        {
            Live = LiveMode.LongPoll,
            OnFailure = (context, _) =>
            {
                seen.Add(context);
                return ValueTask.FromResult(context.Status == 401
                    ? ReadRecovery.Retry(new Dictionary<string, string> { ["Authorization"] = "Bearer fresh" }, TimeSpan.Zero)
                    : ReadRecovery.Default);
            },
        };

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct).CollectAsync(Ct);

        Assert.Equal(["a", ""], chunks.Select(c => c.Utf8()));
        Assert.Equal(["Bearer stale", "Bearer fresh", "Bearer fresh"], handler.Requests.Select(r => r.Header("Authorization")));
        ReadFailureContext failure = Assert.Single(seen);
        Assert.False(failure.WillRetry);
        Assert.Equal(1, failure.Attempt);
        Assert.Equal(401, Assert.IsAssignableFrom<DurableStreamException>(failure.Exception).Status);
    }

    [Theory]
    [InlineData(HttpStatusCode.Unauthorized)]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.Conflict)]
    public async Task Read_4xxWithoutHook_FailsAtOnce(HttpStatusCode status)
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.Status(status, "no"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAnyAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Equal((int)status, ex.Status);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Read_ErrorStatuses_MapToTheExceptionsCallersBranchOn()
    {
        static async Task<Exception> ReadWith(HttpStatusCode status, CancellationToken ct)
        {
            var handler = new RecordingHandler().Then(_ => ReadScript.Status(status));
            using DurableStreamClient client = TestClients.Create(handler);
            return await Assert.ThrowsAnyAsync<DurableStreamException>(
                () => client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Offset = new Offset("bad_offset"), Live = LiveMode.Sse }, ct).CollectAsync(ct));
        }

        Assert.IsType<StreamNotFoundException>(await ReadWith(HttpStatusCode.NotFound, Ct));
        Assert.IsType<StreamGoneException>(await ReadWith(HttpStatusCode.Gone, Ct));
        var badRequest = Assert.IsType<StreamBadRequestException>(await ReadWith(HttpStatusCode.BadRequest, Ct));
        Assert.Equal(DurableStreamErrorCodes.InvalidOffset, badRequest.ErrorCode);
    }

    [Fact]
    public async Task Read_503WithRetryAfter_WaitsAtLeastRetryAfterThenContinues()
    {
        var time = new SignallingTimeProvider();
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(collector)));
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.Status(HttpStatusCode.ServiceUnavailable, retryAfter: "30"))
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.TimeProvider = time;
            o.LoggerFactory = loggerFactory;
        });

        Task<List<StreamChunk>> read = client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);
        await handler.WaitForRequestsAsync(1, Ct);
        TimeSpan advanced = await time.AdvanceToNextTimerAsync(Ct);

        List<StreamChunk> chunks = await read.WaitAsync(Ct);
        Assert.Equal("a", Assert.Single(chunks).Utf8());
        Assert.True(advanced >= TimeSpan.FromSeconds(30), $"Retried after {advanced}.");
        FakeLogRecord retry = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 1);
        Assert.Contains("HTTP 503", retry.Message, StringComparison.Ordinal);
        Assert.Contains("waiting 30000 ms", retry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_TransientFailuresBeyondTheRetryBudget_Throw()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.Status(HttpStatusCode.BadGateway));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(
            () => client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Retry = TestClients.FastRetry(maxRetries: 2) }, Ct).CollectAsync(Ct));

        Assert.Equal(502, ex.Status);
        Assert.Equal(3, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_HookSeesEveryFailedRequest_FirstRequestLongPollsAndMidBodyFailures()
    {
        var seen = new List<(int Status, int Attempt, bool WillRetry, string Offset)>();
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.Status(HttpStatusCode.InternalServerError))
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "1"))
            .ThenThrow(() => new HttpRequestException("reset", Reset()))
            .Then(_ => ReadScript.CatchUp("bc", "0000_0003", cursor: "2", reads: [1], failAtEnd: Reset))
            .Then(_ => ReadScript.CatchUp("bc", "0000_0003", cursor: "2"))
            .Then(_ => ReadScript.NoContent("0000_0003", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);
        var options = new ReadOptions
        {
            Live = LiveMode.LongPoll,
            OnFailure = (context, _) =>
            {
                seen.Add((context.Status, context.Attempt, context.WillRetry, context.Offset.Value));
                return ValueTask.FromResult(ReadRecovery.Default);
            },
        };

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct).CollectAsync(Ct);

        Assert.Equal(["a", "bc", ""], chunks.Select(c => c.Utf8()));
        Assert.Equal([(500, 1, true, "-1"), (0, 1, true, "0000_0001"), (0, 2, true, "0000_0001")], seen);
        Assert.Equal(6, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_HookFails_ThrowsTheFailureWithoutRetrying()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.Status(HttpStatusCode.ServiceUnavailable));
        using DurableStreamClient client = TestClients.Create(handler);
        var options = new ReadOptions { OnFailure = (_, _) => ValueTask.FromResult(ReadRecovery.Fail) };

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct).CollectAsync(Ct));

        Assert.Equal(503, ex.Status);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Read_CancelledDuringALongPoll_ThrowsOperationCanceledAndReleasesTheResponse()
    {
        var hanging = new TrickleContent([], contentType: "text/plain", hangAtEnd: true);
        var ahead = new TrickleContent([], contentType: "text/plain", hangAtEnd: true);
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"))
            .Then(_ =>
            {
                var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = hanging };
                response.Headers.TryAddWithoutValidation("Stream-Next-Offset", "0000_0002");
                return response;
            })
            .Then(_ => new HttpResponseMessage(HttpStatusCode.OK) { Content = ahead });
        using DurableStreamClient client = TestClients.Create(handler);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        Task<List<StreamChunk>> read = client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, cancel.Token).CollectAsync(Ct);
        await hanging.Hanging.Task.WaitAsync(Ct);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        Assert.True(hanging.Disposed);

        // The long-poll's answer is not up to date, so its next page was asked for ahead
        // (ReadOptions.ReadAhead) before its body hung; that answer is released too, and nothing
        // is sent after the cancellation.
        Assert.Equal(3, handler.Requests.Count);
        Assert.Equal("/v1/stream/orders?offset=0000_0002", handler.Requests[2].Url.PathAndQuery);
        Assert.True(ahead.Disposed);
    }

    [Fact]
    public async Task Read_BreakingOutOfAnSseRead_DisposesTheOpenResponse()
    {
        var sse = new TrickleContent(System.Text.Encoding.UTF8.GetBytes(ReadScript.Data("\n", "a") + ReadScript.Control("0000_0001")), contentType: "text/event-stream", hangAtEnd: true);
        var catchUp = (TrickleContent)ReadScript.CatchUp("", "0000_0000").Content;
        var handler = new RecordingHandler()
            .Then(_ =>
            {
                var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = catchUp };
                response.Headers.TryAddWithoutValidation("Stream-Next-Offset", "0000_0000");
                response.Headers.TryAddWithoutValidation("Stream-Up-To-Date", "true");
                return response;
            })
            .Then(_ => ReadScript.Sse(sse));
        using DurableStreamClient client = TestClients.Create(handler);

        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct))
        {
            if (chunk.Utf8() == "a")
            {
                Assert.False(sse.Disposed);
                break;
            }
        }

        Assert.True(sse.Disposed);
        Assert.True(catchUp.Disposed);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_Metrics_CountBytesMessagesAndReconnects()
    {
        long bytes = 0, messages = 0, reconnects = 0;
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == DurableStreamsTelemetry.Name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        string url = TestClients.StreamUrl + "-metrics-" + Guid.NewGuid().ToString("N");
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            switch (instrument.Name)
            {
                case DurableStreamsTelemetry.BytesReadInstrument: Interlocked.Add(ref bytes, value); break;
                case DurableStreamsTelemetry.MessagesReadInstrument: Interlocked.Add(ref messages, value); break;
                case DurableStreamsTelemetry.ReconnectsInstrument: Interlocked.Add(ref reconnects, value); break;
            }
        });
        meters.Start();
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1,2]", "0000_0002", ReadScript.Json, cursor: "1"))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "[3]") + ReadScript.Control("0000_0003")))
            .Then(_ => ReadScript.Sse(ReadScript.Control("0000_0003", cursor: null, closed: true)));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(url).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct).CollectAsync(Ct);

        // Other tests may read concurrently, so assert lower bounds only.
        Assert.True(Interlocked.Read(ref bytes) >= "[1,2]".Length + "[3]".Length);
        Assert.True(Interlocked.Read(ref messages) >= 3);
        Assert.True(Interlocked.Read(ref reconnects) >= 1);
    }
}
