using System.Net;
using BenchmarkDotNet.Attributes;

namespace DurableStreams.Benchmarks;

/// <summary>
/// The producer's own cost per message, in process: appends of 100-byte JSON messages through to
/// acknowledged batches, against a handler that accepts every request at once (no network, no server).
/// <c>ContentType</c> picks the batch format: a JSON array (each message checked to be one JSON value,
/// PROTOCOL.md §9.1) or plain concatenated bytes.
/// </summary>
[MemoryDiagnoser]
public class ProducerAppendBenchmarks : IDisposable
{
    private const int Messages = 10_000;
    private DurableStreamClient _client = null!;
    private DurableStream _stream = null!;
    private byte[] _message = null!;

    [Params("application/json", "application/octet-stream")]
    public string ContentType { get; set; } = "application/json";

    [GlobalSetup]
    public void Setup()
    {
        _client = new DurableStreamClient(new HttpClient(new AcceptingHandler()));
        _stream = _client.GetStream("http://bench.invalid/v1/stream/s", ContentType);
        _message = System.Text.Encoding.UTF8.GetBytes("{\"id\":1,\"pad\":\"" + new string('x', 100 - 18) + "\"}");
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _client.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task AppendAndFlush()
    {
        await using IdempotentProducer producer = _stream.CreateProducer("bench");
        for (int i = 0; i < Messages; i++)
        {
            await producer.AppendAsync(_message);
        }

        await producer.FlushAsync();
    }

    private sealed class AcceptingHandler : HttpMessageHandler
    {
        private long _tail;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await request.Content!.CopyToAsync(Stream.Null, cancellationToken);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
            response.Headers.TryAddWithoutValidation("Stream-Next-Offset", $"0000000000000000_{Interlocked.Increment(ref _tail):D16}");
            return response;
        }
    }
}
