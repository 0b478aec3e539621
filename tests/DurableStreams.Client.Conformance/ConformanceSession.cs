using System.Text.Json.Nodes;
using DurableStreams.Testing;

namespace DurableStreams.Conformance;

/// <summary>
/// One reference server (long-poll timeout 500 ms) and one adapter process for the whole run
/// (RUNNER.md §2), started on first use and stopped when the test class is done.
/// </summary>
public sealed class ConformanceSession : IAsyncLifetime
{
    /// <summary>The per-command timeout of the official runner (its --timeout default).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _startLock = new(1, 1);
    private ReferenceServerProcess? _server;
    private AdapterProcess? _adapter;

    public string ServerUrl => _server?.BaseUrl.ToString().TrimEnd('/') ?? throw new InvalidOperationException("The session is not started.");

    public AdapterProcess Adapter => _adapter ?? throw new InvalidOperationException("The session is not started.");

    /// <summary>The adapter's <c>features</c> from <c>init</c>.</summary>
    public JsonObject Features { get; private set; } = [];

    /// <summary>For the runner's own requests (server-append, server-close, fault injection): no retries, no decompression.</summary>
    public HttpClient Http { get; } = new(new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts the server and the adapter if needed (again, if the adapter died) and sends <c>init</c>.</summary>
    public async Task EnsureStartedAsync()
    {
        await _startLock.WaitAsync();
        try
        {
            _server ??= await ReferenceServerProcess.StartAsync(TimeSpan.FromMilliseconds(500));
            if (_adapter is { HasExited: false })
            {
                return;
            }

            if (_adapter is not null)
            {
                await _adapter.DisposeAsync();
            }

            _adapter = AdapterProcess.Start();
            JsonObject init = await _adapter.SendAsync(new JsonObject { ["type"] = "init", ["serverUrl"] = ServerUrl }, TimeSpan.FromSeconds(30));
            if (!JsSemantics.Truthy(JsSemantics.TryGet(init, "success", out JsonNode? success), success))
            {
                throw new InvalidOperationException($"Failed to initialize client adapter: {init["message"]}");
            }

            Features = init["features"] as JsonObject ?? [];
        }
        finally
        {
            _startLock.Release();
        }
    }

    public async Task DisposeAsync()
    {
        if (_adapter is not null)
        {
            await _adapter.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Http.Dispose();
        _startLock.Dispose();
    }
}
