using System.Diagnostics;
using System.Net;
using System.Threading.Channels;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>
/// Latency scenarios, SDK and baseline interleaved so that both see the same noise: append, catch-up
/// read, and the live round trip (append → a live reader receives it) over long-poll and SSE.
/// </summary>
internal static class LatencyScenarios
{
    /// <summary>Sequential 100-byte appends: <c>DurableStream.AppendAsync</c> against a bare POST.</summary>
    public static async Task<IReadOnlyList<ScenarioRow>> AppendAsync(SharedClients clients, ScenarioSizes sizes)
    {
        Uri sdkUrl = await Raw.CreateJsonStreamAsync(clients, "append-sdk");
        Uri rawUrl = await Raw.CreateJsonStreamAsync(clients, "append-raw");
        DurableStream stream = clients.Client.GetStream(sdkUrl, Raw.Json);
        byte[] message = Raw.Message(1);
        var sdk = new Samples();
        var baseline = new Samples();
        int warmup = Math.Min(100, sizes.LatencySamples);
        for (int i = 0; i < warmup + sizes.LatencySamples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await Raw.AppendAsync(clients.Http, rawUrl, message);
            long middle = Stopwatch.GetTimestamp();
            await stream.AppendAsync(message);
            long end = Stopwatch.GetTimestamp();
            if (i >= warmup)
            {
                baseline.AddTicks(middle - start);
                sdk.AddTicks(end - middle);
            }
        }

        return Rows("append 100 B (sequential)", sdk, baseline);
    }

    /// <summary>A catch-up read of a 100-message JSON stream: <c>ReadAsync</c> (live off) against a bare GET.</summary>
    public static async Task<IReadOnlyList<ScenarioRow>> CatchUpAsync(SharedClients clients, ScenarioSizes sizes)
    {
        Uri url = await Raw.CreateJsonStreamAsync(clients, "catchup");
        for (int i = 0; i < sizes.CatchUpMessages; i++)
        {
            await Raw.AppendAsync(clients.Http, url, Raw.Message(i));
        }

        DurableStream stream = clients.Client.GetStream(url, Raw.Json);
        Uri readUrl = new($"{url}?offset=-1");
        var sdk = new Samples();
        var baseline = new Samples();
        int warmup = Math.Min(100, sizes.LatencySamples);
        long sdkBytes = 0, rawBytes = 0;
        for (int i = 0; i < warmup + sizes.LatencySamples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using (HttpResponseMessage response = await clients.Http.GetAsync(readUrl))
            {
                response.EnsureSuccessStatusCode();
                rawBytes = (await response.Content.ReadAsByteArrayAsync()).Length;
            }

            long middle = Stopwatch.GetTimestamp();
            sdkBytes = 0;
            await foreach (StreamChunk chunk in stream.ReadAsync())
            {
                sdkBytes += chunk.Data.Length;
            }

            long end = Stopwatch.GetTimestamp();
            if (i >= warmup)
            {
                baseline.AddTicks(middle - start);
                sdk.AddTicks(end - middle);
            }
        }

        if (sdkBytes != rawBytes)
        {
            throw new InvalidOperationException($"The SDK read {sdkBytes} bytes, the baseline {rawBytes}.");
        }

        return Rows($"catch-up read, {sizes.CatchUpMessages} x 100 B JSON", sdk, baseline);
    }

    /// <summary>
    /// Append → a live reader receives it. The appends are bare POSTs for both sides; the reader is
    /// either the SDK (<see cref="LiveMode.LongPoll"/> or <see cref="LiveMode.Sse"/>) or a hand-written
    /// loop of long-poll GETs / one SSE GET read with <see cref="MinimalSseReader"/>.
    /// Between appends the reader is given 10 ms to be waiting again.
    /// </summary>
    public static async Task<IReadOnlyList<ScenarioRow>> RoundTripAsync(SharedClients clients, ScenarioSizes sizes, LiveMode mode)
    {
        var sdk = new Samples();
        var baseline = new Samples();
        int perRound = Math.Max(1, sizes.RoundTripSamples / sizes.Rounds);
        for (int round = 0; round < sizes.Rounds; round++)
        {
            await MeasureRoundTripsAsync(clients, mode, perRound, baseline, sdk: false);
            await MeasureRoundTripsAsync(clients, mode, perRound, sdk, sdk: true);
        }

        string name = mode == LiveMode.Sse ? "SSE round trip (append -> reader)" : "long-poll round trip (append -> reader)";
        return Rows(name, sdk, baseline);
    }

    private static async Task MeasureRoundTripsAsync(SharedClients clients, LiveMode mode, int samples, Samples into, bool sdk)
    {
        Uri url = await Raw.CreateJsonStreamAsync(clients, sdk ? "rt-sdk" : "rt-raw");
        string tail = await Raw.TailAsync(clients.Http, url);
        var arrivals = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        Task reader = sdk
            ? SdkReaderAsync(clients.Client.GetStream(url, Raw.Json), new Offset(tail), mode, arrivals.Writer, ready, stop.Token)
            : mode == LiveMode.Sse
                ? RawSseReaderAsync(clients.Http, url, tail, arrivals.Writer, ready, stop.Token)
                : RawLongPollReaderAsync(clients.Http, url, tail, arrivals.Writer, ready, stop.Token);
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
            const int warmup = 5;
            byte[] message = Raw.Message(7);
            for (int i = 0; i < warmup + samples; i++)
            {
                await Task.Delay(10);
                long start = Stopwatch.GetTimestamp();
                await Raw.AppendAsync(clients.Http, url, message);
                long arrived = await arrivals.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                if (i >= warmup)
                {
                    into.AddTicks(arrived - start);
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await reader;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static async Task SdkReaderAsync(DurableStream stream, Offset start, LiveMode mode, ChannelWriter<long> arrivals, TaskCompletionSource ready, CancellationToken cancellationToken)
    {
        try
        {
            if (mode == LiveMode.LongPoll)
            {
                // A long-poll read starts with the long-poll itself (PROTOCOL.md §5.7): at the tail its
                // first chunk is the first append, so the reader is ready as soon as it starts, like
                // the raw long-poll loop.
                ready.TrySetResult();
            }

            await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Offset = start, Live = mode }, cancellationToken))
            {
                if (!chunk.Data.IsEmpty)
                {
                    arrivals.TryWrite(Stopwatch.GetTimestamp());
                }

                ready.TrySetResult();
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ready.TrySetException(ex);
            arrivals.TryComplete(ex);
            throw;
        }
    }

    private static async Task RawLongPollReaderAsync(HttpClient http, Uri url, string offset, ChannelWriter<long> arrivals, TaskCompletionSource ready, CancellationToken cancellationToken)
    {
        string cursor = "";
        ready.TrySetResult();
        while (true)
        {
            string query = cursor.Length == 0 ? $"{url}?offset={offset}&live=long-poll" : $"{url}?offset={offset}&live=long-poll&cursor={cursor}";
            using HttpResponseMessage response = await http.GetAsync(query, cancellationToken);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                if (body.Length > 0)
                {
                    arrivals.TryWrite(Stopwatch.GetTimestamp());
                }
            }
            else if (response.StatusCode != HttpStatusCode.NoContent)
            {
                throw new InvalidOperationException($"long-poll failed: {(int)response.StatusCode}");
            }

            offset = Raw.Header(response, "Stream-Next-Offset");
            cursor = Raw.Header(response, "Stream-Cursor");
        }
    }

    private static async Task RawSseReaderAsync(HttpClient http, Uri url, string offset, ChannelWriter<long> arrivals, TaskCompletionSource ready, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.GetAsync($"{url}?offset={offset}&live=sse", HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken);
        var reader = new MinimalSseReader(body);
        while (await reader.ReadEventAsync(cancellationToken))
        {
            if (!reader.IsControl && !reader.Data.IsEmpty)
            {
                arrivals.TryWrite(Stopwatch.GetTimestamp());
            }

            ready.TrySetResult();
        }
    }

    private static ScenarioRow[] Rows(string scenario, Samples sdk, Samples baseline) =>
    [
        new(scenario, "p50", "ms", Goal.Latency, sdk.Percentile(0.50), baseline.Percentile(0.50)),
        new(scenario, "p99", "ms", Goal.Latency, sdk.Percentile(0.99), baseline.Percentile(0.99)),
    ];
}
