using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace DurableStreams.IntegrationTests;

/// <summary>
/// Compressed reads against the Node reference server (the .NET test server does not compress),
/// through a handler that does not decompress, as the SDK's own clients are built: the SDK asks for
/// compression itself except on loopback, and decodes what the server sends when a caller asks.
/// </summary>
[Collection(CompressingServerCollection.Name)]
public sealed class ReadCompressionTests(CompressingServerFixture server) : ServerClientTest(server)
{
    [Fact]
    public async Task Read_FromLoopback_DoesNotAskForCompressionAndTheServerSendsPlainBytes()
    {
        (string url, string expected) = await CreateJsonStreamAsync("plain");
        var recorder = new EncodingRecorder();
        using var client = new DurableStreamClient(new HttpClient(recorder), disposeHttpClient: true);

        string read = await ReadAllAsync(client, url, new ReadOptions());

        Assert.Equal(expected, read);
        Assert.NotEmpty(recorder.Exchanges);
        Assert.All(recorder.Exchanges, e => Assert.Equal(("", ""), e));
    }

    [Theory]
    [InlineData("gzip", "application/json")]
    [InlineData("deflate", "application/json")]
    [InlineData("gzip", "text/plain")]
    [InlineData("deflate", "text/plain")]
    public async Task Read_CallerAsksForAnEncoding_TheServersCompressedAnswerIsDecoded(string encoding, string contentType)
    {
        (string url, string expected) = contentType == "application/json"
            ? await CreateJsonStreamAsync(encoding)
            : await CreateTextStreamAsync(encoding);
        var recorder = new EncodingRecorder();
        using var client = new DurableStreamClient(new HttpClient(recorder), disposeHttpClient: true);
        var options = new ReadOptions();
        options.Headers["Accept-Encoding"] = encoding;

        string read = await ReadAllAsync(client, url, options);

        Assert.Equal(expected, read);
        Assert.Contains((encoding, encoding), recorder.Exchanges);
    }

    /// <summary>A JSON stream of 400 messages (~40 KB), and the messages as the read should give them back.</summary>
    private async Task<(string Url, string Expected)> CreateJsonStreamAsync(string name)
    {
        string url = Server.NewStreamUrl("compression-json-" + name);
        DurableStream stream = Client.GetStream(url, "application/json");
        await stream.CreateStreamAsync(new CreateOptions { ContentType = "application/json" }, Ct);
        string[] messages = [.. Enumerable.Range(0, 400).Select(i => $"{{\"n\":{i},\"text\":\"{new string((char)('a' + (i % 26)), 80)}\"}}")];
        await using (IdempotentProducer producer = stream.CreateProducer("compression"))
        {
            foreach (string message in messages)
            {
                await producer.AppendAsync(Encoding.UTF8.GetBytes(message), Ct);
            }
        }

        return (url, string.Join('\n', messages));
    }

    private async Task<(string Url, string Expected)> CreateTextStreamAsync(string name)
    {
        string url = Server.NewStreamUrl("compression-text-" + name);
        DurableStream stream = Client.GetStream(url, "text/plain");
        await stream.CreateStreamAsync(new CreateOptions { ContentType = "text/plain" }, Ct);
        string text = string.Concat(Enumerable.Range(0, 2000).Select(i => $"line {i} of a compressible text\n"));
        await stream.AppendAsync(text, cancellationToken: Ct);
        return (url, text);
    }

    /// <summary>The stream's data: a JSON stream's messages one per line (compact), a text stream's text.</summary>
    private async Task<string> ReadAllAsync(DurableStreamClient client, string url, ReadOptions options)
    {
        DurableStream stream = await client.ConnectAsync(new Uri(url), Ct);
        if (stream.ContentType == "application/json")
        {
            var messages = new List<string>();
            await foreach (StreamItem<JsonElement> item in stream.ReadJsonAsync<JsonElement>(options, Ct))
            {
                messages.Add(item.Value.GetRawText());
            }

            return string.Join('\n', messages);
        }

        return await stream.ReadAllTextAsync(options, Ct);
    }

    /// <summary>Records each exchange's request <c>Accept-Encoding</c> and response <c>Content-Encoding</c> ("" when absent), without decompressing.</summary>
    private sealed class EncodingRecorder() : DelegatingHandler(new SocketsHttpHandler { AutomaticDecompression = System.Net.DecompressionMethods.None })
    {
        private readonly ConcurrentQueue<(string Asked, string Sent)> _exchanges = new();

        public IReadOnlyCollection<(string Asked, string Sent)> Exchanges => _exchanges;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
            if (request.Method == HttpMethod.Get)
            {
                _exchanges.Enqueue((
                    string.Join(", ", request.Headers.AcceptEncoding.Select(e => e.ToString())),
                    string.Join(", ", response.Content.Headers.ContentEncoding)));
            }

            return response;
        }
    }
}
