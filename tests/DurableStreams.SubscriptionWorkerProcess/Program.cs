// Usage: DurableStreams.SubscriptionWorkerProcess <stream-root> <subscription-id> <worker-name>
//
// Runs a SubscriptionWorker and prints one line per handled message:
//   H <stream> <n> <generation>
// after "READY". Stops when stdin closes, so a test that dies never leaves it running.
using System.Text.Json;
using System.Text.Json.Serialization;
using DurableStreams;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: <stream-root> <subscription-id> <worker-name>");
    return 2;
}

using var stop = new CancellationTokenSource();
_ = Task.Run(async () =>
{
    await Console.In.ReadToEndAsync();
    stop.Cancel();
});

using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(args[0]) });
var worker = new SubscriptionWorker(client.Subscriptions, args[1], new PrintingHandler(), new SubscriptionWorkerOptions
{
    WorkerName = args[2],
    AckInterval = TimeSpan.Zero,
    ClaimPollInterval = TimeSpan.FromSeconds(2),
});
Console.Out.WriteLine("READY");
Console.Out.Flush();
try
{
    await worker.RunAsync(stop.Token);
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
}

return 0;

internal sealed class PrintingHandler : ISubscriptionHandler
{
    private static readonly object Gate = new();

    public Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken)
    {
        IReadOnlyList<JsonElement> messages = batch.ReadJson(WorkerJson.Default.JsonElement);
        lock (Gate)
        {
            foreach (JsonElement message in messages)
            {
                Console.Out.WriteLine($"H {batch.Stream} {message.GetProperty("n").GetInt32()} {batch.Generation}");
            }

            Console.Out.Flush();
        }

        return Task.CompletedTask;
    }
}

[JsonSerializable(typeof(JsonElement))]
internal sealed partial class WorkerJson : JsonSerializerContext
{
}
