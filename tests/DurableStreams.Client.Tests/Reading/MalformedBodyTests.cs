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
        await using RawLoopbackServer server = ScriptedServer(
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

        // The malformed page was asked for once: not retried. Its headers said it is not up to date,
        // so the page after it may have been asked for ahead (ReadOptions.ReadAhead) before its body
        // failed; nothing else was sent.
        IReadOnlyList<string> lines = server.RequestLines;
        Assert.Single(lines, line => line.Contains("offset=0000_0003", StringComparison.Ordinal));
        Assert.Contains("offset=-1", lines[0], StringComparison.Ordinal);
        Assert.Contains("offset=0000_0003", lines[1], StringComparison.Ordinal);
        Assert.All(lines.Skip(2), line => Assert.Contains("offset=0000_0006", line, StringComparison.Ordinal));
        Assert.InRange(lines.Count, 2, 3);
    }

    /// <summary>Answers each request with the next raw response (the last one again when they run out), then closes the connection.</summary>
    private static RawLoopbackServer ScriptedServer(params string[] responses) => new(async (socket, index, cancellationToken) =>
    {
        string response = responses[Math.Min(index, responses.Length - 1)];
        await socket.SendAsync(Encoding.ASCII.GetBytes(response), SocketFlags.None, cancellationToken);
        socket.Shutdown(SocketShutdown.Both);
    });
}
