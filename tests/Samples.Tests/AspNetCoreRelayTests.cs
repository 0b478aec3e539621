using System.Net;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Threading.Channels;
using DurableStreams;
using DurableStreams.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Samples.Tests;

/// <summary>Runs the reference server and the relay app (in memory, through WebApplicationFactory) once for the class.</summary>
public sealed class RelayFixture : IAsyncLifetime
{
    private ReferenceServerProcess? _server;

    public RelayFactory Factory { get; private set; } = null!;

    public DurableStreamClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _server = await ReferenceServerProcess.StartAsync(TimeSpan.FromSeconds(2));
        Factory = new RelayFactory(_server.BaseUrl);
        Client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = _server.BaseUrl });
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// The relay app pointed at the test's reference server: in memory (TestServer) by default, or on a
/// real Kestrel listener on a loopback port. Its logs are collected, and every /events request's
/// outcome (did the handler throw?) is recorded.
/// </summary>
public sealed class RelayFactory : WebApplicationFactory<Program>
{
    private readonly Uri _server;
    private readonly TimeSpan? _shutdownTimeout;

    /// <param name="server">The Durable Streams server the relay reads from.</param>
    /// <param name="kestrelPort">Serve over Kestrel on 127.0.0.1 at this port (0: any free one); null for TestServer.</param>
    /// <param name="shutdownTimeout">How long stopping the host may wait for open requests. Default: the host's (30 s).</param>
    public RelayFactory(Uri server, int? kestrelPort = null, TimeSpan? shutdownTimeout = null)
    {
        _server = server;
        _shutdownTimeout = shutdownTimeout;
        if (kestrelPort is { } port)
        {
            UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        }
    }

    /// <summary>Every /events request the relay finished, with the exception its handler threw, if any.</summary>
    public RequestLog Requests { get; } = new();

    /// <summary>The app's log records at Information and above.</summary>
    public FakeLogCollector Logs => Services.GetFakeLogCollector();

    /// <summary>The Kestrel listener's base address (after <see cref="WebApplicationFactory{TEntryPoint}.StartServer"/>).</summary>
    public Uri ServerAddress => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    protected override IHost CreateHost(IHostBuilder builder)
    {
        // Host configuration is visible to Program before it builds the app.
        builder.ConfigureHostConfiguration(config => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DURABLE_STREAMS_URL"] = _server.AbsoluteUri,
        }));
        return base.CreateHost(builder);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureLogging(logging => logging.AddFakeLogging());
        builder.ConfigureServices(services =>
        {
            services.AddSingleton<IStartupFilter>(new RequestLogFilter(Requests));
            if (_shutdownTimeout is { } timeout)
            {
                services.Configure<HostOptions>(o => o.ShutdownTimeout = timeout);
            }
        });
    }

    /// <summary>Records the outcome of each /events request around the whole pipeline.</summary>
    private sealed class RequestLogFilter(RequestLog log) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, handler) =>
            {
                if (!context.Request.Path.StartsWithSegments("/events", StringComparison.Ordinal))
                {
                    await handler(context);
                    return;
                }

                try
                {
                    await handler(context);
                    log.Add(context.Request.Path, null);
                }
                catch (Exception ex)
                {
                    log.Add(context.Request.Path, ex);
                    throw;
                }
            });
            next(app);
        };
    }
}

/// <summary>The /events requests a relay finished, in order; a test can wait for the next one.</summary>
public sealed class RequestLog
{
    private readonly Channel<(string Path, Exception? Error)> _finished = Channel.CreateUnbounded<(string Path, Exception? Error)>();

    public void Add(string path, Exception? error) => _finished.Writer.TryWrite((path, error));

    /// <summary>Waits for the next /events request to finish; returns the exception its handler threw, or null.</summary>
    public async Task<(string Path, Exception? Error)> NextAsync(CancellationToken cancellationToken) =>
        await _finished.Reader.ReadAsync(cancellationToken);
}

public sealed class AspNetCoreRelayTests(RelayFixture fixture) : IClassFixture<RelayFixture>, IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task Events_RelayJsonMessagesAsSse_AndResumeFromLastEventId()
    {
        string name = $"relay-{Guid.NewGuid():N}";
        DurableStream stream = (await fixture.Client.CreateStreamAsync(new CreateOptions { Url = $"v1/stream/{name}", ContentType = "application/json" }, Ct)).Stream;
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await stream.AppendAsync(new { n = 2 }, cancellationToken: Ct);
        await stream.AppendAsync(new { n = 3 }, cancellationToken: Ct);
        using HttpClient browser = fixture.Factory.CreateClient();

        // First visit: the three messages, each with a checkpoint as its id; then the browser leaves.
        List<SseItem<string>> first;
        using (HttpResponseMessage response = await GetEventsAsync(browser, name, lastEventId: null))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            first = await ReadEventsAsync(response, count: 3);
        }

        Assert.Equal(["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"], first.Select(e => e.Data));
        Assert.All(first, e => Assert.True(ReadCheckpoint.TryParse(e.EventId, out _), $"id '{e.EventId}' is not a checkpoint"));
        Assert.Equal(3, first.Select(e => e.EventId).Distinct().Count());

        // More messages arrive while the browser is away; it reconnects with the id of message 2.
        await stream.AppendAsync(new { n = 4 }, cancellationToken: Ct);
        await stream.AppendAsync(new { n = 5 }, cancellationToken: Ct);
        using (HttpResponseMessage resumed = await GetEventsAsync(browser, name, lastEventId: first[1].EventId))
        {
            List<SseItem<string>> events = await ReadEventsAsync(resumed, count: 3);
            Assert.Equal(["{\"n\":3}", "{\"n\":4}", "{\"n\":5}"], events.Select(e => e.Data));
            Assert.All(events, e => Assert.True(ReadCheckpoint.TryParse(e.EventId, out _), $"id '{e.EventId}' is not a checkpoint"));

            // Live: a message appended now reaches the open connection; closing the stream ends it.
            await stream.AppendAsync(new { n = 6 }, cancellationToken: Ct);
            await stream.CloseAsync(Ct);
            List<SseItem<string>> rest = await ReadEventsAsync(resumed, count: int.MaxValue);
            Assert.Equal(["{\"n\":6}", "closed"], rest.Select(e => e.Data));
            Assert.Equal("end", rest[1].EventType);

            // A reconnect after the end is told to stop (EventSource does not retry a 204).
            using HttpResponseMessage afterEnd = await GetEventsAsync(browser, name, lastEventId: rest[1].EventId);
            Assert.Equal(HttpStatusCode.NoContent, afterEnd.StatusCode);
        }
    }

    [Fact]
    public async Task Events_TextStream_RelaysTextWithCheckpointIds()
    {
        string name = $"relay-text-{Guid.NewGuid():N}";
        DurableStream stream = (await fixture.Client.CreateStreamAsync(new CreateOptions { Url = $"v1/stream/{name}", ContentType = "text/plain" }, Ct)).Stream;
        await stream.AppendAsync("hello ", cancellationToken: Ct);
        using HttpClient browser = fixture.Factory.CreateClient();

        using HttpResponseMessage response = await GetEventsAsync(browser, name, lastEventId: null);
        SseItem<string> firstEvent = (await ReadEventsAsync(response, count: 1))[0];
        await stream.CloseAsync("world", cancellationToken: Ct);
        List<SseItem<string>> rest = await ReadEventsAsync(response, count: int.MaxValue);

        Assert.Equal("hello ", firstEvent.Data);
        Assert.Equal("hello world", firstEvent.Data + string.Concat(rest.Where(e => e.EventType != "end").Select(e => e.Data)));
        Assert.Equal("end", rest[^1].EventType);
    }

    [Fact]
    public async Task Events_MissingStream_Returns404()
    {
        using HttpClient browser = fixture.Factory.CreateClient();

        using HttpResponseMessage response = await GetEventsAsync(browser, $"missing-{Guid.NewGuid():N}", lastEventId: null);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Events_MalformedLastEventId_Returns400()
    {
        using HttpClient browser = fixture.Factory.CreateClient();

        using HttpResponseMessage response = await GetEventsAsync(browser, "anything", lastEventId: "not,a,checkpoint,at all");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Events_EmptyStream_SendsSseHeadersBeforeAnyMessage()
    {
        string name = $"relay-empty-{Guid.NewGuid():N}";
        await fixture.Client.CreateStreamAsync(new CreateOptions { Url = $"v1/stream/{name}", ContentType = "application/json" }, Ct);
        using HttpClient browser = fixture.Factory.CreateClient();

        // Nothing to read yet, and the read stays open: the headers still go out at once.
        using HttpResponseMessage response = await GetEventsAsync(browser, name, lastEventId: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Events_LastEventIdTheServerRejects_Returns400BeforeAnySseHeader()
    {
        string name = $"relay-bad-id-{Guid.NewGuid():N}";
        DurableStream stream = (await fixture.Client.CreateStreamAsync(new CreateOptions { Url = $"v1/stream/{name}", ContentType = "application/json" }, Ct)).Stream;
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        using HttpClient browser = fixture.Factory.CreateClient();

        // A checkpoint in form (offsets are opaque), but not an offset of this stream.
        using HttpResponseMessage response = await GetEventsAsync(browser, name, lastEventId: "zzzz");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotEqual("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("zzzz", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Page_UsesEventSource()
    {
        using HttpClient browser = fixture.Factory.CreateClient();

        string page = await browser.GetStringAsync("/", Ct);

        Assert.Contains("new EventSource(\"/events/\"", page, StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> GetEventsAsync(HttpClient browser, string name, string? lastEventId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/events/{name}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        }

        return await browser.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
    }

    /// <summary>Reads <paramref name="count"/> events, or every event until the response ends.</summary>
    private async Task<List<SseItem<string>>> ReadEventsAsync(HttpResponseMessage response, int count)
    {
        var events = new List<SseItem<string>>();
        Stream body = await response.Content.ReadAsStreamAsync(Ct);
        if (!_parsers.TryGetValue(response, out IAsyncEnumerator<SseItem<string>>? parser))
        {
            parser = SseParser.Create(body).EnumerateAsync(Ct).GetAsyncEnumerator(Ct);
            _parsers[response] = parser;
        }

        while (events.Count < count && await parser.MoveNextAsync())
        {
            events.Add(parser.Current);
        }

        return events;
    }

    private readonly Dictionary<HttpResponseMessage, IAsyncEnumerator<SseItem<string>>> _parsers = [];
}
