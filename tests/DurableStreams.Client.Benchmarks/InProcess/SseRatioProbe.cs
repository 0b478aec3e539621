using System.Diagnostics;
using System.Globalization;

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
    /// <summary>Rounds run before the ones that count (tier-0 code, dynamic PGO and tier-up).</summary>
    private const int WarmupRounds = 10;

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
            for (int r = 0; r < WarmupRounds + rounds; r++)
            {
                for (int k = 0; k < methods.Length; k++)
                {
                    int m = (k + r) % methods.Length;
                    long start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < reads; i++)
                    {
                        await methods[m].Run().ConfigureAwait(false);
                    }

                    round[m] = Stopwatch.GetElapsedTime(start).TotalMicroseconds / reads;
                }

                if (r < WarmupRounds)
                {
                    // Batches of about 40 ms of the minimal loop, sized on the fastest warm-up round.
                    fastest = r < WarmupRounds / 2 ? double.MaxValue : Math.Min(fastest, round[0]);
                    reads = r < WarmupRounds / 2 ? reads : Math.Clamp((int)(40_000 / fastest), 5, 500);
                    continue;
                }

                for (int m = 0; m < methods.Length; m++)
                {
                    times[m].Add(round[m]);
                    ratios[m].Add(round[m] / round[0]);
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind}, {eventBytes} B events ({rounds} rounds of {reads} reads of each):"));
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

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values.Order()];
        int middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
