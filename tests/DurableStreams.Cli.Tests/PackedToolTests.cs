using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace DurableStreams.Cli.Tests;

/// <summary>
/// Packs the tool, installs it with <c>dotnet tool install</c> into a temporary tool path from a
/// local-only package source, and runs the installed <c>durable-stream</c> as a process.
/// </summary>
[Collection(CliServerCollection.Name)]
public sealed class PackedToolTests(ReferenceServerFixture server) : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("durable-stream-tool-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task PackedTool_InstallsAndRunsCommands()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        string packages = Path.Combine(_work, "packages");
        string toolPath = Path.Combine(_work, "tools");
        string configFile = Path.Combine(_work, "nuget.config");
        await File.WriteAllTextAsync(configFile, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{packages}" />
              </packageSources>
            </configuration>
            """, timeout.Token);
        string project = Path.Combine(RepositoryRoot(), "src", "DurableStreams.Cli", "DurableStreams.Cli.csproj");
        string configuration = typeof(PackedToolTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

        // The test project references the tool, so it is already built in this configuration.
        await RunOkAsync("dotnet", ["pack", project, "-c", configuration, "--no-build", "-o", packages], null, timeout.Token);
        await RunOkAsync("dotnet", ["tool", "install", "--tool-path", toolPath, "--configfile", configFile, "--add-source", packages, "--prerelease", "DurableStreams.Cli"], null, timeout.Token);
        string tool = Path.Combine(toolPath, OperatingSystem.IsWindows() ? "durable-stream.exe" : "durable-stream");
        string name = CliHarness.NewName("tool");

        ProcessResult created = await RunAsync(tool, ["create", name, "--json"], null, timeout.Token);
        ProcessResult written = await RunAsync(tool, ["write", name, "--json"], "{\"n\":1}\n{\"n\":2}\n", timeout.Token);
        ProcessResult head = await RunAsync(tool, ["head", name], null, timeout.Token);
        ProcessResult usage = await RunAsync(tool, ["read", name, "--sse"], null, timeout.Token);
        ProcessResult missing = await RunAsync(tool, ["head", name + "-missing"], null, timeout.Token);

        // A live read as its own process: prints data as it arrives and ends when the stream is closed.
        using (Process follower = StartTool(tool, ["read", name, "--live", "--json"]))
        {
            Task<string> followed = follower.StandardOutput.ReadToEndAsync(timeout.Token);
            Task<string> followerErrors = follower.StandardError.ReadToEndAsync(timeout.Token);
            await RunAsync(tool, ["close", name, "{\"n\":3}"], null, timeout.Token);
            await follower.WaitForExitAsync(timeout.Token);
            Assert.True(follower.ExitCode == 0, await followerErrors);
            Assert.Equal("{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", await followed);
            Assert.Contains("(closed)", await followerErrors, StringComparison.Ordinal);
        }

        // Ctrl-C (SIGINT) ends a live read normally and prints where to resume.
        string open = CliHarness.NewName("tool-open");
        await RunOkAsync(tool, ["create", open, "--content-type", "text/plain"], null, timeout.Token);
        await RunOkAsync(tool, ["write", open, "hello"], null, timeout.Token);
        using (Process reader = StartTool(tool, ["read", open, "--live", "--long-poll"]))
        {
            Task<string> readerErrors = reader.StandardError.ReadToEndAsync(timeout.Token);
            char[] first = new char[5];
            await reader.StandardOutput.ReadBlockAsync(first, timeout.Token);
            Assert.Equal("hello", new string(first));
            using (Process signal = Process.Start("kill", ["-INT", reader.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await signal.WaitForExitAsync(timeout.Token);
            }

            await reader.WaitForExitAsync(timeout.Token);
            string errors = await readerErrors;
            Assert.True(reader.ExitCode == 0, errors);
            Assert.Contains("resume with --offset ", errors, StringComparison.Ordinal);
        }

        // A reader whose standard output goes away (`read --live | head -c 5`) stops at its next write.
        using (Process piped = StartTool(tool, ["read", open, "--live", "--long-poll"]))
        {
            Task<string> pipedErrors = piped.StandardError.ReadToEndAsync(timeout.Token);
            char[] first = new char[5];
            await piped.StandardOutput.ReadBlockAsync(first, timeout.Token);
            piped.StandardOutput.Close();
            await RunOkAsync(tool, ["write", open, new string('x', 1000)], null, timeout.Token);
            await piped.WaitForExitAsync(timeout.Token);
            string errors = await pipedErrors;
            Assert.True(piped.ExitCode == 0, errors);
            Assert.Contains("stopped reading", errors, StringComparison.Ordinal);
        }

        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Equal($"{server.BaseUrl.AbsoluteUri.TrimEnd('/')}/v1/stream/{name}", created.Output.Trim());
        Assert.True(written.ExitCode == 0, written.ToString());
        Assert.Contains("wrote 2 messages", written.Error, StringComparison.Ordinal);
        Assert.Contains("content-type: application/json", head.Output, StringComparison.Ordinal);
        Assert.Equal(2, usage.ExitCode);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("HTTP 404", missing.Error, StringComparison.Ordinal);
    }

    private sealed record ProcessResult(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}";
    }

    private async Task RunOkAsync(string file, string[] args, string? input, CancellationToken cancellationToken)
    {
        ProcessResult result = await RunAsync(file, args, input, cancellationToken);
        Assert.True(result.ExitCode == 0, $"{file} {string.Join(' ', args)}: {result}");
    }

    private Process StartTool(string file, string[] args)
    {
        Process process = Process.Start(StartInfo(file, args)) ?? throw new InvalidOperationException($"Could not start {file}.");
        process.StandardInput.Close();
        return process;
    }

    private ProcessStartInfo StartInfo(string file, string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _work,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment[DurableStreamCli.ServerVariable] = server.BaseUrl.AbsoluteUri;
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return start;
    }

    private async Task<ProcessResult> RunAsync(string file, string[] args, string? input, CancellationToken cancellationToken)
    {
        using Process process = Process.Start(StartInfo(file, args)) ?? throw new InvalidOperationException($"Could not start {file}.");
        Task<string> output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> error = process.StandardError.ReadToEndAsync(cancellationToken);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return new ProcessResult(process.ExitCode, await output, await error);
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DurableStreams.Client.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Could not find DurableStreams.Client.sln above " + AppContext.BaseDirectory);
    }
}
