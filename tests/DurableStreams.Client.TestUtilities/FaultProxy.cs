using System.Net;
using System.Net.Sockets;

namespace DurableStreams.Testing;

/// <summary>
/// A loopback TCP proxy in front of a server that can cut every open connection on demand or at
/// random intervals, to test how the SDK survives connections dropped mid-request or mid-response.
/// Traffic goes only between loopback sockets.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly HashSet<Connection> _connections = [];
    private readonly Task _acceptLoop;
    private Task? _chaosLoop;
    private long _cuts;
    private long _accepted;

    /// <summary>Starts a proxy on a free loopback port forwarding to <paramref name="upstream"/>.</summary>
    /// <param name="upstream">The server's base URL (must be on loopback).</param>
    public FaultProxy(Uri upstream)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        _upstream = new IPEndPoint(IPAddress.Parse(upstream.Host), upstream.Port);
        if (!IPAddress.IsLoopback(_upstream.Address))
        {
            throw new ArgumentException("The fault proxy only forwards to loopback addresses.", nameof(upstream));
        }

        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        int port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        BaseUrl = new Uri($"http://127.0.0.1:{port}");
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The proxy's base URL: use it in place of the server's.</summary>
    public Uri BaseUrl { get; }

    /// <summary>How many connections the proxy has cut.</summary>
    public long Cuts => Interlocked.Read(ref _cuts);

    /// <summary>How many connections the proxy has accepted.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Aborts every open connection (with a TCP reset) now.</summary>
    public void CutAll()
    {
        Connection[] open;
        lock (_gate)
        {
            open = [.. _connections];
        }

        foreach (Connection connection in open)
        {
            connection.Abort();
            Interlocked.Increment(ref _cuts);
        }
    }

    /// <summary>
    /// Cuts one random open connection after each random pause between <paramref name="minInterval"/>
    /// and <paramref name="maxInterval"/>, until <see cref="StopChaos"/> or disposal.
    /// </summary>
    /// <param name="minInterval">The shortest pause.</param>
    /// <param name="maxInterval">The longest pause.</param>
    /// <param name="seed">The random seed, so a failing run can be repeated.</param>
    public void StartChaos(TimeSpan minInterval, TimeSpan maxInterval, int seed)
    {
        var random = new Random(seed);
        CancellationToken token = _stop.Token;
        _chaosLoop = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested && !_chaosStopped)
            {
                double ms = minInterval.TotalMilliseconds + (random.NextDouble() * (maxInterval - minInterval).TotalMilliseconds);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(ms), token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Connection? victim = null;
                lock (_gate)
                {
                    if (_connections.Count > 0)
                    {
                        victim = _connections.ElementAt(random.Next(_connections.Count));
                    }
                }

                if (victim is not null && !_chaosStopped)
                {
                    victim.Abort();
                    Interlocked.Increment(ref _cuts);
                }
            }
        });
    }

    private volatile bool _chaosStopped;

    /// <summary>Stops cutting connections at random; open connections stay open.</summary>
    public async Task StopChaosAsync()
    {
        _chaosStopped = true;
        if (_chaosLoop is not null)
        {
            await _chaosLoop;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _chaosStopped = true;
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        try
        {
            await _acceptLoop;
            if (_chaosLoop is not null)
            {
                await _chaosLoop;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        var connection = new Connection(client, server);
        try
        {
            await server.ConnectAsync(_upstream, _stop.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            connection.Abort();
            return;
        }

        lock (_gate)
        {
            _connections.Add(connection);
        }

        try
        {
            await Task.WhenAll(PumpAsync(client, server, connection), PumpAsync(server, client, connection));
        }
        finally
        {
            lock (_gate)
            {
                _connections.Remove(connection);
            }

            connection.Abort();
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, Connection connection)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            connection.Abort();
        }
    }

    private sealed class Connection(Socket client, Socket server)
    {
        private int _aborted;

        public void Abort()
        {
            if (Interlocked.Exchange(ref _aborted, 1) != 0)
            {
                return;
            }

            foreach (Socket socket in new[] { client, server })
            {
                try
                {
                    // Linger 0 makes Close send a reset, like a dropped network path.
                    socket.LingerState = new LingerOption(true, 0);
                    socket.Close();
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
            }
        }
    }
}
