using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace DurableStreams.Benchmarks.InProcess;

/// <summary>
/// The time ratios of <see cref="SseReadBenchmarks"/> measured so that they hold from run to run:
/// its read methods alternate within one process (one short batch of reads of each per round, the
/// order rotating every round), and the ratio to the minimal loop is taken per round, from batches
/// run a few milliseconds apart. BenchmarkDotNet measures one method after the other, seconds
/// apart; on a shared machine whose speed drifts by up to 1.5x over seconds that moved its ratio by
/// up to 2x between runs of one build (docs/benchmarks.md, issue 14).
/// </summary>
internal static class SseRatioProbe
{
    /// <summary>The least warm-up, and the rounds in a row without new JIT compilations that end it.</summary>
    private const int WarmupRounds = 10;

    /// <summary>The longest warm-up (the JIT may never go quiet if something keeps compiling).</summary>
    private static readonly TimeSpan MaxWarmup = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(IReadOnlyList<string> kinds, IReadOnlyList<int> eventSizes, int rounds, string? only = null)
    {
        Console.WriteLine("SSE read, 1 MiB of payload per read; time per read and its ratio to the minimal loop, per round:");
        Console.WriteLine("median over the rounds after warm-up, [lowest - highest round].");
        foreach (string kind in kinds)
        {
            foreach (int eventBytes in eventSizes)
            {
                await RunAsync(kind, eventBytes, rounds, only).ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static async Task RunAsync(string kind, int eventBytes, int rounds, string? only)
    {
        var bench = new SseReadBenchmarks { Kind = kind, EventBytes = eventBytes };
        bench.Setup();
        try
        {
            (string Name, Func<Task<long>> Run)[] methods =
            [
                ("minimal loop", bench.Baseline),
                ("+ control events parsed", bench.BaselineWithControl),
                ("+ control fields as bytes", bench.BaselineFloor),
                .. kind == "json" ? [("  + JSON framed (Utf8JsonReader)", bench.BaselineFloorJsonFramed)] : Array.Empty<(string, Func<Task<long>>)>(),
                ("ReadAsync (chunks)", bench.Chunks),
                ("typed reader", bench.Typed),
            ];

            if (only is not null)
            {
                // For a profiler: one method alone (its name's first word, e.g. "ReadAsync"), the minimal loop kept as the reference.
                methods = [methods[0], .. methods.Skip(1).Where(m => m.Name.StartsWith(only, StringComparison.OrdinalIgnoreCase))];
            }

            int reads = 5;

            var times = new List<double>[methods.Length];
            var ratios = new List<double>[methods.Length];
            for (int m = 0; m < methods.Length; m++)
            {
                times[m] = [];
                ratios[m] = [];
            }

            double[] round = new double[methods.Length];
            double fastest = double.MaxValue;
            // Warm-up lasts until the JIT has compiled nothing new for WarmupRounds rounds in a row
            // (at least WarmupRounds rounds): tier-0 code, dynamic PGO's instrumented code and the
            // final code run at very different speeds, and on a loaded machine the last methods
            // were measured to reach tier 1 only after several seconds (docs/benchmarks.md).
            long warmupStart = Stopwatch.GetTimestamp();
            long compiled = -1;
            int quietRounds = 0;
            int warmupRounds = 0;
            while ((warmupRounds < WarmupRounds || quietRounds < WarmupRounds) && Stopwatch.GetElapsedTime(warmupStart) < MaxWarmup)
            {
                await RoundAsync(methods, round, warmupRounds++, reads).ConfigureAwait(false);
                long now = JitInfo.GetCompiledMethodCount();
                quietRounds = now == compiled ? quietRounds + 1 : 0;
                compiled = now;

                // Batches of about 40 ms of the minimal loop, sized on the fastest recent round.
                fastest = quietRounds == 0 ? round[0] : Math.Min(fastest, round[0]);
                reads = Math.Clamp((int)(40_000 / fastest), 5, 500);
            }

            TimeSpan warmup = Stopwatch.GetElapsedTime(warmupStart);
            for (int r = 0; r < rounds; r++)
            {
                await RoundAsync(methods, round, r, reads).ConfigureAwait(false);
                for (int m = 0; m < methods.Length; m++)
                {
                    times[m].Add(round[m]);
                    ratios[m].Add(round[m] / round[0]);
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind}, {eventBytes} B events ({rounds} rounds of {reads} reads of each, after {warmupRounds} rounds of warm-up in {warmup.TotalSeconds:F1} s):"));
            for (int m = 0; m < methods.Length; m++)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {methods[m].Name,-26} {Median(times[m]),9:F1} us  x{Median(ratios[m]):F2} [{ratios[m].Min():F2} - {ratios[m].Max():F2}]"));
            }
        }
        finally
        {
            bench.Dispose();
        }
    }

    /// <summary>One batch of each method, the order rotating with the round; the time per read of each into <paramref name="round"/>.</summary>
    private static async Task RoundAsync((string Name, Func<Task<long>> Run)[] methods, double[] round, int index, int reads)
    {
        for (int k = 0; k < methods.Length; k++)
        {
            int m = (k + index) % methods.Length;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < reads; i++)
            {
                await methods[m].Run().ConfigureAwait(false);
            }

            round[m] = Stopwatch.GetElapsedTime(start).TotalMicroseconds / reads;
        }
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values.Order()];
        int middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
