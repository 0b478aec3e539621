using System.Net;
using System.Net.Sockets;

namespace DurableStreams.Tests;

/// <summary>
/// The retry rules against real sockets and the real SocketsHttpHandler, so that the SDK's reading
/// of "never left" versus "may have arrived" matches what .NET actually reports.
/// </summary>
public sealed class SocketFailureTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static (DurableStreamClient Client, Func<int> Connects) ClientCountingConnects(int maxRetries)
    {
        int connects = 0;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                Interlocked.Increment(ref connects);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new DurableStreamClient(new HttpClient(handler), new DurableStreamClientOptions { Retry = TestClients.FastRetry(maxRetries) }, disposeHttpClient: true);
        return (client, () => Volatile.Read(ref connects));
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task AppendAsync_ConnectionRefused_IsRetriedAndReportedAsNetworkError()
    {
        (DurableStreamClient client, Func<int> connects) = ClientCountingConnects(maxRetries: 2);
        using (client)
        {
            DurableStream stream = client.GetStream($"http://127.0.0.1:{UnusedPort()}/v1/stream/x", "text/plain");

            var ex = await Assert.ThrowsAsync<DurableStreamException>(() => stream.AppendAsync("x", cancellationToken: Ct));

            Assert.Equal(DurableStreamErrorCodes.NetworkError, ex.ErrorCode);
            Assert.IsNotType<AppendOutcomeUnknownException>(ex);
            Assert.Equal(3, connects());
        }
    }

    [Fact]
    public async Task AppendAsync_ServerResetsAfterReadingTheBody_IsNotResent()
    {
        await using RawLoopbackServer server = ResettingServer();
        (DurableStreamClient client, Func<int> connects) = ClientCountingConnects(maxRetries: 3);
        using (client)
        {
            DurableStream stream = client.GetStream($"{server.BaseUrl}/v1/stream/x", "text/plain");

            var ex = await Assert.ThrowsAsync<AppendOutcomeUnknownException>(() => stream.AppendAsync("payload", cancellationToken: Ct));

            Assert.Equal(1, server.Requests);
            Assert.Equal(1, connects());
            Assert.Contains("payload".Length.ToString(System.Globalization.CultureInfo.InvariantCulture), server.LastRequest, StringComparison.Ordinal);
            Assert.NotNull(ex.InnerException);
        }
    }

    [Fact]
    public async Task HeadAsync_ServerResetsAfterReadingTheRequest_IsRetried()
    {
        await using RawLoopbackServer server = ResettingServer();
        (DurableStreamClient client, Func<int> connects) = ClientCountingConnects(maxRetries: 2);
        using (client)
        {
            var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream($"{server.BaseUrl}/v1/stream/x").HeadAsync(Ct));

            Assert.Equal(DurableStreamErrorCodes.NetworkError, ex.ErrorCode);
            Assert.Equal(3, server.Requests);
            Assert.Equal(3, connects());
        }
    }

    /// <summary>Reads each request's headers and body, then resets the connection.</summary>
    private static RawLoopbackServer ResettingServer() => new((socket, _, _) =>
    {
        socket.LingerState = new LingerOption(true, 0);
        return Task.CompletedTask;
    });
}
