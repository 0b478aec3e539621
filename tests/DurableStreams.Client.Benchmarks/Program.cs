using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using DurableStreams;
using DurableStreams.Benchmarks;
using DurableStreams.Testing;

// Two modes:
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- producer [--smoke] [--messages N]
//     the end-to-end scenario against the real reference server (see ProducerScenario);
//   dotnet run -c Release --project tests/DurableStreams.Client.Benchmarks -- [BenchmarkDotNet arguments]
//     the in-process micro-benchmarks (BenchmarkSwitcher).
if (args.Length > 0 && args[0] == "producer")
{
    bool smoke = args.Contains("--smoke");
    int index = Array.IndexOf(args, "--messages");
    int messages = index >= 0 && index + 1 < args.Length
        ? int.Parse(args[index + 1], CultureInfo.InvariantCulture)
        : smoke ? 10_000 : 1_000_000;
    return await ProducerScenario.RunAsync(messages, smoke);
}

// In process: the auto-generated project BenchmarkDotNet would build inherits the tests' two target
// frameworks from tests/Directory.Build.props and fails to restore.
BenchmarkSwitcher.FromAssembly(typeof(ProducerScenario).Assembly).Run(
    args,
    DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance)));
return 0;

namespace DurableStreams.Benchmarks
{
    /// <summary>
    /// Produces N 100-byte JSON messages to the reference server with an <see cref="IdempotentProducer"/>,
    /// and, for comparison, posts the same messages as pre-built 1 MiB JSON-array batches with a bare
    /// HttpClient (one request at a time, no producer headers). Reports messages/s and allocated bytes
    /// per message for both.
    /// </summary>
    internal static class ProducerScenario
    {
        private const int MessageSize = 100;
        private const int BatchBytes = 1024 * 1024;

        public static async Task<int> RunAsync(int messages, bool smoke)
        {
            Console.WriteLine($"Starting the reference server...");
            await using ReferenceServerProcess server = await ReferenceServerProcess.StartAsync();
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 16 });
            using var client = new DurableStreamClient(http, new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

            // Warm up every path (JIT, connections) on small streams before measuring.
            int warmup = Math.Min(messages, 20_000);
            await RunBaselineAsync(http, client, server, warmup, producerHeaders: false);
            await RunBaselineAsync(http, client, server, warmup, producerHeaders: true);
            await RunProducerAsync(client, server, warmup);

            // Two rounds, alternating, best of each: the server's heap grows with every stream, so a
            // fixed order would favour whichever ran first.
            Result? plain = null, headers = null, producer = null;
            for (int round = 0; round < (smoke ? 1 : 2); round++)
            {
                plain = Best(plain, await RunBaselineAsync(http, client, server, messages, producerHeaders: false));
                producer = Best(producer, await RunProducerAsync(client, server, messages));
                headers = Best(headers, await RunBaselineAsync(http, client, server, messages, producerHeaders: true));
            }

            Console.WriteLine();
            Console.WriteLine($"messages: {messages:N0} x {MessageSize} B JSON{(smoke ? " (smoke run)" : " (best of 2 rounds)")}");
            Console.WriteLine($"| Scenario | Messages/s | Elapsed (s) | Allocated B/message (all threads, during the run) | Requests |");
            Console.WriteLine($"|---|---:|---:|---:|---:|");
            Print("Baseline: bare HttpClient, pre-built 1 MiB batches, 1 in flight", plain!);
            Print("Baseline: same, plus producer headers (Producer-Id/Epoch/Seq)", headers!);
            Print("IdempotentProducer, default options (linger 5 ms, 1 MiB batches, 5 in flight)", producer!);
            Console.WriteLine($"producer / plain baseline: {producer!.MessagesPerSecond / plain!.MessagesPerSecond:P1}; producer / baseline with producer headers: {producer.MessagesPerSecond / headers!.MessagesPerSecond:P1}");

            // Offsets are opaque, so check the producer's stream by counting its messages.
            long stored = await CountMessagesAsync(http, producer.StreamUrl);
            if (stored != messages)
            {
                Console.Error.WriteLine($"MISMATCH: the producer's stream holds {stored:N0} messages, not {messages:N0}.");
                return 1;
            }

            Console.WriteLine($"verified: the producer's stream holds exactly {stored:N0} messages.");
            return 0;
        }

        /// <summary>Reads the whole stream and counts the messages (each starts with <c>{"id":</c>).</summary>
        private static async Task<long> CountMessagesAsync(HttpClient http, Uri url)
        {
            long count = 0;
            string offset = "-1";
            byte[] marker = "{\"id\":"u8.ToArray();
            while (true)
            {
                using HttpResponseMessage response = await http.GetAsync($"{url}?offset={offset}");
                response.EnsureSuccessStatusCode();
                byte[] page = await response.Content.ReadAsByteArrayAsync();
                for (int i = page.AsSpan().IndexOf(marker); i >= 0;)
                {
                    count++;
                    int next = page.AsSpan(i + 1).IndexOf(marker);
                    i = next < 0 ? -1 : i + 1 + next;
                }

                offset = response.Headers.GetValues("Stream-Next-Offset").Single();
                if (response.Headers.TryGetValues("Stream-Up-To-Date", out IEnumerable<string>? upToDate) && upToDate.Single() == "true")
                {
                    return count;
                }
            }
        }

        private static void Print(string name, Result r) =>
            Console.WriteLine($"| {name} | {r.MessagesPerSecond:N0} | {r.Elapsed.TotalSeconds:F2} | {r.AllocatedPerMessage:F1} | {r.Requests:N0} |");

        private static Result Best(Result? previous, Result next) =>
            previous is null || next.MessagesPerSecond > previous.MessagesPerSecond ? next : previous;

        /// <summary>The n-th message: exactly 100 bytes of JSON, <c>{"id":n,"pad":"xxx…"}</c>.</summary>
        private static void WriteMessage(Span<byte> destination, int id)
        {
            destination[..MessageSize].Fill((byte)'x');
            int written = Encoding.ASCII.GetBytes($"{{\"id\":{id},\"pad\":\"", destination);
            destination[MessageSize - 2] = (byte)'"';
            destination[MessageSize - 1] = (byte)'}';
            _ = written;
        }

        private static async Task<Result> RunProducerAsync(DurableStreamClient client, ReferenceServerProcess server, int messages)
        {
            DurableStream stream = (await client.CreateStreamAsync(new CreateOptions { Url = NewUrl(server, "producer"), ContentType = "application/json" })).Stream;

            // Pre-build the messages so that both runs measure sending, not formatting.
            byte[] all = BuildMessages(messages);

            GC.Collect();
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var watch = Stopwatch.StartNew();
            await using (IdempotentProducer producer = stream.CreateProducer("bench"))
            {
                for (int i = 0; i < messages; i++)
                {
                    ValueTask append = producer.AppendAsync(all.AsMemory(i * MessageSize, MessageSize));
                    if (!append.IsCompletedSuccessfully)
                    {
                        await append;
                    }
                }

                await producer.FlushAsync();
                watch.Stop();
                long allocatedAfter = GC.GetTotalAllocatedBytes(precise: true);
                return new Result(messages, watch.Elapsed, allocatedAfter - allocatedBefore, producer.NextSequence, stream.Url);
            }
        }

        private static async Task<Result> RunBaselineAsync(HttpClient http, DurableStreamClient client, ReferenceServerProcess server, int messages, bool producerHeaders)
        {
            DurableStream stream = (await client.CreateStreamAsync(new CreateOptions { Url = NewUrl(server, "baseline"), ContentType = "application/json" })).Stream;
            byte[] all = BuildMessages(messages);

            // The same messages as JSON-array bodies of at most 1 MiB, built before the clock starts.
            var batches = new List<byte[]>();
            int perBatch = (BatchBytes - 2) / (MessageSize + 1);
            for (int start = 0; start < messages; start += perBatch)
            {
                int count = Math.Min(perBatch, messages - start);
                byte[] body = new byte[2 + (count * MessageSize) + count - 1];
                body[0] = (byte)'[';
                int position = 1;
                for (int i = 0; i < count; i++)
                {
                    if (i > 0)
                    {
                        body[position++] = (byte)',';
                    }

                    all.AsSpan((start + i) * MessageSize, MessageSize).CopyTo(body.AsSpan(position));
                    position += MessageSize;
                }

                body[position] = (byte)']';
                batches.Add(body);
            }

            GC.Collect();
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var watch = Stopwatch.StartNew();
            for (int seq = 0; seq < batches.Count; seq++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, stream.Url) { Content = new ByteArrayContent(batches[seq]) };
                request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
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
            return new Result(messages, watch.Elapsed, allocatedAfter - allocatedBefore, batches.Count, stream.Url);
        }

        private static byte[] BuildMessages(int messages)
        {
            byte[] all = new byte[messages * MessageSize];
            for (int i = 0; i < messages; i++)
            {
                WriteMessage(all.AsSpan(i * MessageSize, MessageSize), i);
            }

            return all;
        }

        private static string NewUrl(ReferenceServerProcess server, string prefix) =>
            $"{server.BaseUrl.AbsoluteUri.TrimEnd('/')}/v1/stream/bench-{prefix}-{Guid.NewGuid():N}";

        private sealed record Result(int Messages, TimeSpan Elapsed, long Allocated, long Requests, Uri StreamUrl)
        {
            public double MessagesPerSecond => Messages / Elapsed.TotalSeconds;

            public double AllocatedPerMessage => (double)Allocated / Messages;
        }
    }
}
