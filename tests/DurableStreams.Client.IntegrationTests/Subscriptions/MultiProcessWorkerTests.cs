using System.Collections.Concurrent;
using System.Diagnostics;

namespace DurableStreams.IntegrationTests.Subscriptions;

/// <summary>
/// Several worker processes (tests/DurableStreams.SubscriptionWorkerProcess) compete on one pull-wake
/// subscription while a producer writes; one is killed (not disposed) and restarted.
/// </summary>
[Collection(SubscriptionServerCollection.Name)]
public sealed class MultiProcessWorkerTests(SubscriptionServerFixture server) : IDisposable
{
    private const int StreamCount = 20;
    private const int EventsPerStream = 250;
    private const int EventsPerAppend = 5;

    private static readonly HttpClient Raw = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly SubscriptionTestContext _ctx = new(server);
    private readonly List<WorkerProcess> _workers = [];

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        foreach (WorkerProcess worker in _workers)
        {
            worker.Dispose();
        }

        _ctx.Dispose();
        _timeout.Dispose();
    }

    [Fact]
    public async Task ThreeWorkerProcesses_OneKilledAndRestarted_HandleEveryEventWithOneHolderPerGeneration()
    {
        await _ctx.CreateJsonStreamAsync($"{_ctx.Prefix}/wake", Ct);
        var streams = new List<DurableStream>();
        for (int s = 0; s < StreamCount; s++)
        {
            streams.Add(await _ctx.CreateJsonStreamAsync($"{_ctx.Prefix}/orders/{s}", Ct));
        }

        string id = _ctx.NewId();
        await _ctx.Subscriptions.CreateAsync(id, new SubscriptionOptions { Pattern = $"{_ctx.Prefix}/orders/*", WakeStream = $"{_ctx.Prefix}/wake", LeaseTtl = TimeSpan.FromSeconds(1) }, Ct);

        for (int w = 0; w < 3; w++)
        {
            _workers.Add(await WorkerProcess.StartAsync(_ctx.StreamRoot, id, $"w{w}", Ct));
        }

        // Write while the workers run: 20 streams x 250 events (messages), 5 per append, streams in parallel.
        int written = 0;
        bool killed = false;
        var killGate = new SemaphoreSlim(1, 1);
        await Parallel.ForEachAsync(Enumerable.Range(0, StreamCount), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = Ct }, async (s, ct) =>
        {
            for (int n = 0; n < EventsPerStream; n += EventsPerAppend)
            {
                // One JSON array POSTed as it is: the server stores each element as its own message
                // (PROTOCOL.md §9.1.2). The SDK's append would wrap it into one message.
                string batch = "[" + string.Join(',', Enumerable.Range(n, EventsPerAppend).Select(i => $"{{\"n\":{i}}}")) + "]";
                using (var content = new StringContent(batch, System.Text.Encoding.UTF8, "application/json"))
                using (HttpResponseMessage response = await Raw.PostAsync(streams[s].Url, content, ct))
                {
                    response.EnsureSuccessStatusCode();
                }
                if (Interlocked.Add(ref written, EventsPerAppend) >= StreamCount * EventsPerStream / 2 && !killed)
                {
                    await killGate.WaitAsync(ct);
                    try
                    {
                        if (!killed)
                        {
                            killed = true;
                            _workers[0].Kill();
                            _workers.Add(await WorkerProcess.StartAsync(_ctx.StreamRoot, id, "w0-restarted", ct));
                        }
                    }
                    finally
                    {
                        killGate.Release();
                    }
                }
            }
        });

        var expected = new HashSet<(string, int)>(
            from s in Enumerable.Range(0, StreamCount) from n in Enumerable.Range(0, EventsPerStream) select ($"{_ctx.Prefix}/orders/{s}", n));
        while (!expected.IsSubsetOf(_workers.SelectMany(w => w.Handled).Select(h => (h.Stream, h.N))))
        {
            try
            {
                await Task.Delay(100, Ct);
            }
            catch (OperationCanceledException)
            {
                int seen = _workers.SelectMany(w => w.Handled).Select(h => (h.Stream, h.N)).Distinct().Count();
                string perWorker = string.Join(", ", _workers.Select(w => $"{w.Name}={w.Handled.Count}"));
                string errors = string.Join("\n", _workers.Select(w => $"{w.Name}: {w.Errors}"));
                Assert.Fail($"Only {seen} of {expected.Count} events were handled ({perWorker}).\n{errors}");
            }
        }

        List<Handled> all = [.. _workers.SelectMany(w => w.Handled)];

        // Every event at least once.
        Assert.Equal(StreamCount * EventsPerStream, written);
        Assert.Subset(all.Select(h => (h.Stream, h.N)).ToHashSet(), expected);

        // No two workers held the subscription at once: each generation belongs to one worker.
        foreach (IGrouping<long, Handled> generation in all.GroupBy(h => h.Generation))
        {
            Assert.Single(generation.Select(h => h.Worker).Distinct());
        }

        // Per stream, handling moves forward: within each lease the messages come strictly in order, without gaps.
        foreach (WorkerProcess worker in _workers)
        {
            foreach (IGrouping<(string Stream, long Generation), Handled> lease in worker.Handled.GroupBy(h => (h.Stream, h.Generation)))
            {
                int[] ns = [.. lease.Select(h => h.N)];
                Assert.Equal(Enumerable.Range(ns[0], ns.Length), ns);
            }
        }

        Assert.True(_workers.Count(w => !w.Handled.IsEmpty) >= 2, "the work was shared by at least two worker processes");
    }

    private sealed record Handled(string Worker, string Stream, int N, long Generation);

    private sealed class WorkerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<Handled> _handled = new();
        private readonly System.Text.StringBuilder _errors = new();

        private WorkerProcess(Process process, string name)
        {
            _process = process;
            Name = name;
        }

        public string Name { get; }

        public string Errors
        {
            get
            {
                lock (_errors)
                {
                    return _errors.ToString();
                }
            }
        }

        public ConcurrentQueue<Handled> Handled => _handled;

        public static async Task<WorkerProcess> StartAsync(Uri streamRoot, string subscriptionId, string name, CancellationToken cancellationToken)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "DurableStreams.SubscriptionWorkerProcess.dll"));
            start.ArgumentList.Add(streamRoot.AbsoluteUri);
            start.ArgumentList.Add(subscriptionId);
            start.ArgumentList.Add(name);
            var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the worker process.");
            var worker = new WorkerProcess(process, name);
            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (worker._errors)
                    {
                        worker._errors.AppendLine(e.Data);
                    }
                }
            };
            process.BeginErrorReadLine();
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    ready.TrySetException(new InvalidOperationException($"Worker {name} exited before it was ready."));
                    return;
                }

                if (e.Data == "READY")
                {
                    ready.TrySetResult();
                    return;
                }

                string[] parts = e.Data.Split(' ');
                if (parts.Length == 4 && parts[0] == "H")
                {
                    worker._handled.Enqueue(new Handled(name, parts[1], int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts[3], System.Globalization.CultureInfo.InvariantCulture)));
                }
            };
            process.BeginOutputReadLine();
            await ready.Task.WaitAsync(cancellationToken);
            return worker;
        }

        /// <summary>Kills the process outright: no dispose, no release, no final ack.</summary>
        public void Kill() => _process.Kill(entireProcessTree: true);

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.StandardInput.Close();
                    if (!_process.WaitForExit(5000))
                    {
                        _process.Kill(entireProcessTree: true);
                    }
                }
            }
            catch (InvalidOperationException)
            {
            }

            _process.Dispose();
        }
    }
}
