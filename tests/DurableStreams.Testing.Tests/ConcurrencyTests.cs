using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace DurableStreams.Testing.Tests;

/// <summary>One stream under concurrent writers and live readers: nothing lost, duplicated, torn or reordered.</summary>
public sealed partial class ConcurrencyTests
{
    private const int PlainWriters = 6;
    private const int IdempotentWriters = 3;
    private const int MessagesPerWriter = 40;

    [Fact]
    public async Task ConcurrentWritersAndReaders_OneStream_StoredBytesAreExactlyEveryMessageOnceInWriterOrder()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var ct = timeout.Token;
        await using var server = await DurableStreamTestServer.StartAsync(new DurableStreamTestServerOptions { MaxReadChunkSize = 512 });
        string url = server.StreamUrl("hammer");
        using (var created = await Raw.SendAsync(HttpMethod.Put, url, "", "text/plain", cancellationToken: ct))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        DurableStream stream = server.Client.GetStream(url);

        // Live readers start before any write and read until the stream is closed.
        var readers = new List<Task<string>>();
        foreach (var live in new[] { LiveMode.Sse, LiveMode.Sse, LiveMode.LongPoll, LiveMode.LongPoll })
        {
            readers.Add(Task.Run(async () =>
            {
                var text = new StringBuilder();
                await foreach (StreamChunk chunk in stream.ReadAsync(new ReadOptions { Live = live }, ct))
                {
                    text.Append(Encoding.UTF8.GetString(chunk.Data.Span));
                }

                return text.ToString();
            }, ct));
        }

        var writers = new List<Task>();
        for (int w = 0; w < PlainWriters; w++)
        {
            int writer = w;
            writers.Add(Task.Run(async () =>
            {
                for (int i = 0; i < MessagesPerWriter; i++)
                {
                    await stream.AppendAsync(Message("w", writer, i), cancellationToken: ct);
                }
            }, ct));
        }

        for (int p = 0; p < IdempotentWriters; p++)
        {
            int producer = p;
            writers.Add(Task.Run(async () =>
            {
                for (int seq = 0; seq < MessagesPerWriter; seq++)
                {
                    var headers = new Dictionary<string, string>
                    {
                        ["Producer-Id"] = $"producer-{producer}",
                        ["Producer-Epoch"] = "0",
                        ["Producer-Seq"] = seq.ToString(CultureInfo.InvariantCulture),
                    };

                    // The same request twice at once, as a retry racing the original: one stores, one deduplicates.
                    string body = Message("p", producer, seq);
                    var sends = await Task.WhenAll(
                        Raw.SendAsync(HttpMethod.Post, url, body, headers: headers, cancellationToken: ct),
                        Raw.SendAsync(HttpMethod.Post, url, body, headers: headers, cancellationToken: ct));
                    Assert.Equal([HttpStatusCode.OK, HttpStatusCode.NoContent], sends.Select(r => r.StatusCode).Order());
                    foreach (var response in sends)
                    {
                        response.Dispose();
                    }
                }
            }, ct));
        }

        await Task.WhenAll(writers);
        await stream.CloseAsync(ct);
        string[] readBack = await Task.WhenAll(readers);
        string stored = await Raw.ReadAllAsync(url, ct);

        var tokens = Token().Matches(stored).Select(m => m.Value).ToList();
        Assert.Equal((PlainWriters + IdempotentWriters) * MessagesPerWriter, tokens.Count);
        Assert.Equal(stored.Length, tokens.Sum(t => t.Length)); // nothing between or inside messages
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
        foreach (var byWriter in tokens.GroupBy(t => t[..4]))
        {
            var sequence = byWriter.Select(t => int.Parse(t[5..9], CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(Enumerable.Range(0, MessagesPerWriter), sequence);
        }

        Assert.All(readBack, text => Assert.Equal(stored, text));
    }

    private static string Message(string kind, int writer, int index) => $"<{kind}{writer:D2}-{index:D4}>";

    [GeneratedRegex("<[wp][0-9]{2}-[0-9]{4}>")]
    private static partial Regex Token();
}
