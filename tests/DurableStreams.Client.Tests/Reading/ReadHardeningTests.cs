using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DurableStreams.Reading.Internal;
using DurableStreams.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// A hostile or broken server: bounded memory for JSON bodies and SSE, progress checks, pacing,
/// stalled bodies, foreign content types, and a server that is down (issue 12, reader side).
/// </summary>
public sealed class ReadHardeningTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static DurableStream Stream(DurableStreamClient client, string? contentType = null) => client.GetStream(TestClients.StreamUrl, contentType);

    // ------------------------------------------------------------------ A1: JSON bodies

    [Fact]
    public async Task ReadJson_GzipBombBeyondMaxBufferedBytes_FailsWithAProtocolErrorAndIsNotRetried()
    {
        // 16 MiB of JSON that gzip packs into a few KiB; the read may hold 1 MiB.
        byte[] json = Encoding.ASCII.GetBytes("[" + string.Join(',', Enumerable.Repeat("0", 8 * 1024 * 1024)) + "]");
        using var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(json);
        }

        byte[] bomb = packed.ToArray();
        var handler = new RecordingHandler().Then(_ =>
        {
            HttpResponseMessage response = ReadScript.CatchUp(bomb, "0000_0001", ReadScript.Json);
            response.Content.Headers.ContentEncoding.Add("gzip");
            return response;
        });
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(new ReadOptions { MaxBufferedBytes = 1024 * 1024 }, Ct).CollectAsync(Ct));

        Assert.Contains("MaxBufferedBytes (1048576 bytes)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("larger than 1048576 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task ReadJson_ContentLengthOfIntMaxValue_FailsWithAProtocolErrorInsteadOfOutOfMemory()
    {
        var handler = new RecordingHandler().Then(_ =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent("[1]"u8.ToArray()) };
            response.Content.Headers.ContentType = new("application/json");
            response.Content.Headers.ContentLength = int.MaxValue;
            response.Headers.TryAddWithoutValidation("Stream-Next-Offset", "0000_0001");
            response.Headers.TryAddWithoutValidation("Stream-Up-To-Date", "true");
            return response;
        });
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Contains("Content-Length of 2147483647 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task ReadJson_JsonBodyWithinTheLimit_IsReadWholeWithoutPresizing()
    {
        // A body bigger than the first buffer (16 KiB), trickled, grows the buffer to fit.
        string[] messages = Enumerable.Range(0, 5000).Select(i => $"{{\"n\":{i}}}").ToArray();
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("[" + string.Join(',', messages) + "]", "0000_0001", ReadScript.Json, reads: [7, 1000]));
        using DurableStreamClient client = TestClients.Create(handler);

        var values = new List<int>();
        await foreach (StreamItem<JsonElement> item in Stream(client).ReadJsonAsync<JsonElement>(cancellationToken: Ct))
        {
            values.Add(item.Value.GetProperty("n").GetInt32());
        }

        Assert.Equal(Enumerable.Range(0, 5000), values);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ReadJson_PageLargerThanTheFirstBuffer_IsDeliveredInAnArrayOfExactlyItsLength(bool declared)
    {
        // 20,001 bytes: more than the first 16 KiB buffer, not a power of two. With a declared length
        // the page is read into an array of that length; without one it is gathered in pooled
        // buffers and copied once into an array of its length, so the caller never holds the
        // doubling buffer's slack (up to twice the page).
        string body = "[" + string.Join(',', Enumerable.Range(0, 2000).Select(i => $"{{\"n\":{i % 10}}}")) + "]";
        body = body[..^1] + new string(' ', 20_001 - body.Length) + "]";
        byte[] bytes = Encoding.ASCII.GetBytes(body);
        Assert.Equal(20_001, bytes.Length);
        var handler = new RecordingHandler().Then(_ =>
        {
            if (!declared)
            {
                return ReadScript.CatchUp(bytes, "0000_0001", ReadScript.Json, reads: [7, 4000]);
            }

            var response = ReadScript.CatchUp(bytes, "0000_0001", ReadScript.Json);
            response.Content = new ByteArrayContent(bytes);
            response.Content.Headers.ContentType = new("application/json");
            return response;
        });
        using DurableStreamClient client = TestClients.Create(handler);

        StreamChunk chunk = Assert.Single(await Stream(client).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Equal(bytes, chunk.Data.ToArray());
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(chunk.Data, out ArraySegment<byte> segment));
        Assert.Equal(0, segment.Offset);
        Assert.Equal(bytes.Length, segment.Array!.Length);
    }

    [Fact]
    public async Task ReadJson_MoreBytesThanTheDeclaredLength_StillCountAgainstMaxBufferedBytes()
    {
        // A Content-Length only sizes the first buffer: a body that goes on past it (a broken
        // handler in between) is still read, and still bounded.
        byte[] bytes = "[1,2,3,4,5,6,7,8,9]"u8.ToArray();
        var handler = new RecordingHandler()
            .Then(_ => CatchUpDeclaring(bytes, declared: 3))
            .Then(_ => CatchUpDeclaring(bytes, declared: 3));
        using DurableStreamClient client = TestClients.Create(handler);

        StreamChunk chunk = Assert.Single(await Stream(client).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));
        Assert.Equal(bytes, chunk.Data.ToArray());

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(new ReadOptions { MaxBufferedBytes = 16 }, Ct).CollectAsync(Ct));
        Assert.Contains("larger than 16 bytes", ex.Message, StringComparison.Ordinal);

        static HttpResponseMessage CatchUpDeclaring(byte[] bytes, long declared)
        {
            HttpResponseMessage response = ReadScript.CatchUp(bytes, "0000_0001", ReadScript.Json);
            response.Content.Headers.ContentLength = declared;
            return response;
        }
    }

    [Fact]
    public async Task ReadJson_MessageFiftyDoesNotDeserialize_TheFortyNineBeforeItAreDelivered()
    {
        string body = "[" + string.Join(',', Enumerable.Range(1, 49).Select(i => $"{{\"n\":{i}}}")) + ",{\"n\":\"fifty\"},{\"n\":51}]";
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0051", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        var delivered = new List<int>();
        await Assert.ThrowsAsync<JsonException>(async () =>
        {
            await foreach (StreamItem<Numbered> item in Stream(client).ReadJsonAsync<Numbered>(cancellationToken: Ct))
            {
                delivered.Add(item.Value.N);
            }
        });

        Assert.Equal(Enumerable.Range(1, 49), delivered);
    }

    [Fact]
    public void JsonArrayScanner_Count_StopsWhenCancelled()
    {
        byte[] json = Encoding.ASCII.GetBytes("[" + string.Join(',', Enumerable.Repeat("1", 100_000)) + "]");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.Equal(100_000, JsonArrayScanner.Count(json, CancellationToken.None));
        Assert.Throws<OperationCanceledException>(() => JsonArrayScanner.Count(json, cancelled.Token));
    }

    [Theory]
    [InlineData("[]", 0, "")]
    [InlineData("[1]", 0, "[1]")]
    [InlineData(" [ 1 , {\"a\":[2]} ,\n\"x\" ] ", 0, "[1,{\"a\":[2]},\"x\"]")]
    [InlineData("[1,2,3]", 2, "[3]")]
    [InlineData("[1,2,3]", 3, "")]
    public void JsonArrayScanner_Skip_RebuildsTheRemainingElements(string json, long skip, string expected)
    {
        Assert.Equal(expected, Encoding.UTF8.GetString(JsonArrayScanner.Skip(Encoding.UTF8.GetBytes(json), skip)));
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("[1,]")]
    [InlineData("[1")]
    [InlineData("[1] 2")]
    [InlineData("[1 2]")]
    public void JsonArrayScanner_Count_RejectsAnythingButOneArray(string json)
    {
        Assert.ThrowsAny<JsonException>(() => JsonArrayScanner.Count(Encoding.UTF8.GetBytes(json), CancellationToken.None));
    }

    [Theory]
    [InlineData("[{\"n\":1} x", "[{\"n\":1},{\"n\":2}]")]
    [InlineData("{\"n\":1}", "[{\"n\":1},{\"n\":2}]")]
    public async Task Read_JsonBodyMalformedBeforeTheConnectionDrops_RetriesAndReadsTheGoodAnswer(string broken, string good)
    {
        // The body is checked while it arrives: a malformed start is only reported once the body is
        // in, so a connection that drops in the middle is retried as before.
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp(broken, "0000_0002", ReadScript.Json, reads: [3], failAtEnd: () => new IOException("reset", new SocketException((int)SocketError.ConnectionReset))))
            .Then(_ => ReadScript.CatchUp(good, "0000_0002", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await Stream(client, ReadScript.Json).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);

        Assert.Equal(good, Assert.Single(chunks).Utf8());
        Assert.Equal(2, handler.Requests.Count);
    }

    [Theory]
    [InlineData("[{\"n\":1} x", new[] { 2 })]
    [InlineData("{\"n\":1}", new[] { 1 })]
    [InlineData("[{\"n\":1},", new[] { 4 })]
    [InlineData("[{\"n\":1}][2]", new[] { 10 })]
    public async Task Read_JsonBodyMalformed_FailsWithAProtocolErrorAtTheEnd(string broken, int[] reads)
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(broken, "0000_0002", ReadScript.Json, reads: reads));
        using DurableStreamClient client = TestClients.Create(handler);

        var error = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => Stream(client, ReadScript.Json).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Contains("is not a JSON array", error.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Read_LargeJsonBodyInSmallReads_IsHandedOutWhole()
    {
        // 20,000 messages arriving 1,000 bytes at a time, checked as they arrive.
        string body = "[" + string.Join(',', Enumerable.Range(0, 20_000).Select(n => $"{{\"n\":{n}}}")) + "]";
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0002", ReadScript.Json, reads: [1000]));
        using DurableStreamClient client = TestClients.Create(handler);

        StreamChunk chunk = Assert.Single(await Stream(client, ReadScript.Json).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Equal(body, chunk.Utf8());
    }

    [Theory]
    [InlineData("[]")]
    [InlineData(" [ \n ] ")]
    public async Task Read_EmptyJsonArrayInOneByteReads_IsAnEmptyChunk(string body)
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0000", ReadScript.Json, reads: [1]));
        using DurableStreamClient client = TestClients.Create(handler);

        StreamChunk chunk = Assert.Single(await Stream(client, ReadScript.Json).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.True(chunk.Data.IsEmpty);
        Assert.True(chunk.UpToDate);
    }

    // ------------------------------------------------------------------ A2: SSE bounds

    [Fact]
    public async Task Sse_DataLineThatNeverEnds_FailsSoonAfterTheEventLimit()
    {
        const int limit = 1024 * 1024;
        var endless = new TrickleContent(Encoding.ASCII.GetBytes("event: data\ndata:" + new string('a', 12 * limit)), [64 * 1024], "text/event-stream");
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0000"))
            .Then(_ => ReadScript.Sse(endless));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.Sse, MaxSseEventBytes = limit }, Ct).CollectAsync(Ct));

        Assert.Contains("An SSE line of more than", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxSseEventBytes", ex.Message, StringComparison.Ordinal);

        // The line limit is the event limit plus 64 KiB of slack, checked after each 64 KiB read.
        Assert.InRange(endless.BytesRead, limit, limit + (192 * 1024));
    }

    [Fact]
    public async Task Sse_DataEventsWithoutAControlEvent_FailOnceTheyExceedMaxBufferedBytes()
    {
        string payload = new('x', 1000);
        var events = new StringBuilder();
        for (int i = 0; i < 200; i++)
        {
            events.Append(ReadScript.Data("\n", payload));
        }

        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0000"))
            .Then(_ => ReadScript.Sse(events.ToString()));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.Sse, MaxBufferedBytes = 64 * 1024 }, Ct).CollectAsync(Ct));

        Assert.Contains("since the last control event", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxBufferedBytes (65536 bytes)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, handler.Requests.Count);
    }

    // ------------------------------------------------------------------ A3: progress

    [Fact]
    public async Task Read_CatchUpOffsetGoesBackwards_FailsWithAProtocolError()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0005", upToDate: false))
            .Then(_ => ReadScript.CatchUp("b", "0000_0003"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Contains("0000_0003 is before the offset 0000_0005", ex.Message, StringComparison.Ordinal);
        Assert.Contains(TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_DataThatDoesNotAdvanceTheOffset_FailsBeforeTheDataIsDelivered()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("again", "0000_0005", upToDate: false));
        using DurableStreamClient client = TestClients.Create(handler);
        var chunks = new List<StreamChunk>();

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(async () =>
        {
            await foreach (StreamChunk chunk in Stream(client).ReadAsync(new ReadOptions { Offset = new Offset("0000_0005") }, Ct))
            {
                chunks.Add(chunk);
            }
        });

        Assert.Contains("carries data but its Stream-Next-Offset stays at 0000_0005", ex.Message, StringComparison.Ordinal);
        Assert.Empty(chunks);
    }

    [Fact]
    public async Task ReadJson_DataThatDoesNotAdvanceTheOffset_FailsWithAProtocolError()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1]", "0000_0001", ReadScript.Json, upToDate: false))
            .Then(_ => ReadScript.CatchUp("[1]", "0000_0001", ReadScript.Json, upToDate: false));
        using DurableStreamClient client = TestClients.Create(handler);

        await Assert.ThrowsAsync<DurableStreamProtocolException>(() => Stream(client).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_EmptyNotUpToDateAnswersAtTheSameOffset_BackOffAndFailAfterFiveInARow()
    {
        var time = new SignallingTimeProvider();
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("", "0000_0005", upToDate: false));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.TimeProvider = time;
            o.ReadRetry = new RetryOptions(int.MaxValue, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), jitter: false);
        });

        Task<List<StreamChunk>> read = Stream(client).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);
        TimeSpan advanced = await AdvanceTimersUntilAsync(time, read);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => read);
        Assert.Contains("5 responses in a row had no data", ex.Message, StringComparison.Ordinal);

        // The first answer moves from -1 to 0000_0005; the next five stay there. Four waits of 1 s came between them.
        Assert.Equal(6, handler.Requests.Count);
        Assert.True(advanced >= TimeSpan.FromSeconds(4), $"Only {advanced} passed.");
    }

    [Fact]
    public async Task Sse_ControlEventOffsetGoesBackwards_FailsWithAProtocolError()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0005"))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "a") + ReadScript.Control("0000_0006") + ReadScript.Control("0000_0004")));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct).CollectAsync(Ct));

        Assert.Contains("streamNextOffset 0000_0004 is before the offset 0000_0006", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sse_DataWhoseControlEventDoesNotAdvance_FailsWithAProtocolError()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("", "0000_0005"))
            .Then(_ => ReadScript.Sse(ReadScript.Data("\n", "a") + ReadScript.Control("0000_0005")));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct).CollectAsync(Ct));

        Assert.Contains("stays at 0000_0005", ex.Message, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ A4: long-poll pacing

    [Fact]
    public async Task LongPoll_InstantEmptyAnswers_ArePacedWithGrowingBackoff()
    {
        var time = new SignallingTimeProvider();
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"))
            .Then(_ => ReadScript.NoContent("0000_0001"));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.TimeProvider = time;
            o.ReadRetry = new RetryOptions(int.MaxValue, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: false);
        });

        Task<List<StreamChunk>> read = Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct, max: 5);
        TimeSpan advanced = await AdvanceTimersUntilAsync(time, read);

        await read;

        // Requests 3, 4 and 5 each waited: 1 s, 2 s, 4 s.
        Assert.Equal(5, handler.Requests.Count);
        Assert.True(advanced >= TimeSpan.FromSeconds(7), $"Only {advanced} passed.");
    }

    [Fact]
    public async Task LongPoll_EmptyAnswersThatReallyWaited_AreNotPaced()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"))
            .Then(_ =>
            {
                // The server held the poll for its timeout before answering 204.
                time.Advance(TimeSpan.FromSeconds(20));
                return ReadScript.NoContent("0000_0001");
            });
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.TimeProvider = time;
            o.ReadRetry = new RetryOptions(int.MaxValue, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: false);
        });

        // Never advanced by the test: a paced request would wait forever and time the test out.
        List<StreamChunk> chunks = await Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct, max: 6);

        Assert.Equal(6, handler.Requests.Count);
        Assert.All(chunks.Skip(1), c => Assert.Equal(204, c.Status));
    }

    // ------------------------------------------------------------------ A6: stalled bodies

    [Fact]
    public async Task Read_BodyStallsInTheMiddle_TimesOutAndResumesFromTheSameOffset()
    {
        var failures = new List<ReadFailureContext>();
        var stalled = new TrickleContent("abc"u8.ToArray(), contentType: ReadScript.Text, hangAtEnd: true);
        var handler = new RecordingHandler()
            .Then(_ =>
            {
                var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = stalled };
                response.Headers.TryAddWithoutValidation("Stream-Next-Offset", "0000_0006");
                response.Headers.TryAddWithoutValidation("Stream-Up-To-Date", "true");
                return response;
            })
            .Then(_ => ReadScript.CatchUp("abcdef", "0000_0006"));
        using DurableStreamClient client = TestClients.Create(handler, o => o.ResponseIdleTimeout = TimeSpan.FromMilliseconds(50));
        var options = new ReadOptions
        {
            OnFailure = (context, _) =>
            {
                failures.Add(context);
                return ValueTask.FromResult(ReadRecovery.Default);
            },
        };

        List<StreamChunk> chunks = await Stream(client).ReadAsync(options, Ct).CollectAsync(Ct);

        Assert.Equal("abcdef", string.Concat(chunks.Select(c => c.Utf8())));
        Assert.Equal(["offset=-1", "offset=-1"], handler.Requests.Select(r => r.Query()));
        ReadFailureContext failure = Assert.Single(failures);
        Assert.IsType<TimeoutException>(failure.Exception);
        Assert.Contains("ResponseIdleTimeout", failure.Exception.Message, StringComparison.Ordinal);
        Assert.True(stalled.Disposed);
    }

    [Fact]
    public void ClientOptions_ResponseIdleTimeout_DefaultsToThirtySecondsAndRejectsZero()
    {
        var options = new DurableStreamClientOptions();
        Assert.Equal(TimeSpan.FromSeconds(30), options.ResponseIdleTimeout);

        options.ResponseIdleTimeout = TimeSpan.Zero;
        var ex = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(nameof(DurableStreamClientOptions.ResponseIdleTimeout), ex.ParamName);
    }

    // ------------------------------------------------------------------ A8 / B7: content types

    [Fact]
    public async Task Read_HtmlPageOnAJsonStream_FailsNamingBothTypesAndTheUrl()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("<html>Please log in</html>", "0000_0001", "text/html; charset=utf-8"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client, ReadScript.Json).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Contains("'text/html; charset=utf-8' is not the stream's content type 'application/json'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_ResponseTypeChangesBetweenResponses_FailsWithAProtocolError()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1]", "0000_0001", ReadScript.Json, upToDate: false))
            .Then(_ => ReadScript.CatchUp("<html/>", "0000_0002", "text/html"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => Stream(client).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Contains("'text/html'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_SameMediaTypeWithOtherParameters_IsAccepted()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("hi", "0000_0002", "TEXT/plain; charset=utf-8"));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await Stream(client, "text/plain").ReadAsync(cancellationToken: Ct).CollectAsync(Ct);

        Assert.Equal("hi", Assert.Single(chunks).Utf8());
    }

    [Fact]
    public async Task ReadJson_OnATextStream_SaysTheContentTypeIsNotJson()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("hello", "0000_0005"));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(
            () => Stream(client).ReadAllJsonAsync<JsonElement>(cancellationToken: Ct));

        Assert.Contains("has the content type 'text/plain', not application/json", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ReadTextAsync", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadJson_HandleKnowsItsStreamIsText_FailsWithoutARequest()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("hello", "0000_0005"));
        using DurableStreamClient client = TestClients.Create(handler);

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await foreach (StreamItem<JsonElement> item in Stream(client, "text/plain").ReadJsonAsync<JsonElement>(cancellationToken: Ct))
            {
            }
        });

        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task AppendJsonValue_HandleKnowsItsStreamIsText_ThrowsBeforeAnyRequest()
    {
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = Stream(client, "text/plain");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => stream.AppendAsync(new { Event = "user.created" }, cancellationToken: Ct));
        await Assert.ThrowsAsync<InvalidOperationException>(() => stream.CloseAsync(new Numbered { N = 1 }, cancellationToken: Ct));

        Assert.Contains("'text/plain', not application/json", ex.Message, StringComparison.Ordinal);
        Assert.Empty(handler.Requests);

        // Text and bytes still go through on a text stream.
        await stream.AppendAsync("{\"event\":\"as text\"}\n", cancellationToken: Ct);
        Assert.Single(handler.Requests);
    }

    // ------------------------------------------------------------------ B6: a server that is down

    [Fact]
    public async Task Read_ServerDownFromTheStart_FailsAfterTheClientRetryAndLogsEveryAttempt()
    {
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(collector)));
        var handler = new RecordingHandler().ThenThrow(() => new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused)));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.Retry = TestClients.FastRetry(maxRetries: 2);
            o.ReadRetry = TestClients.FastRetry(maxRetries: int.MaxValue);
            o.LoggerFactory = loggerFactory;
        });

        var ex = await Assert.ThrowsAsync<DurableStreamException>(
            () => Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, Ct).CollectAsync(Ct));

        Assert.Equal(0, ex.Status);
        Assert.Equal(3, handler.Requests.Count);
        IReadOnlyList<FakeLogRecord> warnings = [.. collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning)];
        Assert.Equal([1, 1, 7], warnings.Select(r => r.Id.Id));
        Assert.Contains("gave up after 3 failed attempts", warnings[^1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_ConnectedLiveReadLosesTheServer_ReconnectsBeyondTheClientRetry()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("a", "0000_0001"));
        for (int i = 0; i < 6; i++)
        {
            handler.ThenThrow(() => new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused)));
        }

        handler.Then(_ => ReadScript.NoContent("0000_0001", closed: true));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.Retry = TestClients.FastRetry(maxRetries: 2);
            o.ReadRetry = TestClients.FastRetry(maxRetries: int.MaxValue);
        });

        List<StreamChunk> chunks = await Stream(client).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct).CollectAsync(Ct);

        Assert.True(chunks[^1].StreamClosed);
        Assert.Equal(8, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_LongPollNeverAnswered_GivesUpAfterRequestTimeoutAndPollsAgain()
    {
        // A server that accepts a long-poll and never answers must not hold the read forever: the
        // wait for the response headers is bounded by RequestTimeout, then the read polls again.
        var handler = new SilentFirstRequestHandler(() => ReadScript.NoContent("0000_0001", closed: true));
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.RequestTimeout = TimeSpan.FromMilliseconds(200);
            o.Retry = TestClients.FastRetry(maxRetries: 2);
        });

        List<StreamChunk> chunks = await Stream(client)
            .ReadAsync(new ReadOptions { Offset = new Offset("0000_0001"), Live = LiveMode.LongPoll }, Ct)
            .CollectAsync(Ct);

        Assert.True(chunks[^1].StreamClosed);
        Assert.Equal(2, handler.Requests);
    }

    [Fact]
    public async Task Read_ExplicitReadRetry_AppliesFromTheFirstRequest()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.Status(HttpStatusCode.BadGateway));
        using DurableStreamClient client = TestClients.Create(handler, o => o.Retry = TestClients.FastRetry(maxRetries: 1));

        await Assert.ThrowsAsync<DurableStreamException>(
            () => Stream(client).ReadAsync(new ReadOptions { Retry = TestClients.FastRetry(maxRetries: 4) }, Ct).CollectAsync(Ct));

        Assert.Equal(5, handler.Requests.Count);
    }

    /// <summary>
    /// Moves the clock from timer to timer, each time one is scheduled, until <paramref name="until"/>
    /// completes; returns how much time passed.
    /// </summary>
    private async Task<TimeSpan> AdvanceTimersUntilAsync(SignallingTimeProvider time, Task until)
    {
        TimeSpan advanced = TimeSpan.Zero;
        while (true)
        {
            Task pending = time.WhenTimerPendingAsync(Ct);
            if (await Task.WhenAny(pending, until).WaitAsync(Ct) == until)
            {
                return advanced;
            }

            await pending;
            advanced += time.AdvanceToNextTimer();
        }
    }

    private sealed class Numbered
    {
        public int N { get; set; }
    }

    /// <summary>Holds the first request until it is cancelled; answers every later one.</summary>
    private sealed class SilentFirstRequestHandler(Func<HttpResponseMessage> answer) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => Volatile.Read(ref _requests);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _requests) == 1)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return answer();
        }
    }
}
