using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DurableStreams.IntegrationTests.Subscriptions;

[Collection(SubscriptionServerCollection.Name)]
public sealed class SubscriptionWorkerTests(SubscriptionServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly SubscriptionTestContext _a = new(server);
    private readonly SubscriptionTestContext _b = new(server);

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _timeout.Dispose();
    }

    private async Task<string> CreateSubscriptionAsync(TimeSpan ttl)
    {
        await _a.CreateJsonStreamAsync($"{_a.Prefix}/wake", Ct);
        string id = _a.NewId();
        await _a.Subscriptions.CreateAsync(id, new SubscriptionOptions { Pattern = $"{_a.Prefix}/orders/*", WakeStream = $"{_a.Prefix}/wake", LeaseTtl = ttl }, Ct);
        return id;
    }

    /// <summary>Records every message it is handed, per stream, with the generation it came under.</summary>
    private sealed class RecordingHandler : ISubscriptionHandler
    {
        public ConcurrentDictionary<string, ConcurrentQueue<(int N, long Generation)>> Seen { get; } = new();

        public Func<SubscriptionBatch, CancellationToken, Task>? Before { get; set; }

        public int Count => Seen.Values.Sum(q => q.Count);

        public async Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken)
        {
            if (Before is { } before)
            {
                await before(batch, cancellationToken);
            }

            foreach (JsonElement message in batch.ReadJson(JsonContext.Default.JsonElement))
            {
                Seen.GetOrAdd(batch.Stream, _ => new()).Enqueue((message.GetProperty("n").GetInt32(), batch.Generation));
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(50, cancellationToken);
        }
    }

    [Fact]
    public async Task RunAsync_EventsOnSeveralStreams_HandsEveryEventOnceInOrderAndAcksToTheTail()
    {
        string id = await CreateSubscriptionAsync(TimeSpan.FromSeconds(5));
        var streams = new List<DurableStream>();
        for (int s = 0; s < 3; s++)
        {
            streams.Add(await _a.CreateJsonStreamAsync($"{_a.Prefix}/orders/{s}", Ct));
        }

        var handler = new RecordingHandler();
        var worker = new SubscriptionWorker(_a.Subscriptions, id, handler, new SubscriptionWorkerOptions { AckInterval = TimeSpan.Zero });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task run = worker.RunAsync(stop.Token);

        var tails = new Dictionary<string, Offset>();
        for (int n = 0; n < 30; n++)
        {
            DurableStream stream = streams[n % 3];
            tails[$"{_a.Prefix}/orders/{n % 3}"] = (await stream.AppendAsync(new { n }, cancellationToken: Ct)).NextOffset;
        }

        await WaitUntilAsync(() => handler.Count >= 30, Ct);
        SubscriptionInfo info = await _a.Subscriptions.GetAsync(id, Ct);
        while (info.Streams.Any(l => l.AckedOffset != tails[l.Path]))
        {
            await Task.Delay(50, Ct);
            info = await _a.Subscriptions.GetAsync(id, Ct);
        }

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.Equal(30, handler.Count);
        for (int s = 0; s < 3; s++)
        {
            int[] seen = [.. handler.Seen[$"{_a.Prefix}/orders/{s}"].Select(x => x.N)];
            Assert.Equal(Enumerable.Range(0, 30).Where(n => n % 3 == s), seen);
        }
    }

    [Fact]
    public async Task RunAsync_WorkerStuckAndCutOff_LeaseExpiresAndAnotherWorkerContinuesFromTheLastAck()
    {
        string id = await CreateSubscriptionAsync(TimeSpan.FromSeconds(1));
        DurableStream stream = await _a.CreateJsonStreamAsync($"{_a.Prefix}/orders/x", Ct);
        await stream.AppendAsync(new { n = 0 }, cancellationToken: Ct);

        // Worker A handles message 0, acks it, then hangs on message 1 and its heartbeats stop
        // reaching the server (as if the process froze or was cut off).
        var stuck = new TaskCompletionSource();
        var handlerA = new RecordingHandler();
        handlerA.Before = async (batch, ct) =>
        {
            if (batch.ReadJson(JsonContext.Default.JsonElement).Any(m => m.GetProperty("n").GetInt32() == 1))
            {
                _a.SwallowHeartbeats = true;
                stuck.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }
        };
        var workerA = new SubscriptionWorker(_a.Subscriptions, id, handlerA, new SubscriptionWorkerOptions { AckInterval = TimeSpan.Zero, WorkerName = "A" });
        using var stopA = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task runA = workerA.RunAsync(stopA.Token);
        await WaitUntilAsync(() => handlerA.Count == 1, Ct);
        while ((await _a.Subscriptions.GetAsync(id, Ct)).Streams[0].AckedOffset.IsBeginning)
        {
            await Task.Delay(50, Ct);
        }

        Offset ackedByA = (await _a.Subscriptions.GetAsync(id, Ct)).Streams[0].AckedOffset;
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await stuck.Task.WaitAsync(Ct);

        var handlerB = new RecordingHandler();
        var workerB = new SubscriptionWorker(_b.Subscriptions, id, handlerB, new SubscriptionWorkerOptions { AckInterval = TimeSpan.Zero, WorkerName = "B" });
        using var stopB = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task runB = workerB.RunAsync(stopB.Token);
        await WaitUntilAsync(() => handlerB.Count >= 1, Ct);
        await stopA.CancelAsync();
        await stopB.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => runB);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => runA);

        (int n, long generationB) = Assert.Single(handlerB.Seen[$"{_a.Prefix}/orders/x"]);
        Assert.Equal(1, n);
        Assert.True(generationB > handlerA.Seen[$"{_a.Prefix}/orders/x"].Single().Generation);
        Assert.False(ackedByA.IsBeginning);
    }

    [Fact]
    public async Task AddDurableStreamsSubscriptionWorker_HostedWorker_HandlesEventsThroughAScopedHandler()
    {
        string id = await CreateSubscriptionAsync(TimeSpan.FromSeconds(5));
        DurableStream stream = await _a.CreateJsonStreamAsync($"{_a.Prefix}/orders/hosted", Ct);
        var seen = new ConcurrentQueue<int>();
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddDurableStreams(o => o.BaseAddress = _a.StreamRoot);
        builder.Services.AddSingleton(seen);
        builder.Services.AddDurableStreamsSubscriptionWorker<HostedHandler>(id, o => o.AckInterval = TimeSpan.Zero);
        using IHost host = builder.Build();

        await host.StartAsync(Ct);
        for (int n = 0; n < 5; n++)
        {
            await stream.AppendAsync(new { n }, cancellationToken: Ct);
        }

        await WaitUntilAsync(() => seen.Count >= 5, Ct);
        await host.StopAsync(Ct);

        Assert.Equal([0, 1, 2, 3, 4], seen.ToArray());
    }

    private sealed class HostedHandler(ConcurrentQueue<int> seen) : ISubscriptionHandler
    {
        public Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken)
        {
            foreach (JsonElement message in batch.ReadJson(JsonContext.Default.JsonElement))
            {
                seen.Enqueue(message.GetProperty("n").GetInt32());
            }

            return Task.CompletedTask;
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonElement))]
internal sealed partial class JsonContext : System.Text.Json.Serialization.JsonSerializerContext
{
}
