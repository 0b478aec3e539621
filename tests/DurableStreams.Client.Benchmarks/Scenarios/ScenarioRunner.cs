using System.Diagnostics;
using System.Globalization;
using DurableStreams.Testing;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>
/// The <c>scenarios</c> command: every end-to-end scenario against the reference server, each run
/// beside a baseline that does the same HTTP work with a bare HttpClient, printed as one table and
/// written as JSON under artifacts/benchmarks.
/// </summary>
internal static class ScenarioRunner
{
    /// <param name="smoke">Tiny sizes, for CI.</param>
    /// <param name="only">Run only the scenarios whose name contains this text (e.g. "fan-out"); null runs all.</param>
    /// <param name="dotnetServer">Run against the .NET server (DurableStreamTestServer, own process) instead of the Node reference server.</param>
    public static async Task<int> RunAsync(bool smoke, string? only = null, bool dotnetServer = false)
    {
        var total = Stopwatch.StartNew();
        Console.WriteLine($"Starting the {(dotnetServer ? ".NET server (DurableStreamTestServer)" : "reference server")}...");
        await using IAsyncDisposable process = dotnetServer
            ? await DotnetServerProcess.StartAsync(TimeSpan.FromSeconds(30))
            : await ReferenceServerProcess.StartAsync();
        Uri baseUrl = process is DotnetServerProcess dotnet ? dotnet.BaseUrl : ((ReferenceServerProcess)process).BaseUrl;
        Console.WriteLine($"Server at {baseUrl}{(smoke ? " (smoke run: tiny sizes)" : "")}");
        var sizes = smoke ? ScenarioSizes.Smoke : ScenarioSizes.Full;
        var rows = new List<ScenarioRow>();
        _only = only;

        using var shared = new SharedClients(baseUrl);
        await Run(rows, "append", () => LatencyScenarios.AppendAsync(shared, sizes));
        await Run(rows, "catch-up read", () => LatencyScenarios.CatchUpAsync(shared, sizes));
        await Run(rows, "long-poll round trip", () => LatencyScenarios.RoundTripAsync(shared, sizes, LiveMode.LongPoll));
        await Run(rows, "SSE round trip", () => LatencyScenarios.RoundTripAsync(shared, sizes, LiveMode.Sse));
        await Run(rows, "producer", () => ThroughputScenarios.ProducerAsync(shared, sizes));
        await Run(rows, "catch-up read throughput", () => ThroughputScenarios.CatchUpAsync(shared, sizes));
        await Run(rows, "fan-out", () => FanOutScenario.RunAsync(baseUrl, sizes));

        total.Stop();
        ScenarioReport.PrintTable(rows);
        string path = ScenarioReport.Write(rows, smoke, total.Elapsed);
        Console.WriteLine($"results: {path}");
        Console.WriteLine($"elapsed: {total.Elapsed.TotalSeconds:F1} s");
        return rows.Any(r => r.Error is not null) ? 1 : 0;
    }

    private static string? _only;

    private static async Task Run(List<ScenarioRow> rows, string name, Func<Task<IReadOnlyList<ScenarioRow>>> scenario)
    {
        if (_only is not null && !name.Contains(_only, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {name}...");
        try
        {
            IReadOnlyList<ScenarioRow> result = await scenario();
            rows.AddRange(result);
            foreach (ScenarioRow row in result)
            {
                Console.WriteLine($"    {row.Metric}: SDK {row.Sdk?.ToString("F3", CultureInfo.InvariantCulture) ?? "-"} / baseline {row.Baseline?.ToString("F3", CultureInfo.InvariantCulture) ?? "-"} {row.Unit}{(row.Error is null ? "" : $" ({row.Error})")}");
            }
        }
        catch (Exception ex)
        {
            Console.WriteLine($"    failed: {ex}");
            rows.Add(new ScenarioRow(name, "(scenario failed)", "-", Goal.Latency, null, null, $"{ex.GetType().Name}: {ex.Message}"));
        }
    }
}

/// <summary>How big each scenario is: the full run, or the tiny smoke run for CI.</summary>
internal sealed record ScenarioSizes(
    int LatencySamples,
    int RoundTripSamples,
    int CatchUpMessages,
    int ProducerSmallMessages,
    int ProducerLargeMessages,
    int ThroughputMessages,
    int ThroughputRounds,
    int FanOutReaders,
    int FanOutAppends,
    int Rounds,
    TimeSpan JitSettleLimit)
{
    public static ScenarioSizes Full { get; } = new(
        LatencySamples: 2_000, RoundTripSamples: 400, CatchUpMessages: 100, ProducerSmallMessages: 1_000_000,
        ProducerLargeMessages: 50, ThroughputMessages: 100_000, ThroughputRounds: 25, FanOutReaders: 1_000, FanOutAppends: 20, Rounds: 2,
        JitSettleLimit: TimeSpan.FromSeconds(30));

    public static ScenarioSizes Smoke { get; } = new(
        LatencySamples: 40, RoundTripSamples: 10, CatchUpMessages: 100, ProducerSmallMessages: 10_000,
        ProducerLargeMessages: 3, ThroughputMessages: 2_000, ThroughputRounds: 1, FanOutReaders: 20, FanOutAppends: 3, Rounds: 1,
        JitSettleLimit: TimeSpan.Zero);
}

/// <summary>
/// One connection pool for the SDK and the baseline alike (so both pay the same for sockets): a
/// <see cref="SocketsHttpHandler"/> without decompression, no client timeout, and a
/// <see cref="DurableStreamClient"/> borrowing it.
/// </summary>
internal sealed class SharedClients : IDisposable
{
    public SharedClients(Uri baseUrl)
    {
        BaseUrl = baseUrl;
        Http = CreateHttpClient();
        Client = new DurableStreamClient(Http, new DurableStreamClientOptions { BaseAddress = baseUrl });
    }

    public Uri BaseUrl { get; }

    public HttpClient Http { get; }

    public DurableStreamClient Client { get; }

    /// <summary>The hand-tuned bare client: pooled connections, no decompression, no timeout (live reads wait).</summary>
    public static HttpClient CreateHttpClient() =>
        new(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan, UseCookies = false, UseProxy = false })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

    public void Dispose()
    {
        Client.Dispose();
        Http.Dispose();
    }
}
