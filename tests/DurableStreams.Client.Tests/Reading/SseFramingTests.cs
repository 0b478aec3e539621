using System.Text;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// SSE framing (PROTOCOL.md §5.8) as matrices: newline style × read sizes (1-byte trickle, odd
/// splits, whole) for text, JSON and base64 streams, plus the malformed inputs that must fail.
/// </summary>
public sealed class SseFramingTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    public static TheoryData<string, int[]> Matrix()
    {
        var data = new TheoryData<string, int[]>();
        foreach (string newline in new[] { "\n", "\r", "\r\n" })
        {
            data.Add(newline, [1]);
            data.Add(newline, [2, 3, 5, 7]);
            data.Add(newline, [int.MaxValue]);
        }

        return data;
    }

    private async Task<List<StreamChunk>> ReadSseAsync(string contentType, Func<HttpResponseMessage> sse, ReadOptions? options = null)
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp(contentType == ReadScript.Json ? "[]" : "", "0000_0000", contentType, cursor: "1"))
            .Then(_ => sse());
        using DurableStreamClient client = TestClients.Create(handler);
        options ??= new ReadOptions();
        options.Live = LiveMode.Sse;
        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct).CollectAsync(Ct);
        Assert.Equal(2, handler.Requests.Count);
        return chunks.Skip(1).ToList();
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Sse_TextEventsOneChunkPerGroup_AreGroupedByControlEvent(string newline, int[] reads)
    {
        string events =
            ": a comment" + newline +
            ReadScript.Data(newline, "hello") +
            ReadScript.Data(newline, "  two leading spaces") +
            ReadScript.Data(newline, "line1", "line2") +
            ReadScript.Data(newline, "a\u2028b\u0085c\u2029d") +
            "event: unknown" + newline + "data: ignored" + newline + newline +
            "event: control" + newline + newline +
            ReadScript.Control("0000_0010", cursor: "2", newline: newline) +
            ReadScript.Control("0000_0010", cursor: "3", newline: newline) +
            ReadScript.Data(newline, "x") +
            ReadScript.Control("0000_0011", cursor: null, upToDate: false, closed: true, newline: newline);

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Text, () => ReadScript.Sse(events, reads), new ReadOptions { OneChunkPerSseGroup = true });

        Assert.Equal(["hello two leading spacesline1\nline2a\u2028b\u0085c\u2029d", "", "x"], chunks.Select(c => c.Utf8()));
        Assert.Equal(["0000_0000", "0000_0010", "0000_0010"], chunks.Select(c => c.StartOffset.Value));
        Assert.Equal(["0000_0010", "0000_0010", "0000_0011"], chunks.Select(c => c.NextOffset.Value));
        Assert.Equal(["2", "3", "3"], chunks.Select(c => c.Cursor));
        Assert.Equal([true, true, true], chunks.Select(c => c.UpToDate));
        Assert.Equal([false, false, true], chunks.Select(c => c.StreamClosed));
        Assert.All(chunks, c => Assert.Equal(200, c.Status));
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Sse_JsonDataEventsOneChunkPerGroup_AreMergedIntoOneArrayPerGroup(string newline, int[] reads)
    {
        string events =
            ReadScript.Data(newline, """[{"a":1}]""") +
            ReadScript.Data(newline, "[", """{"b":"é<>&"},""", """{"c":[1,2.50]}""", "]") +
            ReadScript.Data(newline, "[]") +
            ReadScript.Control("0000_0003", newline: newline) +
            ReadScript.Data(newline, "[]") +
            ReadScript.Control("0000_0003", newline: newline) +
            ReadScript.Data(newline, "[7]") +
            ReadScript.Control("0000_0004", cursor: null, closed: true, newline: newline);

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Json, () => ReadScript.Sse(events, reads), new ReadOptions { OneChunkPerSseGroup = true });

        Assert.Equal(["""[{"a":1},{"b":"é<>&"},{"c":[1,2.50]}]""", "", "[7]"], chunks.Select(c => c.Utf8()));
        Assert.All(chunks, c => Assert.Equal(ReadScript.Json, c.ContentType));
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Sse_Base64EventsOneChunkPerGroup_DecodeToTheExactBytes(string newline, int[] reads)
    {
        byte[] first = [0x00, 0xFF, 0xFE, 0xFD, 0xFC];
        byte[] second = [0x0D, 0x0A, 0x80, 0x00];
        string encodedFirst = Convert.ToBase64String(first);
        string events =
            ReadScript.Data(newline, encodedFirst[..4], encodedFirst[4..]) +
            ReadScript.Data(newline, "") +
            ReadScript.Data(newline, Convert.ToBase64String(second)) +
            ReadScript.Control("0000_0009", newline: newline) +
            ReadScript.Control("0000_0009", cursor: null, closed: true, newline: newline);

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Binary, () => ReadScript.Sse(events, reads, base64: true), new ReadOptions { OneChunkPerSseGroup = true });

        Assert.Equal([.. first, .. second], chunks[0].Data.ToArray());
        Assert.True(chunks[1].Data.IsEmpty);
        Assert.True(chunks[1].StreamClosed);
    }

    // ------------------------------------------------------------------ several groups per chunk (the default)

    /// <summary>The chunks must cover the stream without gaps: each starts where the one before ended.</summary>
    private static void AssertContiguous(List<StreamChunk> chunks, string start)
    {
        foreach (StreamChunk chunk in chunks)
        {
            Assert.Equal(start, chunk.StartOffset.Value);
            start = chunk.NextOffset.Value;
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Sse_TextGroupsAlreadyReceived_ShareOneChunkWithTheLastGroupsPosition(string newline, int[] reads)
    {
        string events =
            ReadScript.Data(newline, "hello") +
            ReadScript.Control("0000_0005", cursor: "2", newline: newline) +
            ReadScript.Control("0000_0005", cursor: "3", upToDate: true, newline: newline) +
            ReadScript.Data(newline, "-big") +
            ReadScript.Data(newline, "-world") +
            ReadScript.Control("0000_0015", cursor: null, upToDate: false, newline: newline) +
            ReadScript.Data(newline, "!") +
            ReadScript.Control("0000_0016", cursor: null, upToDate: false, closed: true, newline: newline);

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Text, () => ReadScript.Sse(events, reads));

        // However the bytes arrive, the same data at the same final position, without gaps.
        Assert.Equal("hello-big-world!", string.Concat(chunks.Select(c => c.Utf8())));
        AssertContiguous(chunks, "0000_0000");
        StreamChunk last = chunks[^1];
        Assert.Equal(("0000_0016", "3", true, true), (last.NextOffset.Value, last.Cursor, last.UpToDate, last.StreamClosed));
        if (reads[0] == int.MaxValue)
        {
            // Received in one read: one chunk for all four groups.
            Assert.Same(last, Assert.Single(chunks));
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Sse_JsonGroupsAlreadyReceived_OneArrayOfAllTheirMessages(string newline, int[] reads)
    {
        string events =
            ReadScript.Data(newline, """[{"a":1}]""") +
            ReadScript.Data(newline, "[", """{"b":"é<>&"},""", """{"c":[1,2.50]}""", "]") +
            ReadScript.Control("0000_0003", newline: newline) +
            ReadScript.Data(newline, "[]") +
            ReadScript.Control("0000_0003", newline: newline) +
            ReadScript.Data(newline, "[7]") +
            ReadScript.Control("0000_0004", cursor: null, closed: true, newline: newline);

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Json, () => ReadScript.Sse(events, reads));

        List<string> messages = chunks
            .Where(c => !c.Data.IsEmpty)
            .SelectMany(c => System.Text.Json.JsonDocument.Parse(c.Data).RootElement.EnumerateArray().Select(e => e.GetRawText()))
            .ToList();
        Assert.Equal(["""{"a":1}""", """{"b":"é<>&"}""", """{"c":[1,2.50]}""", "7"], messages);
        AssertContiguous(chunks, "0000_0000");
        if (reads[0] == int.MaxValue)
        {
            Assert.Equal("""[{"a":1},{"b":"é<>&"},{"c":[1,2.50]},7]""", Assert.Single(chunks).Utf8());
        }
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Sse_Base64GroupsAlreadyReceived_TheExactBytesOfAllOfThem(string newline, int[] reads)
    {
        byte[] first = [0x00, 0xFF, 0xFE, 0xFD, 0xFC];
        byte[] second = [0x0D, 0x0A, 0x80, 0x00];
        string events =
            ReadScript.Data(newline, Convert.ToBase64String(first)) +
            ReadScript.Control("0000_0005", newline: newline) +
            ReadScript.Data(newline, Convert.ToBase64String(second)[..4], Convert.ToBase64String(second)[4..]) +
            ReadScript.Control("0000_0009", cursor: null, closed: true, newline: newline);

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Binary, () => ReadScript.Sse(events, reads, base64: true));

        Assert.Equal([.. first, .. second], chunks.SelectMany(c => c.Data.ToArray()));
        AssertContiguous(chunks, "0000_0000");
        if (reads[0] == int.MaxValue)
        {
            Assert.Single(chunks);
        }
    }

    [Fact]
    public async Task Sse_GroupsBeyondOneMebibyte_HandedOutInSeveralChunks()
    {
        // Six groups of 300 KiB received at once: a chunk takes groups until it holds 1 MiB or more.
        // The event of an unknown type before them (a line over 2 MiB) makes the reader's buffer
        // grow to 4 MiB, so that all six arrive in the buffer together after it.
        string payload = new('p', 300 * 1024);
        string events = "event: unknown\ndata: " + new string('u', (2 * 1024 * 1024) + 1000) + "\n\n" + string.Concat(Enumerable.Range(1, 6).Select(i =>
            ReadScript.Data("\n", payload) + ReadScript.Control($"0000_000{i}", closed: i == 6)));

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Text, () => ReadScript.Sse(events));

        Assert.Equal([4 * payload.Length, 2 * payload.Length], chunks.Select(c => c.Data.Length));
        AssertContiguous(chunks, "0000_0000");
    }

    [Fact]
    public async Task Sse_MalformedEventAfterCompleteGroups_TheirChunkComesBeforeTheError()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0000", ReadScript.Text, cursor: "1"))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "kept") + ReadScript.Control("0000_0004") + "event: control\ndata: {broken\n\n"));
        using DurableStreamClient client = TestClients.Create(handler);
        await using IAsyncEnumerator<StreamChunk> read = client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct).GetAsyncEnumerator(Ct);

        Assert.True(await read.MoveNextAsync()); // the empty catch-up
        Assert.True(await read.MoveNextAsync());
        Assert.Equal(("kept", "0000_0004"), (read.Current.Utf8(), read.Current.NextOffset.Value));
        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(async () => await read.MoveNextAsync());
        Assert.Contains("control event is not valid JSON", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadBytesAsync_BinarySseThroughTheTypedView_ReturnsTheBytesUnchanged()
    {
        byte[] payload = [0x00, 0xFF, 0xFE, 0xFD, 0xFC];
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp([], "0000_0000", ReadScript.Binary))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", Convert.ToBase64String(payload)) + ReadScript.Control("0000_0005", cursor: null, closed: true), [1], base64: true));
        using DurableStreamClient client = TestClients.Create(handler);

        var received = new List<byte>();
        await foreach (StreamItem<ReadOnlyMemory<byte>> item in client.GetStream(TestClients.StreamUrl).ReadBytesAsync(new ReadOptions { Live = LiveMode.Sse }, Ct))
        {
            received.AddRange(item.Value.ToArray());
        }

        Assert.Equal(payload, received);
    }

    [Theory]
    [InlineData("{invalid json here", "not valid JSON")]
    [InlineData("", "an empty event")]
    [InlineData("[1,2]", "not an object")]
    [InlineData("{\"streamCursor\":\"1\"}", "no streamNextOffset")]
    [InlineData("{\"streamNextOffset\":42}", "no streamNextOffset")]
    [InlineData("{\"streamNextOffset\":\"now\"}", "invalid streamNextOffset")]
    [InlineData("{\"streamNextOffset\":\"1\"} {}", "not valid JSON")]
    public async Task Sse_MalformedControlEvent_FailsWithProtocolError(string control, string expected)
    {
        string events = "event: control\ndata: " + control + "\n\n";

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => ReadSseAsync(ReadScript.Text, () => ReadScript.Sse(events)));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains(TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
        Assert.Contains("offset 0000_0000", ex.Message, StringComparison.Ordinal);
        Assert.Equal(new Uri(TestClients.StreamUrl), ex.StreamUrl);
    }

    [Theory]
    [InlineData("AP/")]
    [InlineData("AP/+/fw")]
    [InlineData("not base64!")]
    public async Task Sse_InvalidBase64_FailsWithProtocolError(string data)
    {
        string events = ReadScript.Data("\n", data) + ReadScript.Control("0000_0001");

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => ReadSseAsync(ReadScript.Binary, () => ReadScript.Sse(events, base64: true)));

        Assert.Contains("base64", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sse_JsonDataEventThatIsNotAnArray_FailsWithProtocolError()
    {
        string events = ReadScript.Data("\n", "{\"a\":1}") + ReadScript.Control("0000_0001");

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => ReadSseAsync(ReadScript.Json, () => ReadScript.Sse(events)));

        Assert.Contains("not a JSON array", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sse_EventOfExactlyTheLimit_IsAccepted()
    {
        string events = ReadScript.Data("\n", new string('x', 100)) + ReadScript.Control("0000_0100", cursor: null, closed: true);

        List<StreamChunk> chunks = await ReadSseAsync(ReadScript.Text, () => ReadScript.Sse(events), new ReadOptions { MaxSseEventBytes = 100 });

        Assert.Equal(100, chunks[0].Data.Length);
    }

    [Fact]
    public async Task Sse_EventLargerThanTheLimit_FailsWithProtocolError()
    {
        string events = ReadScript.Data("\n", new string('x', 101)) + ReadScript.Control("0000_0101", cursor: null, closed: true);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => ReadSseAsync(ReadScript.Text, () => ReadScript.Sse(events), new ReadOptions { MaxSseEventBytes = 100 }));

        Assert.Contains("MaxSseEventBytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sse_EndlessEventThatNeverDispatches_FailsBeforeBufferingWithoutBound()
    {
        var events = new StringBuilder("event: data\n");
        for (int i = 0; i < 100_000; i++)
        {
            events.Append("data:x\n");
        }

        var content = new TrickleContent(Encoding.UTF8.GetBytes(events.ToString()), [4096], "text/event-stream");

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => ReadSseAsync(ReadScript.Text, () => ReadScript.Sse(content), new ReadOptions { MaxSseEventBytes = 1024 }));

        Assert.Contains("MaxSseEventBytes", ex.Message, StringComparison.Ordinal);
        Assert.True(content.BytesRead < 200_000, $"Read {content.BytesRead} bytes before failing.");
    }

    [Fact]
    public async Task Sse_ResponseThatIsNotAnEventStream_FailsWithProtocolError()
    {
        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => ReadSseAsync(ReadScript.Text, () => ReadScript.CatchUp("<html>", "0000_0000", "text/html")));

        Assert.Contains("text/event-stream", ex.Message, StringComparison.Ordinal);
    }
}
