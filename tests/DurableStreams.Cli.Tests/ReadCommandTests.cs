using System.Text.RegularExpressions;

namespace DurableStreams.Cli.Tests;

[Collection(CliServerCollection.Name)]
public sealed partial class ReadCommandTests(ReferenceServerFixture server)
{
    private readonly CliHarness _cli = new(server);

    [Fact]
    public async Task Read_CatchUp_PrintsDataAndTheOffsetToResumeFrom()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");
        await _cli.RunAsync("write", name, "abc");
        await _cli.RunAsync("write", name, "def");
        string tail = StreamCommandTests.NextOffset((await _cli.RunAsync("head", name)).Output);

        CliResult result = await _cli.RunAsync("read", name);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("abcdef", result.Output);
        Assert.Equal(tail, ResumeOffset(result.Error));
    }

    [Fact]
    public async Task Read_FromPrintedOffset_PrintsOnlyLaterData()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");
        await _cli.RunAsync("write", name, "old");
        string resume = ResumeOffset((await _cli.RunAsync("read", name)).Error);
        await _cli.RunAsync("write", name, "new");

        CliResult result = await _cli.RunAsync("read", name, "--offset", resume);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("new", result.Output);
    }

    [Fact]
    public async Task Read_OffsetNow_PrintsNothingExisting()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");
        await _cli.RunAsync("write", name, "existing");

        CliResult result = await _cli.RunAsync("read", name, "--offset", "now");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Read_Json_PrintsOneMessagePerLine()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");
        await _cli.RunWithInputAsync("{\"n\":1}\n{\"n\":2}\n", "write", name, "--json");
        await _cli.RunAsync("write", name, "[3, 4]", "--json");

        CliResult result = await _cli.RunAsync("read", name, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("{\"n\":1}\n{\"n\":2}\n[3,4]\n", result.Output);
    }

    [Fact]
    public async Task Read_JsonOnTextStream_ExitsTwo()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");
        await _cli.RunAsync("write", name, "plain");

        CliResult result = await _cli.RunAsync("read", name, "--json");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("JSON", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("read", "{name}", "--sse")]
    [InlineData("read", "{name}", "--live", "--sse", "--long-poll")]
    [InlineData("read", "{name}", "--offset", "a,b")]
    [InlineData("read")]
    public async Task Read_UsageErrors_ExitTwo(params string[] template)
    {
        string name = CliHarness.NewName();
        string[] args = template.Select(a => a.Replace("{name}", name, StringComparison.Ordinal)).ToArray();

        CliResult result = await _cli.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Read_MissingStream_ExitsOneNamingStreamAnd404()
    {
        string name = CliHarness.NewName("missing");

        CliResult result = await _cli.RunAsync("read", name);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(name, result.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text/plain", "--sse")]
    [InlineData("text/plain", "--long-poll")]
    [InlineData("text/plain", null)]
    [InlineData("application/octet-stream", null)]
    public async Task Read_Live_PrintsDataAsItArrivesUntilTheStreamIsClosed(string contentType, string? mode)
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, contentType);
        await _cli.RunAsync("write", name, "one ");
        var output = new ObservedOutput();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        string[] args = mode is null ? ["read", name, "--live"] : ["read", name, "--live", mode];

        Task<CliResult> run = _cli.RunAsync(args, input: null, output: output, cancellationToken: timeout.Token);
        await output.WaitForAsync("one ", timeout.Token);
        await _cli.RunAsync("write", name, "two ");
        await output.WaitForAsync("two ", timeout.Token);
        Assert.False(run.IsCompleted);
        await _cli.RunAsync("close", name, "three");
        CliResult result = await run.WaitAsync(timeout.Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("one two three", result.Output);
        Assert.Contains("(closed)", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_LiveJson_PrintsMessagesUntilClose()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");
        var output = new ObservedOutput();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));

        Task<CliResult> run = _cli.RunAsync(["read", name, "--live", "--json"], input: null, output: output, cancellationToken: timeout.Token);
        await _cli.RunWithInputAsync("{\"t\":\"a\"}\n{\"t\":\"b\"}\n", "write", name, "--json");
        await output.WaitForAsync("{\"t\":\"b\"}\n", timeout.Token);
        await _cli.RunAsync("close", name, "{\"t\":\"end\"}");
        CliResult result = await run.WaitAsync(timeout.Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("{\"t\":\"a\"}\n{\"t\":\"b\"}\n{\"t\":\"end\"}\n", result.Output);
    }

    [Fact]
    public async Task Read_LiveInterrupted_PrintsResumeOffsetThatContinuesWhereItStopped()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");
        await _cli.RunAsync("write", name, "before ");
        var output = new ObservedOutput();
        using var interrupt = new CancellationTokenSource();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(45));

        Task<CliResult> run = _cli.RunAsync(["read", name, "--live"], input: null, output: output, cancellationToken: interrupt.Token);
        await output.WaitForAsync("before ", timeout.Token);
        await interrupt.CancelAsync();
        CliResult stopped = await run.WaitAsync(timeout.Token);
        await _cli.RunAsync("write", name, "after");
        CliResult resumed = await _cli.RunAsync("read", name, "--offset", ResumeOffset(stopped.Error));

        Assert.True(stopped.ExitCode == 0, stopped.ToString());
        Assert.Equal("before ", stopped.Output);
        Assert.Contains("stopped", stopped.Error, StringComparison.Ordinal);
        Assert.Equal("after", resumed.Output);
    }

    private static string ResumeOffset(string error)
    {
        Match match = ResumePattern().Match(error);
        Assert.True(match.Success, $"no resume offset in: {error}");
        return match.Groups[1].Value;
    }

    [GeneratedRegex(@"--offset (\S+)")]
    private static partial Regex ResumePattern();
}
