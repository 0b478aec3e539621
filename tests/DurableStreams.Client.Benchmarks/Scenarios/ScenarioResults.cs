using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>Whether a bigger value is better (throughput), a smaller one (latency), or an absolute limit applies (memory).</summary>
internal enum Goal
{
    /// <summary>Latency: the SDK within 10 % of the baseline.</summary>
    Latency,

    /// <summary>Throughput: the SDK at 90 % of the baseline or better.</summary>
    Throughput,

    /// <summary>Memory per idle reader: at most 100 KB.</summary>
    MemoryPerReader,

    /// <summary>Shown for information, no target (e.g. latency while the JIT is still compiling).</summary>
    Informational,
}

/// <summary>One row: the SDK's number beside the bare-HttpClient baseline's, or the reason a side failed.</summary>
internal sealed record ScenarioRow(string Scenario, string Metric, string Unit, Goal Goal, double? Sdk, double? Baseline, string? Error = null)
{
    public const double MemoryLimitKb = 100;

    /// <summary>SDK / baseline.</summary>
    public double? Ratio => Sdk is { } s && Baseline is { } b && b > 0 ? s / b : null;

    public string Target => Goal switch
    {
        Goal.Latency => "<= 110 % of baseline",
        Goal.Throughput => ">= 90 % of baseline",
        Goal.Informational => "(none)",
        _ => $"<= {MemoryLimitKb:F0} KB/reader",
    };

    public bool? Met => Goal switch
    {
        Goal.Latency => Ratio is { } r ? r <= 1.10 : null,
        Goal.Throughput => Ratio is { } r ? r >= 0.90 : null,
        Goal.Informational => null,
        _ => Sdk is { } s ? s <= MemoryLimitKb : null,
    };
}

/// <summary>Prints the table and writes the rows as JSON under artifacts/benchmarks.</summary>
internal static class ScenarioReport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void PrintTable(IReadOnlyList<ScenarioRow> rows)
    {
        Console.WriteLine();
        Console.WriteLine("| Scenario | Metric | SDK | Bare HttpClient | SDK / baseline | Target | Met |");
        Console.WriteLine("|---|---|---:|---:|---:|---|:---:|");
        foreach (ScenarioRow row in rows)
        {
            string met = row.Error is not null ? "error" : row.Met switch { true => "yes", false => "NO", null => "-" };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {row.Scenario} | {row.Metric} ({row.Unit}) | {Format(row.Sdk)} | {Format(row.Baseline)} | {(row.Ratio is { } r ? r.ToString("P1", CultureInfo.InvariantCulture) : "-")} | {row.Target} | {met} |"));
        }

        foreach (ScenarioRow row in rows.Where(r => r.Error is not null))
        {
            Console.WriteLine($"error in '{row.Scenario}': {row.Error}");
        }
    }

    public static string Write(IReadOnlyList<ScenarioRow> rows, bool smoke, TimeSpan elapsed)
    {
        string path = Path.Combine(Artifacts.Directory, $"scenarios-{DateTime.UtcNow:yyyyMMdd-HHmmss}{(smoke ? "-smoke" : "")}.json");
        var document = new
        {
            date = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            smoke,
            elapsedSeconds = elapsed.TotalSeconds,
            machine = new
            {
                processors = Environment.ProcessorCount,
                os = RuntimeInformation.OSDescription,
                runtime = RuntimeInformation.FrameworkDescription,
                totalMemoryBytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            },
            rows = rows.Select(r => new
            {
                scenario = r.Scenario,
                metric = r.Metric,
                unit = r.Unit,
                sdk = r.Sdk,
                baseline = r.Baseline,
                ratio = r.Ratio,
                target = r.Target,
                met = r.Met,
                error = r.Error,
            }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, Indented));
        return path;
    }

    private static string Format(double? value) => value switch
    {
        null => "-",
        >= 1000 => value.Value.ToString("N0", CultureInfo.InvariantCulture),
        >= 10 => value.Value.ToString("F1", CultureInfo.InvariantCulture),
        _ => value.Value.ToString("F3", CultureInfo.InvariantCulture),
    };
}

/// <summary>Latency samples in Stopwatch ticks.</summary>
internal sealed class Samples
{
    private readonly List<double> _milliseconds = [];

    public int Count => _milliseconds.Count;

    public void AddTicks(long ticks) => _milliseconds.Add(ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency);

    public double Percentile(double q)
    {
        if (_milliseconds.Count == 0)
        {
            throw new InvalidOperationException("No samples.");
        }

        _milliseconds.Sort();
        int index = Math.Clamp((int)Math.Ceiling(q * _milliseconds.Count) - 1, 0, _milliseconds.Count - 1);
        return _milliseconds[index];
    }
}
