using System.IO.Pipelines;
using System.Text;

namespace DurableStreams.Cli.Tests;

[Collection(CliServerCollection.Name)]
public sealed class WriteCommandTests(ReferenceServerFixture server)
{
    private readonly CliHarness _cli = new(server);

    [Fact]
    public async Task Write_Data_AppendsIt()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");

        CliResult first = await _cli.RunAsync("write", name, "hello ");
        CliResult second = await _cli.RunAsync("write", name, "world");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("next offset", second.Error, StringComparison.Ordinal);
        Assert.Equal("hello world", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_JsonData_AppendsOneMessage()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");

        CliResult result = await _cli.RunAsync("write", name, """{"event":"signup","n":[1,2]}""", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("""[{"event":"signup","n":[1,2]}]""", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_PipedStdin_StreamsEveryByte()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/octet-stream");
        const long size = 3 * 1024 * 1024 + 17;

        CliResult result = await _cli.RunAsync(["write", name], new GeneratedInput(size));

        Assert.True(result.ExitCode == 0, result.ToString());
        string stored = await _cli.ReadRawAsync(name);
        Assert.Equal(size, stored.Length);
        for (int i = 0; i < stored.Length; i += 4099)
        {
            Assert.Equal((char)GeneratedInput.ByteAt(i), stored[i]);
        }

        Assert.Contains($"wrote {size} bytes", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_PipedStdinWhileStderrIsTerminal_ShowsProgress()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/octet-stream");

        CliResult result = await _cli.RunAsync(["write", name], new GeneratedInput(200_000), errorIsTerminal: true);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("\r200000 bytes sent", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_PipedStdinWhileStderrIsRedirected_ShowsNoProgress()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/octet-stream");

        CliResult result = await _cli.RunAsync(["write", name], new GeneratedInput(200_000), errorIsTerminal: false);

        Assert.Equal(0, result.ExitCode);
        Assert.DoesNotContain("\r", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_NewlineDelimitedJson_SendsOneMessagePerLine()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");
        string input = "{\"n\":1}\n{\"n\":2}\r\n[3,4]\n\n\"five\"\n6\n";

        CliResult result = await _cli.RunWithInputAsync(input, "write", name, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("""[{"n":1},{"n":2},[3,4],"five",6]""", await _cli.ReadRawAsync(name));
        Assert.Contains("wrote 5 messages", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_OnePrettyPrintedJsonValue_SendsOneMessage()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");
        string input = "{\n  \"user\": \"ada\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ]\n}\n";

        CliResult result = await _cli.RunWithInputAsync(input, "write", name, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var stored = System.Text.Json.JsonDocument.Parse(await _cli.ReadRawAsync(name));
        System.Text.Json.JsonElement message = Assert.Single(stored.RootElement.EnumerateArray().ToArray());
        Assert.Equal("ada", message.GetProperty("user").GetString());
        Assert.Equal(2, message.GetProperty("tags").GetArrayLength());
        Assert.Contains("wrote 1 message,", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_JsonLinesArrivingSlowly_AreSentAsTheyComeAndShowProgress()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");
        var pipe = new Pipe();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        Task<CliResult> run = _cli.RunAsync(["write", name, "--json"], pipe.Reader.AsStream(), errorIsTerminal: true);
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("{\"line\":1}\n{\"li"), timeout.Token);

        // The first line is stored while the writer is still waiting for the rest of its input.
        while (await _cli.ReadRawAsync(name) == "[]")
        {
            await Task.Delay(20, timeout.Token);
        }

        Assert.False(run.IsCompleted);
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("ne\":2}\n"), timeout.Token);
        await pipe.Writer.CompleteAsync();
        CliResult result = await run.WaitAsync(timeout.Token);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("""[{"line":1},{"line":2}]""", await _cli.ReadRawAsync(name));
        Assert.Contains("2 messages, 20 bytes sent", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_ManyJsonLines_AreStoredExactlyOnceInOrder()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");
        var input = new StringBuilder();
        for (int i = 0; i < 5000; i++)
        {
            input.Append("{\"i\":").Append(i).Append("}\n");
        }

        CliResult result = await _cli.RunWithInputAsync(input.ToString(), "write", name, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        string expected = "[" + string.Join(",", Enumerable.Range(0, 5000).Select(i => $"{{\"i\":{i}}}")) + "]";
        Assert.Equal(expected, await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_InvalidJsonLineFromPipe_StoresTheLinesBeforeAndExitsOneNamingTheLine()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");

        CliResult result = await _cli.RunWithInputAsync("{\"ok\":1}\n{\"ok\":2}\n{\"broken\" 3}\n{\"ok\":4}\n", "write", name, "--json");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("line 3 is not JSON: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("Stored the 2 messages before it", result.Error, StringComparison.Ordinal);
        Assert.Equal("""[{"ok":1},{"ok":2}]""", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_InvalidJsonLineFromFile_SendsNothingAndExitsTwoNamingTheLine()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");

        CliResult result = await _cli.RunWithInputFileAsync("{\"ok\":1}\n{\"ok\":2}\n{\"broken\" 3}\n{\"ok\":4}\n", "write", name, "--json");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("line 3 is not JSON: ", result.Error, StringComparison.Ordinal);
        Assert.Contains("Nothing was sent.", result.Error, StringComparison.Ordinal);
        Assert.Equal("[]", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_ValidJsonLinesFromFile_AreCheckedThenSentOnce()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");

        CliResult result = await _cli.RunWithInputFileAsync("{\"n\":1}\n{\"n\":2}\n", "write", name, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("""[{"n":1},{"n":2}]""", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_InvalidFirstJsonLineFromPipe_ExitsTwoAndSendsNothing()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");

        CliResult result = await _cli.RunWithInputAsync("\n\nnope\n{\"ok\":1}\n", "write", name, "--json");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("line 3 is not JSON: ", result.Error, StringComparison.Ordinal);
        Assert.Equal("[]", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_InvalidJsonData_ExitsTwoAndSendsNothing()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");

        CliResult result = await _cli.RunAsync("write", name, "{not json", "--json");

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("[]", await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_NoDataWhileStdinIsTerminal_ExitsTwo()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");

        CliResult result = await _cli.RunAsync(["write", name], new MemoryStream(), inputIsTerminal: true);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("DATA", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_EmptyStdin_ExitsTwo(bool json)
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, json ? "application/json" : "text/plain");
        string[] args = json ? ["write", name, "--json"] : ["write", name];

        CliResult result = await _cli.RunAsync(args, new MemoryStream(Encoding.UTF8.GetBytes(json ? " \n " : string.Empty)));

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(json ? "[]" : string.Empty, await _cli.ReadRawAsync(name));
    }

    [Fact]
    public async Task Write_MissingStream_ExitsOneNamingStreamAnd404()
    {
        string name = CliHarness.NewName("missing");

        CliResult result = await _cli.RunAsync("write", name, "data");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(name, result.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_JsonToTextStream_ExitsOneWithConflict()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");

        CliResult result = await _cli.RunWithInputAsync("{\"a\":1}\n", "write", name, "--json");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(name, result.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 409", result.Error, StringComparison.Ordinal);
    }
}
