using System.Text;
using System.Text.RegularExpressions;

namespace DurableStreams.Cli.Tests;

/// <summary><c>durable-stream serve</c>: a local development server that stops on cancellation (Ctrl-C).</summary>
public sealed partial class ServeCommandTests : IDisposable
{
    private static readonly HttpClient Http = new();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ds-serve-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task Serve_WithDir_ServesStreamsUntilCancelledAndKeepsThemForTheNextRun()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        string url;
        await using (var first = await ServeAsync(timeout.Token))
        {
            url = first.BaseUrl + "/v1/stream/serve-test";
            using (var put = await Http.PutAsync(url, new StringContent("hello", Encoding.UTF8, "text/plain"), timeout.Token))
            {
                Assert.Equal(System.Net.HttpStatusCode.Created, put.StatusCode);
            }

            Assert.Equal(0, await first.StopAsync());
        }

        await using var second = await ServeAsync(timeout.Token);
        string again = second.BaseUrl + "/v1/stream/serve-test";
        Assert.Equal("hello", await Http.GetStringAsync(again, timeout.Token));
        Assert.Equal(0, await second.StopAsync());
    }

    [Fact]
    public async Task Serve_PortOutOfRange_IsAUsageError()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = new StringWriter();
        var console = new CliConsole { Input = new MemoryStream(), Output = new MemoryStream(), Error = error };

        int exit = await DurableStreamCli.RunAsync(["serve", "--port", "70000"], console, timeout.Token);

        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--port must be 0 to 65535, not 70000", error.ToString(), StringComparison.Ordinal);
    }

    private async Task<RunningServer> ServeAsync(CancellationToken cancellationToken)
    {
        var output = new ObservedOutput();
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var console = new CliConsole { Input = new MemoryStream(), Output = output, Error = new StringWriter() };
        Task<int> run = DurableStreamCli.RunAsync(["serve", "--port", "0", "--dir", _dir], console, stop.Token);
        await output.WaitForAsync("Ctrl-C stops it.", cancellationToken).WaitAsync(cancellationToken);
        string baseUrl = BannerUrl().Match(output.Text).Groups[1].Value;
        Assert.StartsWith("http://127.0.0.1:", baseUrl, StringComparison.Ordinal);
        return new RunningServer(baseUrl, run, stop);
    }

    [GeneratedRegex("server at (http://[^ ]+) ")]
    private static partial Regex BannerUrl();

    private sealed class RunningServer(string baseUrl, Task<int> run, CancellationTokenSource stop) : IAsyncDisposable
    {
        public string BaseUrl => baseUrl;

        /// <summary>Cancels the command the way Ctrl-C does and returns its exit code.</summary>
        public async Task<int> StopAsync()
        {
            await stop.CancelAsync();
            return await run.WaitAsync(TimeSpan.FromSeconds(30));
        }

        public async ValueTask DisposeAsync()
        {
            if (!run.IsCompleted)
            {
                await StopAsync();
            }

            stop.Dispose();
        }
    }
}
