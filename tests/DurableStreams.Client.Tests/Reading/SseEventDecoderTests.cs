using System.Text;
using DurableStreams.Reading.Internal;
using DurableStreams.Testing;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// The SSE event decoder alone (PROTOCOL.md §5.8), fed by <see cref="SseEventReader"/> over
/// canned bytes: newline style × read sizes (1-byte trickle, odd splits, whole) × every split point,
/// the spec's own examples as named tests, and the malformed events that must fail.
/// </summary>
public sealed class SseEventDecoderTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    /// <summary>The same newline × read-size matrix as the reader's SSE framing tests.</summary>
    public static TheoryData<string, int[]> Matrix() => SseFramingTests.Matrix();

    public static TheoryData<string> Newlines() => new("\n", "\r", "\r\n");

    private static SseEventDecoder Decoder(bool base64 = false, bool json = false, int maxEventBytes = 1024, int maxGroupBytes = 4096, string? cursor = null) =>
        new(base64, json, maxEventBytes, maxGroupBytes, cursor, position: default);

    /// <summary>One group as the decoder hands it out when its data is taken right after its control event.</summary>
    internal readonly record struct SseGroup(ReadOnlyMemory<byte> Data, int Messages, SseControl Control, Offset NextOffset);

    /// <summary>Parses <paramref name="wire"/> in reads of the given sizes and returns the groups it decodes, taking the data after every control event.</summary>
    private async Task<List<SseGroup>> DecodeAsync(string wire, int[] reads, SseEventDecoder decoder)
    {
        var groups = new List<SseGroup>();
        using (decoder)
        {
            await FeedAsync(wire, decoder, reads, control =>
            {
                ReadOnlyMemory<byte> taken = decoder.TakeCompleted(out int messages);
                groups.Add(new SseGroup(taken, messages, control, decoder.Position));
            });
        }

        return groups;
    }

    /// <summary>
    /// Feeds every event of <paramref name="wire"/> (in reads of the given sizes; whole by default) to
    /// the decoder; <paramref name="onControl"/> sees each control event, and nothing is taken otherwise.
    /// </summary>
    private async Task FeedAsync(string wire, SseEventDecoder decoder, int[]? reads = null, Action<SseControl>? onControl = null)
    {
        using var content = new TrickleContent(Encoding.UTF8.GetBytes(wire), reads ?? [int.MaxValue]);
        using var events = new SseEventReader(await content.ReadAsStreamAsync(Ct), lineLimit: 1024 * 1024, maxEventBytes: 1024 * 1024);
        do
        {
            while (events.TryRead(out SseEventKind kind, out ReadOnlySpan<byte> data))
            {
                if (decoder.Accept(kind, data) is { } control)
                {
                    onControl?.Invoke(control);
                }
            }
        }
        while (await events.FillAsync(Ct));
    }

    private static string Lines(string newline, params string[] lines) => string.Concat(lines.Select(l => l + newline));

    private static string Utf8(SseGroup group) => Encoding.UTF8.GetString(group.Data.Span);

    // ------------------------------------------------------------------ the spec's examples (PROTOCOL.md §5.8)

    /// <summary>
    /// The §5.8 "normal data" example. As printed, its array ends in a trailing comma
    /// (<c>{"k":"w"},</c> before <c>]</c>), which is not JSON; <paramref name="trailingComma"/> false is
    /// the same example without it.
    /// </summary>
    private static string NormalDataExample(string newline, bool trailingComma) => Lines(
        newline,
        "event: data",
        "data: [",
        "data: {\"k\":\"v\"},",
        trailingComma ? "data: {\"k\":\"w\"}," : "data: {\"k\":\"w\"}",
        "data: ]",
        "",
        "event: control",
        "data: {\"streamNextOffset\":\"123456_789\",\"streamCursor\":\"abc\"}",
        "");

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Decode_SpecExampleNormalData_OneGroupWithBothMessagesAndTheCursor(string newline, int[] reads)
    {
        SseGroup group = Assert.Single(await DecodeAsync(NormalDataExample(newline, trailingComma: false), reads, Decoder(json: true)));

        // The messages, joined without the white space between them (PROTOCOL.md §9.1: the array is the framing, not the content).
        Assert.Equal("[{\"k\":\"v\"},{\"k\":\"w\"}]", Utf8(group));
        Assert.Equal(2, group.Messages);
        Assert.Equal(new Offset("123456_789"), group.NextOffset);
        Assert.Equal(new SseControl("abc", UpToDate: false, Closed: false), group.Control);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Decode_SpecExampleNormalDataAsPrinted_TrailingCommaIsAProtocolError(string newline, int[] reads)
    {
        // The read hands a JSON stream's data out as one JSON array; it does not repair invalid JSON.
        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => DecodeAsync(NormalDataExample(newline, trailingComma: true), reads, Decoder(json: true)));

        Assert.Contains("not a JSON array", ex.Message, StringComparison.Ordinal);
        Assert.Contains("trailing comma", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Decode_SpecExampleFinalDataWithClosure_ClosedGroupWithoutCursor(string newline, int[] reads)
    {
        string wire = Lines(
            newline,
            "event: data",
            "data: [",
            "data: {\"k\":\"final\"}",
            "data: ]",
            "",
            "event: control",
            "data: {\"streamNextOffset\":\"123456_999\",\"streamClosed\":true}",
            "");

        SseGroup group = Assert.Single(await DecodeAsync(wire, reads, Decoder(json: true)));

        Assert.Equal("[{\"k\":\"final\"}]", Utf8(group));
        Assert.Equal(1, group.Messages);
        Assert.Equal(new Offset("123456_999"), group.NextOffset);
        Assert.Equal(new SseControl(null, UpToDate: false, Closed: true), group.Control);
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Decode_SpecExampleBinaryBase64SplitAcrossLines_TheExactBytes(string newline, int[] reads)
    {
        string wire = Lines(
            newline,
            "event: data",
            "data: AQIDBAUG",
            "data: BwgJCg==",
            "",
            "event: control",
            "data: {\"streamNextOffset\":\"123456_789\",\"streamCursor\":\"abc\"}",
            "");

        SseGroup group = Assert.Single(await DecodeAsync(wire, reads, Decoder(base64: true)));

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, group.Data.ToArray());
        Assert.Equal(0, group.Messages);
        Assert.Equal("abc", group.Control.Cursor);
    }

    [Theory]
    [MemberData(nameof(Newlines))]
    public async Task Decode_LargeBase64OverSeveralLines_TheExactBytes(string newline)
    {
        // 3 KiB of bytes: base64 text over 1 KiB goes through a rented buffer when it has line breaks.
        byte[] payload = new byte[3 * 1024];
        new Random(7).NextBytes(payload);
        string text = Convert.ToBase64String(payload);
        string[] lines = text.Chunk(1000).Select(part => "data: " + new string(part)).ToArray();
        string wire = Lines(
            newline,
            ["event: data", .. lines, "", "event: control", "data: {\"streamNextOffset\":\"123456_789\"}", ""]);

        SseGroup group = Assert.Single(await DecodeAsync(wire, [int.MaxValue], Decoder(base64: true, maxEventBytes: 8 * 1024, maxGroupBytes: 16 * 1024)));

        Assert.True(lines.Length > 1);
        Assert.Equal(payload, group.Data.ToArray());
    }

    [Theory]
    [MemberData(nameof(Newlines))]
    public async Task Decode_SpecExampleSplitAtEveryByte_SameGroupAsWhole(string newline)
    {
        string wire = NormalDataExample(newline, trailingComma: false);
        SseGroup whole = Assert.Single(await DecodeAsync(wire, [int.MaxValue], Decoder(json: true)));

        for (int split = 1; split < Encoding.UTF8.GetByteCount(wire); split++)
        {
            SseGroup group = Assert.Single(await DecodeAsync(wire, [split, int.MaxValue], Decoder(json: true)));
            Assert.Equal(Utf8(whole), Utf8(group));
            Assert.Equal(whole.Control, group.Control);
        }
    }

    // ------------------------------------------------------------------ grouping

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Decode_TextEvents_JoinedUntilTheirControlEventAndUnknownTypesSkipped(string newline, int[] reads)
    {
        string wire =
            ": a comment" + newline +
            Lines(newline, "event: data", "data: hello", "") +
            Lines(newline, "event: data", "data:   two", "data: lines", "") +
            Lines(newline, "event: unknown", "data: ignored", "") +
            Lines(newline, "event: control", "data: {\"streamNextOffset\":\"0000_0002\",\"streamCursor\":\"c1\",\"upToDate\":true}", "") +
            Lines(newline, "event: control", "data: {\"streamNextOffset\":\"0000_0002\",\"streamCursor\":\"c1\",\"upToDate\":true}", "") +
            Lines(newline, "event: data", "data: é", "") +
            Lines(newline, "event: control", "data: {\"streamNextOffset\":\"0000_0003\",\"streamClosed\":true,\"extra\":{\"a\":[1]}}", "");

        List<SseGroup> groups = await DecodeAsync(wire, reads, Decoder());

        Assert.Equal(["hello  two\nlines", "", "é"], groups.Select(Utf8));
        Assert.Equal(["0000_0002", "0000_0002", "0000_0003"], groups.Select(g => g.NextOffset.Value));
        Assert.Equal(["c1", "c1", null], groups.Select(g => g.Control.Cursor));
        Assert.Equal([true, true, false], groups.Select(g => g.Control.UpToDate));
        Assert.Equal([false, false, true], groups.Select(g => g.Control.Closed));
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Decode_JsonEventsOfOneGroup_MergedIntoOneArrayAndEmptyArraysCountNothing(string newline, int[] reads)
    {
        string wire =
            Lines(newline, "event: data", "data: [{\"a\":1}]", "") +
            Lines(newline, "event: data", "data: []", "") +
            Lines(newline, "event: data", "data: [2,\"x\"]", "") +
            Lines(newline, "event: control", "data: {\"streamNextOffset\":\"0000_0003\"}", "") +
            Lines(newline, "event: data", "data: [ ]", "") +
            Lines(newline, "event: control", "data: {\"streamNextOffset\":\"0000_0003\"}", "");

        List<SseGroup> groups = await DecodeAsync(wire, reads, Decoder(json: true));

        Assert.Equal(["[{\"a\":1},2,\"x\"]", ""], groups.Select(Utf8));
        Assert.Equal([3, 0], groups.Select(g => g.Messages));
    }

    [Fact]
    public async Task Decode_EmptyBase64DataEvent_IsEmptyData()
    {
        string wire = "event: data\ndata:\n\nevent: control\ndata: {\"streamNextOffset\":\"1\"}\n\n";

        SseGroup group = Assert.Single(await DecodeAsync(wire, [int.MaxValue], Decoder(base64: true)));

        Assert.True(group.Data.IsEmpty);
    }

    [Fact]
    public async Task Decode_ControlRepeatingTheCursor_ReusesTheString()
    {
        string control = "event: control\ndata: {\"streamNextOffset\":\"1\",\"streamCursor\":\"same\"}\n\n";

        List<SseGroup> groups = await DecodeAsync(control + control, [int.MaxValue], Decoder(cursor: "other"));

        Assert.Equal("same", groups[0].Control.Cursor);
        Assert.Same(groups[0].Control.Cursor, groups[1].Control.Cursor);
    }

    [Fact]
    public async Task Decode_ControlRepeatingTheOffset_ReusesTheString()
    {
        string control = "event: control\ndata: {\"streamNextOffset\":\"0000_0042\",\"upToDate\":true}\n\n";

        List<SseGroup> groups = await DecodeAsync(control + control, [int.MaxValue], Decoder());

        Assert.Equal(new Offset("0000_0042"), groups[1].NextOffset);
        Assert.Same(groups[0].NextOffset.Value, groups[1].NextOffset.Value);
    }

    [Theory]
    [InlineData("{\"streamNextOffset\":\"a b\"}")]
    [InlineData("{\"streamNextOffset\":\"a\\u0020b\"}")]
    [InlineData("{\"streamNextOffset\":\"a/b\"}")]
    [InlineData("{\"streamNextOffset\":\"a\\u0001b\"}")]
    public async Task Decode_ControlWithAnOffsetTheConstructorRejects_Throws(string control)
    {
        string wire = "event: control\ndata: " + control + "\n\n";

        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => DecodeAsync(wire, [int.MaxValue], Decoder()));

        Assert.Contains("invalid streamNextOffset", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"streamNextOffset\":\"caf\u00e9_1\"}", "caf\u00e9_1")]
    [InlineData("{\"streamNextOffset\":\"a\\u005fb\"}", "a_b")]
    public async Task Decode_ControlWithAnEscapedOrNonAsciiOffset_ParsedFromTheString(string control, string expected)
    {
        string wire = "event: control\ndata: " + control + "\n\n";

        SseGroup group = Assert.Single(await DecodeAsync(wire, [int.MaxValue], Decoder()));

        Assert.Equal(expected, group.NextOffset.Value);
    }

    // ------------------------------------------------------------------ several groups taken together

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Decode_LargeAndSmallEventsOfSeveralGroups_TakenTogetherAsTheExactBytes(bool base64)
    {
        // A large event alone is kept in an array of its own; what joins it (here the next group's
        // small event) moves it into the buffer; data after the last control event stays pending.
        var random = new Random(21);
        byte[] large = new byte[5000], small = new byte[10], pending = new byte[6000];
        foreach (byte[] bytes in new[] { large, small, pending })
        {
            random.NextBytes(bytes);
            if (!base64)
            {
                // Printable ASCII: a text event's data has no line breaks of its own here.
                for (int i = 0; i < bytes.Length; i++)
                {
                    bytes[i] = (byte)(0x20 + (bytes[i] % 0x5F));
                }
            }
        }

        string Data(byte[] bytes) => "event: data\ndata: " + (base64 ? Convert.ToBase64String(bytes) : Encoding.ASCII.GetString(bytes)) + "\n\n";
        using var decoder = Decoder(base64: base64, maxEventBytes: 16 * 1024, maxGroupBytes: 16 * 1024);

        await FeedAsync(Data(large) + ControlEvent("\"0000_0001\"") + Data(small) + ControlEvent("\"0000_0002\"") + Data(pending), decoder);
        byte[] first = decoder.TakeCompleted(out _).ToArray();
        await FeedAsync(ControlEvent("\"0000_0003\""), decoder);
        byte[] second = decoder.TakeCompleted(out _).ToArray();
        await FeedAsync(Data(large) + ControlEvent("\"0000_0004\""), decoder);
        byte[] third = decoder.TakeCompleted(out _).ToArray();

        Assert.Equal([.. large, .. small], first);
        Assert.Equal(pending, second);
        Assert.Equal(large, third);
        Assert.Equal("0000_0004", decoder.Position.Value);
    }

    [Fact]
    public async Task Decode_LargeAndSmallJsonEventsOfSeveralGroups_TakenTogetherAsOneArray()
    {
        // A large JSON event alone is checked and kept as it came; what joins it moves its messages
        // into the buffer, where the next group's messages follow them; an event that arrives while
        // data is pending goes to the buffer at once.
        static string Array(int first, int count) =>
            "[\n" + string.Join(",\n", Enumerable.Range(first, count).Select(i => $"{{\"n\":{i},\"pad\":\"{new string('x', 40)}\"}}")) + "\n]";
        static string Data(string json) => "event: data\n" + string.Concat(json.Split('\n').Select(line => "data: " + line + "\n")) + "\n";
        static List<int> Numbers(ReadOnlyMemory<byte> array) =>
            System.Text.Json.JsonDocument.Parse(array).RootElement.EnumerateArray()
                .Select(e => e.ValueKind == System.Text.Json.JsonValueKind.Number ? e.GetInt32() : e.GetProperty("n").GetInt32()).ToList();
        string large = Array(0, 100), pending = Array(200, 100);
        using var decoder = Decoder(json: true, maxEventBytes: 16 * 1024, maxGroupBytes: 16 * 1024);

        await FeedAsync(Data(large) + ControlEvent("\"0000_0001\"") + Data("[100,\n101]") + ControlEvent("\"0000_0002\"") + Data(pending), decoder);
        ReadOnlyMemory<byte> first = decoder.TakeCompleted(out int firstMessages);
        await FeedAsync(ControlEvent("\"0000_0003\""), decoder);
        ReadOnlyMemory<byte> second = decoder.TakeCompleted(out int secondMessages);

        Assert.True(Encoding.UTF8.GetByteCount(large) >= 4 * 1024);
        Assert.Equal(102, firstMessages);
        Assert.Equal(Enumerable.Range(0, 102), Numbers(first));
        await FeedAsync(Data(large) + ControlEvent("\"0000_0004\""), decoder);
        ReadOnlyMemory<byte> third = decoder.TakeCompleted(out int thirdMessages);

        Assert.Equal(100, secondMessages);
        Assert.Equal(Enumerable.Range(200, 100), Numbers(second));
        Assert.Equal(100, thirdMessages);
        Assert.Equal(large, Encoding.UTF8.GetString(third.Span)); // alone: handed out as it came
    }

    // ------------------------------------------------------------------ the position (offsets checked as the events come)

    private static string ControlEvent(string offsetJson) => "event: control\ndata: {\"streamNextOffset\":" + offsetJson + "}\n\n";

    /// <summary>Feeds every event without asking for the position in between (as the read does within one chunk) and returns the position at the end.</summary>
    private async Task<Offset> AcceptAllAsync(string wire, SseEventDecoder decoder)
    {
        using (decoder)
        {
            await FeedAsync(wire, decoder);
            return decoder.Position;
        }
    }

    [Fact]
    public async Task Decode_OffsetsInBothShapes_PositionFollowsEveryControlEvent()
    {
        // Plain offsets stay bytes until asked for; an escaped one goes through the JSON reader as a string.
        string wire = ControlEvent("\"0000_0002\"") + ControlEvent("\"0000\\u005f0003\"") + ControlEvent("\"0000_0004\"") + ControlEvent("\"0000_0004\"");

        List<SseGroup> groups = await DecodeAsync(wire, [int.MaxValue], new SseEventDecoder(false, false, 1024, 4096, null, new Offset("0000_0001")));

        Assert.Equal(["0000_0002", "0000_0003", "0000_0004", "0000_0004"], groups.Select(g => g.NextOffset.Value));
        Assert.Same(groups[2].NextOffset.Value, groups[3].NextOffset.Value);
        Assert.Equal(new Offset("0000_0004"), await AcceptAllAsync(wire, new SseEventDecoder(false, false, 1024, 4096, null, new Offset("0000_0001"))));
    }

    [Theory]
    [InlineData("\"0000_0005\"", "\"0000_0004\"")]
    [InlineData("\"0000\\u005f0005\"", "\"0000_0004\"")]
    [InlineData("\"0000_0005\"", "\"0000\\u005f0004\"")]
    [InlineData("\"0000_0010\"", "\"0000_0009\"")]
    public async Task Decode_OffsetBeforeThePosition_ThrowsInEitherShape(string first, string second)
    {
        foreach (bool together in new[] { true, false })
        {
            // Together: the second is checked against the first while that one is still bytes, as
            // within one chunk; otherwise against the position already made a string.
            var decoder = new SseEventDecoder(false, false, 1024, 4096, null, new Offset("0000_0001"));
            string wire = ControlEvent(first) + ControlEvent(second);
            var ex = await Assert.ThrowsAsync<SseDecodingException>(() => together ? AcceptAllAsync(wire, decoder) : DecodeAsync(wire, [int.MaxValue], decoder));

            Assert.Contains("is before the offset 0000_00", ex.Message, StringComparison.Ordinal);
            Assert.Contains("must not go backwards", ex.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("0000_0001")]
    [InlineData("0000_0003")]
    public async Task Decode_DataWhoseControlEventKeepsThePosition_Throws(string start)
    {
        string wire = ControlEvent("\"0000_0003\"") + "event: data\ndata: x\n\n" + ControlEvent("\"0000_0003\"");
        var decoder = new SseEventDecoder(false, false, 1024, 4096, null, new Offset(start));

        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => AcceptAllAsync(wire, decoder));

        Assert.Contains("stays at 0000_0003", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decode_ControlEventsFromTheBeginningOrNow_TheFirstIsNotChecked()
    {
        foreach (Offset start in new[] { Offset.Beginning, Offset.Now })
        {
            string wire = "event: data\ndata: x\n\n" + ControlEvent("\"0000_0000\"");

            SseGroup group = Assert.Single(await DecodeAsync(wire, [int.MaxValue], new SseEventDecoder(false, false, 1024, 4096, null, start)));

            Assert.Equal("0000_0000", group.NextOffset.Value);
        }
    }

    [Fact]
    public async Task Decode_DataWithoutControlEvent_NoGroup()
    {
        List<SseGroup> groups = await DecodeAsync("event: data\ndata: pending\n\n", [int.MaxValue], Decoder());

        Assert.Empty(groups);
    }

    // ------------------------------------------------------------------ protocol errors

    [Theory]
    [InlineData("{invalid json here", "not valid JSON")]
    [InlineData("", "an empty event")]
    [InlineData("[1,2]", "a JSON Array, not an object")]
    [InlineData("\"x\"", "a JSON String, not an object")]
    [InlineData("{\"streamCursor\":\"1\"}", "no streamNextOffset")]
    [InlineData("{\"streamNextOffset\":42}", "no streamNextOffset")]
    [InlineData("{\"streamNextOffset\":\"now\"}", "invalid streamNextOffset 'now'")]
    [InlineData("{\"streamNextOffset\":\"-1\"}", "invalid streamNextOffset '-1'")]
    [InlineData("{\"streamNextOffset\":\"1\"} {}", "not valid JSON")]
    public async Task Decode_MalformedControlEvent_ThrowsNamingTheProblem(string control, string expected)
    {
        string wire = "event: control\ndata: " + control + "\n\n";

        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => DecodeAsync(wire, [int.MaxValue], Decoder()));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("AP/")]
    [InlineData("AP/+/fw")]
    [InlineData("not base64!")]
    public async Task Decode_InvalidBase64_Throws(string data)
    {
        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => DecodeAsync("event: data\ndata: " + data + "\n\n", [int.MaxValue], Decoder(base64: true)));

        Assert.Contains("not valid base64", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decode_JsonDataEventThatIsNotAnArray_Throws()
    {
        string wire = "event: data\ndata: {\"a\":1}\n\nevent: control\ndata: {\"streamNextOffset\":\"1\"}\n\n";

        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => DecodeAsync(wire, [int.MaxValue], Decoder(json: true)));

        Assert.Contains("not a JSON array", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.InnerException);
    }

    [Fact]
    public async Task Decode_EventOfExactlyTheLimitAccepted_OneByteMoreThrows()
    {
        string Event(int size) => "event: data\ndata: " + new string('x', size) + "\n\nevent: control\ndata: {\"streamNextOffset\":\"1\"}\n\n";

        SseGroup group = Assert.Single(await DecodeAsync(Event(100), [int.MaxValue], Decoder(maxEventBytes: 100)));
        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => DecodeAsync(Event(101), [int.MaxValue], Decoder(maxEventBytes: 100)));

        Assert.Equal(100, group.Data.Length);
        Assert.Contains("'data' event of 101 bytes exceeds ReadOptions.MaxSseEventBytes (100 bytes)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decode_DataEventsBeyondTheGroupLimitBeforeAControlEvent_Throws()
    {
        string events = string.Concat(Enumerable.Repeat("event: data\ndata: " + new string('x', 60) + "\n\n", 3));

        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => DecodeAsync(events, [int.MaxValue], Decoder(maxGroupBytes: 150)));

        Assert.Contains("MaxBufferedBytes (150 bytes)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Decode_GroupLimit_CountsOnlyTheOpenGroup()
    {
        string Group(int offset) => "event: data\ndata: " + new string('x', 60) + "\n\nevent: control\ndata: {\"streamNextOffset\":\"" + offset + "\"}\n\n";

        List<SseGroup> groups = await DecodeAsync(Group(1) + Group(2) + Group(3), [int.MaxValue], Decoder(maxGroupBytes: 100));

        Assert.Equal(3, groups.Count);
    }

    // ------------------------------------------------------------------ control events against JsonDocument

    [Fact]
    public async Task Decode_ControlEventVariants_SameFieldsOrErrorAsJsonDocument()
    {
        string[] values = ["\"0000_0007\"", "\"0000_0007\" ", "true", "false", "null", "7", "-1.5e3", "{}", "[]", "{\"a\":[1]}", "\"a\\\"b\"", "\"caf\u00e9\"", "\"\"", "\"now\"", "\"-1\"", "\"a b\"", "\"x\u0001\"", "tru", "\"open", "truex", "nul", "fals", "\"a\tb\""];
        string[] names = ["streamNextOffset", "streamCursor", "upToDate", "streamClosed", "other", "stream\\u004eextOffset", "streamCursoR", "upToDatE", "streamNextOffseT", "str\u00e9amCursor"];
        string[] spaces = ["", " ", "\t", "\r\n "];
        var random = new Random(14);
        for (int round = 0; round < 2000; round++)
        {
            var json = new StringBuilder();
            string Space() => spaces[random.Next(spaces.Length)];
            json.Append(Space()).Append('{');
            int properties = random.Next(0, 6);
            for (int p = 0; p < properties; p++)
            {
                string name = p == 0 && random.Next(3) > 0 ? "streamNextOffset" : names[random.Next(names.Length)];
                string value = name == "streamNextOffset" && random.Next(3) > 0 ? $"\"0000_{random.Next(3):D4}\"" : values[random.Next(values.Length)];
                json.Append(Space()).Append('"').Append(name).Append('"').Append(Space()).Append(':').Append(Space()).Append(value).Append(Space());
                if (p < properties - 1)
                {
                    json.Append(',');
                }
            }

            json.Append('}').Append(Space());
            string text = json.ToString();
            switch (random.Next(8))
            {
                case 0: text = text[..random.Next(text.Length)]; break;
                case 1: text += random.Next(2) == 0 ? "}" : ","; break;
                default: break;
            }

            string wire = "event: control\ndata: " + text.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal) + "\n\n";
            string sent = text.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);
            string expected = ExpectedControl(sent);
            string actual;
            try
            {
                SseGroup group = Assert.Single(await DecodeAsync(wire, [int.MaxValue], Decoder(cursor: "0000_0001")));
                actual = Show(group.NextOffset, group.Control);
            }
            catch (SseDecodingException)
            {
                actual = "error";
            }

            Assert.True(expected == actual, $"{sent}: expected {expected}, got {actual}");
        }
    }

    [Fact]
    public async Task Decode_ControlEventsNearTheServersShape_SameFieldsOrErrorAsJsonDocument()
    {
        // The reference server's layout, which the decoder matches by its literal parts, and every
        // near miss of it: each optional part present, absent or broken, and broken endings.
        string[] starts = ["{\"streamNextOffset\":\"0000_0003\"", "{\"streamNextOffset\":\"0000_0003", "{\"streamNextOffset\": \"0000_0003\"", "{\"streamNextOffset\":\"0000_0001\"", "{\"streamNextOffset\":\"now\""];
        string[] cursors = ["", ",\"streamCursor\":\"c1\"", ",\"streamCursor\":\"\"", ",\"streamCursor\":\"c1", ",\"streamCursor\":null"];
        string[] upToDates = ["", ",\"upToDate\":true", ",\"upToDate\":false", ",\"upToDate\":tru"];
        string[] closeds = ["", ",\"streamClosed\":true", ",\"streamClosed\":false"];
        string[] ends = ["}", "}}", "", "} ", ",}", "}x", ",\"streamNextOffset\":\"0000_0009\"}", ",\"upToDate\":false}"];
        foreach (string start in starts)
        {
            foreach (string cursor in cursors)
            {
                foreach (string upToDate in upToDates)
                {
                    foreach (string closed in closeds)
                    {
                        foreach (string end in ends)
                        {
                            string sent = start + cursor + upToDate + closed + end;
                            string expected = ExpectedControl(sent);
                            string actual;
                            try
                            {
                                SseGroup group = Assert.Single(await DecodeAsync($"event: control\ndata: {sent}\n\n", [int.MaxValue], Decoder(cursor: "0000_0001")));
                                actual = Show(group.NextOffset, group.Control);
                            }
                            catch (SseDecodingException)
                            {
                                actual = "error";
                            }

                            Assert.True(expected == actual, $"{sent}: expected {expected}, got {actual}");
                        }
                    }
                }
            }
        }
    }

    private static string Show(Offset next, SseControl control) => $"{next.Value}|{control.Cursor ?? "<null>"}|{control.UpToDate}|{control.Closed}";

    /// <summary>What a control event must decode to, by JsonDocument: the last value of each property counts.</summary>
    private static string ExpectedControl(string json)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                return "error";
            }

            System.Text.Json.JsonElement? next = null, cursor = null, upToDate = null, closed = null;
            foreach (System.Text.Json.JsonProperty property in document.RootElement.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "streamNextOffset": next = property.Value; break;
                    case "streamCursor": cursor = property.Value; break;
                    case "upToDate": upToDate = property.Value; break;
                    case "streamClosed": closed = property.Value; break;
                    default: break;
                }
            }

            if (next is not { ValueKind: System.Text.Json.JsonValueKind.String } n
                || !Offset.TryParse(n.GetString(), out Offset offset) || offset.IsNow || offset.IsBeginning)
            {
                return "error";
            }

            string? cursorText = cursor is { ValueKind: System.Text.Json.JsonValueKind.String } c ? c.GetString() : null;
            return Show(offset, new SseControl(
                cursorText,
                upToDate is { ValueKind: System.Text.Json.JsonValueKind.True },
                closed is { ValueKind: System.Text.Json.JsonValueKind.True }));
        }
        catch (System.Text.Json.JsonException)
        {
            return "error";
        }
    }
}
