using System.Net;
using System.Text.Json.Serialization;

namespace DurableStreams.Tests.Producing;

public sealed class IdempotentProducerTests
{
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);

    [Fact]
    public async Task Append_LingerElapses_SendsOneJsonBatchWithProducerHeaders()
    {
        await using var h = new ProducerHarness();

        h.Producer.Append("1");
        h.Producer.Append("\"two\"");
        h.Producer.Append(new Item(3), TestJson.Default.Item);

        // Nothing is sent before the linger elapses.
        Assert.Equal(3, h.Producer.PendingCount);
        Assert.Equal(0, h.Producer.InFlightCount);
        Assert.Equal(0, h.Handler.Count);

        h.Time.Advance(Linger);
        PendingRequest request = await h.NextWithoutTimeAsync();

        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(ProducerHarness.StreamUrl, request.Url.ToString());
        Assert.Equal("""[1,"two",{"n":3}]""", request.BodyText);
        Assert.Equal("producer-1", request.Headers["Producer-Id"]);
        Assert.Equal(0, request.Epoch);
        Assert.Equal(0, request.Seq);
        Assert.Equal("application/json", request.Headers["Content-Type"]);
        Assert.False(request.Closes);
        Assert.Equal(0, h.Producer.PendingCount);
        Assert.Equal(1, h.Producer.InFlightCount);

        request.Accept(3);
        await h.Producer.FlushAsync(h.Ct);
        Assert.Equal(new Offset(PendingRequest.Offset(3)), h.Producer.LastAcknowledgedOffset);
        Assert.Equal(1, h.Producer.NextSequence);
    }

    [Fact]
    public async Task Append_ByteStream_ConcatenatesMessagesWithoutSeparators()
    {
        await using var h = new ProducerHarness("text/plain");

        h.Producer.Append("ab");
        h.Producer.Append("c,d"u8.ToArray());
        Task flush = h.Producer.FlushAsync(h.Ct);
        PendingRequest request = await h.NextWithoutTimeAsync();

        Assert.Equal("abc,d", request.BodyText);
        Assert.Equal("text/plain", request.Headers["Content-Type"]);
        request.Accept(5);
        await flush;
    }

    [Fact]
    public async Task Append_MaxBatchItemsReached_SendsAtOnceAndNumbersBatches()
    {
        await using var h = new ProducerHarness(configure: o => { o.MaxBatchItems = 2; o.MaxInFlight = 1; });

        h.Producer.Append("1");
        h.Producer.Append("2");
        h.Producer.Append("3");

        PendingRequest first = await h.NextWithoutTimeAsync();
        Assert.Equal("[1,2]", first.BodyText);
        Assert.Equal(0, first.Seq);
        first.Accept(2);

        PendingRequest second = await h.NextAsync();
        Assert.Equal("[3]", second.BodyText);
        Assert.Equal(1, second.Seq);
        Assert.Equal(0, second.Epoch);
        second.Accept(3);
        await h.Producer.FlushAsync(h.Ct);
    }

    [Fact]
    public async Task Append_MaxBatchBytesExceeded_MovesTheMessageToTheNextBatch()
    {
        // [1234] is 6 bytes; [1234,5678] would be 11 > 10.
        await using var h = new ProducerHarness(configure: o => { o.MaxBatchBytes = 10; o.MaxInFlight = 1; });

        h.Producer.Append("1234");
        h.Producer.Append("5678");

        PendingRequest first = await h.NextWithoutTimeAsync();
        Assert.Equal("[1234]", first.BodyText);
        first.Accept(1);
        PendingRequest second = await h.NextAsync();
        Assert.Equal("[5678]", second.BodyText);
        Assert.Equal(1, second.Seq);
        second.Accept(2);
        await h.Producer.FlushAsync(h.Ct);
    }

    [Fact]
    public async Task Append_ByteStreamMaxBatchBytes_CutsAtTheLimit()
    {
        await using var h = new ProducerHarness("application/octet-stream", o => { o.MaxBatchBytes = 4; o.MaxInFlight = 1; });

        h.Producer.Append("ab");
        h.Producer.Append("cd");
        h.Producer.Append("e");

        PendingRequest first = await h.NextWithoutTimeAsync();
        Assert.Equal("abcd", first.BodyText);
        first.Accept(4);
        PendingRequest second = await h.NextAsync();
        Assert.Equal("e", second.BodyText);
        second.Accept(5);
        await h.Producer.FlushAsync(h.Ct);
    }

    [Fact]
    public async Task AppendAsync_RawBytesThroughGenericOverload_AreAppendedRaw()
    {
        await using var h = new ProducerHarness("application/octet-stream");
        Memory<byte> memory = "xyz"u8.ToArray();

        await h.Producer.AppendAsync(memory, h.Ct);
        await h.Producer.AppendAsync("!"u8.ToArray(), h.Ct);
        Task flush = h.Producer.FlushAsync(h.Ct);

        PendingRequest request = await h.NextWithoutTimeAsync();
        Assert.Equal("xyz!", request.BodyText);
        request.Accept(4);
        await flush;
    }

    [Fact]
    public async Task Append_InvalidJsonOnJsonStream_ThrowsBeforeBuffering()
    {
        await using var h = new ProducerHarness();

        var ex = Assert.Throws<ArgumentException>(() => h.Producer.Append("{not json"));
        Assert.Equal("text", ex.ParamName);
        Assert.Throws<ArgumentException>(() => h.Producer.Append("1 2"));
        Assert.Throws<ArgumentException>(() => h.Producer.Append(""));
        Assert.Equal(0, h.Producer.PendingCount);

        h.Producer.Append("[1,2]");
        Task flush = h.Producer.FlushAsync(h.Ct);
        PendingRequest request = await h.NextWithoutTimeAsync();
        Assert.Equal("[[1,2]]", request.BodyText);
        request.Accept(1);
        await flush;
    }

    [Fact]
    public async Task AppendAsync_BufferFull_WaitsUntilABatchIsAcknowledged()
    {
        await using var h = new ProducerHarness(configure: o => { o.MaxBufferedMessages = 2; o.Linger = TimeSpan.Zero; o.MaxInFlight = 1; });

        await h.Producer.AppendAsync("1", h.Ct);
        PendingRequest first = await h.NextWithoutTimeAsync();
        await h.Producer.AppendAsync("2", h.Ct);

        ValueTask blocked = h.Producer.AppendAsync("3", h.Ct);
        Assert.False(blocked.IsCompleted);
        Assert.False(h.Producer.TryAppend("3"));
        Assert.Throws<InvalidOperationException>(() => h.Producer.Append("3"));

        first.Accept(1);
        await blocked;

        PendingRequest second = await h.NextWithoutTimeAsync();
        Assert.Equal("[2]", second.BodyText);
        second.Accept(2);
        PendingRequest third = await h.NextWithoutTimeAsync();
        Assert.Equal("[3]", third.BodyText);
        third.Accept(3);
        await h.Producer.FlushAsync(h.Ct);
    }

    [Fact]
    public async Task AppendAsync_CancelledWhileBufferFull_ThrowsOperationCanceled()
    {
        await using var h = new ProducerHarness(configure: o => { o.MaxBufferedMessages = 1; o.Linger = TimeSpan.Zero; });
        await h.Producer.AppendAsync("1", h.Ct);
        PendingRequest first = await h.NextWithoutTimeAsync();
        using var cancel = new CancellationTokenSource();

        ValueTask blocked = h.Producer.AppendAsync("2", cancel.Token);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked.AsTask());
        first.Accept(1);
        await h.Producer.FlushAsync(h.Ct);
    }

    [Fact]
    public async Task FlushAsync_BatchRejected_ThrowsAndEveryLaterCallThrowsTheSameFailure()
    {
        await using var h = new ProducerHarness();
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);
        Assert.False(flush.IsCompleted);

        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.NotFound);

        var ex = await Assert.ThrowsAsync<StreamNotFoundException>(() => flush);
        Assert.Same(ex, await Assert.ThrowsAsync<StreamNotFoundException>(() => h.Producer.AppendAsync("2", h.Ct).AsTask()));
        Assert.Same(ex, Assert.Throws<StreamNotFoundException>(() => h.Producer.Append("2")));
        Assert.Same(ex, await Assert.ThrowsAsync<StreamNotFoundException>(() => h.Producer.FlushAsync(h.Ct)));
        Assert.Same(ex, h.Producer.Failure);
        Assert.Equal([ex], h.Errors);
    }

    [Fact]
    public async Task DisposeAsync_FailureNotYetObserved_ThrowsIt()
    {
        var h = new ProducerHarness();
        h.Producer.Append("1");
        h.Time.Advance(Linger);
        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.Gone);

        await Assert.ThrowsAsync<StreamGoneException>(() => h.Producer.DisposeAsync().AsTask());
        await h.DisposeAsync();
    }

    [Fact]
    public async Task DisposeAsync_PendingMessages_FlushesWithoutClosingAndStops()
    {
        await using var h = new ProducerHarness();
        h.Producer.Append("1");

        ValueTask dispose = h.Producer.DisposeAsync();
        PendingRequest request = await h.NextWithoutTimeAsync();
        Assert.False(request.Closes);
        Assert.False(dispose.IsCompleted);
        request.Accept(1);
        await dispose;

        Assert.Throws<ObjectDisposedException>(() => h.Producer.Append("2"));
        Assert.Equal(1, h.Handler.Count);
    }

    [Fact]
    public async Task DetachAsync_PendingMessages_FlushesWithoutClosing()
    {
        await using var h = new ProducerHarness("text/plain");
        h.Producer.Append("a");

        Task detach = h.Producer.DetachAsync(h.Ct);
        PendingRequest request = await h.NextWithoutTimeAsync();
        Assert.False(request.Closes);
        request.Accept(1);
        await detach;

        Assert.Throws<ObjectDisposedException>(() => h.Producer.Append("b"));
    }

    [Fact]
    public async Task CloseAsync_FinalMessage_FlushesThenClosesWithNextSequenceOnce()
    {
        await using var h = new ProducerHarness();
        h.Producer.Append("1");

        Task<CloseResult> close = h.Producer.CloseAsync("\"bye\"", h.Ct);
        PendingRequest data = await h.NextWithoutTimeAsync();
        Assert.False(data.Closes);
        Assert.Equal("[1]", data.BodyText);
        data.Accept(1);

        PendingRequest closing = await h.NextWithoutTimeAsync();
        Assert.True(closing.Closes);
        Assert.Equal("[\"bye\"]", closing.BodyText);
        Assert.Equal(1, closing.Seq);
        Assert.Equal("producer-1", closing.Headers["Producer-Id"]);
        closing.Respond(HttpStatusCode.OK, ("Stream-Next-Offset", PendingRequest.Offset(2)), ("Stream-Closed", "true"));

        CloseResult result = await close;
        CloseResult again = await h.Producer.CloseAsync("\"other\"", h.Ct);
        Assert.Same(result, again);
        Assert.Equal(new Offset(PendingRequest.Offset(2)), result.FinalOffset);
        Assert.Equal(2, h.Handler.Count);
        Assert.Throws<InvalidOperationException>(() => h.Producer.Append("2"));
    }

    [Fact]
    public async Task CloseAsync_NoFinalMessage_SendsEmptyBodyWithProducerHeaders()
    {
        await using var h = new ProducerHarness();

        Task<CloseResult> close = h.Producer.CloseAsync(h.Ct);
        PendingRequest closing = await h.NextWithoutTimeAsync();

        Assert.True(closing.Closes);
        Assert.Empty(closing.Body);
        Assert.Equal(0, closing.Seq);
        Assert.Equal(0, closing.Epoch);
        closing.Respond(HttpStatusCode.NoContent, ("Stream-Next-Offset", PendingRequest.Offset(0)), ("Stream-Closed", "true"));
        Assert.Equal(new Offset(PendingRequest.Offset(0)), (await close).FinalOffset);
    }

    [Fact]
    public async Task FlushAsync_StreamClosedConflict_ThrowsStreamClosedWithFinalOffset()
    {
        await using var h = new ProducerHarness();
        var ex = await FlushOneAnsweredAsync<StreamClosedException>(h, HttpStatusCode.Conflict, ("Stream-Closed", "true"), ("Stream-Next-Offset", PendingRequest.Offset(9)));
        Assert.Equal(new Offset(PendingRequest.Offset(9)), ex.FinalOffset);
    }

    [Fact]
    public async Task FlushAsync_StaleEpochWithoutAutoClaim_ThrowsWithServerEpoch()
    {
        await using var h = new ProducerHarness(configure: o => o.Epoch = 2);
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);

        PendingRequest request = await h.NextWithoutTimeAsync();
        Assert.Equal(2, request.Epoch);
        request.Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "7"));

        var ex = await Assert.ThrowsAsync<StaleEpochException>(() => flush);
        Assert.Equal(7, ex.CurrentEpoch);
        Assert.Equal(403, ex.Status);
        Assert.Equal(DurableStreamErrorCodes.StaleEpoch, ex.ErrorCode);
        Assert.Equal(1, h.Handler.Count);
    }

    [Fact]
    public async Task FlushAsync_DuplicateAnswerToAFirstAttempt_ThrowsInsteadOfDroppingTheBatch()
    {
        // A restarted producer reusing its old epoch: the server already holds (0, 0) from the old run.
        await using var h = new ProducerHarness();
        h.Producer.Append("7");
        Task flush = h.Producer.FlushAsync(h.Ct);

        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.NoContent, ("Producer-Epoch", "0"), ("Producer-Seq", "3"));

        var ex = await Assert.ThrowsAsync<StaleEpochException>(() => flush);
        Assert.Equal(0, ex.CurrentEpoch);
        Assert.Equal(204, ex.Status);
        Assert.Contains("higher ProducerOptions.Epoch", ex.Message, StringComparison.Ordinal);
        Assert.Null(h.Producer.LastAcknowledgedOffset);
    }

    [Fact]
    public async Task FlushAsync_DuplicateAnswerToAFirstAttemptWithAutoClaim_ClaimsTheNextEpochAndResends()
    {
        await using var h = new ProducerHarness(configure: o => { o.AutoClaim = true; o.Epoch = 4; });
        h.Producer.Append("7");
        Task flush = h.Producer.FlushAsync(h.Ct);

        PendingRequest first = await h.NextWithoutTimeAsync();
        Assert.Equal((4L, 0L), (first.Epoch, first.Seq));
        first.Respond(HttpStatusCode.NoContent, ("Producer-Epoch", "4"), ("Producer-Seq", "9"));

        PendingRequest claim = await h.NextWithoutTimeAsync();
        Assert.Equal((5L, 0L, "[7]"), (claim.Epoch, claim.Seq, claim.BodyText));
        claim.Accept(1);

        await flush;
        Assert.Equal(5, h.Producer.Epoch);
    }

    [Fact]
    public async Task FlushAsync_DuplicateAnswerToARetryAfterADroppedAttempt_IsSuccess()
    {
        await using var h = new ProducerHarness();
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);

        (await h.NextWithoutTimeAsync()).Drop();
        PendingRequest retry = await h.NextAsync(); // advances fake time through the backoff
        Assert.Equal((0L, 0L), (retry.Epoch, retry.Seq));
        retry.Respond(HttpStatusCode.NoContent, ("Stream-Next-Offset", PendingRequest.Offset(1)), ("Producer-Epoch", "0"), ("Producer-Seq", "0"));

        await flush;
        Assert.Equal(0, h.Producer.Epoch);
        Assert.Equal(2, h.Handler.Count);
    }

    [Fact]
    public async Task FlushAsync_StaleEpochWithAutoClaim_ClaimsServerEpochPlusOneAndResendsFromSeqZero()
    {
        await using var h = new ProducerHarness(configure: o => { o.AutoClaim = true; o.MaxBatchItems = 1; o.MaxInFlight = 3; });
        for (int i = 0; i < 4; i++)
        {
            h.Producer.Append(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Task flush = h.Producer.FlushAsync(h.Ct);

        // Until the epoch is confirmed only the first batch is in flight.
        PendingRequest first = await h.NextWithoutTimeAsync();
        Assert.Equal((0L, 0L), (first.Epoch, first.Seq));
        Assert.Equal(1, h.Producer.InFlightCount);
        first.Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "5"));

        PendingRequest claim = await h.NextWithoutTimeAsync();
        Assert.Equal((6L, 0L), (claim.Epoch, claim.Seq));
        Assert.Equal("[0]", claim.BodyText);
        claim.Accept(1);

        var rest = new List<PendingRequest>();
        for (int i = 0; i < 3; i++)
        {
            rest.Add(await h.NextWithoutTimeAsync());
        }

        Assert.Equal([(6L, 1L, "[1]"), (6L, 2L, "[2]"), (6L, 3L, "[3]")], rest.OrderBy(r => r.Seq).Select(r => (r.Epoch, r.Seq, r.BodyText)));
        foreach (PendingRequest request in rest)
        {
            request.Accept(request.Seq + 1);
        }

        await flush;
        Assert.Equal(6, h.Producer.Epoch);
        Assert.Equal(4, h.Producer.NextSequence);
    }

    [Fact]
    public async Task FlushAsync_FencedWithSeveralBatchesInFlight_ClaimsOnceAndRenumbersThemInOrder()
    {
        await using var h = new ProducerHarness(configure: o => { o.AutoClaim = true; o.MaxBatchItems = 1; o.MaxInFlight = 3; });
        (Task flush, PendingRequest[] old) = await h.ConfirmEpochThenPipelineAsync("1", "2", "3");
        Assert.Equal([1L, 2L, 3L], old.Select(r => r.Seq));

        // Another instance took epoch 1: every in-flight request of epoch 0 is refused.
        old[1].Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "1"));
        old[0].Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "1"));
        Assert.False(h.Handler.TryNext(out _)); // the claim waits for the last old request
        old[2].Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "1"));

        // Epoch 2 starts with seq 0 alone, then the rest follow in order.
        PendingRequest first = await h.NextWithoutTimeAsync();
        Assert.Equal((2L, 0L, "[1]"), (first.Epoch, first.Seq, first.BodyText));
        Assert.False(h.Handler.TryNext(out _));
        first.Accept(2);
        var rest = new List<PendingRequest> { await h.NextWithoutTimeAsync(), await h.NextWithoutTimeAsync() };
        Assert.Equal([(2L, 1L, "[2]"), (2L, 2L, "[3]")], rest.OrderBy(r => r.Seq).Select(r => (r.Epoch, r.Seq, r.BodyText)));
        rest.ForEach(r => r.Accept(r.Seq + 2));

        await flush;
        Assert.Equal(7, h.Handler.Count);
        Assert.Equal(2, h.Producer.Epoch);
    }

    [Fact]
    public async Task FlushAsync_FencedWhileABatchOutcomeIsUnknown_FailsInsteadOfRiskingADuplicate()
    {
        await using var h = new ProducerHarness(configure: o =>
        {
            o.AutoClaim = true;
            o.MaxBatchItems = 1;
            o.MaxInFlight = 2;
            o.Retry = new RetryOptions(maxRetries: 3, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), jitter: false);
        });
        (Task flush, PendingRequest[] inFlight) = await h.ConfirmEpochThenPipelineAsync("1", "2");
        (PendingRequest seq1, PendingRequest seq2) = (inFlight[0], inFlight[1]);

        seq1.Drop(); // may or may not be stored; its retry waits 10 s of fake time
        seq2.Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "1"));

        var ex = await Assert.ThrowsAsync<StaleEpochException>(() => flush);
        Assert.Equal(1, ex.CurrentEpoch);
        Assert.Contains("unknown", ex.Message, StringComparison.Ordinal);
        Assert.Equal(3, h.Handler.Count);
    }

    [Fact]
    public async Task Append_HandleWithoutContentType_LearnsItWithHeadAndSendsBytesLayout()
    {
        var handler = new ScriptedHandler();
        using var client = new DurableStreamClient(new HttpClient(handler));
        await using IdempotentProducer producer = client.GetStream(ProducerHarness.StreamUrl).CreateProducer("p");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        producer.Append("a,");
        producer.Append("[b]");
        Task flush = producer.FlushAsync(timeout.Token);

        PendingRequest head = await handler.NextAsync(timeout.Token);
        Assert.Equal(HttpMethod.Head, head.Method);
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        response.Content.Headers.TryAddWithoutValidation("Content-Type", "text/plain");
        response.Headers.TryAddWithoutValidation("Stream-Next-Offset", PendingRequest.Offset(0));
        head.RespondWith(response);

        PendingRequest post = await handler.NextAsync(timeout.Token);
        Assert.Equal("a,[b]", post.BodyText);
        Assert.Equal("text/plain", post.Headers["Content-Type"]);
        post.Accept(5);
        await flush;
    }

    [Fact]
    public async Task FlushAsync_AutoClaimedEpochFencedAgain_ThrowsStaleEpoch()
    {
        await using var h = new ProducerHarness(configure: o => o.AutoClaim = true);
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);

        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "1"));
        PendingRequest claim = await h.NextWithoutTimeAsync();
        Assert.Equal(2, claim.Epoch);
        claim.Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "3"));

        var ex = await Assert.ThrowsAsync<StaleEpochException>(() => flush);
        Assert.Equal(3, ex.CurrentEpoch);
        Assert.Equal(2, h.Handler.Count);
    }

    [Fact]
    public async Task FlushAsync_PipelinedBatchOvertakesEarlierOne_WaitsForItThenResendsSameSeq()
    {
        await using var h = new ProducerHarness(configure: o => { o.MaxBatchItems = 1; o.MaxInFlight = 3; });
        (Task flush, PendingRequest[] inFlight) = await h.ConfirmEpochThenPipelineAsync("1", "2");
        (PendingRequest seq1, PendingRequest seq2) = (inFlight[0], inFlight[1]);

        // seq 2 reached the server first.
        seq2.Respond(HttpStatusCode.Conflict, ("Producer-Expected-Seq", "1"), ("Producer-Received-Seq", "2"));
        Assert.False(h.Handler.TryNext(out _));
        seq1.Accept(2);

        PendingRequest resent = await h.NextWithoutTimeAsync();
        Assert.Equal((0L, 2L, "[2]"), (resent.Epoch, resent.Seq, resent.BodyText));
        resent.Accept(3);
        await flush;
        Assert.Equal(new Offset(PendingRequest.Offset(3)), h.Producer.LastAcknowledgedOffset);
    }

    [Fact]
    public async Task FlushAsync_GapResponseArrivesAfterEarlierBatchCompleted_StillResends()
    {
        await using var h = new ProducerHarness(configure: o => { o.MaxBatchItems = 1; o.MaxInFlight = 3; });
        (Task flush, PendingRequest[] inFlight) = await h.ConfirmEpochThenPipelineAsync("1", "2");
        (PendingRequest seq1, PendingRequest seq2) = (inFlight[0], inFlight[1]);

        // The earlier batch's acknowledgement is recorded before anyone waits for it.
        seq1.Accept(2);
        seq2.Respond(HttpStatusCode.Conflict, ("Producer-Expected-Seq", "1"), ("Producer-Received-Seq", "2"));

        PendingRequest resent = await h.NextWithoutTimeAsync();
        Assert.Equal(2, resent.Seq);
        resent.Accept(3);
        await flush;
    }

    [Fact]
    public async Task FlushAsync_RealSequenceGap_ThrowsSequenceGapWithExpectedAndReceived()
    {
        await using var h = new ProducerHarness();
        var ex = await FlushOneAnsweredAsync<SequenceGapException>(h, HttpStatusCode.Conflict, ("Producer-Expected-Seq", "4"), ("Producer-Received-Seq", "0"));
        Assert.Equal(4, ex.ExpectedSequence);
        Assert.Equal(0, ex.ReceivedSequence);
        Assert.Equal(ConflictReason.SequenceConflict, ex.Reason);
        Assert.Equal(DurableStreamErrorCodes.SequenceConflict, ex.ErrorCode);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(429)]
    public async Task FlushAsync_TransientStatus_ResendsSameEpochSeqAndBody(int status)
    {
        await using var h = new ProducerHarness();
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);

        PendingRequest first = await h.NextWithoutTimeAsync();
        first.Respond((HttpStatusCode)status);
        PendingRequest retry = await h.NextAsync();

        Assert.Equal((first.Epoch, first.Seq, first.BodyText), (retry.Epoch, retry.Seq, retry.BodyText));
        retry.Accept(1);
        await flush;
    }

    [Fact]
    public async Task FlushAsync_ConnectionDropped_ResendsSameEpochSeqAndBody()
    {
        await using var h = new ProducerHarness(configure: o => { o.MaxBatchItems = 1; o.MaxInFlight = 2; });
        (Task flush, PendingRequest[] inFlight) = await h.ConfirmEpochThenPipelineAsync("1", "2");
        (PendingRequest seq1, PendingRequest seq2) = (inFlight[0], inFlight[1]);

        seq1.Drop();
        seq2.Accept(3);
        PendingRequest retry = await h.NextAsync();
        Assert.Equal((0L, 1L, "[1]"), (retry.Epoch, retry.Seq, retry.BodyText));
        retry.Respond(HttpStatusCode.NoContent, ("Stream-Next-Offset", PendingRequest.Offset(3)));

        await flush;
        Assert.Equal(new Offset(PendingRequest.Offset(3)), h.Producer.LastAcknowledgedOffset);
    }

    [Fact]
    public async Task FlushAsync_RetriesExhausted_ThrowsNetworkErrorAndSendsNothingMore()
    {
        await using var h = new ProducerHarness(configure: o => o.Retry = new RetryOptions(maxRetries: 2, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10), jitter: false));
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);

        (await h.NextWithoutTimeAsync()).Drop();
        (await h.NextAsync()).Drop();
        (await h.NextAsync()).Drop();

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => flush);
        Assert.Equal(DurableStreamErrorCodes.NetworkError, ex.ErrorCode);
        Assert.IsNotType<AppendOutcomeUnknownException>(ex);
        Assert.Equal(3, h.Handler.Count);
        Assert.Single(h.Errors);
    }

    [Fact]
    public async Task LastAcknowledgedOffset_ResponsesOutOfOrder_NeverMovesBackwards()
    {
        await using var h = new ProducerHarness(configure: o => { o.MaxBatchItems = 1; o.MaxInFlight = 2; });
        (Task flush, PendingRequest[] inFlight) = await h.ConfirmEpochThenPipelineAsync("1", "2");
        (PendingRequest seq1, PendingRequest seq2) = (inFlight[0], inFlight[1]);

        h.Producer.Append("3");

        // Both slots are taken: seq 3 is sent only once the producer has recorded seq 2's acknowledgement.
        seq2.Accept(3);
        PendingRequest seq3 = await h.NextWithoutTimeAsync();
        Assert.Equal(new Offset(PendingRequest.Offset(3)), h.Producer.LastAcknowledgedOffset);
        seq1.Accept(2);
        await flush;

        Assert.Equal(new Offset(PendingRequest.Offset(3)), h.Producer.LastAcknowledgedOffset);
        seq3.Accept(4);
        await h.Producer.FlushAsync(h.Ct);
    }

    [Fact]
    public async Task RestartAsync_AfterStaleEpoch_StartsNextEpochAtSeqZero()
    {
        await using var h = new ProducerHarness();
        await FlushOneAnsweredAsync<StaleEpochException>(h, HttpStatusCode.Forbidden, ("Producer-Epoch", "4"));

        Assert.Equal(5, await h.Producer.RestartAsync(h.Ct));
        h.Producer.Append("2");
        Task flush = h.Producer.FlushAsync(h.Ct);
        PendingRequest request = await h.NextWithoutTimeAsync();
        Assert.Equal((5L, 0L, "[2]"), (request.Epoch, request.Seq, request.BodyText));
        request.Accept(1);
        await flush;
    }

    [Fact]
    public async Task Flush_RetryAfterBeyondMaxRetryAfter_FailsAtOnceCarryingIt()
    {
        await using var h = new ProducerHarness();
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);

        PendingRequest first = await h.NextWithoutTimeAsync();
        first.Respond(HttpStatusCode.ServiceUnavailable, ("Retry-After", "999999"));

        var ex = await Assert.ThrowsAnyAsync<DurableStreamException>(() => flush);
        Assert.Equal(503, ex.Status);
        Assert.Equal(TimeSpan.FromSeconds(999999), ex.RetryAfter);
        Assert.Equal(1, h.Handler.Count);
    }

    [Fact]
    public async Task Append_HeadersAndProvider_AreSentOnEveryAttempt()
    {
        int calls = 0;
        await using var h = new ProducerHarness(configure: o =>
        {
            o.Headers["X-Tenant"] = "t1";
            o.HeadersProvider = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["Authorization"] = $"Bearer {++calls}" });
        });
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);

        PendingRequest first = await h.NextWithoutTimeAsync();
        first.Respond(HttpStatusCode.ServiceUnavailable);
        PendingRequest retry = await h.NextAsync();
        retry.Accept(1);
        await flush;

        Assert.Equal("t1", first.Headers["X-Tenant"]);
        Assert.Equal("Bearer 1", first.Headers["Authorization"]);
        Assert.Equal("Bearer 2", retry.Headers["Authorization"]);
    }

    [Theory]
    [InlineData(nameof(ProducerOptions.Epoch))]
    [InlineData(nameof(ProducerOptions.MaxBatchBytes))]
    [InlineData(nameof(ProducerOptions.MaxBatchItems))]
    [InlineData(nameof(ProducerOptions.MaxInFlight))]
    [InlineData(nameof(ProducerOptions.MaxBufferedBytes))]
    [InlineData(nameof(ProducerOptions.MaxBufferedMessages))]
    [InlineData(nameof(ProducerOptions.Linger))]
    [InlineData(nameof(ProducerOptions.DisposeTimeout))]
    public void ProducerOptions_InvalidValue_ThrowsNamingTheOption(string option)
    {
        var options = new ProducerOptions();
        Action set = option switch
        {
            nameof(ProducerOptions.Epoch) => () => options.Epoch = -1,
            nameof(ProducerOptions.MaxBatchBytes) => () => options.MaxBatchBytes = 0,
            nameof(ProducerOptions.MaxBatchItems) => () => options.MaxBatchItems = 0,
            nameof(ProducerOptions.MaxInFlight) => () => options.MaxInFlight = -3,
            nameof(ProducerOptions.MaxBufferedBytes) => () => options.MaxBufferedBytes = 0,
            nameof(ProducerOptions.MaxBufferedMessages) => () => options.MaxBufferedMessages = 0,
            nameof(ProducerOptions.DisposeTimeout) => () => options.DisposeTimeout = TimeSpan.Zero,
            _ => () => options.Linger = TimeSpan.FromMilliseconds(-1),
        };

        var ex = Assert.Throws<ArgumentOutOfRangeException>(set);
        Assert.Equal(option, ex.ParamName);
    }

    [Fact]
    public void ProducerOptions_Defaults_AreValidAndDocumented()
    {
        var options = new ProducerOptions();
        options.Validate();

        Assert.Equal(0, options.Epoch);
        Assert.False(options.AutoClaim);
        Assert.Equal(TimeSpan.FromMilliseconds(5), options.Linger);
        Assert.Equal(1024 * 1024, options.MaxBatchBytes);
        Assert.Equal(5, options.MaxInFlight);
        Assert.True(options.MaxBufferedBytes < long.MaxValue);
        Assert.True(options.MaxBufferedMessages < int.MaxValue);
        Assert.Equal(TimeSpan.FromSeconds(30), options.DisposeTimeout);
        options.DisposeTimeout = Timeout.InfiniteTimeSpan;
        options.Validate();
    }

    [Fact]
    public void Constructor_InvalidArguments_ThrowBeforeAnyRequest()
    {
        var handler = new ScriptedHandler();
        using var client = new DurableStreamClient(new HttpClient(handler));
        DurableStream stream = client.GetStream(ProducerHarness.StreamUrl, "application/json");

        Assert.Equal("producerId", Assert.Throws<ArgumentException>(() => stream.CreateProducer("")).ParamName);
        Assert.Throws<ArgumentNullException>(() => new IdempotentProducer(stream, null!));
        var badRetry = new ProducerOptions { Retry = new RetryOptions { InitialDelay = TimeSpan.FromSeconds(20) } };
        Assert.Equal("MaxDelay", Assert.Throws<ArgumentOutOfRangeException>(() => stream.CreateProducer("p", badRetry)).ParamName);
        Assert.Equal(0, handler.Count);
    }

    /// <summary>Appends one message, answers its request as given, and returns the exception the flush then throws.</summary>
    private static async Task<TException> FlushOneAnsweredAsync<TException>(ProducerHarness h, HttpStatusCode status, params (string Name, string Value)[] headers)
        where TException : Exception
    {
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);
        (await h.NextWithoutTimeAsync()).Respond(status, headers);
        return await Assert.ThrowsAsync<TException>(() => flush);
    }
}

public sealed record Item(int N);

[JsonSerializable(typeof(Item))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class TestJson : JsonSerializerContext;
