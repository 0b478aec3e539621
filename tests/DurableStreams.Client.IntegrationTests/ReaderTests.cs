using System.Text;
using System.Text.Json.Serialization;

namespace DurableStreams.IntegrationTests;

/// <summary>Every read mode against the real reference server: catch-up, long-poll, SSE and Auto.</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class ReaderTests(ReferenceServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));
    private readonly DurableStreamClient _client = new(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _client.Dispose();
        _timeout.Dispose();
    }

    public static TheoryData<LiveMode> AllModes() => new() { LiveMode.Off, LiveMode.LongPoll, LiveMode.Sse, LiveMode.Auto };

    public static TheoryData<LiveMode> LiveModes() => new() { LiveMode.LongPoll, LiveMode.Sse, LiveMode.Auto };

    public static TheoryData<LiveMode, string> LiveModesByType()
    {
        var data = new TheoryData<LiveMode, string>();
        foreach (LiveMode mode in new[] { LiveMode.LongPoll, LiveMode.Sse, LiveMode.Auto })
        {
            foreach (string type in new[] { "text/plain", "application/json", "application/octet-stream" })
            {
                data.Add(mode, type);
            }
        }

        return data;
    }

    private async Task<DurableStream> CreateAsync(string contentType)
    {
        CreateStreamResult created = await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl("reader"), ContentType = contentType }, Ct);
        return created.Stream;
    }

    private static byte[] Message(string contentType, int n) =>
        Encoding.UTF8.GetBytes(contentType == "application/json" ? $"{n}" : $"m{n:D4};");

    private async Task AppendNumbersAsync(DurableStream stream, params int[] numbers)
    {
        // A raw append to a JSON stream is one message.
        foreach (int n in numbers)
        {
            await stream.AppendAsync(Encoding.UTF8.GetBytes($"{n}"), cancellationToken: Ct);
        }
    }

    private static string Expected(string contentType, IEnumerable<int> numbers) =>
        contentType == "application/json"
            ? "[" + string.Join(',', numbers) + "]"
            : string.Concat(numbers.Select(n => $"m{n:D4};"));

    [Theory]
    [MemberData(nameof(AllModes))]
    public async Task ReadAsync_ClosedStream_EndsInEveryModeWithAllData(LiveMode mode)
    {
        DurableStream stream = await CreateAsync("text/plain");
        await stream.AppendAsync("chunk1", cancellationToken: Ct);
        await stream.AppendAsync("chunk2", cancellationToken: Ct);
        await stream.CloseAsync(Ct);

        List<StreamChunk> chunks = await Collect(stream.ReadAsync(new ReadOptions { Live = mode }, Ct));

        Assert.Equal("chunk1chunk2", string.Concat(chunks.Select(c => Encoding.UTF8.GetString(c.Data.Span))));
        Assert.True(chunks[^1].StreamClosed);
        Assert.True(chunks[^1].UpToDate);
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public async Task ReadAsync_FromNowOnAClosedStream_EndsAtOnceWithoutData(LiveMode mode)
    {
        DurableStream stream = await CreateAsync("application/json");
        await AppendNumbersAsync(stream, 1, 2);
        CloseResult closed = await stream.CloseAsync(Ct);

        StreamChunk chunk = Assert.Single(await Collect(stream.ReadAsync(new ReadOptions { Live = mode, Offset = Offset.Now }, Ct)));

        Assert.True(chunk.Data.IsEmpty);
        Assert.True(chunk.StreamClosed);
        Assert.Equal(closed.FinalOffset, chunk.NextOffset);
    }

    [Fact]
    public async Task ReadAsync_Off_FromBeginningAndFromNow()
    {
        DurableStream stream = await CreateAsync("application/json");
        await stream.AppendAsync(Encoding.UTF8.GetBytes("""{"msg":"first"}"""), cancellationToken: Ct);
        await stream.AppendAsync(Encoding.UTF8.GetBytes("""{"msg":"second"}"""), cancellationToken: Ct);

        StreamChunk all = Assert.Single(await Collect(stream.ReadAsync(cancellationToken: Ct)));
        StreamChunk now = Assert.Single(await Collect(stream.ReadAsync(new ReadOptions { Offset = Offset.Now }, Ct)));

        Assert.Equal("""[{"msg":"first"},{"msg":"second"}]""", Encoding.UTF8.GetString(all.Data.Span));
        Assert.True(all.UpToDate);
        Assert.False(all.StreamClosed);
        Assert.Equal("application/json", all.ContentType);
        Assert.True(now.Data.IsEmpty);
        Assert.Equal(all.NextOffset, now.NextOffset);
        Assert.Equal("""[{"msg":"first"},{"msg":"second"}]""", await stream.ReadAllTextAsync(cancellationToken: Ct));
    }

    [Theory]
    [MemberData(nameof(LiveModesByType))]
    public async Task ReadAsync_LiveDataArrivingWhileReading_ArrivesInOrderUntilClosed(LiveMode mode, string contentType)
    {
        DurableStream stream = await CreateAsync(contentType);
        await stream.AppendAsync(Message(contentType, 0), cancellationToken: Ct);
        var received = new List<byte[]>();
        int appended = 1;

        await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Live = mode }, Ct))
        {
            if (!chunk.Data.IsEmpty)
            {
                received.Add(chunk.Data.ToArray());
            }

            if (chunk.UpToDate && !chunk.StreamClosed)
            {
                // Each time the reader has caught up, the writer adds more (then closes).
                if (appended < 5)
                {
                    await stream.AppendAsync(Message(contentType, appended++), cancellationToken: Ct);
                }
                else if (appended == 5)
                {
                    appended++;
                    await stream.CloseAsync(Ct);
                }
            }
        }

        Assert.Equal(6, appended);
        Assert.Equal(Expected(contentType, Enumerable.Range(0, 5)), Join(contentType, received));
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public async Task ReadJsonAsync_FromASavedCheckpoint_ResumesRightAfterTheItem(LiveMode mode)
    {
        DurableStream stream = await CreateAsync("application/json");
        await AppendNumbersAsync(stream, 1, 2, 3, 4, 5);
        string saved = "";
        await foreach (StreamItem<int> item in stream.ReadJsonAsync(ReaderJsonContext.Default.Int32, cancellationToken: Ct))
        {
            if (item.Value == 3)
            {
                saved = item.Checkpoint.ToString();
                break;
            }
        }

        await AppendNumbersAsync(stream, 6, 7);
        await stream.CloseAsync(Ct);

        var rest = new List<int>();
        await foreach (StreamItem<int> item in stream.ReadJsonAsync(ReaderJsonContext.Default.Int32, new ReadOptions { Checkpoint = ReadCheckpoint.Parse(saved), Live = mode }, Ct))
        {
            rest.Add(item.Value);
        }

        Assert.Equal([4, 5, 6, 7], rest);
    }

    [Theory]
    [MemberData(nameof(LiveModes))]
    public async Task ReadAsync_LiveFromNow_SeesOnlyNewData(LiveMode mode)
    {
        DurableStream stream = await CreateAsync("text/plain");
        await stream.AppendAsync("old", cancellationToken: Ct);
        var text = new StringBuilder();
        bool appended = false;

        await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Live = mode, Offset = Offset.Now }, Ct))
        {
            text.Append(Encoding.UTF8.GetString(chunk.Data.Span));
            if (!appended)
            {
                appended = true;
                await stream.AppendAsync("new", cancellationToken: Ct);
                await stream.CloseAsync(Ct);
            }
        }

        Assert.Equal("new", text.ToString());
    }

    [Theory]
    [MemberData(nameof(LiveModes))]
    public async Task ReadAsync_OffsetAtTheTailOfAnOpenStream_WaitsForData(LiveMode mode)
    {
        DurableStream stream = await CreateAsync("text/plain");
        AppendResult first = await stream.AppendAsync("before", cancellationToken: Ct);
        var text = new StringBuilder();
        var chunks = 0;

        await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Live = mode, Offset = first.NextOffset }, Ct))
        {
            text.Append(Encoding.UTF8.GetString(chunk.Data.Span));
            if (chunks++ == 0)
            {
                Assert.True(chunk.UpToDate);
                Assert.True(chunk.Data.IsEmpty);
                await stream.CloseAsync("after", cancellationToken: Ct);
            }
        }

        Assert.Equal("after", text.ToString());
    }

    [Fact]
    public async Task ReadAsync_BinaryOverSse_ReturnsEveryByteValueUnchanged()
    {
        DurableStream stream = await CreateAsync("application/octet-stream");
        byte[] all = [.. Enumerable.Range(0, 256).Select(i => (byte)i), 0x00, 0xFF, 0xFE, 0xFD, 0xFC];
        var received = new List<byte>();
        bool appended = false;

        // The catch-up answer is empty, so every byte arrives over SSE (base64 on the wire).
        await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct))
        {
            received.AddRange(chunk.Data.ToArray());
            if (!appended)
            {
                appended = true;
                await stream.AppendAsync(all[..100], cancellationToken: Ct);
                await stream.CloseAsync(all[100..], cancellationToken: Ct);
            }
        }

        Assert.Equal(all, received);
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public async Task ReadAsync_MissingStream_ThrowsNotFoundInEveryMode(LiveMode mode)
    {
        DurableStream missing = _client.GetStream(server.NewStreamUrl("missing"));

        await Assert.ThrowsAsync<StreamNotFoundException>(() => Collect(missing.ReadAsync(new ReadOptions { Live = mode }, Ct)));
        await Assert.ThrowsAsync<StreamNotFoundException>(() => Collect(missing.ReadAsync(new ReadOptions { Live = mode, Offset = Offset.Now }, Ct)));
    }

    [Fact]
    public async Task ReadAsync_MalformedOffset_ThrowsBadRequestWithInvalidOffset()
    {
        DurableStream stream = await CreateAsync("text/plain");

        var ex = await Assert.ThrowsAsync<StreamBadRequestException>(() => Collect(stream.ReadAsync(new ReadOptions { Offset = new Offset("not-a-valid-offset") }, Ct)));

        Assert.Equal(DurableStreamErrorCodes.InvalidOffset, ex.ErrorCode);
        Assert.Equal(400, ex.Status);
    }

    [Fact]
    public async Task ReadAsync_LongPollFromTheTail_OneRequestBringsTheNextAppend()
    {
        DurableStream writer = await CreateAsync("application/json");
        await writer.AppendAsync("1"u8.ToArray(), cancellationToken: Ct);
        Offset tail = (await writer.HeadAsync(Ct)).NextOffset;
        var recorder = new QueryRecorder();
        using var http = new HttpClient(recorder) { Timeout = Timeout.InfiniteTimeSpan };
        using var client = new DurableStreamClient(http, new DurableStreamClientOptions { BaseAddress = server.BaseUrl });
        DurableStream stream = client.GetStream(writer.Url);

        await using IAsyncEnumerator<StreamChunk> reader = stream.ReadAsync(new ReadOptions { Offset = tail, Live = LiveMode.LongPoll }, Ct).GetAsyncEnumerator(Ct);
        ValueTask<bool> first = reader.MoveNextAsync();
        await recorder.FirstRequest.WaitAsync(Ct);
        await writer.AppendAsync("2"u8.ToArray(), cancellationToken: Ct);

        // PROTOCOL.md §5.7: the first request is the long-poll itself, and it returns with the append.
        Assert.True(await first);
        Assert.Equal("[2]", Encoding.UTF8.GetString(reader.Current.Data.Span));
        Assert.Equal(200, reader.Current.Status);
        string request = Assert.Single(recorder.Queries);
        Assert.Contains("live=long-poll", request, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_LongPollFromTheBeginning_BacklogArrivesWithTheFirstRequest()
    {
        DurableStream writer = await CreateAsync("text/plain");
        await writer.AppendAsync("backlog", cancellationToken: Ct);
        var recorder = new QueryRecorder();
        using var http = new HttpClient(recorder) { Timeout = Timeout.InfiniteTimeSpan };
        using var client = new DurableStreamClient(http, new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

        await using IAsyncEnumerator<StreamChunk> reader = client.GetStream(writer.Url).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct).GetAsyncEnumerator(Ct);

        // A long-poll at an offset where data exists answers at once (PROTOCOL.md §5.7).
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("backlog", Encoding.UTF8.GetString(reader.Current.Data.Span));
        Assert.True(reader.Current.UpToDate);
        string request = Assert.Single(recorder.Queries);
        Assert.Contains("live=long-poll", request, StringComparison.Ordinal);
    }

    /// <summary>Records the query of every request the client sends to the real server.</summary>
    private sealed class QueryRecorder() : DelegatingHandler(new SocketsHttpHandler { AllowAutoRedirect = false })
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public System.Collections.Concurrent.ConcurrentQueue<string> Queries { get; } = new();

        public Task FirstRequest => _first.Task;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Queries.Enqueue(request.RequestUri!.Query);
            _first.TrySetResult();
            return base.SendAsync(request, cancellationToken);
        }
    }

    private static string Join(string contentType, List<byte[]> chunks)
    {
        if (contentType != "application/json")
        {
            return string.Concat(chunks.Select(c => Encoding.UTF8.GetString(c)));
        }

        // Each JSON chunk is one array; join their items.
        return "[" + string.Join(',', chunks.Select(c => Encoding.UTF8.GetString(c)[1..^1])) + "]";
    }

    private async Task<List<StreamChunk>> Collect(IAsyncEnumerable<StreamChunk> read)
    {
        var chunks = new List<StreamChunk>();
        await foreach (StreamChunk chunk in read.WithCancellation(Ct))
        {
            chunks.Add(chunk);
        }

        return chunks;
    }
}

[JsonSerializable(typeof(int))]
internal sealed partial class ReaderJsonContext : JsonSerializerContext;
