using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using DurableStreams.Testing;

namespace DurableStreams.Benchmarks;

/// <summary>
/// Produces N messages to the reference server with an <see cref="IdempotentProducer"/>,
/// and, for comparison, posts the same messages as pre-built batches of at most 1 MiB with a bare
/// HttpClient (one request at a time). Reports messages/s and allocated bytes per message for both.
/// JSON streams get 100-byte JSON messages in JSON-array batches; other streams get raw bytes,
/// concatenated (a message of 1 MiB or more is a batch of its own).
/// </summary>
internal static class ProducerScenario
{
    private const int MessageSize = 100;
    private const int BatchBytes = 1024 * 1024;

    /// <summary>The <c>producer</c> command: 100-byte JSON messages, warm-up, best of two rounds, verified.</summary>
    public static async Task<int> RunAsync(int messages, bool smoke)
    {
        Console.WriteLine($"Starting the reference server...");
        await using ReferenceServerProcess server = await ReferenceServerProcess.StartAsync();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 16 });
        using var client = new DurableStreamClient(http, new DurableStreamClientOptions { BaseAddress = server.BaseUrl });
        const string json = "application/json";

        // Warm up every path (JIT, connections) on small streams before measuring.
        int warmup = Math.Min(messages, 20_000);
        await RunBaselineAsync(http, client, server.BaseUrl, warmup, MessageSize, json, producerHeaders: false);
        await RunBaselineAsync(http, client, server.BaseUrl, warmup, MessageSize, json, producerHeaders: true);
        await RunProducerAsync(client, server.BaseUrl, warmup, MessageSize, json);

        // Two rounds, alternating, best of each: the server's heap grows with every stream, so a
        // fixed order would favour whichever ran first.
        Result? plain = null, headers = null, producer = null;
        for (int round = 0; round < (smoke ? 1 : 2); round++)
        {
            plain = Best(plain, await RunBaselineAsync(http, client, server.BaseUrl, messages, MessageSize, json, producerHeaders: false));
            producer = Best(producer, await RunProducerAsync(client, server.BaseUrl, messages, MessageSize, json));
            headers = Best(headers, await RunBaselineAsync(http, client, server.BaseUrl, messages, MessageSize, json, producerHeaders: true));
        }

        Console.WriteLine();
        Console.WriteLine($"messages: {messages:N0} x {MessageSize} B JSON{(smoke ? " (smoke run)" : " (best of 2 rounds)")}");
        Console.WriteLine($"| Scenario | Messages/s | Elapsed (s) | Allocated B/message (all threads, during the run) | Requests | Client CPU (s) |");
        Console.WriteLine($"|---|---:|---:|---:|---:|---:|");
        Print("Baseline: bare HttpClient, pre-built 1 MiB batches, 1 in flight", plain!);
        Print("Baseline: same, plus producer headers (Producer-Id/Epoch/Seq)", headers!);
        Print("IdempotentProducer, default options (linger 5 ms, 1 MiB batches, 5 in flight)", producer!);
        Console.WriteLine($"producer / plain baseline: {producer!.MessagesPerSecond / plain!.MessagesPerSecond:P1}; producer / baseline with producer headers: {producer.MessagesPerSecond / headers!.MessagesPerSecond:P1}");

        return await VerifyAsync(http, producer, MessageSize, json) ? 0 : 1;
    }

    /// <summary>
    /// Checks that the producer's stream holds exactly the messages it produced (offsets are opaque,
    /// so JSON messages are counted and byte streams measured), and prints the outcome.
    /// </summary>
    public static async Task<bool> VerifyAsync(HttpClient http, Result producer, int messageSize, string contentType)
    {
        bool json = contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase);
        long stored = await CountAsync(http, producer.StreamUrl, json);
        long expected = json ? producer.Messages : (long)producer.Messages * messageSize;
        string unit = json ? "messages" : "bytes";
        if (stored != expected)
        {
            Console.Error.WriteLine($"MISMATCH: the producer's stream holds {stored:N0} {unit}, not {expected:N0}.");
            return false;
        }

        Console.WriteLine($"verified: the producer's stream holds exactly {stored:N0} {unit}.");
        return true;
    }

    /// <summary>Reads the whole stream and counts its JSON messages (each starts with <c>{"id":</c>) or its bytes.</summary>
    private static async Task<long> CountAsync(HttpClient http, Uri url, bool json)
    {
        long count = 0;
        string offset = "-1";
        byte[] marker = "{\"id\":"u8.ToArray();
        while (true)
        {
            using HttpResponseMessage response = await http.GetAsync($"{url}?offset={offset}");
            response.EnsureSuccessStatusCode();
            byte[] page = await response.Content.ReadAsByteArrayAsync();
            if (!json)
            {
                count += page.Length;
            }
            else
            {
                for (int i = page.AsSpan().IndexOf(marker); i >= 0;)
                {
                    count++;
                    int next = page.AsSpan(i + 1).IndexOf(marker);
                    i = next < 0 ? -1 : i + 1 + next;
                }
            }

            offset = response.Headers.GetValues("Stream-Next-Offset").Single();
            if (response.Headers.TryGetValues("Stream-Up-To-Date", out IEnumerable<string>? upToDate) && upToDate.Single() == "true")
            {
                return count;
            }
        }
    }

    private static void Print(string name, Result r) =>
        Console.WriteLine($"| {name} | {r.MessagesPerSecond:N0} | {r.Elapsed.TotalSeconds:F2} | {r.AllocatedPerMessage:F1} | {r.Requests:N0} | {r.ClientCpu.TotalSeconds:F2} |");

    public static Result Best(Result? previous, Result next) =>
        previous is null || next.MessagesPerSecond > previous.MessagesPerSecond ? next : previous;

    /// <summary>The n-th message: exactly <paramref name="size"/> bytes, <c>{"id":n,"pad":"xxx…"}</c> (valid JSON).</summary>
    private static void WriteMessage(Span<byte> destination, int id, int size)
    {
        destination[..size].Fill((byte)'x');
        Encoding.ASCII.GetBytes($"{{\"id\":{id},\"pad\":\"", destination);
        destination[size - 2] = (byte)'"';
        destination[size - 1] = (byte)'}';
    }

    /// <param name="owned">
    /// Append each message with <see cref="IdempotentProducer.AppendAsync(System.Buffers.IMemoryOwner{byte}, int, CancellationToken)"/>,
    /// handing the producer a pre-built array per message as the baseline hands its arrays to
    /// HttpClient (a message of at least <see cref="ProducerOptions.MaxBatchBytes"/> is then sent
    /// without a copy); otherwise with the copying <c>AppendAsync(ReadOnlyMemory&lt;byte&gt;)</c>.
    /// </param>
    public static async Task<Result> RunProducerAsync(DurableStreamClient client, Uri baseUrl, int messages, int messageSize, string contentType, bool owned = false)
    {
        DurableStream stream = (await client.CreateStreamAsync(new CreateOptions { Url = NewUrl(baseUrl, "producer"), ContentType = contentType })).Stream;

        // Pre-build the messages so that both runs measure sending, not formatting.
        byte[] all = BuildMessages(messages, messageSize);
        ArrayOwner[] owners = owned
            ? [.. Enumerable.Range(0, messages).Select(i => new ArrayOwner(all.AsSpan(i * messageSize, messageSize).ToArray()))]
            : [];

        GC.Collect();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        await using (IdempotentProducer producer = stream.CreateProducer("bench"))
        {
            for (int i = 0; i < messages; i++)
            {
                ValueTask append = owned
                    ? producer.AppendAsync(owners[i], messageSize)
                    : producer.AppendAsync(all.AsMemory(i * messageSize, messageSize));
                if (!append.IsCompletedSuccessfully)
                {
                    await append;
                }
            }

            await producer.FlushAsync();
            watch.Stop();
            long allocatedAfter = GC.GetTotalAllocatedBytes(precise: true);
            TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            return new Result(messages, watch.Elapsed, allocatedAfter - allocatedBefore, producer.NextSequence, stream.Url) { ClientCpu = cpu };
        }
    }

    public static async Task<Result> RunBaselineAsync(HttpClient http, DurableStreamClient client, Uri baseUrl, int messages, int messageSize, string contentType, bool producerHeaders)
    {
        DurableStream stream = (await client.CreateStreamAsync(new CreateOptions { Url = NewUrl(baseUrl, "baseline"), ContentType = contentType })).Stream;
        byte[] all = BuildMessages(messages, messageSize);
        bool json = contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase);

        // The same messages as bodies of at most 1 MiB (JSON arrays on a JSON stream), built before the clock starts.
        var batches = new List<byte[]>();
        int perBatch = Math.Max(1, json ? (BatchBytes - 2) / (messageSize + 1) : BatchBytes / messageSize);
        for (int start = 0; start < messages; start += perBatch)
        {
            int count = Math.Min(perBatch, messages - start);
            if (!json)
            {
                batches.Add(all.AsSpan(start * messageSize, count * messageSize).ToArray());
                continue;
            }

            byte[] body = new byte[2 + (count * messageSize) + count - 1];
            body[0] = (byte)'[';
            int position = 1;
            for (int i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    body[position++] = (byte)',';
                }

                all.AsSpan((start + i) * messageSize, messageSize).CopyTo(body.AsSpan(position));
                position += messageSize;
            }

            body[position] = (byte)']';
            batches.Add(body);
        }

        GC.Collect();
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (int seq = 0; seq < batches.Count; seq++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, stream.Url) { Content = new ByteArrayContent(batches[seq]) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            if (producerHeaders)
            {
                request.Headers.TryAddWithoutValidation("Producer-Id", "baseline");
                request.Headers.TryAddWithoutValidation("Producer-Epoch", "0");
                request.Headers.TryAddWithoutValidation("Producer-Seq", seq.ToString(CultureInfo.InvariantCulture));
            }

            using HttpResponseMessage response = await http.SendAsync(request);
            if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.NoContent))
            {
                throw new InvalidOperationException($"Baseline POST failed: {(int)response.StatusCode}");
            }
        }

        watch.Stop();
        long allocatedAfter = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        return new Result(messages, watch.Elapsed, allocatedAfter - allocatedBefore, batches.Count, stream.Url) { ClientCpu = cpu };
    }

    private static byte[] BuildMessages(int messages, int messageSize)
    {
        byte[] all = new byte[(long)messages * messageSize];
        for (int i = 0; i < messages; i++)
        {
            WriteMessage(all.AsSpan(i * messageSize, messageSize), i, messageSize);
        }

        return all;
    }

    /// <summary>Hands a pre-built array to the producer; disposing it does nothing (the array is garbage afterwards).</summary>
    private sealed class ArrayOwner(byte[] array) : System.Buffers.IMemoryOwner<byte>
    {
        public Memory<byte> Memory => array;

        public void Dispose()
        {
        }
    }

    public static string NewUrl(Uri baseUrl, string prefix) =>
        $"{baseUrl.AbsoluteUri.TrimEnd('/')}/v1/stream/bench-{prefix}-{Guid.NewGuid():N}";

    public sealed record Result(int Messages, TimeSpan Elapsed, long Allocated, long Requests, Uri StreamUrl)
    {
        public double MessagesPerSecond => Messages / Elapsed.TotalSeconds;

        public double AllocatedPerMessage => (double)Allocated / Messages;

        /// <summary>CPU time of this (client) process during the run, all threads.</summary>
        public TimeSpan ClientCpu { get; init; }
    }
}
