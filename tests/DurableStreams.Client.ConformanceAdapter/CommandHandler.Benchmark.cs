using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace DurableStreams.Conformance.Adapter;

/// <summary>The <c>benchmark</c> command (ADAPTER.md §11): one timed operation per command.</summary>
internal sealed partial class CommandHandler
{
    private static readonly TimeSpan BenchmarkBudget = TimeSpan.FromSeconds(55);

    private async Task<JsonObject> BenchmarkAsync(JsonObject command)
    {
        string iterationId = OptionalString(command, "iterationId") ?? "";
        JsonObject operation = command["operation"] as JsonObject ?? throw new ArgumentException("benchmark needs an operation.");
        string op = OptionalString(operation, "op") ?? "";
        using var budget = new CancellationTokenSource(BenchmarkBudget);
        CancellationToken cancellationToken = budget.Token;

        long started = Stopwatch.GetTimestamp();
        JsonObject? metrics = _bare is { } bare ? await BareBenchmarkAsync(bare, op, operation, cancellationToken) : op switch
        {
            "append" => await BenchAppendAsync(operation, cancellationToken),
            "read" => await BenchReadAsync(operation, cancellationToken),
            "roundtrip" => await BenchRoundtripAsync(operation, cancellationToken),
            "create" => await BenchCreateAsync(operation, cancellationToken),
            "throughput_append" => await BenchThroughputAppendAsync(operation, cancellationToken),
            "throughput_read" => await BenchThroughputReadAsync(operation, cancellationToken),
            _ => null,
        };
        long elapsed = Stopwatch.GetTimestamp() - started;
        if (metrics is null)
        {
            string message = _bare is null
                ? $"Unknown benchmark operation: {op}"
                : $"Not done with a bare HttpClient ({BenchClientVariable}): {op}; only append, create, read and roundtrip are.";
            return Results.Error("benchmark", "NOT_SUPPORTED", message);
        }

        long nanoseconds = (long)(elapsed * (1_000_000_000.0 / Stopwatch.Frequency));
        JsonObject result = Results.Success("benchmark");
        result["iterationId"] = iterationId;
        result["durationNs"] = nanoseconds.ToString(CultureInfo.InvariantCulture);
        result["metrics"] = metrics;
        return result;
    }

    private async Task<JsonObject> BenchAppendAsync(JsonObject operation, CancellationToken cancellationToken)
    {
        int size = (int)(OptionalLong(operation, "size") ?? 100);
        byte[] payload = Payload(size);
        await StreamOf(Required(operation, "path")).AppendAsync(payload, options: null, cancellationToken);
        return new JsonObject { ["bytesTransferred"] = size };
    }

    private async Task<JsonObject> BenchReadAsync(JsonObject operation, CancellationToken cancellationToken)
    {
        var options = new ReadOptions();
        if (OptionalString(operation, "offset") is { } offset)
        {
            options.Offset = new Offset(offset);
        }

        byte[] data = await StreamOf(Required(operation, "path")).ReadAllBytesAsync(options, cancellationToken);
        return new JsonObject { ["bytesTransferred"] = data.Length };
    }

    private async Task<JsonObject> BenchRoundtripAsync(JsonObject operation, CancellationToken cancellationToken)
    {
        string path = Required(operation, "path");
        int size = (int)(OptionalLong(operation, "size") ?? 100);
        string contentType = OptionalString(operation, "contentType") ?? OctetStream;
        LiveMode live = OptionalString(operation, "live") == "sse" ? LiveMode.Sse : LiveMode.LongPoll;

        // Reused paths already exist (200): start reading at the tail, so the reader only sees this append.
        CreateStreamResult created = await Client.CreateStreamAsync(new CreateOptions { Url = UrlOf(path), ContentType = contentType }, cancellationToken);
        _contentTypes[path] = contentType;
        DurableStream stream = created.Stream;

        byte[] payload = RoundtripPayload(contentType, size);

        // As a user would: start a live read at the tail, append, take the first data that arrives.
        // A long-poll read's first request is the long-poll itself (PROTOCOL.md §5.7).
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        IAsyncEnumerator<StreamItem<ReadOnlyMemory<byte>>> reader = stream
            .ReadBytesAsync(new ReadOptions { Offset = created.NextOffset, Live = live }, stop.Token)
            .GetAsyncEnumerator(stop.Token);
        try
        {
            ValueTask<bool> first = reader.MoveNextAsync();
            await stream.AppendAsync(payload, options: null, cancellationToken);
            long received = await first ? reader.Current.Value.Length : 0;
            return new JsonObject { ["bytesTransferred"] = size + received };
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await reader.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
                // The live read is abandoned on purpose.
            }
        }
    }

    private async Task<JsonObject> BenchCreateAsync(JsonObject operation, CancellationToken cancellationToken)
    {
        string path = Required(operation, "path");
        string contentType = OptionalString(operation, "contentType") ?? OctetStream;
        await Client.CreateStreamAsync(new CreateOptions { Url = UrlOf(path), ContentType = contentType }, cancellationToken);
        _contentTypes[path] = contentType;
        return [];
    }

    private async Task<JsonObject> BenchThroughputAppendAsync(JsonObject operation, CancellationToken cancellationToken)
    {
        string path = Required(operation, "path");
        int count = (int)(OptionalLong(operation, "count") ?? 1000);
        int size = (int)(OptionalLong(operation, "size") ?? 100);
        try
        {
            await Client.CreateStreamAsync(new CreateOptions { Url = UrlOf(path), ContentType = ContentTypeOf(path) }, cancellationToken);
        }
        catch (DurableStreamException)
        {
            // The stream may exist already with another configuration; the appends tell.
        }

        // A fresh producer id per iteration: reusing one would make every later iteration a
        // server-side duplicate (ADAPTER.md §11).
        byte[] payload = Payload(size);
        IdempotentProducer producer = StreamOf(path).CreateProducer($"bench-{Guid.NewGuid():N}", new ProducerOptions { Linger = TimeSpan.Zero });
        try
        {
            for (int i = 0; i < count; i++)
            {
                await producer.AppendAsync(payload, cancellationToken);
            }

            await producer.FlushAsync(cancellationToken);
        }
        finally
        {
            await producer.DetachAsync(CancellationToken.None);
        }

        return new JsonObject { ["bytesTransferred"] = (long)count * size, ["messagesProcessed"] = count };
    }

    /// <summary>
    /// Reads the runner's JSON stream (messages <c>{"n":i,"data":"..."}</c>) as a user would: the
    /// typed reader with source-generated metadata, one deserialized message at a time. The bytes are
    /// the compact JSON of each message, as the TypeScript adapter counts them, computed from the
    /// deserialized value instead of serializing it again.
    /// </summary>
    private async Task<JsonObject> BenchThroughputReadAsync(JsonObject operation, CancellationToken cancellationToken)
    {
        // No content type up front: the responses carry it (the runner created the stream).
        DurableStream stream = Client.GetStream(UrlOf(Required(operation, "path")));
        long messages = 0;
        long bytes = 0;
        await foreach (StreamItem<ThroughputMessage> item in stream.ReadJsonAsync(BenchmarkJsonContext.Default.ThroughputMessage, options: null, cancellationToken))
        {
            messages++;
            bytes += item.Value.CompactJsonLength;
        }

        return new JsonObject { ["bytesTransferred"] = bytes, ["messagesProcessed"] = messages };
    }

    /// <summary>On a JSON stream the payload must be one JSON value: a string literal of about <paramref name="size"/> bytes.</summary>
    private static byte[] RoundtripPayload(string contentType, int size) =>
        IsJson(contentType) ? Encoding.UTF8.GetBytes("\"" + new string('*', Math.Max(0, size - 2)) + "\"") : Payload(size);

    private static byte[] Payload(int size)
    {
        byte[] payload = new byte[Math.Max(1, size)];
        Array.Fill(payload, (byte)0x2A);
        return payload;
    }
}

/// <summary>A message of the runner's read-throughput stream (ADAPTER.md §11).</summary>
internal sealed class ThroughputMessage
{
    [JsonPropertyName("n")]
    public long N { get; set; }

    [JsonPropertyName("data")]
    public string Data { get; set; } = "";

    /// <summary>The length of <c>{"n":N,"data":"Data"}</c> (the runner's data needs no escaping).</summary>
    [JsonIgnore]
    public long CompactJsonLength => 16 + N.ToString(CultureInfo.InvariantCulture).Length + Encoding.UTF8.GetByteCount(Data);
}

[JsonSerializable(typeof(ThroughputMessage))]
internal sealed partial class BenchmarkJsonContext : JsonSerializerContext;
