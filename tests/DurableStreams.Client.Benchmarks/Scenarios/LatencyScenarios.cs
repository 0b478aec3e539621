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
    /// <summary>
    /// Sequential 100-byte appends: <c>DurableStream.AppendAsync</c> against a bare POST, measured twice
    /// (see <see cref="MeasureInTwoPhasesAsync"/>).
    /// </summary>
    public static async Task<IReadOnlyList<ScenarioRow>> AppendAsync(SharedClients clients, ScenarioSizes sizes)
    {
        Uri sdkUrl = await Raw.CreateJsonStreamAsync(clients, "append-sdk");
        Uri rawUrl = await Raw.CreateJsonStreamAsync(clients, "append-raw");
        DurableStream stream = clients.Client.GetStream(sdkUrl, Raw.Json);
        byte[] message = Raw.Message(1);
        return await MeasureInTwoPhasesAsync(
            "append 100 B (sequential)",
            sizes,
            () => Raw.AppendAsync(clients.Http, rawUrl, message),
            () => stream.AppendAsync(message));
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
        long sdkBytes = 0, rawBytes = 0;
        IReadOnlyList<ScenarioRow> rows = await MeasureInTwoPhasesAsync(
            $"catch-up read, {sizes.CatchUpMessages} x 100 B JSON",
            sizes,
            async () =>
            {
                using HttpResponseMessage response = await clients.Http.GetAsync(readUrl);
                response.EnsureSuccessStatusCode();
                rawBytes = (await response.Content.ReadAsByteArrayAsync()).Length;
            },
            async () =>
            {
                sdkBytes = 0;
                await foreach (StreamChunk chunk in stream.ReadAsync())
                {
                    sdkBytes += chunk.Data.Length;
                }
            });
        if (sdkBytes != rawBytes)
        {
            throw new InvalidOperationException($"The SDK read {sdkBytes} bytes, the baseline {rawBytes}.");
        }

        return rows;
    }

    /// <summary>
    /// Runs the baseline and the SDK call alternately (so both see the same noise) and measures them
    /// in two phases. First, after 100 iterations, <see cref="ScenarioSizes.LatencySamples"/>
    /// iterations while the JIT is still at work: the SDK's own code starts as unoptimized tier-0
    /// code and is recompiled in the background, while the bare request runs on the framework's
    /// precompiled (ReadyToRun) code. Then the pair keeps running until the process compiled no
    /// method for a second (or <see cref="ScenarioSizes.JitSettleLimit"/> passed), and the same
    /// number of iterations is measured again: the steady state of a long-running service. With a
    /// zero limit (smoke runs) only the first phase is measured, under the steady-state name.
    /// </summary>
    private static async Task<IReadOnlyList<ScenarioRow>> MeasureInTwoPhasesAsync(string scenario, ScenarioSizes sizes, Func<Task> baselineCall, Func<Task> sdkCall)
    {
        bool twoPhases = sizes.JitSettleLimit > TimeSpan.Zero;
        (Samples sdk, Samples baseline) = await MeasurePairAsync(sizes.LatencySamples, warmup: Math.Min(100, sizes.LatencySamples), baselineCall, sdkCall);
        if (!twoPhases)
        {
            return Rows(scenario, sdk, baseline);
        }

        bool settled = await JitSettling.RunUntilSettledAsync(
            async () =>
            {
                await baselineCall();
                await sdkCall();
            },
            sizes.JitSettleLimit);
        (Samples steadySdk, Samples steadyBaseline) = await MeasurePairAsync(sizes.LatencySamples, warmup: 0, baselineCall, sdkCall);
        return
        [
            .. Rows($"{scenario}, while the JIT warms up", sdk, baseline, Goal.Informational),
            .. Rows(settled ? scenario : $"{scenario} (JIT not settled)", steadySdk, steadyBaseline),
        ];
    }

    private static async Task<(Samples Sdk, Samples Baseline)> MeasurePairAsync(int samples, int warmup, Func<Task> baselineCall, Func<Task> sdkCall)
    {
        var sdk = new Samples();
        var baseline = new Samples();
        for (int i = 0; i < warmup + samples; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await baselineCall();
            long middle = Stopwatch.GetTimestamp();
            await sdkCall();
            long end = Stopwatch.GetTimestamp();
            if (i >= warmup)
            {
                baseline.AddTicks(middle - start);
                sdk.AddTicks(end - middle);
            }
        }

        return (sdk, baseline);
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

    private static ScenarioRow[] Rows(string scenario, Samples sdk, Samples baseline, Goal goal = Goal.Latency) =>
    [
        new(scenario, "p50", "ms", goal, sdk.Percentile(0.50), baseline.Percentile(0.50)),
        new(scenario, "p99", "ms", goal, sdk.Percentile(0.99), baseline.Percentile(0.99)),
    ];
}
