using System.Buffers;
using System.Net;
using System.Text;

namespace DurableStreams.Tests.Producing;

/// <summary>
/// <see cref="IdempotentProducer.AppendAsync(IMemoryOwner{byte}, int, CancellationToken)"/>: the
/// producer takes the memory, sends a batch-sized message from it without copying, and disposes the
/// owner exactly once, only when no attempt can read the memory any more.
/// </summary>
public sealed class ProducerOwnershipTests
{
    // Small batches keep the messages short: a message of at least MaxBatchBytes is sent from the owner's memory.
    private const int BatchBytes = 8;

    [Fact]
    public async Task AppendAsync_OwnedMessageOfMaxBatchBytes_IsSentFromTheOwnersMemoryAndDisposedOnceAfterItsAcknowledgement()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        // Seq 0 is held, so the owned message waits in the producer (one request until the epoch is confirmed).
        h.Producer.Append("first"u8);
        PendingRequest first = await h.NextWithoutTimeAsync();
        var owner = new TrackingOwner("abcdefgh", capacity: 16);
        await h.Producer.AppendAsync(owner, BatchBytes, h.Ct);

        // Not copied: what is in the memory when the batch leaves is what is sent (callers must not do
        // this; it shows that the body is the memory itself).
        owner.Overwrite("ABCDEFGH");
        Task flush = h.Producer.FlushAsync(h.Ct);
        first.Accept(5);
        PendingRequest request = await h.NextWithoutTimeAsync();

        Assert.Equal("ABCDEFGH", request.BodyText);
        Assert.Equal(1, request.Seq);
        Assert.Equal(0, owner.Disposals);
        request.Accept(13);
        await flush;
        Assert.Equal(1, owner.Disposals);
    }

    [Fact]
    public async Task AppendAsync_BatchSizedMessageByTheCopyingOverload_CallerMayReuseTheArrayAtOnce()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        // Seq 0 is held, so the batch-sized message waits in the producer while the caller reuses its array.
        h.Producer.Append("first"u8);
        PendingRequest first = await h.NextWithoutTimeAsync();
        byte[] buffer = "abcdefgh"u8.ToArray();
        await h.Producer.AppendAsync(buffer, h.Ct);
        h.Producer.Append(buffer.AsSpan(0, BatchBytes));
        "ABCDEFGH"u8.CopyTo(buffer);

        Task flush = h.Producer.FlushAsync(h.Ct);
        first.Accept(5);
        PendingRequest second = await h.NextWithoutTimeAsync();
        Assert.Equal("abcdefgh", second.BodyText);
        second.Accept(13);
        PendingRequest third = await h.NextWithoutTimeAsync();
        Assert.Equal("abcdefgh", third.BodyText);
        third.Accept(21);
        await flush;
    }

    [Fact]
    public async Task AppendAsync_BatchSizedMessageNotOneJsonValueByTheCopyingOverload_ThrowsNamingDataAndBuffersNothing()
    {
        await using var h = new ProducerHarness("application/json", OneMessageBatches);

        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await h.Producer.AppendAsync("{not js}"u8.ToArray(), h.Ct));

        Assert.Equal("data", ex.ParamName);
        Assert.Equal(0, h.Producer.PendingCount);
        await h.Producer.FlushAsync(h.Ct);
        Assert.Equal(0, h.Handler.Count);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageOnJsonStream_IsSentAsAOneItemArray()
    {
        await using var h = new ProducerHarness("application/json", OneMessageBatches);

        var owner = new TrackingOwner("""{"a":12}""", capacity: 8);
        await h.Producer.AppendAsync(owner, BatchBytes, h.Ct);
        Task flush = h.Producer.FlushAsync(h.Ct);
        PendingRequest request = await h.NextWithoutTimeAsync();

        Assert.Equal("""[{"a":12}]""", request.BodyText);
        request.Accept(1);
        await flush;
        Assert.Equal(1, owner.Disposals);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageSmallerThanABatch_IsCopiedAndTheOwnerDisposedBeforeItReturns()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        var owner = new TrackingOwner("abc", capacity: 4);
        await h.Producer.AppendAsync(owner, 3, h.Ct);

        // Disposing poisoned the memory; the copy is what goes.
        Assert.Equal(1, owner.Disposals);
        Task flush = h.Producer.FlushAsync(h.Ct);
        PendingRequest request = await h.NextWithoutTimeAsync();
        Assert.Equal("abc", request.BodyText);
        request.Accept(3);
        await flush;
        Assert.Equal(1, owner.Disposals);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageWhoseFirstAttemptIsLost_IsResentFromTheSameMemoryAndDisposedOnceAfterwards()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        (TrackingOwner owner, Task flush) = await AppendOwnedBatchAsync(h);

        PendingRequest lost = await h.NextWithoutTimeAsync();
        lost.Drop();
        PendingRequest resent = await h.NextAsync(); // after the retry backoff (fake time)

        Assert.Equal(0, owner.Disposals);
        Assert.Equal("abcdefgh", resent.BodyText);
        Assert.Equal((lost.Epoch, lost.Seq), (resent.Epoch, resent.Seq));
        resent.Accept(8);
        await flush;
        Assert.Equal(1, owner.Disposals);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageRefusedByTheServer_OwnerDisposedOnceWhenTheBatchFails()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        (TrackingOwner owner, Task flush) = await AppendOwnedBatchAsync(h);
        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.NotFound);

        await Assert.ThrowsAsync<StreamNotFoundException>(() => flush);
        Assert.Equal(1, owner.Disposals);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageQueuedBehindAFailedBatch_OwnerDisposedOnceWhenItIsDropped()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        h.Producer.Append("first"u8);
        PendingRequest first = await h.NextWithoutTimeAsync();
        var owner = new TrackingOwner("abcdefgh", capacity: 8);
        await h.Producer.AppendAsync(owner, BatchBytes, h.Ct);
        Assert.Equal(0, owner.Disposals);

        first.Respond(HttpStatusCode.NotFound);
        await Assert.ThrowsAsync<StreamNotFoundException>(() => h.Producer.FlushAsync(h.Ct));
        Assert.Equal(1, owner.Disposals);
        Assert.Equal(1, h.Handler.Count);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageUnsentWhenDetachIsCancelled_OwnerDisposedOnceWhenTheProducerStops()
    {
        // Seq 0 is held by a connection that ignores cancellation, so nothing but the stop itself can
        // free the owned batch queued behind it.
        var handler = new HoldsEveryRequestHandler();
        using var client = new DurableStreamClient(new HttpClient(handler), new DurableStreamClientOptions());
        DurableStream stream = client.GetStream("http://streams.test/v1/stream/s", "application/octet-stream");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        IdempotentProducer producer = stream.CreateProducer("p", new ProducerOptions { MaxBatchBytes = BatchBytes, Linger = TimeSpan.Zero });
        try
        {
            producer.Append("first"u8);
            await handler.FirstArrived.Task.WaitAsync(timeout.Token);
            var owner = new TrackingOwner("abcdefgh", capacity: 8);
            await producer.AppendAsync(owner, BatchBytes, timeout.Token);

            using var cancelled = new CancellationTokenSource();
            await cancelled.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => producer.DetachAsync(cancelled.Token));

            Assert.Equal(1, owner.Disposals);
            Assert.Equal(1, handler.Count);
        }
        finally
        {
            handler.Release.TrySetResult();
            await producer.DisposeAsync();
        }
    }

    [Fact]
    public async Task AppendAsync_ResponseArrivesWhileTheBodyIsStillBeingWritten_OwnerDisposedOnlyAfterTheWriteEnds()
    {
        var handler = new AnswersBeforeBodyHandler();
        using var client = new DurableStreamClient(new HttpClient(handler), new DurableStreamClientOptions());
        DurableStream stream = client.GetStream("http://streams.test/v1/stream/s", "application/octet-stream");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using IdempotentProducer producer = stream.CreateProducer("p", new ProducerOptions { MaxBatchBytes = BatchBytes, Linger = TimeSpan.Zero });

        var owner = new TrackingOwner("abcdefgh", capacity: 8);
        await producer.AppendAsync(owner, BatchBytes, timeout.Token);
        await producer.FlushAsync(timeout.Token);

        // The batch is acknowledged, but the connection is still writing its body from the memory.
        Assert.Equal(0, owner.Disposals);
        handler.FinishBody();
        Assert.Equal("abcdefgh", Encoding.ASCII.GetString(await handler.BodyAsync().WaitAsync(timeout.Token)));
        Assert.Equal(1, owner.Disposals);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(9)]
    public async Task AppendAsync_LengthOutsideTheMemory_ThrowsNamingLengthAndDisposesTheOwner(int length)
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        var owner = new TrackingOwner("abcdefgh", capacity: 8);
        var ex = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await h.Producer.AppendAsync(owner, length, h.Ct));

        Assert.Equal("length", ex.ParamName);
        Assert.Equal(1, owner.Disposals);
        Assert.Equal(0, h.Producer.PendingCount);
        Assert.Equal(0, h.Handler.Count);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageNotOneJsonValueOnJsonStream_ThrowsNamingOwnerAndDisposesIt()
    {
        await using var h = new ProducerHarness("application/json", OneMessageBatches);

        var owner = new TrackingOwner("{not js}", capacity: 8);
        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await h.Producer.AppendAsync(owner, BatchBytes, h.Ct));

        Assert.Equal("owner", ex.ParamName);
        Assert.Equal(1, owner.Disposals);
        Assert.Equal(0, h.Producer.PendingCount);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageAfterTheProducerFailed_ThrowsTheFailureAndDisposesTheOwner()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);
        h.Producer.Append("first"u8);
        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.NotFound);
        await Assert.ThrowsAsync<StreamNotFoundException>(() => h.Producer.FlushAsync(h.Ct));

        var owner = new TrackingOwner("abcdefgh", capacity: 8);
        await Assert.ThrowsAsync<StreamNotFoundException>(async () => await h.Producer.AppendAsync(owner, BatchBytes, h.Ct));

        Assert.Equal(1, owner.Disposals);
    }

    [Fact]
    public async Task AppendAsync_OwnedMessageWaitingForRoomIsCancelled_ThrowsAndDisposesTheOwner()
    {
        await using var h = new ProducerHarness("application/octet-stream", o =>
        {
            OneMessageBatches(o);
            o.MaxBufferedMessages = 1;
        });
        h.Producer.Append("first"u8);
        PendingRequest first = await h.NextWithoutTimeAsync();

        using var cancel = new CancellationTokenSource();
        var owner = new TrackingOwner("abcdefgh", capacity: 8);
        ValueTask append = h.Producer.AppendAsync(owner, BatchBytes, cancel.Token);
        Assert.False(append.IsCompleted);
        Assert.Equal(0, owner.Disposals);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await append);
        Assert.Equal(1, owner.Disposals);
        first.Accept(5);
        await h.Producer.FlushAsync(h.Ct);
        Assert.Equal(1, h.Handler.Count);
    }

    [Fact]
    public async Task AppendAsync_OwnerWithoutLengthBindsToTheGenericOverload_ThrowsAndLeavesTheOwnerToTheCaller()
    {
        await using var h = new ProducerHarness("application/octet-stream", OneMessageBatches);

        var owner = new TrackingOwner("abcdefgh", capacity: 8);
        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await h.Producer.AppendAsync(owner, h.Ct));

        Assert.Equal("value", ex.ParamName);
        Assert.Contains("length", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, owner.Disposals);
        Assert.Equal(0, h.Producer.PendingCount);
    }

    private static void OneMessageBatches(ProducerOptions options)
    {
        options.MaxBatchBytes = BatchBytes;
        options.Linger = TimeSpan.Zero;
    }

    /// <summary>An owner over an array that counts its disposals and poisons the memory when disposed.</summary>
    /// <summary>Appends a batch-sized owned message ("abcdefgh") and starts a flush that waits for its outcome.</summary>
    private static async Task<(TrackingOwner Owner, Task Flush)> AppendOwnedBatchAsync(ProducerHarness h)
    {
        var owner = new TrackingOwner("abcdefgh", capacity: 8);
        await h.Producer.AppendAsync(owner, BatchBytes, h.Ct);
        return (owner, h.Producer.FlushAsync(h.Ct));
    }

    private sealed class TrackingOwner : IMemoryOwner<byte>
    {
        private readonly byte[] _array;
        private int _disposals;

        public TrackingOwner(string content, int capacity)
        {
            _array = new byte[capacity];
            Encoding.ASCII.GetBytes(content, _array);
        }

        public int Disposals => Volatile.Read(ref _disposals);

        public Memory<byte> Memory => _array;

        public void Overwrite(string content) => Encoding.ASCII.GetBytes(content, _array);

        public void Dispose()
        {
            Interlocked.Increment(ref _disposals);
            _array.AsSpan().Fill((byte)'#');
        }
    }

    /// <summary>Holds every request, whatever its cancellation token says, until <see cref="Release"/>; then answers 200.</summary>
    private sealed class HoldsEveryRequestHandler : HttpMessageHandler
    {
        private int _count;

        public TaskCompletionSource FirstArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Count => Volatile.Read(ref _count);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await request.Content!.ReadAsByteArrayAsync(CancellationToken.None);
            Interlocked.Increment(ref _count);
            FirstArrived.TrySetResult();
            await Release.Task;
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        }
    }

    /// <summary>
    /// Answers each POST with 200 as soon as the body starts being written, and lets the write finish
    /// only when the test says so (a server that answers early, or a connection still sending).
    /// </summary>
    private sealed class AnswersBeforeBodyHandler : HttpMessageHandler
    {
        private readonly GatedStream _sink = new();
        private Task? _write;

        /// <summary>The body, once the content has finished writing it (the producer's part included).</summary>
        public async Task<byte[]> BodyAsync()
        {
            await _write!;
            return await _sink.Written.Task;
        }

        public void FinishBody() => _sink.Gate.TrySetResult();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _write = request.Content!.CopyToAsync(_sink, CancellationToken.None);
            await _sink.Started.Task.WaitAsync(cancellationToken);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            response.Headers.TryAddWithoutValidation("Stream-Next-Offset", PendingRequest.Offset(8));
            response.Headers.TryAddWithoutValidation("Producer-Epoch", request.Headers.GetValues("Producer-Epoch").Single());
            response.Headers.TryAddWithoutValidation("Producer-Seq", request.Headers.GetValues("Producer-Seq").Single());
            return response;
        }

        protected override void Dispose(bool disposing)
        {
            _sink.Gate.TrySetResult();
            _write?.GetAwaiter().GetResult();
            base.Dispose(disposing);
        }
    }

    /// <summary>A sink whose first write blocks on <see cref="Gate"/> and reads the bytes only after it opens.</summary>
    private sealed class GatedStream : Stream
    {
        private readonly MemoryStream _bytes = new();

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<byte[]> Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _bytes.Length;

        public override long Position { get => _bytes.Position; set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Started.TrySetResult();
            await Gate.Task;
            _bytes.Write(buffer.Span);
            Written.TrySetResult(_bytes.ToArray());
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
