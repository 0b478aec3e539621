using System.Text.Json.Nodes;

namespace DurableStreams.Conformance;

/// <summary>The adapter's own protocol behaviour that needs no server: init, unknown commands, validation.</summary>
public sealed class AdapterProtocolTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private AdapterProcess? _adapter;

    private AdapterProcess Adapter => _adapter!;

    public Task InitializeAsync()
    {
        _adapter = AdapterProcess.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_adapter is not null)
        {
            await _adapter.DisposeAsync();
        }
    }

    [Fact]
    public async Task Init_ReportsEveryFeature()
    {
        JsonObject init = await Adapter.SendAsync(new JsonObject { ["type"] = "init", ["serverUrl"] = "http://127.0.0.1:9" }, Timeout);

        Assert.Equal(true, init["success"]?.GetValue<bool>());
        JsonObject features = Assert.IsType<JsonObject>(init["features"]);
        foreach (string feature in new[] { "batching", "sse", "longPoll", "auto", "streaming", "dynamicHeaders", "retryOptions", "batchItems", "strictZeroValidation" })
        {
            Assert.Equal(true, features[feature]?.GetValue<bool>());
        }
    }

    [Fact]
    public async Task UnknownCommand_IsNotSupported()
    {
        JsonObject result = await Adapter.SendAsync(new JsonObject { ["type"] = "teleport" }, Timeout);

        Assert.Equal("error", result["type"]?.GetValue<string>());
        Assert.Equal("teleport", result["commandType"]?.GetValue<string>());
        Assert.Equal("NOT_SUPPORTED", result["errorCode"]?.GetValue<string>());
        Assert.False(result.ContainsKey("status"));
    }

    [Theory]
    [InlineData("{\"target\":\"idempotent-producer\",\"producerId\":\"p\",\"epoch\":-1}", "epoch")]
    [InlineData("{\"target\":\"idempotent-producer\",\"producerId\":\"p\",\"maxBatchBytes\":0}", "maxBatchBytes")]
    [InlineData("{\"target\":\"idempotent-producer\",\"producerId\":\"p\",\"maxBatchItems\":-1}", "maxBatchItems")]
    [InlineData("{\"target\":\"retry-options\",\"maxRetries\":-1}", "maxRetries")]
    [InlineData("{\"target\":\"retry-options\",\"initialDelayMs\":0}", "initialDelayMs")]
    [InlineData("{\"target\":\"retry-options\",\"initialDelayMs\":1000,\"maxDelayMs\":500}", "maxDelayMs")]
    [InlineData("{\"target\":\"retry-options\",\"multiplier\":0.5}", "multiplier")]
    public async Task Validate_RejectsWithTheCamelCaseOptionName(string target, string option)
    {
        JsonObject result = await Adapter.SendAsync(new JsonObject { ["type"] = "validate", ["target"] = JsonNode.Parse(target) }, Timeout);

        Assert.Equal("INVALID_ARGUMENT", result["errorCode"]?.GetValue<string>());
        Assert.Contains(option, result["message"]?.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"target\":\"idempotent-producer\",\"producerId\":\"p\",\"epoch\":0,\"maxBatchBytes\":1048576}")]
    [InlineData("{\"target\":\"retry-options\",\"maxRetries\":3,\"initialDelayMs\":100,\"maxDelayMs\":5000,\"multiplier\":2}")]
    public async Task Validate_AcceptsValidOptions(string target)
    {
        JsonObject result = await Adapter.SendAsync(new JsonObject { ["type"] = "validate", ["target"] = JsonNode.Parse(target) }, Timeout);

        Assert.Equal(true, result["success"]?.GetValue<bool>());
    }
}
