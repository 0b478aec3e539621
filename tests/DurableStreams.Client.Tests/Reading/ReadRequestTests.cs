using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace DurableStreams.Tests.Reading;

/// <summary>The exact requests a read sends in each mode: fetch-then-live for SSE, straight long-poll, cursor echo, parameter order, headers.</summary>
public sealed class ReadRequestTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task ReadAsync_Off_PagesUntilUpToDateThenEnds()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("ab", "0000_0002", upToDate: false))
            .Then(_ => ReadScript.CatchUp("cd", "0000_0004", upToDate: true, cursor: "7"));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);

        Assert.Equal(["offset=-1", "offset=0000_0002"], handler.Requests.Select(r => r.Query()));
        Assert.All(handler.Requests, r => Assert.Equal(HttpMethod.Get, r.Method));
        Assert.Equal(["ab", "cd"], chunks.Select(c => c.Utf8()));
        Assert.Equal([new Offset("-1"), new Offset("0000_0002")], chunks.Select(c => c.StartOffset));
        Assert.Equal([new Offset("0000_0002"), new Offset("0000_0004")], chunks.Select(c => c.NextOffset));
        Assert.Equal([false, true], chunks.Select(c => c.UpToDate));
        Assert.Equal("7", chunks[1].Cursor);
        Assert.All(chunks, c => Assert.Equal(200, c.Status));
        Assert.All(chunks, c => Assert.Equal("text/plain", c.ContentType));
    }

    [Fact]
    public async Task ReadAsync_LongPoll_FirstRequestIsLongPollThenLongPollsEchoingTheLastCursor()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "10"))
            .Then(_ => ReadScript.NoContent("0000_0001", cursor: "11"))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002", cursor: ""))
            .Then(_ => ReadScript.NoContent("0000_0002", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.DefaultQueryParameters["zeta"] = "z";
            o.QueryParametersProvider = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["beta"] = "b" });
        });
        var options = new ReadOptions { Live = LiveMode.LongPoll };
        options.QueryParameters["alpha"] = "a";

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct).CollectAsync(Ct);

        Assert.Equal(
            [
                "alpha=a&beta=b&live=long-poll&offset=-1&zeta=z",
                "alpha=a&beta=b&cursor=10&live=long-poll&offset=0000_0001&zeta=z",
                "alpha=a&beta=b&cursor=11&live=long-poll&offset=0000_0001&zeta=z",
                "alpha=a&beta=b&cursor=11&live=long-poll&offset=0000_0002&zeta=z",
            ],
            handler.Requests.Select(r => r.Query()));
        Assert.Equal(["a", "", "b", ""], chunks.Select(c => c.Utf8()));
        Assert.Equal([200, 204, 200, 204], chunks.Select(c => c.Status));
        Assert.Equal([false, false, false, true], chunks.Select(c => c.StreamClosed));
        Assert.Equal("11", chunks[^1].Cursor);
    }

    [Fact]
    public async Task ReadAsync_LongPollAnswerNotUpToDate_NextRequestIsCatchUp()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0000", cursor: "1"))
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", upToDate: false, cursor: "2"))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002", upToDate: true, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);

        Assert.Equal(["live=long-poll&offset=-1", "cursor=1&live=long-poll&offset=0000_0000", "offset=0000_0001"], handler.Requests.Select(r => r.Query()));
    }

    [Fact]
    public async Task ReadAsync_Sse_FirstRequestIsCatchUpThenSseWithCursor()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "5"))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "b") + ReadScript.Control("0000_0002", cursor: null, closed: true)));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Live = LiveMode.Sse, Offset = new Offset("0000_0000") }, Ct).CollectAsync(Ct);

        Assert.Equal(["offset=0000_0000", "cursor=5&live=sse&offset=0000_0001"], handler.Requests.Select(r => r.Query()));
        Assert.Equal(["a", "b"], chunks.Select(c => c.Utf8()));
        Assert.Equal(new Offset("0000_0001"), chunks[1].StartOffset);
        Assert.True(chunks[1].StreamClosed);
        Assert.True(chunks[1].UpToDate);
        Assert.Equal("text/plain", chunks[1].ContentType);
    }

    [Theory]
    [InlineData("text/plain; charset=utf-8", "sse")]
    [InlineData("application/json", "sse")]
    [InlineData("application/octet-stream", "long-poll")]
    [InlineData("application/x-protobuf", "long-poll")]
    public async Task ReadAsync_Auto_ChoosesByContentTypeOfTheCatchUpResponse(string contentType, string expected)
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp(contentType.StartsWith("application/json", StringComparison.Ordinal) ? "[]" : "", "0000_0000", contentType))
            .Then(_ => expected == "sse"
                ? ReadScript.Sse(ReadScript.Control("0000_0000", cursor: null, closed: true))
                : ReadScript.NoContent("0000_0000", closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.Auto }, Ct).CollectAsync(Ct);

        Assert.Equal(["offset=-1", $"live={expected}&offset=0000_0000"], handler.Requests.Select(r => r.Query()));
    }

    [Fact]
    public async Task ReadAsync_OffsetNowSse_CatchUpFromNowThenSseFromTheTail()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0042"))
            .Then(_ => ReadScript.Sse(ReadScript.Control("0000_0042", cursor: null, closed: true)));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Offset = Offset.Now, Live = LiveMode.Sse }, Ct).CollectAsync(Ct);

        Assert.Equal(["offset=now", "live=sse&offset=0000_0042"], handler.Requests.Select(r => r.Query()));
        Assert.Equal(Offset.Now, chunks[0].StartOffset);
        Assert.True(chunks[0].Data.IsEmpty);
    }

    [Fact]
    public async Task ReadAsync_OffsetNowLongPoll_PinsTheTailWithACatchUpThenLongPollsFromIt()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0042"))
            .Then(_ => ReadScript.NoContent("0000_0042", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Offset = Offset.Now, Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);

        // PROTOCOL.md §8: a catch-up from "now" answers at once with the tail and never with data;
        // the long-polls then wait at that offset, so a retry cannot move "now" past an answer it lost.
        Assert.Equal(["offset=now", "live=long-poll&offset=0000_0042"], handler.Requests.Select(r => r.Query()));
        Assert.Equal(Offset.Now, chunks[0].StartOffset);
        Assert.True(chunks[0].Data.IsEmpty);
        Assert.Equal(new Offset("0000_0042"), chunks[^1].NextOffset);
        Assert.Equal(204, chunks[^1].Status);
    }

    [Fact]
    public async Task ReadAsync_OffsetNowLongPollAnswerLostMidBody_RetriesFromThePinnedTailAndDeliversIt()
    {
        // The server answers the first long-poll with data appended after the read started, and the
        // connection drops in the middle of that answer. A retry "from now" would be a later now: the
        // server would wait past the data and the reader would never see it.
        int longPolls = 0;
        var handler = new RecordingHandler().Then(request =>
        {
            string query = request.Query();
            if (query == "offset=now")
            {
                return ReadScript.CatchUp("", "0000_0000");
            }

            if (Interlocked.Increment(ref longPolls) == 1)
            {
                // The first long-poll (wherever it waits): "hello" arrives, the body breaks after "he".
                return ReadScript.CatchUp("hello", "0000_0005", reads: [2], failAtEnd: () => new IOException("reset", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionReset)));
            }

            // The retry: "now" is past "hello" by then; the tail offset before it still has it.
            return query.Contains("offset=now", StringComparison.Ordinal)
                ? ReadScript.NoContent("0000_0005", cursor: null, closed: true)
                : ReadScript.CatchUp("hello", "0000_0005", closed: true);
        });
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Offset = Offset.Now, Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);

        Assert.Equal("hello", string.Concat(chunks.Select(c => c.Utf8())));
    }

    [Fact]
    public async Task ReadAsync_LongPollAtTheTail_FirstChunkIsTheFirstNewDataWithoutAnEmptyCatchUp()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("new", "0000_0008", cursor: "3"))
            .Then(_ => ReadScript.NoContent("0000_0008", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Offset = new Offset("0000_0005"), Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);

        Assert.Equal(["live=long-poll&offset=0000_0005", "cursor=3&live=long-poll&offset=0000_0008"], handler.Requests.Select(r => r.Query()));
        Assert.Equal(["new", ""], chunks.Select(c => c.Utf8()));
    }

    [Fact]
    public async Task ReadAsync_LongPollFailsBeforeAndAfterConnecting_OnlyTheFailureAfterConnectingIsAReconnect()
    {
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(collector)));
        var handler = new RecordingHandler()
            .ThenThrow(() => new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused)))
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", cursor: "2"))
            .ThenThrow(() => new HttpRequestException("Connection reset", new SocketException((int)SocketError.ConnectionReset)))
            .Then(_ => ReadScript.NoContent("0000_0001", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.Retry = TestClients.FastRetry(maxRetries: 2);
            o.ReadRetry = TestClients.FastRetry(maxRetries: 2);
            o.LoggerFactory = loggerFactory;
        });

        await client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);

        // The first request of a long-poll read is a long-poll now, but failing it is a failed start
        // (retried and logged as such), not a reconnect of a live read.
        Assert.Equal(
            ["live=long-poll&offset=-1", "live=long-poll&offset=-1", "cursor=2&live=long-poll&offset=0000_0001", "cursor=2&live=long-poll&offset=0000_0001"],
            handler.Requests.Select(r => r.Query()));
        FakeLogRecord reconnect = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 2);
        Assert.Contains("0000_0001", reconnect.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_AutoOnAStreamKnownToBeBinary_StartsWithLongPoll()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", "application/octet-stream", cursor: "4"))
            .Then(_ => ReadScript.NoContent("0000_0001", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl, "application/octet-stream")
            .ReadAsync(new ReadOptions { Live = LiveMode.Auto }, Ct).CollectAsync(Ct);

        Assert.Equal(["live=long-poll&offset=-1", "cursor=4&live=long-poll&offset=0000_0001"], handler.Requests.Select(r => r.Query()));
    }

    [Fact]
    public async Task ReadAsync_AutoOnAStreamKnownToBeJson_CatchesUpBeforeSse()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[]", "0000_0000", "application/json"))
            .Then(_ => ReadScript.Sse(ReadScript.Control("0000_0000", cursor: null, closed: true)));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(TestClients.StreamUrl, "application/json")
            .ReadAsync(new ReadOptions { Live = LiveMode.Auto }, Ct).CollectAsync(Ct);

        Assert.Equal(["offset=-1", "live=sse&offset=0000_0000"], handler.Requests.Select(r => r.Query()));
    }

    [Fact]
    public async Task ReadAsync_LongPollFromACheckpoint_FirstLongPollAtTheCheckpointSkipsWhatWasProcessed()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("abcd", "0000_0004", cursor: "6"))
            .Then(_ => ReadScript.NoContent("0000_0004", cursor: null, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl)
            .ReadAsync(new ReadOptions { Checkpoint = new ReadCheckpoint(Offset.Beginning, 2, null), Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);

        Assert.Equal(["live=long-poll&offset=-1", "cursor=6&live=long-poll&offset=0000_0004"], handler.Requests.Select(r => r.Query()));
        Assert.Equal(["cd", ""], chunks.Select(c => c.Utf8()));
    }

    [Theory]
    [InlineData(LiveMode.LongPoll)]
    [InlineData(LiveMode.Sse)]
    [InlineData(LiveMode.Auto)]
    public async Task ReadAllBytesAsync_LiveModeSet_CatchesUpOnlyAndEndsAtTheTail(LiveMode live)
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("ab", "0000_0002", "application/octet-stream"));
        using DurableStreamClient client = TestClients.Create(handler);

        byte[] all = await client.GetStream(TestClients.StreamUrl, "application/octet-stream")
            .ReadAllBytesAsync(new ReadOptions { Live = live }, Ct);

        Assert.Equal(["offset=-1"], handler.Requests.Select(r => r.Query()));
        Assert.Equal("ab"u8.ToArray(), all);
    }

    [Fact]
    public async Task ReadAllJsonAsync_LongPoll_CatchesUpOnlyAndEndsAtTheTail()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1,2]", "0000_0002", "application/json"));
        using DurableStreamClient client = TestClients.Create(handler);

        IReadOnlyList<int> all = await client.GetStream(TestClients.StreamUrl, "application/json")
            .ReadAllJsonAsync<int>(new ReadOptions { Live = LiveMode.LongPoll }, Ct);

        Assert.Equal(["offset=-1"], handler.Requests.Select(r => r.Query()));
        Assert.Equal([1, 2], all);
    }

    [Fact]
    public async Task ReadAsync_Headers_ClientDefaultsProviderAndReadOptionsAreSentOnEveryRequest()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"))
            .Then(_ => ReadScript.NoContent("0000_0001", closed: true));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.DefaultHeaders["X-Default"] = "d";
            o.DefaultHeaders["X-Shared"] = "default";
            o.HeadersProvider = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["X-Provided"] = "p" });
        });
        var options = new ReadOptions { Live = LiveMode.LongPoll };
        options.Headers["X-Shared"] = "read";

        await client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct).CollectAsync(Ct);

        Assert.Equal(2, handler.Requests.Count);
        Assert.All(handler.Requests, r =>
        {
            Assert.Equal("d", r.Header("X-Default"));
            Assert.Equal("p", r.Header("X-Provided"));
            Assert.Equal("read", r.Header("X-Shared"));
        });
    }

    [Theory]
    [InlineData("http://streams.test/v1/stream/orders", "gzip, deflate, br")]
    [InlineData("https://10.1.2.3:8443/v1/stream/orders", "gzip, deflate, br")]
    [InlineData("http://127.0.0.1:4437/v1/stream/orders", null)]
    [InlineData("http://localhost:4437/v1/stream/orders", null)]
    [InlineData("http://[::1]:4437/v1/stream/orders", null)]
    public async Task ReadAsync_AcceptEncoding_AskedForOnEveryReadRequestUnlessTheServerIsOnLoopback(string url, string? expected)
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", upToDate: false))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002", upToDate: true, cursor: "1"))
            .Then(_ => ReadScript.NoContent("0000_0002", closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(url).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll, ReadAhead = false }, Ct).CollectAsync(Ct);

        Assert.Equal(3, handler.Requests.Count);
        Assert.All(handler.Requests, r => Assert.Equal(expected, r.Header("Accept-Encoding")));
    }

    [Fact]
    public async Task ReadAsync_AcceptEncodingSetByTheCaller_IsSentAsItIs()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"))
            .Then(_ => ReadScript.CatchUp("b", "0000_0001"))
            .Then(_ => ReadScript.CatchUp("c", "0000_0001"));
        using DurableStreamClient client = TestClients.Create(handler, o => o.DefaultHeaders["Accept-Encoding"] = "identity");
        var loopback = new ReadOptions();
        loopback.Headers["accept-encoding"] = "gzip";

        await client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);
        await client.GetStream("http://127.0.0.1:4437/v1/stream/orders").ReadAsync(loopback, Ct).CollectAsync(Ct);
        using DurableStreamClient plain = TestClients.Create(handler);
        await plain.GetStream("http://127.0.0.1:4437/v1/stream/orders").ReadAsync(loopback, Ct).CollectAsync(Ct);

        Assert.Equal(["identity", "gzip", "gzip"], handler.Requests.Select(r => r.Header("Accept-Encoding")));
    }

    [Fact]
    public async Task DefaultAndDependencyInjectionClients_ReadFromLoopback_SendNoAcceptEncoding()
    {
        // The SDK's own clients do not let the handler decompress (it would ask on every request):
        // on loopback, compressing and inflating costs more than moving the bytes.
        await using var server = new RawLoopbackServer(async (socket, _, cancellationToken) =>
        {
            byte[] answer = Encoding.ASCII.GetBytes(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nStream-Next-Offset: 0000_0001\r\nStream-Up-To-Date: true\r\nContent-Length: 1\r\nConnection: close\r\n\r\na");
            await socket.SendAsync(answer, SocketFlags.None, cancellationToken);
            socket.Shutdown(SocketShutdown.Both);
        });
        string url = server.BaseUrl + "/v1/stream/s";
        var requests = new List<string>();

        using (var owned = new DurableStreamClient())
        {
            await owned.GetStream(url).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);
            requests.Add(server.LastRequest);
        }

        var services = new ServiceCollection();
        services.AddDurableStreams(_ => { });
        using (ServiceProvider provider = services.BuildServiceProvider())
        {
            await provider.GetRequiredService<DurableStreamClient>().GetStream(url).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);
            requests.Add(server.LastRequest);
        }

        Assert.Equal(2, server.Requests);
        Assert.All(requests, r =>
        {
            Assert.StartsWith("GET /v1/stream/s?offset=-1 ", r, StringComparison.Ordinal);
            Assert.DoesNotContain("Accept-Encoding", r, StringComparison.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public async Task NonReadRequests_NeverAskForCompression()
    {
        var handler = new RecordingHandler()
            .ThenRespond(HttpStatusCode.Created, r => r.Headers.TryAddWithoutValidation("Stream-Next-Offset", "0000_0000"))
            .ThenRespond(HttpStatusCode.NoContent, r => r.Headers.TryAddWithoutValidation("Stream-Next-Offset", "0000_0001"))
            .ThenRespond(HttpStatusCode.OK, r => r.Headers.TryAddWithoutValidation("Stream-Next-Offset", "0000_0001"))
            .ThenRespond(HttpStatusCode.NoContent);
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl, "text/plain");

        await stream.CreateStreamAsync(cancellationToken: Ct);
        await stream.AppendAsync("x", cancellationToken: Ct);
        await stream.HeadAsync(Ct);
        await stream.DeleteAsync(Ct);

        Assert.Equal(4, handler.Requests.Count);
        Assert.All(handler.Requests, r => Assert.Null(r.Header("Accept-Encoding")));
    }

    [Fact]
    public async Task ReadAsync_IsLazyAndPullBased_NoRequestBeforeMoveNextAndOneResponseAtATime()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002", cursor: "1"))
            .Then(_ => ReadScript.CatchUp("c", "0000_0003", cursor: "2"));
        using DurableStreamClient client = TestClients.Create(handler);

        IAsyncEnumerable<StreamChunk> read = client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct);
        Assert.Empty(handler.Requests);

        await using IAsyncEnumerator<StreamChunk> enumerator = read.GetAsyncEnumerator(Ct);
        Assert.Empty(handler.Requests);
        Assert.True(await enumerator.MoveNextAsync());
        Assert.Single(handler.Requests);
        Assert.True(await enumerator.MoveNextAsync());
        Assert.Equal(2, handler.Requests.Count);
        Assert.Equal("b", enumerator.Current.Utf8());
    }

    [Fact]
    public void ReadAsync_SecondEnumeration_Throws()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("a", "0000_0001"));
        using DurableStreamClient client = TestClients.Create(handler);
        IAsyncEnumerable<StreamChunk> read = client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct);

        _ = read.GetAsyncEnumerator(Ct);

        Assert.Throws<InvalidOperationException>(() => read.GetAsyncEnumerator(Ct));
    }

    [Fact]
    public void ReadAsync_InvalidOptions_ThrowAtTheCallBeforeAnyRequest()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("a", "0000_0001"));
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl);
        var badParameter = new ReadOptions();
        badParameter.QueryParameters["offset"] = "x";

        Assert.Equal("Live", Assert.Throws<ArgumentOutOfRangeException>(() => stream.ReadAsync(new ReadOptions { Live = (LiveMode)42 })).ParamName);
        Assert.Equal("MaxSseEventBytes", Assert.Throws<ArgumentOutOfRangeException>(() => stream.ReadTextAsync(new ReadOptions { MaxSseEventBytes = 0 })).ParamName);
        Assert.Equal("SseFallbackShortConnections", Assert.Throws<ArgumentOutOfRangeException>(() => stream.ReadAsync(new ReadOptions { SseFallbackShortConnections = -1 })).ParamName);
        Assert.Equal("SseShortConnectionDuration", Assert.Throws<ArgumentOutOfRangeException>(() => stream.ReadAsync(new ReadOptions { SseShortConnectionDuration = TimeSpan.Zero })).ParamName);
        Assert.Equal("SseShortConnectionDuration", Assert.Throws<ArgumentOutOfRangeException>(() => stream.ReadAsync(new ReadOptions { SseShortConnectionDuration = Timeout.InfiniteTimeSpan })).ParamName);
        Assert.Equal("QueryParameters", Assert.Throws<ArgumentException>(() => stream.ReadBytesAsync(badParameter)).ParamName);
        Assert.Empty(handler.Requests);
    }
}
