using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;

namespace DurableStreams.Benchmarks.InProcess;

/// <summary>
/// SSE parsing and decoding through the public read API, per 1 MiB of payload: a live SSE read
/// (<see cref="LiveMode.Sse"/>) of a canned body of data events, each followed by a control event
/// (the last one closes the stream, which ends the read). <c>Kind</c> is the stream's content type —
/// text (<c>text/plain</c>), JSON (<c>application/json</c>) or binary (<c>application/octet-stream</c>,
/// base64 on the wire) — and <c>EventBytes</c> the payload per event: 100 B (one small append per event)
/// or 16 KiB. The baseline reads the same body with a bare HttpClient and <see cref="MinimalSseReader"/>,
/// copying each data event's payload out (base64-decoded for binary), the floor for a .NET client.
/// </summary>
/// <remarks>
/// Use this class's BenchmarkDotNet run for the Allocated column (exact). Its time ratios move by up
/// to 2x between runs of one build (methods measured seconds apart, part of them before the JIT has
/// finished tiering up); the <c>sse-ratio</c> mode (<see cref="SseRatioProbe"/>) measures the same
/// methods alternating in one process and gives ratios that hold (docs/benchmarks.md, issue 14).
/// </remarks>
[MemoryDiagnoser]
public class SseReadBenchmarks : IDisposable
{
    private const int PayloadBytes = 1024 * 1024;
    private DurableStreamClient _client = null!;
    private HttpClient _bare = null!;
    private DurableStream _stream = null!;
    private readonly ReadOptions _sse = new() { Live = LiveMode.Sse };

    [Params("text", "json", "binary")]
    public string Kind { get; set; } = "text";

    [Params(100, 16 * 1024)]
    public int EventBytes { get; set; }

    /// <summary>The position <see cref="BaselineWithControl"/> ended at.</summary>
    public string? LastOffset { get; private set; }

    /// <summary>The cursor <see cref="BaselineWithControl"/> ended with.</summary>
    public string? LastCursor { get; private set; }

    /// <summary>Payload bytes (JSON: messages) in the canned body.</summary>
    public long Payload { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        string contentType = Kind switch { "text" => "text/plain", "json" => "application/json", _ => "application/octet-stream" };
        (byte[] body, long payload) = CannedBodies.Sse(Kind, EventBytes, PayloadBytes / EventBytes);
        Payload = payload;
        var handler = new CannedStreamHandler(contentType, sseBody: body);
        _client = new DurableStreamClient(new HttpClient(handler), disposeHttpClient: true);
        _bare = new HttpClient(handler, disposeHandler: false);
        _stream = _client.GetStream("http://bench.invalid/v1/stream/s", contentType);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _client.Dispose();
        _bare.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true, Description = "Bare HttpClient + minimal SSE")]
    public Task<long> Baseline() => BareLoopAsync(parseControl: false);

    /// <summary>
    /// The minimal loop plus what PROTOCOL.md §5.8 makes every client do per control event: read its
    /// JSON for the next offset (kept as a string, the position to resume from), the cursor, and the
    /// up-to-date and closed flags. The floor for a client that tracks its position.
    /// </summary>
    [Benchmark(Description = "Bare HttpClient + minimal SSE + control events parsed")]
    public Task<long> BaselineWithControl() => BareLoopAsync(parseControl: true);

    /// <summary>
    /// The minimal loop plus the least PROTOCOL.md §5.8 asks of a client per control event, done as
    /// cheaply as possible: the next offset and the cursor copied as bytes into buffers kept for the
    /// read (no strings, no JSON reader, no check of the shape or of the offset order), the
    /// up-to-date and closed flags noted. The floor for any client that can resume.
    /// </summary>
    [Benchmark(Description = "Bare HttpClient + minimal SSE + control fields as bytes")]
    public Task<long> BaselineFloor() => FloorLoopAsync(frameJson: false);

    /// <summary>
    /// <see cref="BaselineFloor"/> plus, on a JSON stream, what a client must do to keep message
    /// boundaries (PROTOCOL.md §9.1.1) and so count messages for a resume position: each data event's
    /// array read with <see cref="Utf8JsonReader"/> to find its elements. Not a BenchmarkDotNet row
    /// (for text and binary it is <see cref="BaselineFloor"/>); the <c>sse-ratio</c> mode runs it for JSON.
    /// </summary>
    public Task<long> BaselineFloorJsonFramed() => FloorLoopAsync(frameJson: true);

    private async Task<long> FloorLoopAsync(bool frameJson)
    {
        bool base64 = Kind == "binary";
        using HttpResponseMessage response = await _bare.GetAsync(
            $"http://bench.invalid/v1/stream/s?offset={CannedStreamHandler.TailOffset}&live=sse", HttpCompletionOption.ResponseHeadersRead);
        using Stream body = await response.Content.ReadAsStreamAsync();
        var reader = new MinimalSseReader(body, joinWithoutNewline: base64);
        var control = new ControlFields();
        long total = 0;
        while (await reader.ReadEventAsync())
        {
            if (!reader.IsControl)
            {
                total += TakePayload(reader, base64) + (frameJson ? CountElements(reader.Data) : 0);
            }
            else if (control.Read(reader.Data))
            {
                break;
            }
        }

        return total;
    }

    /// <summary>
    /// A bare HttpClient and <see cref="MinimalSseReader"/>: each data event's payload copied out;
    /// control events only searched for the end of the stream, or, with <paramref name="parseControl"/>,
    /// read as JSON.
    /// </summary>
    private async Task<long> BareLoopAsync(bool parseControl)
    {
        bool base64 = Kind == "binary";
        using HttpResponseMessage response = await _bare.GetAsync(
            $"http://bench.invalid/v1/stream/s?offset={CannedStreamHandler.TailOffset}&live=sse", HttpCompletionOption.ResponseHeadersRead);
        using Stream body = await response.Content.ReadAsStreamAsync();
        var reader = new MinimalSseReader(body, joinWithoutNewline: base64);
        long total = 0;
        while (await reader.ReadEventAsync())
        {
            if (!reader.IsControl)
            {
                total += TakePayload(reader, base64);
            }
            else if (parseControl ? ReadControl(reader.Data) : reader.Data.IndexOf("\"streamClosed\":true"u8) >= 0)
            {
                break;
            }
        }

        return total;
    }

    /// <summary>Reads a control event's fields as a position-keeping client must; true when it closes the stream.</summary>
    private bool ReadControl(ReadOnlySpan<byte> data)
    {
        bool closed = false;
        var json = new Utf8JsonReader(data);
        while (json.Read())
        {
            if (json.TokenType != JsonTokenType.PropertyName)
            {
                continue;
            }

            if (json.ValueTextEquals("streamNextOffset"u8))
            {
                json.Read();
                LastOffset = json.GetString();
            }
            else if (json.ValueTextEquals("streamCursor"u8))
            {
                json.Read();
                LastCursor = json.GetString();
            }
            else if (json.ValueTextEquals("streamClosed"u8))
            {
                json.Read();
                closed = json.TokenType == JsonTokenType.True;
            }
            else
            {
                json.Read();
                json.Skip();
            }
        }

        return closed;
    }

    /// <summary>The elements of a JSON array, found with <see cref="Utf8JsonReader"/> (which also checks it); no other check.</summary>
    private static int CountElements(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        int count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            reader.Skip();
            count++;
        }

        return count;
    }

    /// <summary>Hands the caller a data event's payload as its own array, as the SDK does (base64-decoded for binary); returns its length.</summary>
    private static int TakePayload(MinimalSseReader reader, bool base64)
    {
        if (!base64)
        {
            return reader.Data.ToArray().Length;
        }

        byte[] data = new byte[Base64.GetMaxDecodedFromUtf8Length(reader.Data.Length)];
        Base64.DecodeFromUtf8(reader.Data, data, out _, out int written);
        return written;
    }

    [Benchmark(Description = "ReadAsync (chunks)")]
    public async Task<long> Chunks()
    {
        long total = 0;
        await foreach (StreamChunk chunk in _stream.ReadAsync(_sse))
        {
            total += chunk.Data.Length;
        }

        return total;
    }

    [Benchmark(Description = "ReadTextAsync / ReadJsonAsync<T> / ReadBytesAsync")]
    public async Task<long> Typed()
    {
        long total = 0;
        switch (Kind)
        {
            case "text":
                await foreach (StreamItem<string> item in _stream.ReadTextAsync(_sse))
                {
                    total += item.Value.Length;
                }

                break;
            case "json":
                await foreach (StreamItem<BenchMessage> item in _stream.ReadJsonAsync(BenchJsonContext.Default.BenchMessage, _sse))
                {
                    total += item.Value.Id >= 0 ? 1 : 0;
                }

                break;
            default:
                await foreach (StreamItem<ReadOnlyMemory<byte>> item in _stream.ReadBytesAsync(_sse))
                {
                    total += item.Value.Length;
                }

                break;
        }

        return total;
    }

    /// <summary>
    /// The fields of a control event kept the cheapest way: one pass over a flat object of
    /// <c>"name":value</c> pairs, string values copied into reused buffers. Trusts the server (no
    /// validation at all), which no real client should; it only measures the least work.
    /// </summary>
    private sealed class ControlFields
    {
        private readonly byte[] _offset = new byte[64];
        private readonly byte[] _cursor = new byte[64];

        public int OffsetLength { get; private set; }

        public int CursorLength { get; private set; }

        public bool UpToDate { get; private set; }

        /// <summary>Reads one control event; true when it closes the stream.</summary>
        public bool Read(ReadOnlySpan<byte> data)
        {
            bool closed = false;
            UpToDate = false;
            int i = 0;
            while (true)
            {
                int open = data[i..].IndexOf((byte)'"');
                if (open < 0)
                {
                    return closed;
                }

                i += open + 1;
                int nameEnd = data[i..].IndexOf((byte)'"');
                ReadOnlySpan<byte> name = data.Slice(i, nameEnd);
                i += nameEnd + 2;
                if (data[i] == (byte)'"')
                {
                    int valueEnd = data[(i + 1)..].IndexOf((byte)'"');
                    ReadOnlySpan<byte> value = data.Slice(i + 1, valueEnd);
                    i += valueEnd + 2;
                    if (name.SequenceEqual("streamNextOffset"u8))
                    {
                        value.CopyTo(_offset);
                        OffsetLength = value.Length;
                    }
                    else if (name.SequenceEqual("streamCursor"u8))
                    {
                        value.CopyTo(_cursor);
                        CursorLength = value.Length;
                    }
                }
                else
                {
                    bool isTrue = data[i] == (byte)'t';
                    if (name.SequenceEqual("upToDate"u8))
                    {
                        UpToDate = isTrue;
                    }
                    else if (name.SequenceEqual("streamClosed"u8))
                    {
                        closed = isTrue;
                    }
                }
            }
        }
    }
}
