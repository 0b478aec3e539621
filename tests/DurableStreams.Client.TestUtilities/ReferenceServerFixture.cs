using Xunit;

namespace DurableStreams.Testing;

/// <summary>
/// An xunit fixture that runs one protocol server for a test class or collection, and makes
/// unique stream URLs on it so that tests never share a stream. The server is the Node reference
/// server unless the environment variable <c>DURABLE_STREAMS_TEST_SERVER</c> is <c>dotnet</c>, which
/// selects the in-process <see cref="DurableStreamTestServer"/>: the client tests run against both.
/// </summary>
public class ReferenceServerFixture : IAsyncLifetime
{
    private ReferenceServerProcess? _server;
    private DurableStreamTestServer? _dotnetServer;

    /// <summary>Whether <c>DURABLE_STREAMS_TEST_SERVER=dotnet</c> selects the in-process .NET server.</summary>
    public static bool UsesDotnetServer =>
        string.Equals(Environment.GetEnvironmentVariable("DURABLE_STREAMS_TEST_SERVER"), "dotnet", StringComparison.OrdinalIgnoreCase);

    /// <summary>The long-poll timeout the server is started with; short, so live tests stay fast.</summary>
    protected virtual TimeSpan LongPollTimeout => TimeSpan.FromSeconds(2);

    /// <summary>Whether the server accepts webhook subscriptions (off by default, as in the server itself).</summary>
    protected virtual bool Webhooks => false;

    /// <summary>
    /// Whether the tests need the Node reference server whatever <c>DURABLE_STREAMS_TEST_SERVER</c>
    /// says: subscriptions (PROTOCOL.md §6–7) and webhooks, which the in-process server does not serve.
    /// </summary>
    protected virtual bool NeedsReferenceServer => Webhooks;

    /// <summary>The server's base URL (no trailing slash).</summary>
    public Uri BaseUrl => _dotnetServer?.BaseAddress ?? _server?.BaseUrl ?? throw new InvalidOperationException("The reference server is not running.");

    /// <summary>A fresh stream URL under <c>/v1/stream/</c>.</summary>
    public string NewStreamUrl(string prefix = "test") => $"{BaseUrl.AbsoluteUri.TrimEnd('/')}/v1/stream/{prefix}-{Guid.NewGuid():N}";

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        if (UsesDotnetServer && !NeedsReferenceServer)
        {
            _dotnetServer = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { LongPollTimeout = LongPollTimeout });
        }
        else
        {
            _server = await ReferenceServerProcess.StartAsync(LongPollTimeout, Webhooks, CancellationToken.None);
        }
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_dotnetServer is not null)
        {
            await _dotnetServer.DisposeAsync();
        }
    }
}
