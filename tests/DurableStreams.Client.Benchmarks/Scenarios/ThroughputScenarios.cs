using System.Diagnostics;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>Throughput scenarios: the producer (small and large messages) and a catch-up read of a big JSON stream.</summary>
internal static class ThroughputScenarios
{
    /// <summary>
    /// <see cref="ProducerScenario"/> at two message sizes: 100 B JSON (batched into 1 MiB JSON arrays)
    /// and 1 MiB bytes (one message per request), the latter twice: appended with ownership (the
    /// producer sends the caller's memory, as the baseline does) and with the copying overload. The
    /// baseline posts pre-built batches of the same messages with the producer headers, one request
    /// at a time, so the server does the same work. Best of <see cref="ScenarioSizes.Rounds"/>
    /// alternating rounds each.
    /// </summary>
    public static async Task<IReadOnlyList<ScenarioRow>> ProducerAsync(SharedClients clients, ScenarioSizes sizes)
    {
        var rows = new List<ScenarioRow>();
        foreach ((int messages, int size, string contentType, bool owned, string name) in new[]
        {
            (sizes.ProducerSmallMessages, 100, Raw.Json, false, $"producer {sizes.ProducerSmallMessages:N0} x 100 B JSON"),
            (sizes.ProducerLargeMessages, 1024 * 1024, "application/octet-stream", true, $"producer {sizes.ProducerLargeMessages:N0} x 1 MiB bytes"),
            (sizes.ProducerLargeMessages, 1024 * 1024, "application/octet-stream", false, $"producer {sizes.ProducerLargeMessages:N0} x 1 MiB bytes, copied"),
        })
        {
            // Warm-up on a small stream first (JIT, connections).
            int warmup = Math.Max(1, Math.Min(messages, size >= 1024 * 1024 ? 2 : 20_000));
            await ProducerScenario.RunBaselineAsync(clients.Http, clients.Client, clients.BaseUrl, warmup, size, contentType, producerHeaders: true);
            await ProducerScenario.RunProducerAsync(clients.Client, clients.BaseUrl, warmup, size, contentType, owned);

            ProducerScenario.Result? baseline = null, producer = null;
            for (int round = 0; round < sizes.Rounds; round++)
            {
                baseline = ProducerScenario.Best(baseline, await ProducerScenario.RunBaselineAsync(clients.Http, clients.Client, clients.BaseUrl, messages, size, contentType, producerHeaders: true));
                producer = ProducerScenario.Best(producer, await ProducerScenario.RunProducerAsync(clients.Client, clients.BaseUrl, messages, size, contentType, owned));
            }

            if (!await ProducerScenario.VerifyAsync(clients.Http, producer!, size, contentType))
            {
                rows.Add(new ScenarioRow(name, "throughput", "messages/s", Goal.Throughput, null, baseline!.MessagesPerSecond, "the producer's stream does not hold what it produced"));
                continue;
            }

            rows.Add(new ScenarioRow(name, "throughput", "messages/s", Goal.Throughput, producer!.MessagesPerSecond, baseline!.MessagesPerSecond));
            rows.Add(new ScenarioRow(name, "throughput", "MB/s", Goal.Throughput, producer.MessagesPerSecond * size / 1e6, baseline.MessagesPerSecond * size / 1e6));
            Console.WriteLine($"    {name}: client CPU {producer.ClientCpu.TotalSeconds:F2} s (producer) vs {baseline.ClientCpu.TotalSeconds:F2} s (baseline); allocated {producer.AllocatedPerMessage:F1} vs {baseline.AllocatedPerMessage:F1} B/message");
        }

        return rows;
    }

    /// <summary>
    /// Catch-up read of N 100-byte JSON messages, from the beginning to the tail. Two pairs: bytes only
    /// (<c>ReadAsync</c> chunks against bare GETs of each page, whose messages are counted by a
    /// search; a second, informational row against bare GETs whose pages are checked as JSON arrays,
    /// as the SDK checks them), and deserialized (<c>ReadJsonAsync&lt;T&gt;</c> against bare GETs +
    /// <c>Deserialize&lt;T[]&gt;</c> per page), both with source-generated metadata. The median of <see cref="ScenarioSizes.ThroughputRounds"/> alternating runs, after five warm-up rounds.
    /// </summary>
    public static async Task<IReadOnlyList<ScenarioRow>> CatchUpAsync(SharedClients clients, ScenarioSizes sizes)
    {
        int messages = sizes.ThroughputMessages;
        Uri url = await Raw.CreateJsonStreamAsync(clients, "catchup-throughput");
        await using (IdempotentProducer producer = clients.Client.GetStream(url, Raw.Json).CreateProducer("fill"))
        {
            for (int i = 0; i < messages; i++)
            {
                await producer.AppendAsync(Raw.Message(i));
            }
        }

        DurableStream stream = clients.Client.GetStream(url, Raw.Json);
        var sdkBytes = new List<double>();
        var rawBytes = new List<double>();
        var checkedBytes = new List<double>();
        var sdkJson = new List<double>();
        var rawJson = new List<double>();
        // A read of 100,000 messages takes tens of milliseconds: five warm-up rounds let the JIT
        // settle, and the median of many rounds steadies the ratio (it moved by 20 points between
        // launches with five rounds).
        for (int round = -WarmUpRounds(sizes); round < sizes.ThroughputRounds; round++)
        {
            Add(round, rawBytes, await TimeAsync(() => RawReadAsync(clients.Http, url, RawPage.Count), messages));
            Add(round, checkedBytes, await TimeAsync(() => RawReadAsync(clients.Http, url, RawPage.Check), messages));
            Add(round, sdkBytes, await TimeAsync(async () =>
            {
                long count = 0;
                await foreach (StreamChunk chunk in stream.ReadAsync())
                {
                    count += CountMessages(chunk.Data.Span);
                }

                return count;
            }, messages));
            Add(round, rawJson, await TimeAsync(() => RawReadAsync(clients.Http, url, RawPage.Deserialize), messages));
            Add(round, sdkJson, await TimeAsync(async () =>
            {
                long count = 0;
                await foreach (StreamItem<BenchMessage> item in stream.ReadJsonAsync(BenchJsonContext.Default.BenchMessage))
                {
                    count += item.Value.Pad.Length > 0 ? 1 : 0;
                }

                return count;
            }, messages));
        }

        string name = $"catch-up read {messages:N0} x 100 B JSON";
        return
        [
            new(name + ", bytes", "throughput", "messages/s", Goal.Throughput, Median(sdkBytes), Median(rawBytes)),

            // The SDK checks that each JSON page is one array (PROTOCOL.md §9.1); the baseline above
            // only searches for the messages. Against a baseline that checks too:
            new(name + ", bytes, baseline checks each page's array", "throughput", "messages/s", Goal.Informational, Median(sdkBytes), Median(checkedBytes)),
            new(name + ", deserialized", "throughput", "messages/s", Goal.Throughput, Median(sdkJson), Median(rawJson)),
        ];
    }

    private static int WarmUpRounds(ScenarioSizes sizes) => sizes.ThroughputRounds > 1 ? 5 : 1;

    private static void Add(int round, List<double> into, double rate)
    {
        if (round >= 0)
        {
            into.Add(rate);
        }
    }

    private static async Task<double> TimeAsync(Func<Task<long>> read, int messages)
    {
        var watch = Stopwatch.StartNew();
        long count = await read();
        watch.Stop();
        if (count != messages)
        {
            throw new InvalidOperationException($"Read {count:N0} messages, expected {messages:N0}.");
        }

        return messages / watch.Elapsed.TotalSeconds;
    }

    /// <summary>The baseline: GET page after page until <c>Stream-Up-To-Date</c>, counting or deserializing each page's array.</summary>
    private static async Task<long> RawReadAsync(HttpClient http, Uri url, RawPage what)
    {
        long count = 0;
        string offset = "-1";
        while (true)
        {
            using HttpResponseMessage response = await http.GetAsync($"{url}?offset={offset}");
            response.EnsureSuccessStatusCode();
            byte[] page = await response.Content.ReadAsByteArrayAsync();
            if (page.Length > 0)
            {
                count += what switch
                {
                    RawPage.Deserialize => System.Text.Json.JsonSerializer.Deserialize(page, BenchJsonContext.Default.BenchMessageArray)!.Length,
                    RawPage.Check => CheckedCount(page),
                    _ => CountMessages(page),
                };
            }

            offset = Raw.Header(response, "Stream-Next-Offset");
            if (Raw.Header(response, "Stream-Up-To-Date") == "true")
            {
                return count;
            }
        }
    }

    /// <summary>Counts the messages of a JSON array of <c>{"id":…}</c> objects without parsing it.</summary>
    private static long CountMessages(ReadOnlySpan<byte> json) => json.Count("{\"id\":"u8);

    /// <summary>Checks that a page is one JSON array with one reader pass, skipping each element, and counts them.</summary>
    private static long CheckedCount(ReadOnlySpan<byte> json)
    {
        var reader = new System.Text.Json.Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != System.Text.Json.JsonTokenType.StartArray)
        {
            throw new InvalidOperationException("The page is not a JSON array.");
        }

        long count = 0;
        while (reader.Read() && reader.TokenType != System.Text.Json.JsonTokenType.EndArray)
        {
            reader.Skip();
            count++;
        }

        if (reader.TokenType != System.Text.Json.JsonTokenType.EndArray || reader.Read())
        {
            throw new InvalidOperationException("The page is not one JSON array.");
        }

        return count;
    }

    /// <summary>What the baseline does with each page.</summary>
    private enum RawPage
    {
        /// <summary>Counts the messages by searching for their first bytes.</summary>
        Count,

        /// <summary>Checks the page is one JSON array, as the SDK does, and counts its elements.</summary>
        Check,

        /// <summary>Deserializes the page into an array of messages.</summary>
        Deserialize,
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
