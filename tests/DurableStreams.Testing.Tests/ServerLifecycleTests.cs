using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace DurableStreams.Testing.Tests;

/// <summary>The server's options: file store, fake clock, long-poll wake-up, mounting, start and stop.</summary>
public sealed class ServerLifecycleTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ds-store-" + Guid.NewGuid().ToString("N"));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _timeout.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static Dictionary<string, string> Producer(string id, int epoch, int seq) => new()
    {
        ["Producer-Id"] = id,
        ["Producer-Epoch"] = epoch.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Producer-Seq"] = seq.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task StartAsync_SameDataDirectoryAfterRestart_KeepsDataClosureAndProducerState()
    {
        string path = "kept/" + Guid.NewGuid().ToString("N");
        string open = "open-" + Guid.NewGuid().ToString("N");
        await using (var first = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { DataDirectory = _dir }))
        {
            (await Raw.SendAsync(HttpMethod.Put, first.StreamUrl(path), "a", cancellationToken: Ct)).Dispose();
            (await Raw.SendAsync(HttpMethod.Post, first.StreamUrl(path), "b", headers: Producer("p", 0, 0), cancellationToken: Ct)).Dispose();
            (await Raw.SendAsync(HttpMethod.Post, first.StreamUrl(path), "c", headers: new Dictionary<string, string> { ["Stream-Closed"] = "true" }, cancellationToken: Ct)).Dispose();
            (await Raw.SendAsync(HttpMethod.Put, first.StreamUrl(open), "x", cancellationToken: Ct)).Dispose();
            (await Raw.SendAsync(HttpMethod.Post, first.StreamUrl(open), "y", headers: Producer("q", 2, 0), cancellationToken: Ct)).Dispose();
        }

        await using var second = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { DataDirectory = _dir });
        Assert.Equal("abc", await Raw.ReadAllAsync(second.StreamUrl(path), Ct));
        using var head = await Raw.SendAsync(HttpMethod.Head, second.StreamUrl(path), cancellationToken: Ct);
        Assert.Equal("true", head.Header("Stream-Closed"));

        // The producer's last (epoch, seq) survived: a retry deduplicates, an old epoch is fenced.
        using var retry = await Raw.SendAsync(HttpMethod.Post, second.StreamUrl(open), "y", headers: Producer("q", 2, 0), cancellationToken: Ct);
        using var stale = await Raw.SendAsync(HttpMethod.Post, second.StreamUrl(open), "z", headers: Producer("q", 1, 0), cancellationToken: Ct);
        Assert.Equal(HttpStatusCode.NoContent, retry.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, stale.StatusCode);
        Assert.Equal("xy", await Raw.ReadAllAsync(second.StreamUrl(open), Ct));
    }

    [Fact]
    public async Task StartAsync_DataDirectory_DeletedStreamStaysDeletedAfterRestart()
    {
        string name = "gone-" + Guid.NewGuid().ToString("N");
        await using (var first = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { DataDirectory = _dir }))
        {
            (await Raw.SendAsync(HttpMethod.Put, first.StreamUrl(name), "a", cancellationToken: Ct)).Dispose();
            using var deleted = await Raw.SendAsync(HttpMethod.Delete, first.StreamUrl(name), cancellationToken: Ct);
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        await using var second = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { DataDirectory = _dir });
        using var head = await Raw.SendAsync(HttpMethod.Head, second.StreamUrl(name), cancellationToken: Ct);
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    [Fact]
    public async Task TimeProvider_TtlElapsedOnTheFakeClock_StreamIsGone()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { TimeProvider = clock });
        string url = server.StreamUrl("ttl");
        (await Raw.SendAsync(HttpMethod.Put, url, "a", headers: new Dictionary<string, string> { ["Stream-TTL"] = "60" }, cancellationToken: Ct)).Dispose();

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("a", await Raw.ReadAllAsync(url, Ct)); // a read slides the window
        clock.Advance(TimeSpan.FromSeconds(59));
        using var stillThere = await Raw.SendAsync(HttpMethod.Head, url, cancellationToken: Ct);
        clock.Advance(TimeSpan.FromSeconds(2));
        using var expired = await Raw.SendAsync(HttpMethod.Head, url, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.OK, stillThere.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, expired.StatusCode);
    }

    [Fact]
    public async Task TimeProvider_ExpiresAtPassedOnTheFakeClock_StreamIsGone()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var server = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { TimeProvider = clock });
        string url = server.StreamUrl("expires");
        (await Raw.SendAsync(HttpMethod.Put, url, "a", headers: new Dictionary<string, string> { ["Stream-Expires-At"] = "2030-01-01T00:10:00Z" }, cancellationToken: Ct)).Dispose();

        clock.Advance(TimeSpan.FromMinutes(9));
        using var before = await Raw.SendAsync(HttpMethod.Head, url, cancellationToken: Ct);
        clock.Advance(TimeSpan.FromMinutes(1));
        using var after = await Raw.SendAsync(HttpMethod.Head, url, cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal("2030-01-01T00:10:00.000Z", before.Header("Stream-Expires-At"));
        Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
    }

    [Fact]
    public async Task LongPoll_AppendWhileWaiting_AnswersWithTheDataBeforeTheTimeout()
    {
        // A 10-minute long-poll timeout: the answer can only come from the append waking the reader.
        await using var server = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { LongPollTimeout = TimeSpan.FromMinutes(10) });
        string url = server.StreamUrl("wake");
        using var created = await Raw.SendAsync(HttpMethod.Put, url, "", cancellationToken: Ct);
        string tail = created.Header("Stream-Next-Offset")!;

        Task<HttpResponseMessage> poll = Raw.Http.GetAsync($"{url}?offset={tail}&live=long-poll", Ct);
        (await Raw.SendAsync(HttpMethod.Post, url, "news", cancellationToken: Ct)).Dispose();
        using var response = await poll;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("news", await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task MapDurableStreams_InAnApp_ServesStreamsUnderItsPrefixOnly()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapDurableStreams("/streams");
        await app.StartAsync(Ct);
        string baseUrl = app.Urls.First();

        using var created = await Raw.SendAsync(HttpMethod.Put, $"{baseUrl}/streams/a/b", "hi", cancellationToken: Ct);
        using var outside = await Raw.SendAsync(HttpMethod.Put, $"{baseUrl}/other/a", "hi", cancellationToken: Ct);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"{baseUrl}/streams/a/b", created.Headers.Location?.ToString());
        Assert.Equal("hi", await Raw.ReadAllAsync($"{baseUrl}/streams/a/b", Ct));
        Assert.Equal(HttpStatusCode.NotFound, outside.StatusCode);
        await app.StopAsync(Ct);
    }

    [Fact]
    public async Task DisposeAsync_StopsListening()
    {
        var server = await DurableStreamTestServer.StartAsync();
        string url = server.StreamUrl("stop");
        (await Raw.SendAsync(HttpMethod.Put, url, "", cancellationToken: Ct)).Dispose();

        await server.DisposeAsync();

        await Assert.ThrowsAsync<HttpRequestException>(() => Raw.SendAsync(HttpMethod.Head, url, cancellationToken: Ct));
    }

    [Fact]
    public async Task StartAsync_PortInUse_ThrowsIOException()
    {
        await using var first = await DurableStreamTestServer.StartAsync();

        await Assert.ThrowsAsync<IOException>(() => DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { Port = first.BaseAddress.Port }, Ct));
    }

    [Fact]
    public async Task StartAsync_BadOptions_ThrowsArgumentException()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { Port = -1 }, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { LongPollTimeout = TimeSpan.Zero }, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { MaxRequestBodySize = 0 }, Ct));
    }
}
