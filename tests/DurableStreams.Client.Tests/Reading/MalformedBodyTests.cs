using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// A response body that is not valid HTTP, from a real socket through the real SocketsHttpHandler:
/// the read fails with a protocol error instead of asking for the same answer again and again.
/// </summary>
public sealed class MalformedBodyTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    public void Dispose() => _timeout.Dispose();

    [Theory]
    [InlineData(LiveMode.Off)]
    [InlineData(LiveMode.LongPoll)]
    public async Task ReadAsync_MalformedChunkAfterAGoodResponse_FailsWithAProtocolErrorWithoutRetrying(LiveMode live)
    {
        await using var server = new ScriptedServer(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nStream-Next-Offset: 0000_0003\r\nStream-Cursor: c\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nStream-Next-Offset: 0000_0006\r\nStream-Cursor: c\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nxyz\r\n");
        using var client = new DurableStreamClient(new DurableStreamClientOptions { Retry = TestClients.FastRetry(maxRetries: 3), ReadRetry = TestClients.FastRetry(maxRetries: int.MaxValue) });
        DurableStream stream = client.GetStream(server.BaseUrl + "/v1/stream/s", "application/octet-stream");
        var received = new List<string>();

        DurableStreamProtocolException error = await Assert.ThrowsAsync<DurableStreamProtocolException>(async () =>
        {
            await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Live = live }, _timeout.Token))
            {
                received.Add(Encoding.ASCII.GetString(chunk.Data.Span));
            }
        });

        Assert.Equal(["abc"], received);
        Assert.Contains("not valid HTTP", error.Message, StringComparison.Ordinal);
        Assert.Contains("0000_0003", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.Requests);
    }

    /// <summary>Answers each connection's request with the next raw response (the last one again when they run out), then closes it.</summary>
    private sealed class ScriptedServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly string[] _responses;
        private readonly Task _loop;
        private int _requests;

        public ScriptedServer(params string[] responses)
        {
            _responses = responses;
            _listener.Start();
            BaseUrl = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _loop = Task.Run(LoopAsync);
        }

        public string BaseUrl { get; }

        public int Requests => Volatile.Read(ref _requests);

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
                        var received = new StringBuilder();
                        byte[] buffer = new byte[4096];
                        while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            int read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                            if (read == 0)
                            {
                                break;
                            }

                            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                        }

                        int index = Interlocked.Increment(ref _requests) - 1;
                        string response = _responses[Math.Min(index, _responses.Length - 1)];
                        await socket.SendAsync(Encoding.ASCII.GetBytes(response), SocketFlags.None, _stop.Token);
                        socket.Shutdown(SocketShutdown.Both);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                    {
                        // The client went away or the server is stopping.
                    }
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }
    }
}
