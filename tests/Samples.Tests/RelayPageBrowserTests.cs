using System.Collections.Concurrent;
using DurableStreams;
using DurableStreams.Testing;
using PuppeteerSharp;
using Xunit.Abstractions;

namespace Samples.Tests;

/// <summary>Finds the system's Chromium; the browser tests never download one.</summary>
internal static class SystemChromium
{
    /// <summary>The browser executable: <c>$CHROMIUM_PATH</c>, else chromium, chromium-browser or google-chrome on the PATH; null when there is none.</summary>
    public static string? Path { get; } = Find();

    /// <summary>Whether this run is CI (<c>CI=true</c>), where a missing browser is a failure rather than a skip.</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string Require() => Path ?? throw new InvalidOperationException(
        "Chromium is required for the relay page tests and was not found (set CHROMIUM_PATH, or install Debian's package: apt-get install -y chromium).");

    private static string? Find()
    {
        string? configured = Environment.GetEnvironmentVariable("CHROMIUM_PATH");
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : null;
        }

        string[] directories = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => directories.Select(dir => System.IO.Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);
    }
}

/// <summary>
/// A test that needs the system's Chromium: skipped, with the reason, when it is missing outside CI;
/// with <c>CI=true</c> it runs and fails saying that Chromium is missing.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (SystemChromium.Path is null && !SystemChromium.IsCi)
        {
            Skip = "Chromium not found (set CHROMIUM_PATH or apt-get install -y chromium); with CI=true this test fails instead.";
        }
    }
}

/// <summary>The relay's page in headless Chromium, against the relay on a real Kestrel listener.</summary>
public sealed class RelayPageBrowserTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(120));
    private readonly ITestOutputHelper _output;
    private ReferenceServerProcess _server = null!;
    private DurableStreamClient _client = null!;
    private IBrowser? _browser;

    public RelayPageBrowserTests(ITestOutputHelper output) => _output = output;

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync()
    {
        _server = await ReferenceServerProcess.StartAsync(TimeSpan.FromSeconds(2));
        _client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = _server.BaseUrl });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
            _browser.Dispose();
        }

        _client.Dispose();
        await _server.DisposeAsync();
        _timeout.Dispose();
    }

    [ChromiumFact]
    public async Task Page_ShowsMessagesLive_ContinuesOnceEachAcrossARelayRestart_AndStopsAtTheEnd()
    {
        string name = $"relay-page-{Guid.NewGuid():N}";
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = $"v1/stream/{name}", ContentType = "application/json" }, Ct)).Stream;
        await using var relay = new RelayFactory(_server.BaseUrl, kestrelPort: 0);
        relay.StartServer();
        int port = relay.ServerAddress.Port;
        IPage page = await OpenPageAsync();
        var failedResponses = new ConcurrentQueue<string>();
        page.Response += (_, e) =>
        {
            if ((int)e.Response.Status >= 400)
            {
                failedResponses.Enqueue($"{(int)e.Response.Status} {e.Response.Url}");
            }
        };
        await page.GoToAsync($"http://127.0.0.1:{port}/?stream={name}").WaitAsync(Ct);

        // An empty stream: the relay answers at once, so the page is live before any message.
        await WaitForStatusAsync(page, "live");

        // Messages appear live.
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await stream.AppendAsync(new { n = 2 }, cancellationToken: Ct);
        await WaitForMessagesAsync(page, 2);
        await stream.AppendAsync(new { n = 3 }, cancellationToken: Ct);
        await WaitForMessagesAsync(page, 3);

        // The relay stops (with the page connected); messages arrive while it is down; it comes
        // back on the same port and the page resumes from its last event id.
        await relay.DisposeAsync().AsTask().WaitAsync(Ct);
        await stream.AppendAsync(new { n = 4 }, cancellationToken: Ct);
        await stream.AppendAsync(new { n = 5 }, cancellationToken: Ct);
        await using var restarted = new RelayFactory(_server.BaseUrl, kestrelPort: port);
        restarted.StartServer();
        await WaitForMessagesAsync(page, 5);
        await stream.AppendAsync(new { n = 6 }, cancellationToken: Ct);
        await WaitForMessagesAsync(page, 6);

        // Closing the stream ends the page's EventSource for good.
        await stream.CloseAsync(new { n = 7 }, cancellationToken: Ct);
        await WaitForStatusAsync(page, "the stream is closed");

        string[] shown = await page.EvaluateExpressionAsync<string[]>("[...document.querySelectorAll('#messages li')].map(li => li.textContent)").WaitAsync(Ct);
        Assert.Equal(Enumerable.Range(1, 7).Select(n => $"{{\"n\":{n}}}"), shown);
        Assert.Equal(2, await page.EvaluateExpressionAsync<int>("source.readyState").WaitAsync(Ct)); // EventSource.CLOSED

        // The newest message was scrolled into view in the short window (to within a pixel: scroll positions are whole pixels).
        Assert.True(await page.EvaluateExpressionAsync<bool>(
            "(() => { const r = document.querySelector('#messages li:last-child').getBoundingClientRect(); return window.scrollY > 0 && r.top >= 0 && r.bottom <= window.innerHeight + 1; })()").WaitAsync(Ct),
            "the last message is not scrolled into view");

        // No request of the page failed (a missing /favicon.ico shows up here as a 404).
        Assert.Empty(failedResponses);
    }

    private async Task<IPage> OpenPageAsync()
    {
        // One CI run saw a freshly launched Chromium never announce the tab NewPageAsync had asked
        // for (PuppeteerSharp waited 30 s for the target). That is the browser's start-up, not the
        // page under test, so a browser that cannot give us a tab within 20 s is replaced once; the
        // second browser echoes its own output (DumpIO) so that a repeat leaves something to read.
        for (int attempt = 1; ; attempt++)
        {
            _browser = await Puppeteer.LaunchAsync(new LaunchOptions
            {
                ExecutablePath = SystemChromium.Require(),
                Headless = true,

                // Root in a container has no user namespace for Chromium's sandbox.
                Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                Timeout = 30_000,
                DumpIO = attempt > 1,
            }).WaitAsync(Ct);
            try
            {
                // The tab Chromium opens at start-up, when it is there; a new one otherwise.
                IPage page = await FirstOrNewPageAsync(_browser).WaitAsync(TimeSpan.FromSeconds(20), Ct);
                page.DefaultTimeout = 20_000;

                // A short window, so that seven messages do not fit without scrolling.
                await page.SetViewportAsync(new ViewPortOptions { Width = 640, Height = 160 }).WaitAsync(Ct);
                return page;
            }
            catch (TimeoutException e) when (attempt == 1)
            {
                _output.WriteLine($"Chromium gave no tab ({e.Message}); launching it again.");
                await _browser.CloseAsync().WaitAsync(TimeSpan.FromSeconds(20), Ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                _browser.Dispose();
                _browser = null;
            }
        }

        static async Task<IPage> FirstOrNewPageAsync(IBrowser browser) =>
            (await browser.PagesAsync()).FirstOrDefault() ?? await browser.NewPageAsync();
    }

    private async Task WaitForMessagesAsync(IPage page, int count) =>
        await page.WaitForFunctionAsync("n => document.querySelectorAll('#messages li').length >= n", count).WaitAsync(Ct);

    private async Task WaitForStatusAsync(IPage page, string status) =>
        await page.WaitForFunctionAsync("s => document.getElementById('status').textContent === s", status).WaitAsync(Ct);
}
