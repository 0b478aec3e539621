// AspNetCoreRelay: relays a durable stream to browsers as Server-Sent Events. Each event's id is
// the checkpoint right after that message, so a browser that reconnects (EventSource sends the
// last id as Last-Event-ID) continues exactly where it stopped.
//
//   dotnet run --project samples/AspNetCoreRelay      then open http://localhost:5000/?stream=demo
//
// With DURABLE_STREAMS_URL set it relays streams of that server; without it, it starts the pinned
// reference server and a "demo" stream that gets a message every second.
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DurableStreams;
using DurableStreams.Testing;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// Read when the client is first resolved, after the server is known (below).
Uri? server = null;
builder.Services.AddDurableStreams(options => options.BaseAddress = server);
WebApplication app = builder.Build();

ReferenceServerProcess? localServer = null;
string? configured = app.Configuration["DURABLE_STREAMS_URL"];
if (string.IsNullOrEmpty(configured))
{
    Console.Error.WriteLine("DURABLE_STREAMS_URL is not set: starting the reference server with a demo stream.");
    localServer = await ReferenceServerProcess.StartAsync();
    configured = localServer.BaseUrl.AbsoluteUri;
    app.Lifetime.ApplicationStarted.Register(() => _ = DemoTicker.RunAsync(app.Services.GetRequiredService<DurableStreamClient>(), app.Lifetime.ApplicationStopping));
}

server = new Uri(configured);

app.UseDefaultFiles();
app.UseStaticFiles();
app.MapGet("/events/{**name}", Relay.RelayAsync);

await app.RunAsync();
if (localServer is not null)
{
    await localServer.DisposeAsync();
}

/// <summary>The SSE endpoint.</summary>
internal static class Relay
{
    /// <summary>
    /// GET /events/{name}: the stream's messages as Server-Sent Events, from the beginning or from
    /// the checkpoint in the Last-Event-ID header, live until the stream is closed or the browser leaves.
    /// </summary>
    public static async Task<IResult> RelayAsync(string name, HttpRequest request, DurableStreamClient client, CancellationToken cancellationToken)
    {
        ReadCheckpoint start = new(Offset.Beginning);
        string? lastEventId = request.Headers["Last-Event-ID"];
        if (!string.IsNullOrEmpty(lastEventId) && !ReadCheckpoint.TryParse(lastEventId, out start))
        {
            return TypedResults.BadRequest($"Last-Event-ID '{lastEventId}' is not a checkpoint.");
        }

        DurableStream stream = client.GetStream($"v1/stream/{name}");
        StreamMetadata metadata;
        try
        {
            metadata = await stream.HeadAsync(cancellationToken);
        }
        catch (StreamNotFoundException)
        {
            return TypedResults.NotFound();
        }

        // A browser reconnecting after the end of a closed stream: 204 tells EventSource to stop.
        if (metadata.Closed && start.Offset == metadata.NextOffset)
        {
            return TypedResults.NoContent();
        }

        bool json = metadata.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true;
        return TypedResults.ServerSentEvents(EventsAsync(stream, json, start, cancellationToken));
    }

    private static async IAsyncEnumerable<SseItem<string>> EventsAsync(
        DurableStream stream,
        bool json,
        ReadCheckpoint start,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new ReadOptions { Checkpoint = start, Live = LiveMode.Auto };
        if (json)
        {
            // One event per JSON message; its id resumes right after it.
            await foreach (StreamItem<JsonElement> message in stream.ReadJsonAsync<JsonElement>(options, cancellationToken))
            {
                yield return new SseItem<string>(message.Value.GetRawText()) { EventId = message.Checkpoint.ToString() };
            }
        }
        else
        {
            await foreach (StreamItem<string> text in stream.ReadTextAsync(options, cancellationToken))
            {
                yield return new SseItem<string>(text.Value) { EventId = text.Checkpoint.ToString() };
            }
        }

        // The stream was closed: say so, with the final offset as the id (a reconnect then gets 204).
        StreamMetadata end = await stream.HeadAsync(cancellationToken);
        yield return new SseItem<string>("closed", "end") { EventId = end.NextOffset.ToString() };
    }
}

/// <summary>Appends a message a second to the "demo" stream when the sample runs its own server.</summary>
internal static class DemoTicker
{
    public static async Task RunAsync(DurableStreamClient client, CancellationToken stopping)
    {
        try
        {
            CreateStreamResult demo = await client.CreateStreamAsync(new CreateOptions { Url = "v1/stream/demo", ContentType = "application/json" }, stopping);
            for (int tick = 1; !stopping.IsCancellationRequested; tick++)
            {
                await demo.Stream.AppendAsync(new { tick, at = DateTimeOffset.UtcNow }, cancellationToken: stopping);
                await Task.Delay(TimeSpan.FromSeconds(1), stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }
}

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
