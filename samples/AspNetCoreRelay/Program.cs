// AspNetCoreRelay: relays a durable stream to browsers as Server-Sent Events. Each event's id is
// the checkpoint right after that message, so a browser that reconnects (EventSource sends the
// last id as Last-Event-ID) continues exactly where it stopped.
//
//   dotnet run --project samples/AspNetCoreRelay      then open http://localhost:5000/?stream=demo
//
// With DURABLE_STREAMS_URL set it relays streams of that server; without it, it starts the pinned
// reference server and a "demo" stream that gets a message every second.
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using DurableStreams;
using DurableStreams.Testing;
using Microsoft.AspNetCore.Http.Features;

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
internal static partial class Relay
{
    /// <summary>Tells the browser to reconnect 1 s after the relay goes away (SSE <c>retry:</c>, in ms), not after its default 3 s.</summary>
    private static readonly byte[] Reconnect = "retry: 1000\n\n"u8.ToArray();

    /// <summary>
    /// GET /events/{name}: the stream's messages as Server-Sent Events, from the beginning or from
    /// the checkpoint in the Last-Event-ID header, live until the stream is closed, the browser
    /// leaves or the app stops.
    /// </summary>
    /// <remarks>
    /// Nothing is committed until the read's first response is in (a catch-up answers at once, even
    /// when there is nothing to read), so a bad checkpoint or a missing stream still gets a plain
    /// 400 or 404; after that the SSE headers go out at once, before the first message.
    /// </remarks>
    public static async Task<IResult> RelayAsync(
        string name,
        HttpContext context,
        DurableStreamClient client,
        IHostApplicationLifetime lifetime,
        ILoggerFactory loggerFactory)
    {
        ReadCheckpoint start = new(Offset.Beginning);
        string? lastEventId = context.Request.Headers["Last-Event-ID"];
        bool resuming = !string.IsNullOrEmpty(lastEventId);
        if (resuming && !ReadCheckpoint.TryParse(lastEventId, out start))
        {
            return TypedResults.BadRequest($"Last-Event-ID '{lastEventId}' is not a checkpoint.");
        }

        // The read ends when the browser leaves or the app stops: Kestrel waits for open requests
        // when shutting down, and an SSE response would otherwise keep it waiting until its timeout.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        CancellationToken cancellationToken = stop.Token;
        ILogger logger = loggerFactory.CreateLogger("AspNetCoreRelay.Relay");
        DurableStream stream = client.GetStream($"v1/stream/{name}");
        IAsyncEnumerator<StreamChunk> chunks = stream
            .ReadAsync(new ReadOptions { Checkpoint = start, Live = LiveMode.Auto }, cancellationToken)
            .GetAsyncEnumerator(cancellationToken);
        await using (chunks)
        {
            try
            {
                if (!await chunks.MoveNextAsync())
                {
                    return TypedResults.NoContent();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return Results.Empty;
            }
            catch (StreamNotFoundException)
            {
                return TypedResults.NotFound();
            }
            catch (DurableStreamException ex) when (ex.Status == StatusCodes.Status400BadRequest)
            {
                // The checkpoint parsed, but the server does not know its offset.
                return TypedResults.BadRequest($"Last-Event-ID '{lastEventId}' is not a position in stream {name}.");
            }
            catch (DurableStreamException ex)
            {
                LogReadFailedBeforeAnswer(logger, name, ex);
                return TypedResults.StatusCode(StatusCodes.Status502BadGateway);
            }

            StreamChunk first = chunks.Current;
            if (resuming && first.StreamClosed && first.Data.IsEmpty)
            {
                // A browser reconnecting after the end of a closed stream: 204 tells EventSource to stop.
                return TypedResults.NoContent();
            }

            HttpResponse response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache";
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            try
            {
                await response.StartAsync(cancellationToken);
                await response.Body.WriteAsync(Reconnect, cancellationToken);
                await response.Body.FlushAsync(cancellationToken);
                await SseFormatter.WriteAsync(EventsAsync(chunks, first, start), response.Body, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // The browser left or the app is stopping: nothing went wrong.
                LogStopped(logger, name);
            }
            catch (DurableStreamException ex)
            {
                // The response has started, so its status cannot change: end it; the browser
                // reconnects with its Last-Event-ID and resumes after the last message it showed.
                LogReadFailed(logger, name, ex);
            }
        }

        return Results.Empty;
    }

    /// <summary>
    /// The events of the read, starting with the chunk already received: one per JSON message (one
    /// per chunk of text for other streams), each with the checkpoint right after it as its id; an
    /// <c>end</c> event whose id is the final offset when the stream is closed.
    /// </summary>
    private static async IAsyncEnumerable<SseItem<string>> EventsAsync(IAsyncEnumerator<StreamChunk> chunks, StreamChunk first, ReadCheckpoint start)
    {
        Decoder text = Encoding.UTF8.GetDecoder();
        long skipped = start.Skip;
        StreamChunk chunk = first;
        while (true)
        {
            if (!chunk.Data.IsEmpty && IsJson(chunk.ContentType))
            {
                foreach (SseItem<string> message in JsonMessages(chunk, skipped))
                {
                    yield return message;
                }

                skipped = 0;
            }
            else if (!chunk.Data.IsEmpty)
            {
                char[] chars = new char[text.GetCharCount(chunk.Data.Span, chunk.StreamClosed)];
                int count = text.GetChars(chunk.Data.Span, chars, chunk.StreamClosed);
                if (count > 0)
                {
                    yield return new SseItem<string>(new string(chars, 0, count)) { EventId = chunk.Checkpoint.ToString() };
                }
            }

            if (chunk.StreamClosed)
            {
                yield return new SseItem<string>("closed", "end") { EventId = chunk.NextOffset.ToString() };
                yield break;
            }

            if (!await chunks.MoveNextAsync())
            {
                yield break;
            }

            chunk = chunks.Current;
        }
    }

    /// <summary>
    /// The messages of a JSON chunk (one array, PROTOCOL.md §9.1). Offsets exist only at response
    /// boundaries, so a message inside a response is addressed as "the response at its start offset,
    /// after N messages" (<see cref="ReadCheckpoint"/>); the last one resumes at the chunk's checkpoint.
    /// </summary>
    /// <param name="chunk">The chunk.</param>
    /// <param name="skipped">How many messages of this response the read dropped because the checkpoint it resumed from had shown them.</param>
    private static List<SseItem<string>> JsonMessages(StreamChunk chunk, long skipped)
    {
        using JsonDocument array = JsonDocument.Parse(chunk.Data);
        List<string> messages = [.. array.RootElement.EnumerateArray().Select(m => m.GetRawText())];
        ReadCheckpoint after = chunk.Checkpoint;
        long before = after.Offset == chunk.StartOffset
            ? after.Skip - messages.Count // one part of a larger response: its checkpoint counts the messages before it
            : skipped;
        var events = new List<SseItem<string>>(messages.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            ReadCheckpoint id = i == messages.Count - 1 ? after : new ReadCheckpoint(chunk.StartOffset, before + i + 1, chunk.Cursor);
            events.Add(new SseItem<string>(messages[i]) { EventId = id.ToString() });
        }

        return events;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Stopped relaying stream {Stream}: the browser left or the app is stopping.")]
    private static partial void LogStopped(ILogger logger, string stream);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading stream {Stream} failed before the relay answered.")]
    private static partial void LogReadFailedBeforeAnswer(ILogger logger, string stream, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading stream {Stream} failed; the browser will reconnect.")]
    private static partial void LogReadFailed(ILogger logger, string stream, Exception exception);

    private static bool IsJson(string? contentType) =>
        contentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true;
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
