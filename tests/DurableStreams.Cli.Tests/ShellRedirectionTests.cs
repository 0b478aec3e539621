using System.Diagnostics;

namespace DurableStreams.Cli.Tests;

/// <summary>
/// Runs the built tool as a real process under <c>sh -c</c>, with the shell's own redirections:
/// the tool's standard streams are then the files and pipes a user's shell gives it.
/// </summary>
[Collection(CliServerCollection.Name)]
public sealed class ShellRedirectionTests(ReferenceServerFixture server) : IDisposable
{
    private readonly CliHarness _cli = new(server);
    private readonly string _work = Directory.CreateTempSubdirectory("durable-stream-shell-").FullName;

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
    public async Task Read_StdoutAndStderrIntoOneFile_KeepsDataAndResumeLine()
    {
        string name = CliHarness.NewName("shell");
        await _cli.CreateAsync(name, "application/json");
        await _cli.RunWithInputAsync("{\"n\":1}\n{\"n\":2}\n", "write", name, "--json");

        int exitCode = await ShellAsync("\"$TOOL\" read \"$S1\" --json > out.txt 2>&1", name);

        Assert.Equal(0, exitCode);
        string[] lines = (await File.ReadAllTextAsync(Path.Combine(_work, "out.txt"))).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal("{\"n\":1}", lines[0]);
        Assert.Equal("{\"n\":2}", lines[1]);
        Assert.StartsWith($"durable-stream: {name} is up to date; resume with --offset ", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_TwoCommandsIntoOneFile_KeepsBothOutputsInOrder()
    {
        string first = CliHarness.NewName("shell-a");
        string second = CliHarness.NewName("shell-b");
        await _cli.CreateAsync(first, "text/plain");
        await _cli.CreateAsync(second, "text/plain");
        await _cli.RunAsync("write", first, "first stream\n");
        await _cli.RunAsync("write", second, "second\n");

        int exitCode = await ShellAsync("{ \"$TOOL\" read \"$S1\"; \"$TOOL\" read \"$S2\"; } > out.txt 2>/dev/null", first, second);

        Assert.Equal(0, exitCode);
        Assert.Equal("first stream\nsecond\n", await File.ReadAllTextAsync(Path.Combine(_work, "out.txt")));
    }

    [Fact]
    public async Task Read_AppendingToAFile_KeepsWhatWasThere()
    {
        string name = CliHarness.NewName("shell");
        await _cli.CreateAsync(name, "text/plain");
        await _cli.RunAsync("write", name, "appended\n");

        int exitCode = await ShellAsync("echo before > out.txt && \"$TOOL\" read \"$S1\" >> out.txt 2>/dev/null && echo after >> out.txt", name);

        Assert.Equal(0, exitCode);
        Assert.Equal("before\nappended\nafter\n", await File.ReadAllTextAsync(Path.Combine(_work, "out.txt")));
    }

    [Fact]
    public async Task WriteJson_BadLineInRedirectedFile_SendsNothingAndExitsTwoNamingTheLine()
    {
        string name = CliHarness.NewName("shell");
        await _cli.CreateAsync(name, "application/json");
        await File.WriteAllTextAsync(Path.Combine(_work, "in.ndjson"), "{\"n\":1}\n{\"n\":2}\n{\"n\":\n{\"n\":4}\n");

        int exitCode = await ShellAsync("\"$TOOL\" write \"$S1\" --json < in.ndjson 2> err.txt", name);

        string error = await File.ReadAllTextAsync(Path.Combine(_work, "err.txt"));
        Assert.True(exitCode == 2, error);
        Assert.Contains("line 3 is not JSON", error, StringComparison.Ordinal);
        Assert.Equal("[]", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task WriteJson_BadLineFromPipe_StoresTheLinesBeforeAndExitsOneNamingTheLine()
    {
        string name = CliHarness.NewName("shell");
        await _cli.CreateAsync(name, "application/json");
        await File.WriteAllTextAsync(Path.Combine(_work, "in.ndjson"), "{\"n\":1}\n{\"n\":2}\n{\"n\":\n{\"n\":4}\n");

        int exitCode = await ShellAsync("cat in.ndjson | \"$TOOL\" write \"$S1\" --json 2> err.txt", name);

        string error = await File.ReadAllTextAsync(Path.Combine(_work, "err.txt"));
        Assert.True(exitCode == 1, error);
        Assert.Contains("line 3 is not JSON", error, StringComparison.Ordinal);
        Assert.Equal("""[{"n":1},{"n":2}]""", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task WriteJson_GoodRedirectedFile_SendsEveryLineOnce()
    {
        string name = CliHarness.NewName("shell");
        await _cli.CreateAsync(name, "application/json");
        await File.WriteAllTextAsync(Path.Combine(_work, "in.ndjson"), "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");

        int exitCode = await ShellAsync("\"$TOOL\" write \"$S1\" --json < in.ndjson 2> err.txt", name);

        Assert.True(exitCode == 0, await File.ReadAllTextAsync(Path.Combine(_work, "err.txt")));
        Assert.Equal("""[{"n":1},{"n":2},{"n":3}]""", await _cli.ReadRawAsync(name));
    }

    /// <summary>Runs <paramref name="script"/> with <c>$TOOL</c> and <c>$S1</c>, <c>$S2</c>… set, in the test's directory.</summary>
    private async Task<int> ShellAsync(string script, params string[] streams)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var start = new ProcessStartInfo("sh")
        {
            UseShellExecute = false,
            WorkingDirectory = _work,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.Environment["TOOL"] = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "durable-stream.exe" : "durable-stream");
        start.Environment[DurableStreamCli.ServerVariable] = server.BaseUrl.AbsoluteUri;
        for (int i = 0; i < streams.Length; i++)
        {
            start.Environment[$"S{i + 1}"] = streams[i];
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException("Could not start sh.");
        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return process.ExitCode;
    }
}
