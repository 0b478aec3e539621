// A pool of three worker processes sharing one pull-wake subscription over orders/*, while a
// producer writes to many order streams. Every worker prints what it handled; the coordinator
// checks at the end that every event was handled (at least once) and prints a summary.
//
//   dotnet run --project samples/SubscriptionWorkers            # coordinator: server, producer, workers
//   dotnet run --project samples/SubscriptionWorkers -- worker <stream-root> <subscription> <name>
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using DurableStreams;
using DurableStreams.Testing;

if (args is ["worker", string root, string subscription, string name])
{
    return await Worker.RunAsync(new Uri(root), subscription, name);
}

const int Streams = 12;
const int EventsPerStream = 100;

// The stream root: $DURABLE_STREAMS_URL/v1/stream/, or a reference server started here.
ReferenceServerProcess? localServer = null;
string? serverUrl = Environment.GetEnvironmentVariable("DURABLE_STREAMS_URL");
if (string.IsNullOrEmpty(serverUrl))
{
    localServer = await ReferenceServerProcess.StartAsync();
    serverUrl = localServer.BaseUrl.AbsoluteUri;
}

var streamRoot = new Uri(serverUrl.TrimEnd('/') + "/v1/stream/");
string run = $"sample-{Guid.NewGuid():N}"[..15];
using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = streamRoot });

// The wake stream and the subscription: every stream under {run}/orders/ belongs to it.
await client.CreateStreamAsync(new CreateOptions { Url = $"{run}/wake", ContentType = "application/json" });
string subscriptionId = $"{run}-orders";
await client.Subscriptions.CreateAsync(subscriptionId, new SubscriptionOptions
{
    Type = SubscriptionType.PullWake,
    Pattern = $"{run}/orders/*",
    WakeStream = $"{run}/wake",
    LeaseTtl = TimeSpan.FromSeconds(5),
});

var handled = new ConcurrentDictionary<(string Stream, int N), string>();
var workers = new List<Process>();
for (int w = 1; w <= 3; w++)
{
    workers.Add(StartWorker(streamRoot, subscriptionId, $"worker-{w}", handled));
}

// The producer: EventsPerStream orders on each of Streams streams.
for (int n = 0; n < EventsPerStream; n++)
{
    for (int s = 0; s < Streams; s++)
    {
        DurableStream stream = client.GetStream($"{run}/orders/{s}", "application/json");
        if (n == 0)
        {
            await client.CreateStreamAsync(new CreateOptions { Url = $"{run}/orders/{s}", ContentType = "application/json" });
        }

        await stream.AppendAsync(new OrderEvent { N = n }, SampleJson.Default.OrderEvent);
    }
}

Console.WriteLine($"Wrote {Streams * EventsPerStream} events to {Streams} streams; waiting for the workers...");
using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
while (handled.Count < Streams * EventsPerStream && !deadline.IsCancellationRequested)
{
    await Task.Delay(100);
}

foreach (Process worker in workers)
{
    worker.StandardInput.Close();
    await worker.WaitForExitAsync();
}

Console.WriteLine($"Handled {handled.Count} of {Streams * EventsPerStream} distinct events.");
foreach (IGrouping<string, KeyValuePair<(string, int), string>> byWorker in handled.GroupBy(h => h.Value).OrderBy(g => g.Key))
{
    Console.WriteLine($"  {byWorker.Key}: {byWorker.Count()} events");
}

bool complete = handled.Count == Streams * EventsPerStream;
Console.WriteLine(complete ? "Every event was handled; none lost." : "Some events were not handled in time.");
if (localServer is not null)
{
    await localServer.DisposeAsync();
}

return complete ? 0 : 1;

static Process StartWorker(Uri root, string subscription, string name, ConcurrentDictionary<(string, int), string> handled)
{
    var start = new ProcessStartInfo(Environment.ProcessPath!)
    {
        RedirectStandardInput = true,
        RedirectStandardOutput = true,
        UseShellExecute = false,
    };
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
    {
        start.ArgumentList.Add(typeof(OrderEvent).Assembly.Location);
    }

    foreach (string arg in new[] { "worker", root.AbsoluteUri, subscription, name })
    {
        start.ArgumentList.Add(arg);
    }

    Process process = Process.Start(start)!;
    process.OutputDataReceived += (_, e) =>
    {
        // "handled <stream> <n>" lines; the first worker to report an event is credited with it.
        if (e.Data?.Split(' ') is ["handled", string stream, string n])
        {
            handled.TryAdd((stream, int.Parse(n, System.Globalization.CultureInfo.InvariantCulture)), name);
        }
    };
    process.BeginOutputReadLine();
    return process;
}

internal sealed class OrderEvent
{
    public int N { get; set; }
}

[JsonSerializable(typeof(OrderEvent))]
internal sealed partial class SampleJson : JsonSerializerContext
{
}

/// <summary>One worker process: a SubscriptionWorker until standard input closes.</summary>
internal static class Worker
{
    public static async Task<int> RunAsync(Uri root, string subscription, string name)
    {
        using var stop = new CancellationTokenSource();
        _ = Task.Run(async () =>
        {
            await Console.In.ReadToEndAsync();
            await stop.CancelAsync();
        });
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = root });
        var worker = new SubscriptionWorker(client.Subscriptions, subscription, new PrintingHandler(), new SubscriptionWorkerOptions { WorkerName = name });
        try
        {
            await worker.RunAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        return 0;
    }

    private sealed class PrintingHandler : ISubscriptionHandler
    {
        public Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken)
        {
            foreach (OrderEvent order in batch.ReadJson(SampleJson.Default.OrderEvent))
            {
                Console.WriteLine($"handled {batch.Stream} {order.N}");
            }

            return Task.CompletedTask;
        }
    }
}
