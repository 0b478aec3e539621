using System.Net;
using System.Net.Http.Headers;
using DurableStreams;
using DurableStreams.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Samples.Tests;

/// <summary>The relay on a real Kestrel listener: a browser leaving, and the app stopping with a browser connected.</summary>
public sealed class RelayLifetimeTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private ReferenceServerProcess _server = null!;
    private DurableStreamClient _client = null!;

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync()
    {
        _server = await ReferenceServerProcess.StartAsync(TimeSpan.FromSeconds(2));
        _client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = _server.BaseUrl });
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Events_BrowserLeaves_RequestEndsQuietly()
    {
        string name = await CreateStreamWithOneMessageAsync();
        await using var relay = new RelayFactory(_server.BaseUrl, kestrelPort: 0);
        relay.StartServer();
        using var browser = new HttpClient { BaseAddress = relay.ServerAddress };

        using (HttpResponseMessage response = await GetEventsAsync(browser, name))
        {
            await ReadFirstEventAsync(response);
        }

        (string path, Exception? error) = await relay.Requests.NextAsync(Ct);
        Assert.Equal($"/events/{name}", path);
        Assert.Null(error);
        AssertNoWarnings(relay.Logs);
    }

    [Fact]
    public async Task StopAsync_WithAnSseClientConnected_EndsItsResponseInsteadOfWaitingForTheShutdownTimeout()
    {
        string name = await CreateStreamWithOneMessageAsync();

        // A shutdown timeout far beyond the test's: stopping finishes only if the relay ends the
        // live response itself when the app stops.
        // Not `await using`: if the relay did not stop, disposing it again would wait the 10 minutes.
        var relay = new RelayFactory(_server.BaseUrl, kestrelPort: 0, shutdownTimeout: TimeSpan.FromMinutes(10));
        relay.StartServer();
        FakeLogCollector logs = relay.Logs;
        using var browser = new HttpClient { BaseAddress = relay.ServerAddress };
        using HttpResponseMessage response = await GetEventsAsync(browser, name);
        Stream body = await ReadFirstEventAsync(response);

        await relay.DisposeAsync().AsTask().WaitAsync(Ct);

        // The response ended normally (the browser would reconnect with its Last-Event-ID).
        Assert.Equal(0, await body.ReadAsync(new byte[1], Ct));
        (_, Exception? error) = await relay.Requests.NextAsync(Ct);
        Assert.Null(error);
        AssertNoWarnings(logs);
    }

    private static void AssertNoWarnings(FakeLogCollector logs)
    {
        FakeLogRecord[] problems = logs.GetSnapshot().Where(r => r.Level >= LogLevel.Warning || r.Exception is OperationCanceledException).ToArray();
        Assert.True(problems.Length == 0, string.Join("\n", problems.Select(r => $"{r.Level} {r.Category}: {r.Message} {r.Exception}")));
    }

    private async Task<string> CreateStreamWithOneMessageAsync()
    {
        string name = $"relay-life-{Guid.NewGuid():N}";
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = $"v1/stream/{name}", ContentType = "application/json" }, Ct)).Stream;
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        return name;
    }

    private async Task<HttpResponseMessage> GetEventsAsync(HttpClient browser, string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/events/{name}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        HttpResponseMessage response = await browser.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }

    /// <summary>Reads up to the end of the first message event (the live read is then open); returns the body to go on reading.</summary>
    private async Task<Stream> ReadFirstEventAsync(HttpResponseMessage response)
    {
        Stream body = await response.Content.ReadAsStreamAsync(Ct);
        var seen = new List<byte>();
        byte[] one = new byte[1];
        while (System.Text.Encoding.UTF8.GetString([.. seen]) is var text && !(text.Contains("data: {\"n\":1}\n", StringComparison.Ordinal) && text.EndsWith("\n\n", StringComparison.Ordinal)))
        {
            Assert.True(await body.ReadAsync(one, Ct) == 1, "the response ended before the first message");
            seen.Add(one[0]);
        }

        return body;
    }
}
