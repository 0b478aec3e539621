using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>
/// Runs a scenario's work until the JIT has optimized it: the SDK's code starts as unoptimized
/// tier-0 code and is recompiled in the background while it runs, whereas a bare request runs the
/// framework's precompiled code from its first call (docs/benchmarks.md, round three of issue 14).
/// </summary>
internal static class JitSettling
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Repeats <paramref name="iteration"/> until the process compiled no method for a second, or
    /// <paramref name="limit"/> passed; prints how long that took and returns whether it settled.
    /// </summary>
    public static async Task<bool> RunUntilSettledAsync(Func<Task> iteration, TimeSpan limit)
    {
        var elapsed = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        long compiled = JitInfo.GetCompiledMethodCount();
        int iterations = 0;
        while (quiet.Elapsed < Quiet && elapsed.Elapsed < limit)
        {
            await iteration();
            iterations++;
            long now = JitInfo.GetCompiledMethodCount();
            if (now != compiled)
            {
                compiled = now;
                quiet.Restart();
            }
        }

        bool settled = quiet.Elapsed >= Quiet;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    JIT {(settled ? "settled" : "still compiling")} after {iterations:N0} more iterations, {elapsed.Elapsed.TotalSeconds:F1} s ({compiled:N0} methods compiled in the process)"));
        return settled;
    }
}
