using System.Text.Json.Serialization;

namespace DurableStreams.Benchmarks;

/// <summary>The message the JSON benchmarks read: <c>{"id":n,"pad":"xxx…"}</c>, 100 bytes as JSON.</summary>
public sealed class BenchMessage
{
    [JsonPropertyName("id")]
    public int Id { get; set; }

    [JsonPropertyName("pad")]
    public string Pad { get; set; } = "";
}

/// <summary>Source-generated metadata, so that reads deserialize without reflection.</summary>
[JsonSerializable(typeof(BenchMessage))]
[JsonSerializable(typeof(BenchMessage[]))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
