using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using DurableStreams.Benchmarks;
using DurableStreams.Benchmarks.InProcess;
using DurableStreams.Benchmarks.Scenarios;

// Four modes:
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- scenarios [--smoke] [--only NAME] [--server node|dotnet]
//     the end-to-end scenarios against the real reference server (or, with --server dotnet, the .NET
//     DurableStreamTestServer in its own process), each beside a bare-HttpClient baseline
//     (--only runs the scenarios whose name contains NAME, e.g. "fan-out");
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- producer [--smoke] [--messages N]
//     the producer throughput scenario alone (see ProducerScenario);
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- sse-ratio [--smoke] [--kinds text,json,binary] [--sizes 100,16384] [--rounds N] [--only ReadAsync]
//     SseReadBenchmarks' time ratios to the minimal loop, its methods alternating in one process (see SseRatioProbe);
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- [--smoke] [BenchmarkDotNet arguments]
//     the in-process micro-benchmarks (BenchmarkSwitcher), e.g. --filter '*'. --smoke runs each once (Dry job).
bool smoke = args.Contains("--smoke");
if (args.Length > 0 && args[0] == "scenarios")
{
    int only = Array.IndexOf(args, "--only");
    int server = Array.IndexOf(args, "--server");
    bool dotnetServer = server >= 0 && server + 1 < args.Length && args[server + 1] == "dotnet";
    return await ScenarioRunner.RunAsync(smoke, only >= 0 && only + 1 < args.Length ? args[only + 1] : null, dotnetServer);
}

if (args.Length > 0 && args[0] == "producer")
{
    int index = Array.IndexOf(args, "--messages");
    int messages = index >= 0 && index + 1 < args.Length
        ? int.Parse(args[index + 1], CultureInfo.InvariantCulture)
        : smoke ? 10_000 : 1_000_000;
    return await ProducerScenario.RunAsync(messages, smoke);
}

if (args.Length > 0 && args[0] == "sse-ratio")
{
    int kinds = Array.IndexOf(args, "--kinds");
    int sizes = Array.IndexOf(args, "--sizes");
    int rounds = Array.IndexOf(args, "--rounds");
    int only = Array.IndexOf(args, "--only");
    return await SseRatioProbe.RunAsync(
        kinds >= 0 && kinds + 1 < args.Length ? args[kinds + 1].Split(',') : ["text", "json", "binary"],
        sizes >= 0 && sizes + 1 < args.Length ? [.. args[sizes + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] : [100, 16 * 1024],
        rounds >= 0 && rounds + 1 < args.Length ? int.Parse(args[rounds + 1], CultureInfo.InvariantCulture) : smoke ? 1 : 30,
        only >= 0 && only + 1 < args.Length ? args[only + 1] : null);
}

// In process: the auto-generated project BenchmarkDotNet would build inherits the tests' two target
// frameworks from tests/Directory.Build.props and fails to restore.
string artifacts = Path.Combine(Artifacts.Directory, "bdn");
Job job = (smoke ? Job.Dry : Job.ShortRun).WithToolchain(InProcessEmitToolchain.Instance);
IConfig config = DefaultConfig.Instance.AddJob(job).WithArtifactsPath(artifacts);
BenchmarkSwitcher.FromAssembly(typeof(ProducerScenario).Assembly).Run([.. args.Where(a => a != "--smoke")], config);
Console.WriteLine($"BenchmarkDotNet results (CSV, Markdown, HTML): {Path.Combine(artifacts, "results")}");
return 0;
