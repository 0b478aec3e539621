using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace DurableStreams.Benchmarks.InProcess;

/// <summary>
/// The SDK's own cost per request (issue 14): one append, create, HEAD and catch-up read through the
/// SDK beside the same request made with a bare <see cref="HttpClient"/> on the same in-memory
/// handler, so that the difference is what the SDK adds (pipeline, telemetry, headers, URL, result).
/// Each category's baseline row is the bare request.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class RequestBenchmarks : IDisposable
{
    private const string Url = "http://bench.invalid/v1/stream/s";
    private const string OctetStream = "application/octet-stream";
    private static readonly MediaTypeHeaderValue OctetStreamType = new(OctetStream);
    private readonly byte[] _payload = Filled(100);
    private DurableStreamClient _client = null!;
    private HttpClient _bare = null!;
    private DurableStream _stream = null!;
    private CreateOptions _create = null!;

    /// <summary>
    /// Whether the handler answers asynchronously, as a socket does: then every async method on the
    /// way suspends and allocates its state machine, which a synchronous in-memory answer hides.
    /// </summary>
    [Params(false, true)]
    public bool Yield { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // latency-read of the official benchmark reads a 10 KiB octet stream from the start.
        HttpMessageHandler handler = new CannedStreamHandler(OctetStream, catchUpBody: Filled(10 * 1024));
        if (Yield)
        {
            handler = new YieldingHandler(handler);
        }

        _client = new DurableStreamClient(new HttpClient(handler), disposeHttpClient: true);
        _bare = new HttpClient(handler, disposeHandler: false);
        _stream = _client.GetStream(Url, OctetStream);
        _create = new CreateOptions { Url = Url, ContentType = OctetStream };
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _client.Dispose();
        _bare.Dispose();
        GC.SuppressFinalize(this);
    }

    [BenchmarkCategory("append"), Benchmark(Baseline = true, Description = "bare POST")]
    public async Task<bool> BareAppend()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Url) { Content = new ByteArrayContent(_payload) };
        request.Content.Headers.ContentType = OctetStreamType;
        using HttpResponseMessage response = await _bare.SendAsync(request);
        return response.Headers.Contains("Stream-Next-Offset");
    }

    [BenchmarkCategory("append"), Benchmark(Description = "AppendAsync(byte[])")]
    public async Task<AppendResult> Append() => await _stream.AppendAsync(_payload);

    [BenchmarkCategory("create"), Benchmark(Baseline = true, Description = "bare PUT")]
    public async Task<bool> BareCreate()
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, Url) { Content = new ByteArrayContent([]) };
        request.Content.Headers.ContentType = OctetStreamType;
        using HttpResponseMessage response = await _bare.SendAsync(request);
        return response.Headers.Contains("Stream-Next-Offset");
    }

    [BenchmarkCategory("create"), Benchmark(Description = "CreateStreamAsync")]
    public async Task<CreateStreamResult> Create() => await _client.CreateStreamAsync(_create);

    [BenchmarkCategory("head"), Benchmark(Baseline = true, Description = "bare HEAD")]
    public async Task<bool> BareHead()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, Url);
        using HttpResponseMessage response = await _bare.SendAsync(request);
        return response.Headers.Contains("Stream-Next-Offset");
    }

    [BenchmarkCategory("head"), Benchmark(Description = "HeadAsync")]
    public async Task<StreamMetadata> Head() => await _stream.HeadAsync();

    [BenchmarkCategory("read"), Benchmark(Baseline = true, Description = "bare GET, body as byte[]")]
    public async Task<int> BareRead()
    {
        using HttpResponseMessage response = await _bare.GetAsync($"{Url}?offset=-1");
        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    [BenchmarkCategory("read"), Benchmark(Description = "ReadAllBytesAsync (10 KiB)")]
    public async Task<int> ReadAllBytes() => (await _stream.ReadAllBytesAsync()).Length;

    [BenchmarkCategory("read"), Benchmark(Description = "ReadAsync, one page (10 KiB)")]
    public async Task<int> ReadPage()
    {
        int bytes = 0;
        await foreach (StreamChunk chunk in _stream.ReadAsync())
        {
            bytes += chunk.Data.Length;
        }

        return bytes;
    }

    /// <summary>Completes every response asynchronously (after a yield to the thread pool).</summary>
    private sealed class YieldingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return await base.SendAsync(request, cancellationToken);
        }
    }

    private static byte[] Filled(int length)
    {
        byte[] bytes = new byte[length];
        Array.Fill(bytes, (byte)'*');
        return bytes;
    }
}
