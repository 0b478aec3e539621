using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// The typed JSON reader deserializes a response's messages in one pass and checks the array in the
/// same pass: what a caller sees must stay as if each message were found and deserialized on its own.
/// </summary>
public sealed class TypedJsonReadTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static DurableStream Stream(DurableStreamClient client) => client.GetStream(TestClients.StreamUrl, ReadScript.Json);

    [Theory]
    [InlineData("""[{"n":1},{"n":2},{"n":""")]
    [InlineData("""[{"n":1},{"n":2}] [3]""")]
    [InlineData("""[{"n":1},{"n":2},]""")]
    [InlineData("""{"n":1}""")]
    [InlineData("null")]
    public async Task ReadJsonAsync_MalformedResponse_FailsWithAProtocolErrorBeforeAnyMessage(string body)
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0009", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        var delivered = new List<int>();
        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(async () =>
        {
            await foreach (StreamItem<Numbered> item in Stream(client).ReadJsonAsync(TypedJsonContext.Default.Numbered, cancellationToken: Ct))
            {
                delivered.Add(item.Value.N);
            }
        });

        Assert.Empty(delivered);
        Assert.Contains("not a JSON array", ex.Message, StringComparison.Ordinal);
        Assert.Contains(TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadJsonAsync_SecondMessageDoesNotFit_FirstIsDeliveredThenTheMessageFails()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("""[{"n":1},{"n":"two"},{"n":3}]""", "0000_0003", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        var delivered = new List<int>();
        await Assert.ThrowsAsync<JsonException>(async () =>
        {
            await foreach (StreamItem<Numbered> item in Stream(client).ReadJsonAsync(TypedJsonContext.Default.Numbered, cancellationToken: Ct))
            {
                delivered.Add(item.Value.N);
            }
        });

        Assert.Equal([1], delivered);
    }

    [Fact]
    public async Task ReadJsonAsync_SeveralResponses_EveryMessageWithItsOwnCheckpointAndTheLastWithTheResponseState()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("""[{"n":1},{"n":2}]""", "0000_0002", ReadScript.Json, upToDate: false, cursor: "7"))
            .Then(_ => ReadScript.CatchUp(""" [ {"n":3} ] """, "0000_0003", ReadScript.Json, closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        var items = new List<StreamItem<Numbered>>();
        await foreach (StreamItem<Numbered> item in Stream(client).ReadJsonAsync(TypedJsonContext.Default.Numbered, cancellationToken: Ct))
        {
            items.Add(item);
        }

        Assert.Equal([1, 2, 3], items.Select(i => i.Value.N));
        Assert.Equal(new ReadCheckpoint(Offset.Beginning, 1, "7"), items[0].Checkpoint);
        Assert.Equal(new ReadCheckpoint(new Offset("0000_0002"), 0, "7"), items[1].Checkpoint);
        Assert.Equal(new ReadCheckpoint(new Offset("0000_0003"), 0, "7"), items[2].Checkpoint);
        Assert.Equal([false, false, true], items.Select(i => i.UpToDate));
        Assert.Equal([false, false, true], items.Select(i => i.StreamClosed));
    }

    [Fact]
    public async Task ReadJsonAsync_TypeInfoFromOtherOptions_TheGivenMetadataDecidesHowMessagesDeserialize()
    {
        // The element metadata renames "n" to "number"; the context's own metadata would read "n".
        var renamed = new JsonSerializerOptions
        {
            TypeInfoResolver = TypedJsonContext.Default.WithAddedModifier(info =>
            {
                foreach (JsonPropertyInfo property in info.Properties.Where(p => p.Name == "n"))
                {
                    property.Name = "number";
                }
            }),
        };
        var typeInfo = (JsonTypeInfo<Numbered>)renamed.GetTypeInfo(typeof(Numbered));
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("""[{"n":1,"number":10},{"n":2,"number":20}]""", "0000_0002", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        var values = new List<int>();
        await foreach (StreamItem<Numbered> item in Stream(client).ReadJsonAsync(typeInfo, cancellationToken: Ct))
        {
            values.Add(item.Value.N);
        }

        Assert.Equal([10, 20], values);
    }

    [Fact]
    public async Task ReadJsonAsync_ResumedFromAMessageCheckpoint_StartsWithTheNextMessage()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("""[{"n":1},{"n":2},{"n":3}]""", "0000_0003", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        var values = new List<int>();
        var options = new ReadOptions { Checkpoint = new ReadCheckpoint(Offset.Beginning, 2) };
        await foreach (StreamItem<Numbered> item in Stream(client).ReadJsonAsync(TypedJsonContext.Default.Numbered, options, Ct))
        {
            values.Add(item.Value.N);
        }

        Assert.Equal([3], values);
    }

    internal sealed class Numbered
    {
        [JsonPropertyName("n")]
        public int N { get; set; }
    }
}

[JsonSerializable(typeof(TypedJsonReadTests.Numbered))]
internal sealed partial class TypedJsonContext : JsonSerializerContext;
