using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DurableStreams.Tests;

/// <summary>
/// A raw TCP server on a loopback port, for what a real HTTP server will not do on demand (a
/// malformed body, a reset after the request). Accepts one connection at a time, reads its request
/// (headers, and a body of the declared <c>Content-Length</c>), counts it, and hands the socket and
/// the request text to the test's handler; the socket is closed afterwards.
/// </summary>
internal sealed class RawLoopbackServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<Socket, int, CancellationToken, Task> _answer;
    private readonly Task _loop;
    private int _requests;

    /// <param name="answer">What to do with a connection once its request was read: the socket and the request's index (0 for the first).</param>
    public RawLoopbackServer(Func<Socket, int, CancellationToken, Task> answer)
    {
        _answer = answer;
        _listener.Start();
        BaseUrl = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _loop = Task.Run(LoopAsync);
    }

    public string BaseUrl { get; }

    /// <summary>How many requests were read whole.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The text of the last request read.</summary>
    public string LastRequest { get; private set; } = string.Empty;

    /// <summary>The request line (method, target, version) of every request read, in order.</summary>
    public IReadOnlyList<string> RequestLines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    private readonly List<string> _lines = [];

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            using (socket)
            {
                try
                {
                    LastRequest = await ReadRequestAsync(socket, _stop.Token);
                    lock (_lines)
                    {
                        _lines.Add(LastRequest.Split("\r\n")[0]);
                    }

                    int index = Interlocked.Increment(ref _requests) - 1;
                    await _answer(socket, index, _stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    // The client went away or the server is stopping.
                }
            }
        }
    }

    /// <summary>Reads up to the end of the headers and a body of the declared Content-Length (or until the peer stops sending).</summary>
    private static async Task<string> ReadRequestAsync(Socket socket, CancellationToken cancellationToken)
    {
        var received = new StringBuilder();
        byte[] buffer = new byte[4096];
        while (true)
        {
            int read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return received.ToString();
            }

            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
            string text = received.ToString();
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0 && text.Length >= end + 4 + ContentLength(text[..end]))
            {
                return text;
            }
        }
    }

    private static int ContentLength(string headers)
    {
        foreach (string line in headers.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                return int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
