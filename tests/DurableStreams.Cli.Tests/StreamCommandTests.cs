using System.Net;
using System.Text;

namespace DurableStreams.Cli.Tests;

[Collection(CliServerCollection.Name)]
public sealed class StreamCommandTests(ReferenceServerFixture server)
{
    private readonly CliHarness _cli = new(server);

    [Fact]
    public async Task Create_Json_PrintsUrlAndHeadShowsJson()
    {
        string name = CliHarness.NewName();

        CliResult created = await _cli.RunAsync("create", name, "--json", "--ttl", "3600");
        CliResult head = await _cli.RunAsync("head", name);

        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Equal(_cli.UrlOf(name) + "\n", created.Output);
        Assert.Contains("created", created.Error, StringComparison.Ordinal);
        Assert.True(head.ExitCode == 0, head.ToString());
        Assert.Contains("content-type: application/json\n", head.Output, StringComparison.Ordinal);
        Assert.Contains("ttl: 3600\n", head.Output, StringComparison.Ordinal);
        Assert.Contains("closed: false\n", head.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_ExpiresAt_HeadShowsTheExpiry()
    {
        string name = CliHarness.NewName();

        CliResult created = await _cli.RunAsync("create", name, "--content-type", "text/plain", "--expires-at", "2099-01-31T12:00:00Z");
        CliResult head = await _cli.RunAsync("head", name);

        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("content-type: text/plain", head.Output, StringComparison.Ordinal);
        Assert.Contains("expires-at: 2099-01-31T12:00:00", head.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_SameConfigurationTwice_SucceedsBothTimes()
    {
        string name = CliHarness.NewName();

        CliResult first = await _cli.RunAsync("create", name, "--json");
        CliResult second = await _cli.RunAsync("create", name, "--json");

        Assert.Equal(0, first.ExitCode);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("already exists", second.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_OtherConfiguration_ExitsOneNamingStreamAndStatus()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "application/json");

        CliResult result = await _cli.RunAsync("create", name, "--content-type", "text/plain");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(name, result.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 409", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("create", "{name}", "--json", "--content-type", "text/plain")]
    [InlineData("create", "{name}", "--ttl", "60", "--expires-at", "2099-01-01T00:00:00Z")]
    [InlineData("create", "{name}", "--ttl", "-5")]
    [InlineData("create", "{name}", "--expires-at", "next tuesday")]
    [InlineData("create")]
    [InlineData("frobnicate", "{name}")]
    [InlineData("create", "{name}", "--no-such-option")]
    [InlineData("fork", "{name}")]
    [InlineData("fork", "{name}", "{name}-fork", "--offset", "a/b")]
    public async Task UsageErrors_ExitTwoAndSendNothing(params string[] template)
    {
        string name = CliHarness.NewName();
        string[] args = template.Select(a => a.Replace("{name}", name, StringComparison.Ordinal)).ToArray();

        CliResult result = await _cli.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.NotEmpty(result.Error);
        Assert.Empty(result.Output);
        Assert.Equal(HttpStatusCode.NotFound, await _cli.HeadStatusAsync(name));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("-5")]
    [InlineData("99999999999999999999")]
    [InlineData("9999999999999")]
    public async Task Create_TtlNotWholeSeconds_ExitsTwoWithOneLineNamingTtl(string ttl)
    {
        string name = CliHarness.NewName();

        CliResult result = await _cli.RunAsync("create", name, "--ttl", ttl);

        Assert.True(result.ExitCode == 2, result.ToString());
        string[] errors = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains("--help", StringComparison.Ordinal)).ToArray();
        Assert.Equal($"durable-stream: --ttl takes a whole number of seconds from 0 to 922337203685; '{ttl}' is not one.", Assert.Single(errors));
        Assert.Empty(result.Output);
        Assert.Equal(HttpStatusCode.NotFound, await _cli.HeadStatusAsync(name));
    }

    [Theory]
    [InlineData("--auth", "--url", "{server}", "head", "{name}")]
    [InlineData("head", "{name}", "--auth", "--json")]
    [InlineData("create", "{name}", "--content-type", "--json")]
    [InlineData("read", "{name}", "--offset", "--live")]
    [InlineData("create", "{name}", "--ttl", "-h")]
    public async Task OptionFollowedByAnotherOption_ExitsTwoNamingTheOptionMissingItsValue(params string[] template)
    {
        string name = CliHarness.NewName();
        string[] args = template.Select(a => a.Replace("{name}", name, StringComparison.Ordinal).Replace("{server}", _cli.ServerUrl, StringComparison.Ordinal)).ToArray();
        int option = Array.FindIndex(args, a => a is "--auth" or "--content-type" or "--offset" or "--ttl");

        CliResult result = await _cli.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith($"durable-stream: {args[option]} needs a value, but the next word is the option {args[option + 1]}.", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("***", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
        Assert.Equal(HttpStatusCode.NotFound, await _cli.HeadStatusAsync(name));
    }

    [Fact]
    public async Task ReadOffsetMinusOne_IsAValueNotAnOption()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");

        CliResult result = await _cli.RunAsync("read", name, "--offset", "-1");

        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task NoCommand_ExitsTwoWithHint()
    {
        CliResult result = await _cli.RunAsync();

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--help", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_PrintsCommandsToStandardOutput()
    {
        CliResult result = await _cli.RunAsync("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (string command in new[] { "create", "write", "read", "head", "close", "delete", "fork", "STREAM_URL", "STREAM_AUTH" })
        {
            Assert.Contains(command, result.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task BareName_WithoutServer_IsUsageErrorNamingStreamUrl()
    {
        _cli.Environment.Remove(DurableStreamCli.ServerVariable);

        CliResult result = await _cli.RunAsync("head", "orders");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("STREAM_URL", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FullUrl_IsUsedAsIs_WithoutServerVariable()
    {
        string name = CliHarness.NewName();
        _cli.Environment.Remove(DurableStreamCli.ServerVariable);

        CliResult result = await _cli.RunAsync("create", _cli.UrlOf(name), "--content-type", "text/plain");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpStatusCode.OK, await _cli.HeadStatusAsync(name));
    }

    [Fact]
    public async Task UrlOption_OverridesServerVariable()
    {
        string name = CliHarness.NewName();
        _cli.Environment[DurableStreamCli.ServerVariable] = "http://127.0.0.1:1";

        CliResult result = await _cli.RunAsync("create", name, "--url", _cli.ServerUrl);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(HttpStatusCode.OK, await _cli.HeadStatusAsync(name));
    }

    [Fact]
    public async Task Head_MissingStream_ExitsOneNamingStreamAnd404()
    {
        string name = CliHarness.NewName("missing");

        CliResult result = await _cli.RunAsync("head", name);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(name, result.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task UnreachableServer_ExitsOneWithNetworkError()
    {
        _cli.Environment[DurableStreamCli.ServerVariable] = $"http://127.0.0.1:{ClosedPort()}";

        CliResult result = await _cli.RunAsync("head", "anything");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("anything", result.Error, StringComparison.Ordinal);
        Assert.Contains("network error", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Close_WithData_AppendsThenRefusesWrites()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");
        await _cli.RunAsync("write", name, "first ");

        CliResult closed = await _cli.RunAsync("close", name, "last");
        CliResult head = await _cli.RunAsync("head", name);
        CliResult late = await _cli.RunAsync("write", name, "too late");

        Assert.True(closed.ExitCode == 0, closed.ToString());
        Assert.Contains("final offset", closed.Error, StringComparison.Ordinal);
        Assert.Contains("closed: true", head.Output, StringComparison.Ordinal);
        Assert.Equal("first last", await _cli.ReadRawAsync(name));
        Assert.True(late.ExitCode == 1, late.ToString());
        Assert.Contains(name, late.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 409", late.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_RemovesTheStream()
    {
        string name = CliHarness.NewName();
        await _cli.CreateAsync(name, "text/plain");

        CliResult deleted = await _cli.RunAsync("delete", name);
        CliResult again = await _cli.RunAsync("delete", name);

        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Equal(HttpStatusCode.NotFound, await _cli.HeadStatusAsync(name));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("HTTP 404", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fork_AtOffset_CopiesDataUpToIt()
    {
        string source = CliHarness.NewName("source");
        string fork = CliHarness.NewName("fork");
        await _cli.CreateAsync(source, "text/plain");
        await _cli.RunAsync("write", source, "kept ");
        string offset = NextOffset((await _cli.RunAsync("head", source)).Output);
        await _cli.RunAsync("write", source, "not in fork");

        CliResult result = await _cli.RunAsync("fork", source, fork, "--offset", offset);
        CliResult appended = await _cli.RunAsync("write", fork, "own");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(_cli.UrlOf(fork) + "\n", result.Output);
        Assert.Equal(0, appended.ExitCode);
        Assert.Equal("kept own", await _cli.ReadRawAsync(fork));
        Assert.Equal("kept not in fork", await _cli.ReadRawAsync(source));
    }

    [Fact]
    public async Task Fork_MissingSource_ExitsOneNamingSource()
    {
        string source = CliHarness.NewName("missing");

        CliResult result = await _cli.RunAsync("fork", source, CliHarness.NewName("fork"));

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains(source, result.Error, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Auth_IsSentAsAuthorizationAndNeverPrinted(bool asOption)
    {
        const string secret = "Bearer s3cr3t-t0ken-value";
        using var listener = new System.Net.HttpListener();
        int port = ClosedPort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        Task<string?> seen = Task.Run(async () =>
        {
            HttpListenerContext context = await listener.GetContextAsync();
            string? header = context.Request.Headers["Authorization"];
            context.Response.StatusCode = 401;
            byte[] body = Encoding.UTF8.GetBytes("token rejected");
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
            return header;
        });
        _cli.Environment[DurableStreamCli.ServerVariable] = $"http://127.0.0.1:{port}";
        if (!asOption)
        {
            _cli.Environment[DurableStreamCli.AuthVariable] = secret;
        }

        CliResult result = asOption
            ? await _cli.RunAsync("head", "guarded", "--auth", secret)
            : await _cli.RunAsync("head", "guarded");

        Assert.Equal(secret, await seen.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("HTTP 401", result.Error, StringComparison.Ordinal);
        Assert.Contains("guarded", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("head", "--auth", "Bearer", "s3cr3t-t0ken", "{name}")]
    [InlineData("head", "--auth", "Bearer", "s3cr3t-t0ken")]
    [InlineData("head", "{name}", "--auth", "Bearer", "s3cr3t-t0ken")]
    [InlineData("head", "{name}", "--auth=Bearer", "s3cr3t-t0ken")]
    [InlineData("frobnicate", "--auth", "s3cr3t-t0ken")]
    public async Task Auth_InUsageErrors_IsNeverPrinted(params string[] template)
    {
        string name = CliHarness.NewName();
        string[] args = template.Select(a => a.Replace("{name}", name, StringComparison.Ordinal)).ToArray();

        CliResult result = await _cli.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.DoesNotContain("s3cr3t", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", result.Output, StringComparison.Ordinal);
    }

    internal static string NextOffset(string headOutput) =>
        headOutput.Split('\n').Single(l => l.StartsWith("next-offset: ", StringComparison.Ordinal))["next-offset: ".Length..];

    private static int ClosedPort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
