using System.Globalization;
using System.Net;
using System.Threading.Channels;

namespace DurableStreams.Tests.Producing;

/// <summary>Pipelining against a server that refuses batches arriving out of order.</summary>
public sealed class ProducerPipeliningTests
{
    [Fact]
    public async Task Pipelining_BatchRefusedForOvertaking_IsResentAndLaterBatchesGoOneAtATime()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var handler = new InOrderHandler(1, 3);
        using var client = new DurableStreamClient(new HttpClient(handler), new DurableStreamClientOptions());
        DurableStream stream = client.GetStream("http://streams.test/v1/stream/s", "application/json");
        await using IdempotentProducer producer = stream.CreateProducer("p", new ProducerOptions { MaxBatchItems = 1, Linger = TimeSpan.Zero });
        try
        {
            // Seq 0 confirms the epoch; then seq 1 and 2 are in flight together (seq 2 leaves once
            // seq 1's body has been read).
            producer.Append("0");
            await producer.FlushAsync(timeout.Token);
            producer.Append("1");
            producer.Append("2");

            // Seq 1 is held after its body was read, so seq 2 is processed first and is refused
            // (409, expected 1), and waits for seq 1.
            Assert.Equal(2, await handler.Refused.Reader.ReadAsync(timeout.Token));
            Assert.Equal(2, producer.InFlightCount);
            handler.Release(1);
            await producer.FlushAsync(timeout.Token);
            Assert.Equal([0, 1, 2], handler.Stored);

            // From now on one batch at a time: while seq 3 is held, seq 4 waits in the producer.
            // (Seq 3 is held so that neither can complete before the count is read.)
            producer.Append("3");
            producer.Append("4");
            Assert.Equal(1, producer.InFlightCount);
            Assert.DoesNotContain(4L, handler.Received);
            handler.Release(3);
            await producer.FlushAsync(timeout.Token);

            Assert.Equal([0, 1, 2, 3, 4], handler.Stored);
            Assert.Equal(5, producer.NextSequence);
            Assert.False(handler.Refused.Reader.TryRead(out _));
        }
        finally
        {
            // Never leave a held request hanging, or disposing the producer would wait for it.
            handler.ReleaseAll();
        }
    }

    [Fact]
    public async Task Dispatch_PreviousBodyNotYetWritten_NextBatchWaitsInTheProducer()
    {
        var handler = new BodyGateHandler(holdBodyOfSeq: 1, holdResponseOfSeq: -1);
        await WithOneMessageBatchesAsync(handler, "application/json", async (producer, ct) =>
        {
            producer.Append("0");
            await producer.FlushAsync(ct);

            // Seq 1's body is not read yet, so seq 2 stays in the producer: sent now it could reach
            // the server first and be refused after its whole upload.
            producer.Append("1");
            producer.Append("2");
            Assert.Equal(1, producer.InFlightCount);
            Assert.Equal(1, producer.PendingCount);

            handler.ReleaseBody();
            await producer.FlushAsync(ct);

            Assert.Equal(["request 0", "body 0", "request 1", "body 1", "request 2", "body 2"], handler.Events);
            Assert.Equal(0, handler.Refusals);
        });
    }

    [Fact]
    public async Task Dispatch_PreviousBodyLargerThan64KiB_NextBatchWaitsForItsResponse()
    {
        var handler = new BodyGateHandler(holdBodyOfSeq: -1, holdResponseOfSeq: 1);
        await WithOneMessageBatchesAsync(handler, "application/octet-stream", async (producer, ct) =>
        {
            producer.Append("0");
            await producer.FlushAsync(ct);

            producer.Append(new byte[(64 * 1024) + 1]);
            producer.Append("2");
            await handler.BodyRead(1).WaitAsync(ct);

            // The large body has been written in full, yet seq 2 waits for its response.
            Assert.Equal(1, producer.InFlightCount);
            Assert.Equal(1, producer.PendingCount);

            handler.ReleaseResponse();
            await producer.FlushAsync(ct);
            Assert.Equal(["request 0", "body 0", "request 1", "body 1", "response 1", "request 2", "body 2"], handler.Events);
        });
    }

    [Fact]
    public async Task Dispatch_PreviousBodyOf64KiBWritten_NextBatchIsPipelined()
    {
        var handler = new BodyGateHandler(holdBodyOfSeq: -1, holdResponseOfSeq: 1);
        await WithOneMessageBatchesAsync(handler, "application/octet-stream", async (producer, ct) =>
        {
            producer.Append("0");
            await producer.FlushAsync(ct);

            producer.Append(new byte[64 * 1024]);
            producer.Append("2");

            // Seq 2 goes while seq 1 is unanswered (without pipelining this wait would not end).
            await handler.BodyRead(2).WaitAsync(ct);
            handler.ReleaseResponse();
            await producer.FlushAsync(ct);
            Assert.Equal(["request 0", "body 0", "request 1", "body 1", "request 2", "body 2", "response 1"], handler.Events);
        });
    }

    /// <summary>
    /// Runs <paramref name="test"/> with a producer of one-message batches (no linger) on a stream
    /// served by <paramref name="handler"/>; releases whatever the handler still holds at the end, so
    /// that disposing the producer does not wait for a held request.
    /// </summary>
    private static async Task WithOneMessageBatchesAsync(BodyGateHandler handler, string contentType, Func<IdempotentProducer, CancellationToken, Task> test)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var client = new DurableStreamClient(new HttpClient(handler), new DurableStreamClientOptions());
        DurableStream stream = client.GetStream("http://streams.test/v1/stream/s", contentType);
        await using IdempotentProducer producer = stream.CreateProducer("p", new ProducerOptions { MaxBatchItems = 1, Linger = TimeSpan.Zero });
        try
        {
            await test(producer, timeout.Token);
        }
        finally
        {
            handler.ReleaseAll();
        }
    }

    /// <summary>
    /// Accepts every batch and records the order of events: a request arriving, its body read, a
    /// held response released. Holds the body of one sequence (until <see cref="ReleaseBody"/>)
    /// or the response of one (until <see cref="ReleaseResponse"/>).
    /// </summary>
    private sealed class BodyGateHandler(long holdBodyOfSeq, long holdResponseOfSeq) : HttpMessageHandler
    {
        private readonly TaskCompletionSource _body = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _response = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Dictionary<long, TaskCompletionSource> _bodyRead = [];
        private readonly object _lock = new();
        private readonly List<string> _events = [];
        private long _tail;

        public int Refusals { get; private set; }

        public string[] Events
        {
            get
            {
                lock (_lock)
                {
                    return [.. _events];
                }
            }
        }

        public Task BodyRead(long seq) => BodyReadSource(seq).Task;

        public void ReleaseBody() => _body.TrySetResult();

        public void ReleaseResponse()
        {
            Record("response " + holdResponseOfSeq.ToString(CultureInfo.InvariantCulture));
            _response.TrySetResult();
        }

        public void ReleaseAll()
        {
            _body.TrySetResult();
            _response.TrySetResult();
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            long seq = long.Parse(request.Headers.GetValues("Producer-Seq").Single(), CultureInfo.InvariantCulture);
            Record("request " + seq.ToString(CultureInfo.InvariantCulture));
            if (seq == holdBodyOfSeq)
            {
                await _body.Task.WaitAsync(cancellationToken);
            }

            // Recorded as the last byte arrives, before the producer learns that the body was written.
            long length = request.Content!.Headers.ContentLength ?? -1;
            await request.Content.CopyToAsync(new CountingStream(length, () => Record("body " + seq.ToString(CultureInfo.InvariantCulture))), cancellationToken);
            BodyReadSource(seq).TrySetResult();
            if (seq == holdResponseOfSeq)
            {
                await _response.Task.WaitAsync(cancellationToken);
            }

            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            response.Headers.TryAddWithoutValidation("Stream-Next-Offset", $"0000000000000000_{Interlocked.Increment(ref _tail):D16}");
            return response;
        }

        private void Record(string e)
        {
            lock (_lock)
            {
                _events.Add(e);
            }
        }

        /// <summary>Discards what is written and runs <paramref name="complete"/> when <paramref name="length"/> bytes have arrived.</summary>
        private sealed class CountingStream(long length, Action complete) : Stream
        {
            private long _written;

            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => _written;

            public override long Position { get => _written; set => throw new NotSupportedException(); }

            public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

            public override void Write(ReadOnlySpan<byte> buffer)
            {
                _written += buffer.Length;
                if (_written == length)
                {
                    complete();
                }
            }

            public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                Write(buffer.Span);
                return ValueTask.CompletedTask;
            }

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override void Flush()
            {
            }

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();
        }

        private TaskCompletionSource BodyReadSource(long seq)
        {
            lock (_lock)
            {
                if (!_bodyRead.TryGetValue(seq, out TaskCompletionSource? source))
                {
                    source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _bodyRead[seq] = source;
                }

                return source;
            }
        }
    }

    /// <summary>Stores batches in sequence order and refuses one that arrives early, as the reference server does; holds the given sequences until released.</summary>
    private sealed class InOrderHandler(params long[] holdSeqs) : HttpMessageHandler
    {
        private readonly Dictionary<long, TaskCompletionSource> _gates = holdSeqs.ToDictionary(seq => seq, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        private readonly object _lock = new();
        private readonly List<long> _stored = [];
        private readonly List<long> _received = [];

        public Channel<long> Refused { get; } = Channel.CreateUnbounded<long>();

        public long[] Stored
        {
            get
            {
                lock (_lock)
                {
                    return [.. _stored];
                }
            }
        }

        /// <summary>Every sequence number that reached the handler, resends included.</summary>
        public long[] Received
        {
            get
            {
                lock (_lock)
                {
                    return [.. _received];
                }
            }
        }

        public void Release(long seq) => _gates[seq].TrySetResult();

        public void ReleaseAll()
        {
            foreach (TaskCompletionSource gate in _gates.Values)
            {
                gate.TrySetResult();
            }
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            long seq = long.Parse(request.Headers.GetValues("Producer-Seq").Single(), CultureInfo.InvariantCulture);
            await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            lock (_lock)
            {
                _received.Add(seq);
            }

            if (_gates.TryGetValue(seq, out TaskCompletionSource? gate))
            {
                await gate.Task.WaitAsync(cancellationToken);
            }

            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            lock (_lock)
            {
                long expected = _stored.Count;
                if (seq > expected)
                {
                    response.StatusCode = HttpStatusCode.Conflict;
                    response.Headers.TryAddWithoutValidation("Producer-Expected-Seq", expected.ToString(CultureInfo.InvariantCulture));
                    response.Headers.TryAddWithoutValidation("Producer-Received-Seq", seq.ToString(CultureInfo.InvariantCulture));
                    Refused.Writer.TryWrite(seq);
                }
                else
                {
                    if (seq == expected)
                    {
                        _stored.Add(seq);
                    }
                    else
                    {
                        response.StatusCode = HttpStatusCode.NoContent;
                    }

                    response.Headers.TryAddWithoutValidation("Stream-Next-Offset", $"0000000000000000_{_stored.Count:D16}");
                }
            }

            response.Headers.TryAddWithoutValidation("Producer-Epoch", "0");
            response.Headers.TryAddWithoutValidation("Producer-Seq", seq.ToString(CultureInfo.InvariantCulture));
            return response;
        }
    }
}
