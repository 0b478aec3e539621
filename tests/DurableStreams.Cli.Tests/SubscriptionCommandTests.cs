using System.Text.Json;

namespace DurableStreams.Cli.Tests;

[Collection(CliServerCollection.Name)]
public sealed class SubscriptionCommandTests(ReferenceServerFixture server)
{
    private readonly CliHarness _cli = new(server);

    [Fact]
    public async Task SubscriptionCreateGetAddRemoveDelete_RoundTrip_PrintsJsonAndChangesMembership()
    {
        string prefix = CliHarness.NewName("subs");
        string id = CliHarness.NewName("sub");
        await _cli.CreateAsync($"{prefix}/wake", "application/json");

        CliResult created = await _cli.RunAsync("subscription", "create", id, "--pattern", $"{prefix}/orders/*", "--wake-stream", $"{prefix}/wake", "--lease-ttl", "2000", "--description", "cli test");
        CliResult again = await _cli.RunAsync("subscription", "create", id, "--pattern", $"{prefix}/orders/*", "--wake-stream", $"{prefix}/wake", "--lease-ttl", "2000", "--description", "cli test");
        CliResult conflict = await _cli.RunAsync("subscription", "create", id, "--pattern", $"{prefix}/other/*", "--wake-stream", $"{prefix}/wake");
        CliResult added = await _cli.RunAsync("subscription", "add-streams", id, $"{prefix}/a/b", $"{prefix}/c");
        CliResult removed = await _cli.RunAsync("subscription", "remove-stream", id, $"{prefix}/a/b");
        CliResult got = await _cli.RunAsync("subscription", "get", id);
        CliResult deleted = await _cli.RunAsync("subscription", "delete", id);
        CliResult missing = await _cli.RunAsync("subscription", "get", id);

        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.Contains("created subscription", created.Error, StringComparison.Ordinal);
        using (JsonDocument doc = JsonDocument.Parse(created.Output))
        {
            Assert.Equal("pull-wake", doc.RootElement.GetProperty("type").GetString());
            Assert.Equal(2000, doc.RootElement.GetProperty("lease_ttl_ms").GetInt32());
            Assert.Equal("cli test", doc.RootElement.GetProperty("description").GetString());
        }

        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("already exists with this configuration", again.Error, StringComparison.Ordinal);
        Assert.Equal(1, conflict.ExitCode);
        Assert.Contains("SUBSCRIPTION_ALREADY_EXISTS", conflict.Error, StringComparison.Ordinal);
        Assert.True(added.ExitCode == 0, added.ToString());
        Assert.True(removed.ExitCode == 0, removed.ToString());
        using (JsonDocument doc = JsonDocument.Parse(got.Output))
        {
            JsonElement stream = Assert.Single(doc.RootElement.GetProperty("streams").EnumerateArray());
            Assert.Equal($"{prefix}/c", stream.GetProperty("path").GetString());
            Assert.Equal("explicit", stream.GetProperty("link_type").GetString());
        }

        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("SUBSCRIPTION_NOT_FOUND", missing.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--lease-ttl", "999")]
    [InlineData("--lease-ttl", "600001")]
    public async Task SubscriptionCreate_LeaseTtlOutOfRange_IsAUsageError(string option, string value)
    {
        CliResult result = await _cli.RunAsync("subscription", "create", CliHarness.NewName("sub"), "--pattern", "x/*", "--wake-stream", "w", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("LeaseTtl", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubscriptionCreate_BothWakeStreamAndWebhook_IsAUsageError()
    {
        CliResult result = await _cli.RunAsync("subscription", "create", "s", "--pattern", "x/*", "--wake-stream", "w", "--webhook", "http://127.0.0.1:1/h");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("exactly one of --wake-stream", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SubscriptionWork_PendingMessages_PrintsThemAndAcksToTheTail()
    {
        string prefix = CliHarness.NewName("subs");
        string id = CliHarness.NewName("sub");
        await _cli.CreateAsync($"{prefix}/wake", "application/json");
        await _cli.CreateAsync($"{prefix}/orders/1", "application/json");
        Assert.Equal(0, (await _cli.RunAsync("subscription", "create", id, "--pattern", $"{prefix}/orders/*", "--wake-stream", $"{prefix}/wake")).ExitCode);
        Assert.Equal(0, (await _cli.RunAsync("write", $"{prefix}/orders/1", """{"n":1}""", "--json")).ExitCode);
        Assert.Equal(0, (await _cli.RunAsync("write", $"{prefix}/orders/1", """{"n":2}""", "--json")).ExitCode);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = new ObservedOutput();
        Task<CliResult> work = _cli.RunAsync(["subscription", "work", id, "--worker", "cli-worker"], input: null, output: output, cancellationToken: stop.Token);
        await output.WaitForAsync("{\"n\":2}\n", stop.Token);
        string acked;
        do
        {
            CliResult got = await _cli.RunAsync("subscription", "get", id);
            using JsonDocument doc = JsonDocument.Parse(got.Output);
            acked = doc.RootElement.GetProperty("streams")[0].GetProperty("acked_offset").GetString()!;
        }
        while (acked != await TailAsync($"{prefix}/orders/1"));

        await stop.CancelAsync();
        CliResult result = await work;

        Assert.Equal(130, result.ExitCode);
        Assert.Equal("{\"n\":1}\n{\"n\":2}\n", result.Output);
        Assert.Contains("working subscription", result.Error, StringComparison.Ordinal);
        Assert.Contains("handled, acking", result.Error, StringComparison.Ordinal);
    }

    private async Task<string> TailAsync(string name)
    {
        CliResult head = await _cli.RunAsync("head", name);
        return head.Output.Split('\n').Single(l => l.StartsWith("next-offset: ", StringComparison.Ordinal))["next-offset: ".Length..];
    }
}
