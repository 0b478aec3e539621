// A native AOT smoke test: everything here must work with trimming and no runtime code generation.
//   dotnet publish samples/AotSmoke -c Release -o artifacts/aot && artifacts/aot/AotSmoke http://127.0.0.1:4437
using System.Text.Json.Serialization;
using DurableStreams;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: AotSmoke <server-base-url>");
    return 2;
}

using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(args[0].TrimEnd('/') + "/v1/stream/") });
string name = $"aot-smoke-{Guid.NewGuid():N}";

CreateStreamResult created = await client.CreateStreamAsync(new CreateOptions { Url = name, ContentType = "application/json" });
AppendResult appended = await created.Stream.AppendAsync(new SmokeEvent("created", 1), SmokeJson.Default.SmokeEvent);
StreamMetadata metadata = await created.Stream.HeadAsync();
if (metadata.NextOffset != appended.NextOffset)
{
    Console.Error.WriteLine($"tail {metadata.NextOffset} != appended {appended.NextOffset}");
    return 1;
}

// Produce two more events exactly once, then close the stream.
await using (IdempotentProducer producer = created.Stream.CreateProducer("aot-smoke"))
{
    producer.Append(new SmokeEvent("produced", 2), SmokeJson.Default.SmokeEvent);
    await producer.AppendAsync(new SmokeEvent("produced", 3), SmokeJson.Default.SmokeEvent);
    await producer.CloseAsync();
}

// Read everything back, live over SSE until the close.
var sequences = new List<int>();
await foreach (StreamItem<SmokeEvent> item in created.Stream.ReadJsonAsync(SmokeJson.Default.SmokeEvent, new ReadOptions { Live = LiveMode.Sse }))
{
    sequences.Add(item.Value.Sequence);
}

if (!sequences.SequenceEqual([1, 2, 3]))
{
    Console.Error.WriteLine($"read back [{string.Join(',', sequences)}], expected [1,2,3]");
    return 1;
}

Console.WriteLine($"AOT smoke OK: {created.Stream.Url} at {metadata.NextOffset}; produced and read back {sequences.Count} events");
return 0;

internal sealed record SmokeEvent(string Kind, int Sequence);

[JsonSerializable(typeof(SmokeEvent))]
internal sealed partial class SmokeJson : JsonSerializerContext;
