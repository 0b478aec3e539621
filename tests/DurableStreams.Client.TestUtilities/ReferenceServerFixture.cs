using Xunit;

namespace DurableStreams.Testing;

/// <summary>
/// An xunit fixture that runs one reference server for a test class or collection, and makes
/// unique stream URLs on it so that tests never share a stream.
/// </summary>
public class ReferenceServerFixture : IAsyncLifetime
{
    private ReferenceServerProcess? _server;

    /// <summary>The long-poll timeout the server is started with; short, so live tests stay fast.</summary>
    protected virtual TimeSpan LongPollTimeout => TimeSpan.FromSeconds(2);

    /// <summary>Whether the server accepts webhook subscriptions (off by default, as in the server itself).</summary>
    protected virtual bool Webhooks => false;

    /// <summary>The server's base URL (no trailing slash).</summary>
    public Uri BaseUrl => _server?.BaseUrl ?? throw new InvalidOperationException("The reference server is not running.");

    /// <summary>A fresh stream URL under <c>/v1/stream/</c>.</summary>
    public string NewStreamUrl(string prefix = "test") => $"{BaseUrl.AbsoluteUri.TrimEnd('/')}/v1/stream/{prefix}-{Guid.NewGuid():N}";

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await ReferenceServerProcess.StartAsync(LongPollTimeout, Webhooks, CancellationToken.None);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
