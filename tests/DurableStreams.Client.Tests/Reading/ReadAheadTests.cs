using System.Net;
using System.Net.Sockets;
using DurableStreams.Testing;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// <see cref="ReadOptions.ReadAhead"/>: the request for the next catch-up page goes out as soon as a
/// response's headers say the read is not up to date, at most one request ahead, and it is released
/// when the read ends before it gets there.
/// </summary>
public sealed class ReadAheadTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static string OffsetOf(SentRequest request) =>
        System.Web.HttpUtility.ParseQueryString(request.Url.Query)["offset"] ?? "";

    private static string? LiveOf(SentRequest request) =>
        System.Web.HttpUtility.ParseQueryString(request.Url.Query)["live"];

    private static IOException Reset() => new("reset", new SocketException((int)SocketError.ConnectionReset));

    /// <summary>Every byte a plain read of the test stream hands out, as text.</summary>
    private async Task<string> ReadAllTextAsync(DurableStreamClient client)
    {
        var text = new System.Text.StringBuilder();
        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct))
        {
            text.Append(chunk.Utf8());
        }

        return text.ToString();
    }

    [Theory]
    [InlineData(ReadScript.Text, "a", "b")]
    [InlineData(ReadScript.Json, "[1]", "[2]")]
    public async Task Read_ResponseNotUpToDate_AsksForTheNextPageBeforeTheCallerDoes(string contentType, string first, string second)
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp(first, "0000_0001", contentType, upToDate: false))
            .Then(_ => ReadScript.CatchUp(second, "0000_0002", contentType));
        using DurableStreamClient client = TestClients.Create(handler);

        var seen = new List<string>();
        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl, contentType).ReadAsync(cancellationToken: Ct))
        {
            if (seen.Count == 0)
            {
                // The caller still holds the first page: the second must already be on its way.
                // Without the request ahead this waits until the test's timeout and fails.
                await handler.WaitForRequestsAsync(2, Ct);
                Assert.Equal("0000_0001", OffsetOf(handler.Requests[1]));
                Assert.Null(LiveOf(handler.Requests[1]));
            }

            seen.Add(chunk.Utf8());
        }

        Assert.Equal([first, second], seen);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_ReadAheadOff_SendsEachRequestOnlyWhenTheCallerAsks()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", upToDate: false))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002"));
        using DurableStreamClient client = TestClients.Create(handler);

        var seen = new List<string>();
        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { ReadAhead = false }, Ct))
        {
            Assert.Equal(seen.Count + 1, handler.Requests.Count);
            seen.Add(chunk.Utf8());
        }

        Assert.Equal(["a", "b"], seen);
    }

    [Fact]
    public async Task Read_UpToDateClosedOrNotMovingAnswers_SendNothingAhead()
    {
        // Up to date (a live long-poll follows, never sent ahead); an empty answer that is not up to
        // date but does not move the offset (the next request is paced, not sent ahead); closed.
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001"))
            .Then(_ => ReadScript.CatchUp("", "0000_0001", upToDate: false))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002", closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        var seen = new List<string>();
        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.LongPoll }, Ct))
        {
            Assert.Equal(seen.Count + 1, handler.Requests.Count);
            seen.Add(chunk.Utf8());
        }

        Assert.Equal(["a", "", "b"], seen);
        Assert.Equal(3, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_CallerStopsWhileTheAnswerAheadWaits_ReleasesIt()
    {
        var ahead = new TrickleContent("b"u8.ToArray(), contentType: ReadScript.Text);
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", upToDate: false))
            .Then(_ => ReadScript.CatchUp(ahead, "0000_0002", upToDate: false));
        using DurableStreamClient client = TestClients.Create(handler);

        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct))
        {
            await handler.WaitForRequestsAsync(2, Ct);
            break;
        }

        // DisposeAsync of the read has returned: the answer nobody asked for is disposed, unread.
        Assert.True(ahead.Disposed);
        Assert.Equal(0, ahead.BytesRead);
    }

    [Fact]
    public async Task Read_CallerStopsWhileTheRequestAheadIsUnanswered_CancelsIt()
    {
        var handler = new HangingSecondRequest(ReadScript.CatchUp("a", "0000_0001", upToDate: false));
        using DurableStreamClient client = TestClients.Create(handler);

        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct))
        {
            await handler.SecondSent.Task.WaitAsync(Ct);
            break;
        }

        // Cancelled by the time DisposeAsync returned, not left running against the server.
        Assert.True(handler.SecondCancelled.Task.IsCompleted);
        Assert.Equal(2, handler.Sent);
    }

    [Fact]
    public async Task Read_CancelledWhileTheRequestAheadIsUnanswered_ThrowsOperationCanceledAndCancelsIt()
    {
        var handler = new HangingSecondRequest(ReadScript.CatchUp("a", "0000_0001", upToDate: false));
        using DurableStreamClient client = TestClients.Create(handler);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var seen = new List<string>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: cancel.Token))
            {
                seen.Add(chunk.Utf8());
                await handler.SecondSent.Task.WaitAsync(Ct);
                await cancel.CancelAsync();
            }
        });

        Assert.Equal(["a"], seen);
        Assert.True(handler.SecondCancelled.Task.IsCompleted);
        Assert.Equal(2, handler.Sent);
    }

    [Fact]
    public async Task Read_RequestAheadFails_GoesThroughTheHookAndRetriesWhenTheReadGetsThere()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", upToDate: false))
            .ThenRespond(HttpStatusCode.ServiceUnavailable)
            .Then(_ => ReadScript.CatchUp("b", "0000_0002"));
        using DurableStreamClient client = TestClients.Create(handler);

        var seen = new List<string>();
        var hookSaw = new List<(Offset Offset, int Status, int ChunksHandedOut)>();
        var options = new ReadOptions
        {
            OnFailure = (context, _) =>
            {
                hookSaw.Add((context.Offset, context.Status, seen.Count));
                return ValueTask.FromResult(ReadRecovery.Default);
            },
        };
        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(options, Ct))
        {
            if (seen.Count == 0)
            {
                await handler.WaitForRequestsAsync(2, Ct);
            }

            seen.Add(chunk.Utf8());
        }

        Assert.Equal(["a", "b"], seen);

        // Reported once the caller was done with "a" and asked for more, at the page's offset.
        Assert.Equal([(new Offset("0000_0001"), 503, 1)], hookSaw);
        Assert.Equal(["-1", "0000_0001", "0000_0001"], handler.Requests.Select(OffsetOf));
    }

    [Fact]
    public async Task Read_AnswerAheadDroppedBeforeTheReadGetsThere_AsksForThatPageAgain()
    {
        // The server gave up on the unread answer (say, the caller held its page for long): its body
        // fails when the read gets to it, and the page is asked for again like after any drop.
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("a", "0000_0001", upToDate: false))
            .Then(_ => ReadScript.CatchUp("b", "0000_0002", reads: [1], failAtEnd: Reset))
            .Then(_ => ReadScript.CatchUp("bc", "0000_0003"));
        using DurableStreamClient client = TestClients.Create(handler);

        string text = await ReadAllTextAsync(client);

        Assert.Equal("abc", text);
        Assert.Equal(["-1", "0000_0001", "0000_0001"], handler.Requests.Select(OffsetOf));
    }

    [Fact]
    public async Task Read_PageBodyFailsWhileTheRequestAheadIsOut_HandsOutEveryByteOnceInOrder()
    {
        int firstPageAttempts = 0;
        var handler = new RecordingHandler().Then(request =>
        {
            switch (OffsetOf(request))
            {
                case "-1" when Interlocked.Increment(ref firstPageAttempts) == 1:
                    // Headers (and with them the next offset) arrive; the body breaks after "ab".
                    return ReadScript.CatchUp("abcd", "0000_0004", upToDate: false, reads: [2], failAtEnd: Reset);
                case "-1":
                    return ReadScript.CatchUp("abcd", "0000_0004", upToDate: false);
                case "0000_0004":
                    return ReadScript.CatchUp("ef", "0000_0006");
                default:
                    throw new InvalidOperationException($"Unexpected request {request.Url}");
            }
        });
        using DurableStreamClient client = TestClients.Create(handler);

        string text = await ReadAllTextAsync(client);

        Assert.Equal("abcdef", text);

        // The first page twice (the retry), its next page once: the request ahead was kept for the
        // retry. The request ahead goes out on its own task, so it may reach the server before or
        // after the retry.
        List<string> offsets = [.. handler.Requests.Select(OffsetOf)];
        Assert.Equal("-1", offsets[0]);
        Assert.Equal(["-1", "0000_0004"], offsets.Skip(1).Order());
    }

    [Fact]
    public async Task Read_RetriedPageAnswersWithAnotherNextOffset_ReleasesTheRequestAheadAndReadsFromTheNewOne()
    {
        int firstPageAttempts = 0;
        var stale = new TrickleContent("zz"u8.ToArray(), contentType: ReadScript.Text);
        var handler = new RecordingHandler().Then(request =>
        {
            switch (OffsetOf(request))
            {
                case "-1" when Interlocked.Increment(ref firstPageAttempts) == 1:
                    return ReadScript.CatchUp("abcd", "0000_0004", upToDate: false, reads: [2], failAtEnd: Reset);
                case "-1":
                    // Another server behind the balancer pages differently: the page ends earlier.
                    return ReadScript.CatchUp("ab", "0000_0002", upToDate: false);
                case "0000_0004":
                    return ReadScript.CatchUp(stale, "0000_0006", upToDate: false);
                case "0000_0002":
                    return ReadScript.CatchUp("cdef", "0000_0006");
                default:
                    throw new InvalidOperationException($"Unexpected request {request.Url}");
            }
        });
        using DurableStreamClient client = TestClients.Create(handler);

        string text = await ReadAllTextAsync(client);

        Assert.Equal("abcdef", text);
        Assert.True(stale.Disposed);
        Assert.Equal(0, stale.BytesRead);
    }

    [Fact]
    public async Task Read_JsonPageAhead_IsReadWholeBeforeTheCallerAsks()
    {
        byte[] second = "[2,3]"u8.ToArray();
        var ahead = new TrickleContent(second, readSizes: [2], contentType: ReadScript.Json);
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1]", "0000_0001", ReadScript.Json, upToDate: false))
            .Then(_ => ReadScript.CatchUp(ahead, "0000_0003"));
        using DurableStreamClient client = TestClients.Create(handler);

        var seen = new List<string>();
        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl, ReadScript.Json).ReadAsync(cancellationToken: Ct))
        {
            if (seen.Count == 0)
            {
                // The caller still holds the first page: the second has arrived whole meanwhile.
                while (ahead.BytesRead < second.Length)
                {
                    await Task.Delay(10, Ct);
                }
            }

            seen.Add(chunk.Utf8());
        }

        Assert.Equal(["[1]", "[2,3]"], seen);
    }

    [Theory]
    [InlineData("[2,", "not a JSON array")]
    [InlineData("[2,3,4,5,6,7,8,9,10,11,12,13,14,15]", "MaxBufferedBytes")]
    public async Task Read_JsonPageAheadIsBroken_FailsOnlyWhenTheReadGetsThere(string second, string error)
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1]", "0000_0001", ReadScript.Json, upToDate: false))
            .Then(_ => ReadScript.CatchUp(second, "0000_0009", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        await using IAsyncEnumerator<StreamChunk> read = client.GetStream(TestClients.StreamUrl, ReadScript.Json)
            .ReadAsync(new ReadOptions { MaxBufferedBytes = 16 }, Ct).GetAsyncEnumerator(Ct);

        Assert.True(await read.MoveNextAsync());
        Assert.Equal("[1]", read.Current.Utf8());
        await handler.WaitForRequestsAsync(2, Ct);
        var failure = await Assert.ThrowsAsync<DurableStreamProtocolException>(async () => await read.MoveNextAsync());
        Assert.Contains(error, failure.Message, StringComparison.Ordinal);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Read_JsonPageAheadDropsInItsBody_IsAskedForAgainWhenTheReadGetsThere()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1]", "0000_0001", ReadScript.Json, upToDate: false))
            .Then(_ => ReadScript.CatchUp("[2,3]", "0000_0003", ReadScript.Json, reads: [2], failAtEnd: Reset))
            .Then(_ => ReadScript.CatchUp("[2,3]", "0000_0003", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl, ReadScript.Json).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);

        Assert.Equal(["[1]", "[2,3]"], chunks.Select(c => c.Utf8()));
        Assert.Equal(["-1", "0000_0001", "0000_0001"], handler.Requests.Select(OffsetOf));
    }

    [Fact]
    public async Task Read_CallerStopsWhileTheJsonPageAheadIsArriving_CancelsItsBody()
    {
        var ahead = new TrickleContent("[2,"u8.ToArray(), contentType: ReadScript.Json, hangAtEnd: true);
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1]", "0000_0001", ReadScript.Json, upToDate: false))
            .Then(_ => ReadScript.CatchUp(ahead, "0000_0003"));
        using DurableStreamClient client = TestClients.Create(handler);

        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl, ReadScript.Json).ReadAsync(cancellationToken: Ct))
        {
            await ahead.Hanging.Task.WaitAsync(Ct);
            break;
        }

        // The body read on the other task was cancelled and its response disposed before DisposeAsync returned.
        Assert.True(ahead.Disposed);
    }

    /// <summary>Answers the first request from a script and holds the second until it is cancelled.</summary>
    private sealed class HangingSecondRequest(HttpResponseMessage first) : HttpMessageHandler
    {
        private int _sent;

        public int Sent => Volatile.Read(ref _sent);

        public TaskCompletionSource SecondSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource SecondCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _sent) == 1)
            {
                return first;
            }

            SecondSent.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                SecondCancelled.TrySetResult();
            }

            throw new InvalidOperationException("unreachable");
        }
    }
}
