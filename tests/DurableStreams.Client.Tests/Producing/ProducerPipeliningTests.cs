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
            // Seq 0 confirms the epoch; then seq 1 and 2 are in flight together.
            producer.Append("0");
            await producer.FlushAsync(timeout.Token);
            producer.Append("1");
            producer.Append("2");
            Assert.Equal(2, producer.InFlightCount);

            // Seq 1 is held, so seq 2 arrives first and is refused (409, expected 1).
            Assert.Equal(2, await handler.Refused.Reader.ReadAsync(timeout.Token));
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
