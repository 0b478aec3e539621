namespace DurableStreams.IntegrationTests;

/// <summary>A test class with a client on the fixture's server and a 30-second timeout token.</summary>
public abstract class ServerClientTest(ReferenceServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    protected ReferenceServerFixture Server { get; } = server;

    protected DurableStreamClient Client { get; } = new(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

    protected CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        Client.Dispose();
        _timeout.Dispose();
        GC.SuppressFinalize(this);
    }
}
