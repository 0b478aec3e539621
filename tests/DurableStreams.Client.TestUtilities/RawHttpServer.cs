using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DurableStreams.Testing;

/// <summary>A request as a <see cref="RawHttpServer"/> received it.</summary>
/// <param name="Method">The request method.</param>
/// <param name="Target">The request target (path and query).</param>
/// <param name="Headers">The request headers (names case-insensitive; repeated headers joined with ", ").</param>
/// <param name="Body">The body bytes (chunked bodies decoded).</param>
public sealed record RawHttpRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    /// <summary>A header's value, or null.</summary>
    /// <param name="name">The header name.</param>
    /// <returns>The value.</returns>
    public string? Header(string name) => Headers.TryGetValue(name, out string? value) ? value : null;
}

/// <summary>
/// A tiny HTTP/1.1 server on a free loopback port whose answers are raw bytes from a script, to
/// produce what a real server will not on demand: redirects to another origin, oversized or
/// malformed response heads. One request per connection (every answer closes it). Two instances
/// are two origins (the port differs).
/// </summary>
public sealed class RawHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Func<RawHttpRequest, byte[]> _respond;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<RawHttpRequest> _requests = [];
    private readonly object _gate = new();
    private readonly Task _acceptLoop;

    /// <summary>Starts the server.</summary>
    /// <param name="respond">Builds the raw response (status line, headers, body) to each request; see <see cref="Response"/>.</param>
    public RawHttpServer(Func<RawHttpRequest, byte[]> respond)
    {
        ArgumentNullException.ThrowIfNull(respond);
        _respond = respond;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        BaseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The server's base URL (ends in '/').</summary>
    public Uri BaseUrl { get; }

    /// <summary>The requests received so far.</summary>
    public IReadOnlyList<RawHttpRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>A well-formed response that closes the connection.</summary>
    /// <param name="status">The status code.</param>
    /// <param name="headers">Extra headers, as (name, value).</param>
    /// <param name="body">The body. Default: none.</param>
    /// <returns>The raw bytes.</returns>
    public static byte[] Response(int status, IEnumerable<(string Name, string Value)>? headers = null, string body = "")
    {
        byte[] bodyBytes = Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} Status{status}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {bodyBytes.Length}\r\n")
            .Append("Connection: close\r\n");
        foreach ((string name, string value) in headers ?? [])
        {
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        head.Append("\r\n");
        return [.. Encoding.ASCII.GetBytes(head.ToString()), .. bodyBytes];
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(ServeAsync(client));
            }
        }
        finally
        {
            await Task.WhenAll(connections);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                RawHttpRequest? request = await ReadRequestAsync(stream, _stop.Token);
                if (request is null)
                {
                    return;
                }

                lock (_gate)
                {
                    _requests.Add(request);
                }

                await stream.WriteAsync(_respond(request), _stop.Token);
                await stream.FlushAsync(_stop.Token);
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away or the server is stopping.
            }
        }
    }

    private static async Task<RawHttpRequest?> ReadRequestAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        byte[] chunk = new byte[4096];
        int headEnd;
        while ((headEnd = IndexOf(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), "\r\n\r\n"u8)) < 0)
        {
            int read = await stream.ReadAsync(chunk, cancellationToken);
            if (read == 0)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        string[] lines = Encoding.ASCII.GetString(buffer.GetBuffer(), 0, headEnd).Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            headers[name] = headers.TryGetValue(name, out string? earlier) ? earlier + ", " + value : value;
        }

        var rest = new BodyReader(stream, buffer.GetBuffer().AsMemory(headEnd + 4, (int)buffer.Length - headEnd - 4));
        byte[] body;
        if (headers.TryGetValue("Content-Length", out string? length))
        {
            body = await rest.ReadExactlyAsync(int.Parse(length, CultureInfo.InvariantCulture), cancellationToken);
        }
        else if (headers.TryGetValue("Transfer-Encoding", out string? encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = new MemoryStream();
            while (true)
            {
                int size = int.Parse(await rest.ReadLineAsync(cancellationToken), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0)
                {
                    await rest.ReadLineAsync(cancellationToken);
                    break;
                }

                decoded.Write(await rest.ReadExactlyAsync(size, cancellationToken));
                await rest.ReadLineAsync(cancellationToken);
            }

            body = decoded.ToArray();
        }
        else
        {
            body = [];
        }

        return new RawHttpRequest(requestLine[0], requestLine[1], headers, body);
    }

    private static int IndexOf(ReadOnlySpan<byte> data, ReadOnlySpan<byte> value) => data.IndexOf(value);

    /// <summary>Reads the body: first what came with the head, then from the socket.</summary>
    private sealed class BodyReader(Stream stream, ReadOnlyMemory<byte> buffered)
    {
        private ReadOnlyMemory<byte> _buffered = buffered;

        public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            byte[] result = new byte[count];
            int filled = 0;
            while (filled < count)
            {
                filled += await ReadSomeAsync(result.AsMemory(filled), cancellationToken);
            }

            return result;
        }

        public async Task<string> ReadLineAsync(CancellationToken cancellationToken)
        {
            var line = new StringBuilder();
            byte[] one = new byte[1];
            while (true)
            {
                await ReadSomeAsync(one, cancellationToken);
                if (one[0] == '\n')
                {
                    return line.ToString().TrimEnd('\r');
                }

                line.Append((char)one[0]);
            }
        }

        private async Task<int> ReadSomeAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            if (!_buffered.IsEmpty)
            {
                int count = Math.Min(destination.Length, _buffered.Length);
                _buffered[..count].CopyTo(destination);
                _buffered = _buffered[count..];
                return count;
            }

            int read = await stream.ReadAsync(destination, cancellationToken);
            return read > 0 ? read : throw new EndOfStreamException("The client closed the connection in the middle of the request.");
        }
    }
}
