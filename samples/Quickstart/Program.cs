// Quickstart: create a JSON stream, append a few events, read them back.
//
//   dotnet run --project samples/Quickstart
//
// With DURABLE_STREAMS_URL set (e.g. http://localhost:4437) it talks to that server; without it,
// it installs (first run) and starts the pinned reference server, and stops it at the end.
using DurableStreams;
using DurableStreams.Testing;

string? serverUrl = Environment.GetEnvironmentVariable("DURABLE_STREAMS_URL");
ReferenceServerProcess? localServer = null;
if (string.IsNullOrEmpty(serverUrl))
{
    Console.Error.WriteLine("DURABLE_STREAMS_URL is not set: starting the reference server (npm package @durable-streams/server)...");
    localServer = await ReferenceServerProcess.StartAsync();
    serverUrl = localServer.BaseUrl.AbsoluteUri;
}

try
{
    string url = $"{serverUrl.TrimEnd('/')}/v1/stream/quickstart-{Guid.NewGuid():N}";

    var stream = await DurableStream.CreateAsync(new CreateOptions {
        Url = url, ContentType = "application/json" });
    await stream.AppendAsync(new { Event = "user.created" });
    await stream.AppendAsync(new { Event = "user.verified" });
    AppendResult last = await stream.AppendAsync(new { Event = "user.deleted" });

    Console.WriteLine($"Appended 3 events to {stream.Url}; the tail is now {last.NextOffset}.");

    // Read everything back: one item per JSON message, with a checkpoint to resume after it.
    await foreach (StreamItem<UserEvent> item in stream.ReadJsonAsync<UserEvent>())
    {
        Console.WriteLine($"  {item.Value.Event,-14} resume from: {item.Checkpoint}");
    }
}
finally
{
    if (localServer is not null)
    {
        await localServer.DisposeAsync();
    }
}

internal sealed record UserEvent(string Event);
