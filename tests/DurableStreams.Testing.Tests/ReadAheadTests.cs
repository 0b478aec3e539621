using System.Collections.Concurrent;
using System.Text;
using System.Web;

namespace DurableStreams.Testing.Tests;

/// <summary>
/// The client's <see cref="ReadOptions.ReadAhead"/> against a real server that pages its catch-up
/// answers (the .NET server with small pages, over real sockets): the same data as a read without
/// it, and each next page asked for before the caller asked for it.
/// </summary>
public sealed class ReadAheadTests
{
    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/json")]
    public async Task ReadAsync_BacklogOfManyPages_SameChunksWithAndWithoutReadAheadAndEachNextPageAskedForEarly(string contentType)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        CancellationToken ct = timeout.Token;
        await using var server = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { MaxReadChunkSize = 256 }, ct);
        bool json = contentType == "application/json";
        DurableStream stream = server.Client.GetStream(server.StreamUrl("backlog"), contentType);
        await stream.CreateStreamAsync(new CreateOptions { ContentType = contentType }, ct);
        for (int i = 0; i < 100; i++)
        {
            if (json)
            {
                await stream.AppendAsync(new { n = i, pad = new string('x', 20) }, cancellationToken: ct);
            }
            else
            {
                await stream.AppendAsync($"line {i:D3} {new string('x', 20)}\n", cancellationToken: ct);
            }
        }

        var sent = new OffsetRecorder();
        using var client = new DurableStreamClient(new HttpClient(new OffsetRecordingHandler(sent)), disposeHttpClient: true);
        DurableStream reader = client.GetStream(server.StreamUrl("backlog"), contentType);

        var withAhead = new List<(string Data, Offset Next)>();
        await foreach (StreamChunk chunk in reader.ReadAsync(cancellationToken: ct))
        {
            if (!chunk.UpToDate)
            {
                // The caller has this page and has not asked for the next: it is already on its way.
                await sent.WaitForAsync(chunk.NextOffset.Value, ct);
            }

            withAhead.Add((Encoding.UTF8.GetString(chunk.Data.Span), chunk.NextOffset));
        }

        var without = new List<(string Data, Offset Next)>();
        await foreach (StreamChunk chunk in reader.ReadAsync(new ReadOptions { ReadAhead = false }, ct))
        {
            without.Add((Encoding.UTF8.GetString(chunk.Data.Span), chunk.NextOffset));
        }

        Assert.True(withAhead.Count >= 10, $"only {withAhead.Count} pages: the server did not page the backlog");
        Assert.Equal(without, withAhead);
        string all = string.Concat(withAhead.Select(c => c.Data));
        for (int i = 0; i < 100; i++)
        {
            Assert.Contains(json ? $"{{\"n\":{i}," : $"line {i:D3} ", all, StringComparison.Ordinal);
        }
    }

    /// <summary>Every <c>offset</c> a read asked for, as the requests went out.</summary>
    private sealed class OffsetRecorder
    {
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _seen = new();

        public void Saw(string offset) => Signal(offset).TrySetResult();

        public Task WaitForAsync(string offset, CancellationToken cancellationToken) => Signal(offset).Task.WaitAsync(cancellationToken);

        private TaskCompletionSource Signal(string offset) =>
            _seen.GetOrAdd(offset, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    private sealed class OffsetRecordingHandler(OffsetRecorder sent) : DelegatingHandler(new SocketsHttpHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Get && HttpUtility.ParseQueryString(request.RequestUri!.Query)["offset"] is { } offset)
            {
                sent.Saw(offset);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
