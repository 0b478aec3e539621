// Quickstart: create a JSON stream, append a few events, read them back.
//
//   dotnet run --project samples/Quickstart
//
// With DURABLE_STREAMS_URL set (e.g. http://localhost:4437) it talks to that server; without it,
// it starts an in-process development server (DurableStreamTestServer from the DurableStreams.Testing
// package: nothing but the .NET SDK needed) and stops it at the end.
using DurableStreams;
using DurableStreams.Testing;

string? serverUrl = Environment.GetEnvironmentVariable("DURABLE_STREAMS_URL");
DurableStreamTestServer? localServer = null;
if (string.IsNullOrEmpty(serverUrl))
{
    localServer = await DurableStreamTestServer.StartAsync();
    serverUrl = localServer.BaseAddress.AbsoluteUri;
    Console.Error.WriteLine($"DURABLE_STREAMS_URL is not set: started an in-process development server at {serverUrl}");
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
