using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using DurableStreams.Benchmarks;
using DurableStreams.Benchmarks.Scenarios;

// Three modes:
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- scenarios [--smoke] [--only NAME] [--server node|dotnet]
//     the end-to-end scenarios against the real reference server (or, with --server dotnet, the .NET
//     DurableStreamTestServer in its own process), each beside a bare-HttpClient baseline
//     (--only runs the scenarios whose name contains NAME, e.g. "fan-out");
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- producer [--smoke] [--messages N]
//     the producer throughput scenario alone (see ProducerScenario);
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

// In process: the auto-generated project BenchmarkDotNet would build inherits the tests' two target
// frameworks from tests/Directory.Build.props and fails to restore.
string artifacts = Path.Combine(Artifacts.Directory, "bdn");
Job job = (smoke ? Job.Dry : Job.ShortRun).WithToolchain(InProcessEmitToolchain.Instance);
IConfig config = DefaultConfig.Instance.AddJob(job).WithArtifactsPath(artifacts);
BenchmarkSwitcher.FromAssembly(typeof(ProducerScenario).Assembly).Run([.. args.Where(a => a != "--smoke")], config);
Console.WriteLine($"BenchmarkDotNet results (CSV, Markdown, HTML): {Path.Combine(artifacts, "results")}");
return 0;
