using System.Text.Json;
using BenchmarkDotNet.Attributes;

namespace DurableStreams.Benchmarks.InProcess;

/// <summary>
/// JSON message flattening for <c>ReadJsonAsync&lt;T&gt;</c>, per message: a catch-up read of one
/// response holding a JSON array of 10,000 messages of 100 bytes (~1 MB), deserialized with
/// source-generated metadata. The baseline GETs the same body with a bare HttpClient and deserializes
/// it as one <c>BenchMessage[]</c>; <c>ReadAsync</c> shows the cost without deserializing.
/// </summary>
[MemoryDiagnoser]
public class JsonCatchUpBenchmarks : IDisposable
{
    private const int Messages = 10_000;
    private const string Url = "http://bench.invalid/v1/stream/s";
    private DurableStreamClient _client = null!;
    private HttpClient _bare = null!;
    private DurableStream _stream = null!;

    [GlobalSetup]
    public void Setup()
    {
        var handler = new CannedStreamHandler("application/json", catchUpBody: CannedBodies.JsonArray(Messages));
        _client = new DurableStreamClient(new HttpClient(handler), disposeHttpClient: true);
        _bare = new HttpClient(handler, disposeHandler: false);
        _stream = _client.GetStream(Url, "application/json");
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _client.Dispose();
        _bare.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages, Description = "Bare HttpClient GET + Deserialize<T[]>")]
    public async Task<int> Baseline()
    {
        using HttpResponseMessage response = await _bare.GetAsync($"{Url}?offset=-1");
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        BenchMessage[] messages = JsonSerializer.Deserialize(body, BenchJsonContext.Default.BenchMessageArray)!;
        return messages.Length;
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "ReadJsonAsync<T> (source-generated)")]
    public async Task<int> ReadJson()
    {
        int count = 0;
        await foreach (StreamItem<BenchMessage> item in _stream.ReadJsonAsync(BenchJsonContext.Default.BenchMessage))
        {
            count += item.Value.Id >= 0 ? 1 : 0;
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = Messages, Description = "ReadAllJsonAsync<T> (source-generated)")]
    public async Task<int> ReadAllJson() =>
        (await _stream.ReadAllJsonAsync(BenchJsonContext.Default.BenchMessage)).Count;

    [Benchmark(OperationsPerInvoke = Messages, Description = "ReadAsync (chunks, no deserialization)")]
    public async Task<int> Chunks()
    {
        int bytes = 0;
        await foreach (StreamChunk chunk in _stream.ReadAsync())
        {
            bytes += chunk.Data.Length;
        }

        return bytes;
    }
}
