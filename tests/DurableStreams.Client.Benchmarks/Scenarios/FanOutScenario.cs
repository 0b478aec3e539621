using System.Diagnostics;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>
/// Fan-out: N concurrent live SSE readers on one JSON stream, all receiving the same appends. Reports
/// the delivery latency (append started → each reader has the message) at p50/p99 over every reader
/// and append, and the client memory per idle reader: the GC heap after all readers are connected and
/// idle, minus the heap before the first one started, divided by N. Each side gets a fresh connection
/// pool, so both pay for their own N connections.
/// </summary>
internal static class FanOutScenario
{
    private const int StartBatch = 50;

    public static async Task<IReadOnlyList<ScenarioRow>> RunAsync(Uri baseUrl, ScenarioSizes sizes)
    {
        int readers = sizes.FanOutReaders;
        (Samples rawLatency, double rawKb) = await MeasureAsync(baseUrl, readers, sizes.FanOutAppends, sdk: false);
        (Samples sdkLatency, double sdkKb) = await MeasureAsync(baseUrl, readers, sizes.FanOutAppends, sdk: true);
        string name = $"fan-out, {readers:N0} SSE readers x {sizes.FanOutAppends} appends";
        return
        [
            new(name, "delivery p50", "ms", Goal.Latency, sdkLatency.Percentile(0.50), rawLatency.Percentile(0.50)),
            new(name, "delivery p99", "ms", Goal.Latency, sdkLatency.Percentile(0.99), rawLatency.Percentile(0.99)),
            new(name, "client memory per idle reader", "KB", Goal.MemoryPerReader, sdkKb, rawKb),
        ];
    }

    private static async Task<(Samples Latency, double KbPerReader)> MeasureAsync(Uri baseUrl, int readers, int appends, bool sdk)
    {
        using HttpClient http = SharedClients.CreateHttpClient();
        using var client = new DurableStreamClient(http, new DurableStreamClientOptions { BaseAddress = baseUrl });
        Uri url = (await client.CreateStreamAsync(new CreateOptions { Url = ProducerScenario.NewUrl(baseUrl, sdk ? "fan-sdk" : "fan-raw"), ContentType = Raw.Json })).Stream.Url;
        string tail = await Raw.TailAsync(http, url);
        var state = new FanOutState(readers, appends);
        DurableStream stream = client.GetStream(url, Raw.Json);
        byte[] message = Raw.Message(3);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long before = GC.GetTotalMemory(forceFullCollection: true);

        using var stop = new CancellationTokenSource();
        var tasks = new List<Task>(readers);
        for (int started = 0; started < readers;)
        {
            int batch = Math.Min(StartBatch, readers - started);
            for (int i = 0; i < batch; i++, started++)
            {
                int index = started;
                tasks.Add(sdk
                    ? Task.Run(() => SdkReaderAsync(stream, new Offset(tail), index, state, stop.Token))
                    : Task.Run(() => RawReaderAsync(http, url, tail, index, state, stop.Token)));
            }

            await state.WaitConnectedAsync(started, tasks);
        }

        // Idle, then measure what the connected readers hold.
        await Task.Delay(readers >= 100 ? 2000 : 300);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        double kbPerReader = (after - before) / 1024.0 / readers;

        var latency = new Samples();
        try
        {
            for (int k = 0; k < appends; k++)
            {
                await Task.Delay(50);
                long start = Stopwatch.GetTimestamp();
                await Raw.AppendAsync(http, url, message);
                await state.Delivered[k].Task.WaitAsync(TimeSpan.FromSeconds(60));
                for (int r = 0; r < readers; r++)
                {
                    latency.AddTicks(state.Arrivals[(r * appends) + k] - start);
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            foreach (Task task in tasks)
            {
                try
                {
                    await task;
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        return (latency, kbPerReader);
    }

    private static async Task SdkReaderAsync(DurableStream stream, Offset start, int index, FanOutState state, CancellationToken cancellationToken)
    {
        bool connected = false;
        int seen = 0;
        await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Offset = start, Live = LiveMode.Sse }, cancellationToken))
        {
            if (!connected)
            {
                connected = true;
                state.Connected();
            }

            if (!chunk.Data.IsEmpty)
            {
                long now = Stopwatch.GetTimestamp();
                int messages = chunk.Data.Span.Count("{\"id\":"u8);
                for (int m = 0; m < messages; m++)
                {
                    state.Arrived(index, seen++, now);
                }
            }
        }
    }

    private static async Task RawReaderAsync(HttpClient http, Uri url, string offset, int index, FanOutState state, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.GetAsync($"{url}?offset={offset}&live=sse", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var reader = new MinimalSseReader(body);
        bool connected = false;
        int seen = 0;
        while (await reader.ReadEventAsync(cancellationToken))
        {
            if (!connected)
            {
                connected = true;
                state.Connected();
            }

            if (!reader.IsControl && !reader.Data.IsEmpty)
            {
                state.Arrived(index, seen++, Stopwatch.GetTimestamp());
            }
        }
    }

    /// <summary>Arrival times per reader and append, and completion signals, shared by all readers without locks.</summary>
    private sealed class FanOutState
    {
        private readonly int _readers;
        private readonly int _appends;
        private readonly int[] _delivered;
        private int _connected;

        public FanOutState(int readers, int appends)
        {
            _readers = readers;
            _appends = appends;
            Arrivals = new long[readers * appends];
            _delivered = new int[appends];
            Delivered = [.. Enumerable.Range(0, appends).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        }

        public long[] Arrivals { get; }

        public TaskCompletionSource[] Delivered { get; }

        public void Connected() => Interlocked.Increment(ref _connected);

        public void Arrived(int reader, int append, long timestamp)
        {
            if (append >= _appends)
            {
                return;
            }

            Arrivals[(reader * _appends) + append] = timestamp;
            if (Interlocked.Increment(ref _delivered[append]) == _readers)
            {
                Delivered[append].TrySetResult();
            }
        }

        public async Task WaitConnectedAsync(int count, List<Task> readers)
        {
            var deadline = Stopwatch.StartNew();
            while (Volatile.Read(ref _connected) < count)
            {
                if (readers.FirstOrDefault(t => t.IsFaulted) is { } failed)
                {
                    await failed;
                }

                if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new TimeoutException($"Only {Volatile.Read(ref _connected)} of {count} readers connected within 60 s.");
                }

                await Task.Delay(5);
            }
        }
    }
}
