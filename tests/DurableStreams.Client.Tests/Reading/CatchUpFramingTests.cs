using System.Text;
using System.Text.Json;

namespace DurableStreams.Tests.Reading;

/// <summary>Catch-up and long-poll bodies: JSON validation (PROTOCOL.md §9.1), large bodies in parts, and checkpoints.</summary>
public sealed class CatchUpFramingTests : IDisposable
{
    private const int Part = 1024 * 1024;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    public static TheoryData<int[]> Reads() => new() { { [1] }, { [2, 3, 5] }, { [int.MaxValue] } };

    [Theory]
    [MemberData(nameof(Reads))]
    public async Task CatchUp_JsonBody_IsKeptByteForByte(int[] reads)
    {
        const string body = """[{"a":1},{"b":"é<>&\u00e9","n":1.50}]""";
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0002", ReadScript.Json, reads: reads));
        using DurableStreamClient client = TestClients.Create(handler);

        StreamChunk chunk = Assert.Single(await client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.Equal(body, chunk.Utf8());
    }

    [Theory]
    [InlineData("[]")]
    [InlineData(" [ ] ")]
    [InlineData("")]
    [InlineData("\n")]
    public async Task CatchUp_JsonBodyWithoutMessages_IsEmptyData(string body)
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0000", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        StreamChunk chunk = Assert.Single(await client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct));

        Assert.True(chunk.Data.IsEmpty);
        Assert.True(chunk.UpToDate);
    }

    [Theory]
    [InlineData("""[{"key":"s""")]
    [InlineData("""{"a":1}""")]
    [InlineData("[1,]")]
    [InlineData("[1] [2]")]
    public async Task CatchUp_MalformedJsonBody_FailsWithProtocolErrorNamingUrlAndOffset(string body)
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0002", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(
            () => client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Offset = new Offset("0000_0001") }, Ct).CollectAsync(Ct));

        Assert.Contains(TestClients.StreamUrl, ex.Message, StringComparison.Ordinal);
        Assert.Contains("offset 0000_0001", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not a JSON array", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CatchUp_LargeBody_IsHandedOutInPartsThatNeverSplitACharacter()
    {
        // 'é' is two bytes and straddles the first 1 MiB boundary.
        byte[] body = Encoding.UTF8.GetBytes(new string('a', Part - 1) + "é" + new string('b', Part + 10) + "end");
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0009", reads: [64 * 1024], closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);

        Assert.Equal([Part - 1, Part, body.Length - (2 * Part) + 1], chunks.Select(c => c.Data.Length));
        Assert.Equal(body, chunks.SelectMany(c => c.Data.ToArray()));
        Assert.Equal([false, false, true], chunks.Select(c => c.StreamClosed));
        Assert.Equal([false, false, true], chunks.Select(c => c.UpToDate));
        Assert.Equal(["-1", "-1", "0000_0009"], chunks.Select(c => c.NextOffset.Value));
        Assert.Equal(["-1,1048575", "-1,2097151", "0000_0009"], chunks.Select(c => c.Checkpoint.ToString()));
        var text = new StringBuilder();
        await foreach (StreamItem<string> item in client.GetStream(TestClients.StreamUrl).ReadTextAsync(cancellationToken: Ct))
        {
            text.Append(item.Value);
        }

        Assert.Equal(Encoding.UTF8.GetString(body), text.ToString());
    }

    [Fact]
    public async Task CatchUp_LargeBodyDroppedMidway_RetriesAndHandsOutOnlyTheRest()
    {
        byte[] body = new byte[(2 * Part) + 100];
        new Random(7).NextBytes(body);
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp(body[..((Part * 3) / 2)], "0000_0009", ReadScript.Binary, failAtEnd: () => new IOException("reset")))
            .Then(_ => ReadScript.CatchUp(body, "0000_0009", ReadScript.Binary));
        using DurableStreamClient client = TestClients.Create(handler);

        List<StreamChunk> chunks = await client.GetStream(TestClients.StreamUrl).ReadAsync(cancellationToken: Ct).CollectAsync(Ct);

        Assert.Equal(body, chunks.SelectMany(c => c.Data.ToArray()));
        Assert.Equal(["offset=-1", "offset=-1"], handler.Requests.Select(r => r.Query()));
    }

    [Fact]
    public async Task ResumeFromCheckpoint_InTheMiddleOfALargeBody_YieldsExactlyTheRemainingBytes()
    {
        byte[] body = new byte[(2 * Part) + 100];
        new Random(11).NextBytes(body);
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp(body, "0000_0009", ReadScript.Binary, cursor: "4"));
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl);
        ReadCheckpoint saved = default;
        await foreach (StreamItem<ReadOnlyMemory<byte>> item in stream.ReadBytesAsync(cancellationToken: Ct))
        {
            saved = item.Checkpoint;
            break;
        }

        var rest = new List<byte>();
        await foreach (StreamItem<ReadOnlyMemory<byte>> item in stream.ReadBytesAsync(new ReadOptions { Checkpoint = ReadCheckpoint.Parse(saved.ToString()) }, Ct))
        {
            rest.AddRange(item.Value.ToArray());
        }

        Assert.Equal(new ReadCheckpoint(Offset.Beginning, Part, "4"), saved);
        Assert.Equal(body[Part..], rest);
    }

    [Fact]
    public async Task ResumeFromCheckpoint_InTheMiddleOfAJsonChunk_YieldsExactlyTheRemainingMessages()
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp("[1,2,3,4]", "0000_0004", ReadScript.Json, cursor: "9"))
            .Then(_ => ReadScript.CatchUp("[1,2,3,4,5]", "0000_0005", ReadScript.Json, upToDate: false))
            .Then(_ => ReadScript.CatchUp("[6]", "0000_0006", ReadScript.Json));
        using DurableStreamClient client = TestClients.Create(handler);
        DurableStream stream = client.GetStream(TestClients.StreamUrl);
        ReadCheckpoint saved = default;
        await foreach (StreamItem<int> item in stream.ReadJsonAsync(JsonTypeInfoFor.Int32, cancellationToken: Ct))
        {
            if (item.Value == 2)
            {
                saved = item.Checkpoint;
                break;
            }
        }

        string persisted = saved.ToString();
        IReadOnlyList<int> rest = await stream.ReadAllJsonAsync(JsonTypeInfoFor.Int32, new ReadOptions { Checkpoint = ReadCheckpoint.Parse(persisted) }, Ct);

        Assert.Equal("-1,2,9", persisted);
        Assert.Equal([3, 4, 5, 6], rest);
        Assert.Equal(["offset=-1", "offset=-1", "offset=0000_0005"], handler.Requests.Select(r => r.Query()));
    }

    [Fact]
    public async Task ReadAllJsonAsync_ReflectionOverloadWithDefaultOrResolverlessOptions_Deserializes()
    {
        var handler = new RecordingHandler().Then(_ => ReadScript.CatchUp("""[{"id":"a","n":1},{"id":"b","n":2}]""", "0000_0002", ReadScript.Json));
        using DurableStreamClient defaults = TestClients.Create(handler);
        using DurableStreamClient custom = TestClients.Create(handler, o => o.JsonSerializerOptions = new JsonSerializerOptions { PropertyNameCaseInsensitive = true });

        IReadOnlyList<Item> fromDefaults = await defaults.GetStream(TestClients.StreamUrl).ReadAllJsonAsync<Item>(cancellationToken: Ct);
        IReadOnlyList<Item> fromCustom = await custom.GetStream(TestClients.StreamUrl).ReadAllJsonAsync<Item>(cancellationToken: Ct);

        Assert.Equal([new Item("a", 1), new Item("b", 2)], fromDefaults);
        Assert.Equal(fromDefaults, fromCustom);
    }

    public sealed record Item(string Id, int N);

    [Theory]
    [InlineData("0000_0005")]
    [InlineData("0000_0005,3")]
    [InlineData("0000_0005,3,cursor-1")]
    [InlineData("-1,0,abc")]
    [InlineData("now")]
    public void ReadCheckpoint_ToStringThenParse_RoundTrips(string text)
    {
        ReadCheckpoint checkpoint = ReadCheckpoint.Parse(text);

        Assert.Equal(text, checkpoint.ToString());
        Assert.Equal(checkpoint, ReadCheckpoint.Parse(checkpoint.ToString()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a,b")]
    [InlineData("0000_0005,-1")]
    [InlineData("00/00,1")]
    public void ReadCheckpoint_Parse_RejectsMalformedText(string text)
    {
        Assert.False(ReadCheckpoint.TryParse(text, out _));
        Assert.Throws<FormatException>(() => ReadCheckpoint.Parse(text));
    }

    private static class JsonTypeInfoFor
    {
        public static readonly System.Text.Json.Serialization.Metadata.JsonTypeInfo<int> Int32 =
            (System.Text.Json.Serialization.Metadata.JsonTypeInfo<int>)JsonSerializerOptions.Default.GetTypeInfo(typeof(int));
    }
}
