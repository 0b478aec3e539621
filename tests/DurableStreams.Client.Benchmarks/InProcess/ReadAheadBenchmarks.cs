using System.Net;
using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;

namespace DurableStreams.Benchmarks.InProcess;

/// <summary>
/// <see cref="ReadOptions.ReadAhead"/> on a backlog of many pages over a link with latency, per read
/// of the whole backlog: 20 catch-up pages of 100 JSON messages, each answered
/// <see cref="LinkMilliseconds"/> after it was asked for (the round trip), read by a caller that
/// spends <see cref="WorkMilliseconds"/> on each page (an awaited write somewhere else). Without the
/// request ahead each page costs the round trip plus the work; with it the next page's round trip
/// runs during the work. The baseline is a bare HttpClient loop with the same caller, one page after
/// the other. Synthetic (the delays are timers): it shows the overlap, not a network.
/// </summary>
[MemoryDiagnoser]
public class ReadAheadBenchmarks : IDisposable
{
    private const int Pages = 20;
    private const string Url = "http://bench.invalid/v1/stream/s";
    private DurableStreamClient _client = null!;
    private HttpClient _bare = null!;
    private DurableStream _stream = null!;

    /// <summary>How long the simulated link takes to answer each request.</summary>
    [Params(2)]
    public int LinkMilliseconds { get; set; }

    /// <summary>How long the caller works on each page.</summary>
    [Params(0, 2)]
    public int WorkMilliseconds { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var handler = new PagedHandler(CannedBodies.JsonArray(100), TimeSpan.FromMilliseconds(LinkMilliseconds));
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

    [Benchmark(Baseline = true, Description = "Bare HttpClient, page after page")]
    public async Task<long> Baseline()
    {
        long bytes = 0;
        string offset = "-1";
        while (true)
        {
            using HttpResponseMessage response = await _bare.GetAsync($"{Url}?offset={offset}");
            byte[] page = await response.Content.ReadAsByteArrayAsync();
            bytes += page.Length;
            await WorkAsync();
            offset = response.Headers.GetValues("Stream-Next-Offset").First();
            if (response.Headers.Contains("Stream-Up-To-Date"))
            {
                return bytes;
            }
        }
    }

    [Benchmark(Description = "ReadAsync, ReadAhead = false")]
    public Task<long> WithoutReadAhead() => ReadAsync(readAhead: false);

    [Benchmark(Description = "ReadAsync, ReadAhead = true (default)")]
    public Task<long> WithReadAhead() => ReadAsync(readAhead: true);

    private async Task<long> ReadAsync(bool readAhead)
    {
        long bytes = 0;
        await foreach (StreamChunk chunk in _stream.ReadAsync(new ReadOptions { ReadAhead = readAhead }))
        {
            bytes += chunk.Data.Length;
            await WorkAsync();
        }

        return bytes;
    }

    private Task WorkAsync() => WorkMilliseconds == 0 ? Task.CompletedTask : Task.Delay(WorkMilliseconds);

    /// <summary>Answers page <c>i</c> of <see cref="Pages"/> (the same body each time) after the link's delay; the last one is up to date.</summary>
    private sealed class PagedHandler(byte[] page, TimeSpan link) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Delay(link, cancellationToken).ConfigureAwait(false);
            string query = request.RequestUri!.Query;
            int at = query.IndexOf("offset=", StringComparison.Ordinal) + "offset=".Length;
            string offset = query[at..].Split('&')[0];
            int index = offset == "-1" ? 0 : int.Parse(offset.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture);
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(page) };
            response.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            response.Headers.TryAddWithoutValidation("Stream-Next-Offset", $"0000_{index + 1:D4}");
            if (index + 1 == Pages)
            {
                response.Headers.TryAddWithoutValidation("Stream-Up-To-Date", "true");
            }

            return response;
        }
    }
}
