using System.Net.ServerSentEvents;
using System.Text;
using DurableStreams.Reading.Internal;
using DurableStreams.Testing;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// The read's own event-stream splitter against the runtime's <see cref="SseParser"/> as the oracle:
/// every wire below, in every read size (1-byte trickle, odd splits, whole), must dispatch the same
/// events with the same data, plus the limits that only the splitter has.
/// </summary>
public sealed class SseEventReaderTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    public static TheoryData<string, string> Wires()
    {
        var data = new TheoryData<string, string>();
        foreach ((string name, string newline) in new[] { ("LF", "\n"), ("CR", "\r"), ("CRLF", "\r\n") })
        {
            string L(params string[] lines) => string.Concat(lines.Select(l => l + newline));
            data.Add(name + " spec example", L("event: data", "data: [", "data: {\"k\":\"v\"},", "data: ]", "", "event: control", "data: {\"streamNextOffset\":\"123456_789\"}", ""));
            data.Add(name + " field forms", L(": comment", "event:data", "data:no space", "data:  two spaces", "data", "id: 7", "retry: 10", "unknown: x", "", "event: control", "data:{}", ""));
            data.Add(name + " empty data lines", L("event: data", "data:", "data:", "", "event: data", "data:", "", "event: data", "data: a", "data:", "data: b", ""));
            data.Add(name + " no data and other types", L("event: control", "", "", "event: other", "data: x", "", "data: default type", "", "event: data", "event: control", "data: last type wins", ""));
            data.Add(name + " BOM", "\uFEFF" + L("event: data", "data: after a BOM", ""));
            data.Add(name + " second BOM is data", L("event: data", "data: \uFEFFkept", ""));
            data.Add(name + " unfinished event dropped", L("event: data", "data: complete", "") + L("event: data", "data: never dispatched"));
            data.Add(name + " unfinished line dropped", L("event: data", "data: complete", "") + "event: data" + newline + "data: half");
            data.Add(name + " UTF-8", L("event: data", "data: h\u00e9llo \u2028 w\u00f6rld \U0001F600", ""));
        }

        data.Add("mixed newlines", "event: data\r\ndata: a\rdata: b\ndata: c\r\n\r\nevent: control\rdata: {}\n\r");
        data.Add("CR then LF in separate events", "event: data\rdata: x\r\r\nevent: data\ndata: y\n\n");
        return data;
    }

    public static TheoryData<int[]> Reads() => new([1], [2, 3, 5, 7], [4095, 1, 4096], [int.MaxValue]);

    [Theory]
    [MemberData(nameof(Wires))]
    public async Task TryRead_KnownWires_SameEventsAsSseParser(string name, string wire)
    {
        foreach (int[] reads in new[] { new[] { 1 }, [2, 3, 5, 7], [int.MaxValue] })
        {
            byte[] bytes = Encoding.UTF8.GetBytes(wire);
            List<(SseEventKind, string)> expected = await OracleAsync(bytes);
            List<(SseEventKind, string)> actual = await ReadAllAsync(bytes, reads);

            Assert.True(expected.SequenceEqual(actual), $"{name}, reads [{string.Join(",", reads)}]: expected {Show(expected)}, got {Show(actual)}");
        }
    }

    [Fact]
    public async Task TryRead_RandomWires_SameEventsAsSseParser()
    {
        string[] lines =
        [
            "event: data", "event: control", "event:data", "event: other", "event:", "data: x", "data:", "data",
            "data: hello world", "data:  spaced", ": comment", ":", "id: 1", "retry: 5", "field: value", "",
            "", "", "data: " + new string('y', 5000), "data: \u00e9\u2028", "data:{\"streamNextOffset\":\"1\"}",
        ];
        string[] newlines = ["\n", "\r", "\r\n"];
        var random = new Random(14);
        for (int round = 0; round < 300; round++)
        {
            var wire = new StringBuilder();
            if (random.Next(10) == 0)
            {
                wire.Append('\uFEFF');
            }

            int count = random.Next(1, 30);
            for (int i = 0; i < count; i++)
            {
                wire.Append(lines[random.Next(lines.Length)]).Append(newlines[random.Next(newlines.Length)]);
            }

            byte[] bytes = Encoding.UTF8.GetBytes(wire.ToString());
            int[] reads = [random.Next(1, 9), random.Next(1, 600), random.Next(1, 6000)];
            List<(SseEventKind, string)> expected = await OracleAsync(bytes);
            List<(SseEventKind, string)> actual = await ReadAllAsync(bytes, reads);

            Assert.True(expected.SequenceEqual(actual), $"round {round}, reads [{string.Join(",", reads)}], wire {Escape(wire.ToString())}: expected {Show(expected)}, got {Show(actual)}");
        }
    }

    [Theory]
    [MemberData(nameof(Reads))]
    public async Task TryRead_LineLongerThanTheLineLimit_ThrowsBeforeTheLineEnds(int[] reads)
    {
        var content = new TrickleContent(Encoding.ASCII.GetBytes("event: data\ndata:" + new string('a', 20_000)), reads);

        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => ReadAllAsync(content, lineLimit: 10_000, maxEventBytes: 100_000));

        Assert.Contains("An SSE line of more than 10000 bytes", ex.Message, StringComparison.Ordinal);
        Assert.True(content.BytesRead < 20_000, $"Read {content.BytesRead} bytes.");
    }

    [Theory]
    [MemberData(nameof(Reads))]
    public async Task TryRead_JoinedDataBeyondTheEventLimit_ThrowsBeforeTheEventEnds(int[] reads)
    {
        var wire = new StringBuilder("event: control\n");
        for (int i = 0; i < 10_000; i++)
        {
            wire.Append("data:x\n");
        }

        var content = new TrickleContent(Encoding.ASCII.GetBytes(wire.ToString()), reads);

        var ex = await Assert.ThrowsAsync<SseDecodingException>(() => ReadAllAsync(content, lineLimit: 10_000, maxEventBytes: 1000));

        Assert.Contains("'control' event of more than 1000 bytes exceeds ReadOptions.MaxSseEventBytes (1000 bytes)", ex.Message, StringComparison.Ordinal);
        Assert.True(content.BytesRead < 20_000, $"Read {content.BytesRead} bytes.");
    }

    [Fact]
    public async Task TryRead_JoinedDataOfExactlyTheEventLimit_Accepted()
    {
        // Two lines joined by LF: 499 + 1 + 500 = 1000 bytes.
        string wire = "event: data\ndata:" + new string('a', 499) + "\ndata:" + new string('b', 500) + "\n\n";

        (SseEventKind kind, string data) = Assert.Single(await ReadAllAsync(Encoding.ASCII.GetBytes(wire), [7], maxEventBytes: 1000));

        Assert.Equal(SseEventKind.Data, kind);
        Assert.Equal(1000, data.Length);
    }

    [Fact]
    public async Task TryRead_ManyEventsInOneRead_AllDispatchedWithoutAnotherRead()
    {
        string wire = string.Concat(Enumerable.Range(0, 50).Select(i => $"event: data\ndata: {i}\n\n"));
        var content = new TrickleContent(Encoding.ASCII.GetBytes(wire));
        using var events = new SseEventReader(await content.ReadAsStreamAsync(Ct), lineLimit: 1000, maxEventBytes: 1000);

        Assert.True(await events.FillAsync(Ct));
        int count = 0;
        while (events.TryRead(out SseEventKind _, out ReadOnlySpan<byte> data))
        {
            Assert.Equal(count.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.ASCII.GetString(data));
            count++;
        }

        Assert.Equal(50, count);
    }

    private async Task<List<(SseEventKind, string)>> OracleAsync(byte[] wire)
    {
        var events = new List<(SseEventKind, string)>();
        var parser = SseParser.Create(new MemoryStream(wire), (type, data) => (Kind(type), Encoding.UTF8.GetString(data)));
        await foreach (SseItem<(SseEventKind, string)> item in parser.EnumerateAsync(Ct))
        {
            events.Add(item.Data);
        }

        return events;
    }

    private static SseEventKind Kind(string type) => type switch
    {
        "data" => SseEventKind.Data,
        "control" => SseEventKind.Control,
        _ => SseEventKind.Other,
    };

    private Task<List<(SseEventKind, string)>> ReadAllAsync(byte[] wire, int[] reads, int maxEventBytes = 1024 * 1024) =>
        ReadAllAsync(new TrickleContent(wire, reads), lineLimit: 1024 * 1024, maxEventBytes);

    private async Task<List<(SseEventKind, string)>> ReadAllAsync(TrickleContent content, long lineLimit, int maxEventBytes)
    {
        var events = new List<(SseEventKind, string)>();
        using var reader = new SseEventReader(await content.ReadAsStreamAsync(Ct), lineLimit, maxEventBytes);
        do
        {
            while (reader.TryRead(out SseEventKind kind, out ReadOnlySpan<byte> data))
            {
                events.Add((kind, Encoding.UTF8.GetString(data)));
            }
        }
        while (await reader.FillAsync(Ct));

        return events;
    }

    private static string Show(List<(SseEventKind Kind, string Data)> events) =>
        "[" + string.Join(", ", events.Select(e => $"{e.Kind}:'{Escape(e.Data)}'")) + "]";

    private static string Escape(string text) =>
        (text.Length > 200 ? text[..100] + $"...({text.Length} chars)..." + text[^100..] : text)
        .Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
