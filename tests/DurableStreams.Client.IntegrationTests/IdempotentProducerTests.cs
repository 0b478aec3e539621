using System.Net;
using System.Text;
using System.Text.Json;

namespace DurableStreams.IntegrationTests;

[Collection(ReferenceServerCollection.Name)]
public sealed class IdempotentProducerTests(ReferenceServerFixture server) : IDisposable
{
    private static readonly HttpClient Raw = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All });
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly DurableStreamClient _client = new(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _client.Dispose();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Restart_WithTheSameEpoch_FailsLoudlyOrAutoClaims_NeverDropsData()
    {
        DurableStream stream = await CreateAsync("application/json", "producer-restart");
        await using (IdempotentProducer first = stream.CreateProducer("restarting"))
        {
            first.Append(1);
            await first.FlushAsync(Ct);
        }

        // Same id and epoch as the previous run: the server would answer the first batch as a duplicate.
        IdempotentProducer careless = stream.CreateProducer("restarting");
        careless.Append(2);
        var ex = await Assert.ThrowsAsync<StaleEpochException>(() => careless.FlushAsync(Ct));
        Assert.Equal(0, ex.CurrentEpoch);
        await careless.DisposeAsync(); // the failure was already reported by FlushAsync

        await using (IdempotentProducer claiming = stream.CreateProducer("restarting", new ProducerOptions { AutoClaim = true }))
        {
            claiming.Append(3);
            await claiming.FlushAsync(Ct);
            Assert.Equal(1, claiming.Epoch);
        }

        Assert.Equal([1, 3], await stream.ReadAllJsonAsync<int>(cancellationToken: Ct));
    }

    private async Task<DurableStream> CreateAsync(string contentType, string prefix = "producer")
    {
        CreateStreamResult created = await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(prefix), ContentType = contentType }, Ct);
        return created.Stream;
    }

    /// <summary>Reads the whole stream with raw GETs, following Stream-Next-Offset until Stream-Up-To-Date.</summary>
    private async Task<(List<byte[]> Pages, bool Closed)> ReadAllPagesAsync(Uri url)
    {
        var pages = new List<byte[]>();
        string offset = "-1";
        while (true)
        {
            using HttpResponseMessage response = await Raw.GetAsync($"{url}?offset={offset}", Ct);
            response.EnsureSuccessStatusCode();
            pages.Add(await response.Content.ReadAsByteArrayAsync(Ct));
            offset = response.Headers.GetValues("Stream-Next-Offset").Single();
            bool upToDate = response.Headers.TryGetValues("Stream-Up-To-Date", out var values) && values.Single() == "true";
            bool closed = response.Headers.TryGetValues("Stream-Closed", out var closedValues) && closedValues.Single() == "true";
            if (upToDate || closed)
            {
                return (pages, closed);
            }
        }
    }

    private async Task<List<JsonElement>> ReadJsonMessagesAsync(Uri url)
    {
        var messages = new List<JsonElement>();
        foreach (byte[] page in (await ReadAllPagesAsync(url)).Pages)
        {
            using JsonDocument document = JsonDocument.Parse(page);
            messages.AddRange(document.RootElement.EnumerateArray().Select(e => e.Clone()));
        }

        return messages;
    }

    private async Task<string> ReadTextAsync(Uri url) =>
        string.Concat((await ReadAllPagesAsync(url)).Pages.Select(Encoding.UTF8.GetString));

    [Fact]
    public async Task AppendAsync_JsonStreamWithPipelining_StoresEveryMessageOnceInOrder()
    {
        DurableStream stream = await CreateAsync("application/json");
        await using IdempotentProducer producer = stream.CreateProducer("json-producer", new ProducerOptions { MaxInFlight = 5, MaxBatchItems = 50 });

        for (int i = 0; i < 1000; i++)
        {
            await producer.AppendAsync(new Message(i, $"m-{i}"), TestJson.Default.Message, Ct);
        }

        producer.Append("""[1,2]""");
        await producer.FlushAsync(Ct);

        List<JsonElement> messages = await ReadJsonMessagesAsync(stream.Url);
        Assert.Equal(1001, messages.Count);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(i, messages[i].GetProperty("id").GetInt32());
        }

        Assert.Equal(JsonValueKind.Array, messages[1000].ValueKind);
        Assert.Equal(0, producer.PendingCount);
        Assert.Equal(0, producer.InFlightCount);
        Assert.True(producer.NextSequence >= 20);
        Assert.NotNull(producer.LastAcknowledgedOffset);
        StreamMetadata head = await stream.HeadAsync(Ct);
        Assert.Equal(head.NextOffset, producer.LastAcknowledgedOffset);
    }

    [Fact]
    public async Task Append_ByteStream_ConcatenatesMessages()
    {
        DurableStream stream = await CreateAsync("text/plain");
        await using IdempotentProducer producer = stream.CreateProducer("bytes-producer");

        producer.Append("hello ");
        producer.Append("world"u8.ToArray());
        producer.Append((ReadOnlyMemory<byte>)"!"u8.ToArray());
        await producer.FlushAsync(Ct);

        Assert.Equal("hello world!", await ReadTextAsync(stream.Url));
    }

    [Fact]
    public async Task Append_HandleWithoutContentType_LearnsItAndBatchesJson()
    {
        DurableStream created = await CreateAsync("application/json");
        DurableStream stream = _client.GetStream(created.Url.ToString());
        Assert.Null(stream.ContentType);
        await using IdempotentProducer producer = stream.CreateProducer("learning", new ProducerOptions { Linger = TimeSpan.FromMilliseconds(50) });

        producer.Append("""{"a":1}""");
        producer.Append("""[2]""");
        await producer.FlushAsync(Ct);

        List<JsonElement> messages = await ReadJsonMessagesAsync(stream.Url);
        Assert.Equal(2, messages.Count);
        Assert.Equal(1, messages[0].GetProperty("a").GetInt32());
        Assert.Equal(JsonValueKind.Array, messages[1].ValueKind);
    }

    [Fact]
    public async Task CloseAsync_WithFinalMessage_ClosesStreamAndRepeatsTheSameResult()
    {
        DurableStream stream = await CreateAsync("application/json");
        IdempotentProducer producer = stream.CreateProducer("closer");
        producer.Append("""{"n":1}""");

        CloseResult first = await producer.CloseAsync("""{"n":"last"}""", Ct);
        CloseResult second = await producer.CloseAsync("""{"n":"ignored"}""", Ct);
        await producer.DisposeAsync();

        Assert.Equal(first.FinalOffset, second.FinalOffset);
        StreamMetadata head = await stream.HeadAsync(Ct);
        Assert.True(head.StreamClosed);
        Assert.Equal(head.NextOffset, first.FinalOffset);
        List<JsonElement> messages = await ReadJsonMessagesAsync(stream.Url);
        Assert.Equal(["""{"n":1}""", """{"n":"last"}"""], messages.Select(m => m.GetRawText()));
        Assert.Throws<InvalidOperationException>(() => producer.Append("""{"n":2}"""));
    }

    [Fact]
    public async Task CloseAsync_WithoutFinalMessage_ClosesAfterFlushing()
    {
        DurableStream stream = await CreateAsync("text/plain");
        await using IdempotentProducer producer = stream.CreateProducer("closer-empty");
        producer.Append("abc");

        CloseResult result = await producer.CloseAsync(Ct);

        StreamMetadata head = await stream.HeadAsync(Ct);
        Assert.True(head.StreamClosed);
        Assert.Equal(head.NextOffset, result.FinalOffset);
        Assert.Equal("abc", await ReadTextAsync(stream.Url));
    }

    [Fact]
    public async Task CloseAsync_StreamClosedByAnotherProducer_ThrowsStreamClosed()
    {
        DurableStream stream = await CreateAsync("text/plain");
        await using (IdempotentProducer first = stream.CreateProducer("first"))
        {
            await first.CloseAsync(Ct);
        }

        await using IdempotentProducer second = stream.CreateProducer("second");
        var ex = await Assert.ThrowsAsync<StreamClosedException>(() => second.CloseAsync("late", Ct));
        Assert.Equal(DurableStreamErrorCodes.StreamClosed, ex.ErrorCode);
    }

    [Fact]
    public async Task FlushAsync_ZombieFencedByNewerEpoch_ThrowsStaleEpochWithServerEpoch()
    {
        DurableStream stream = await CreateAsync("text/plain");
        await using IdempotentProducer zombie = stream.CreateProducer("worker");
        zombie.Append("a");
        await zombie.FlushAsync(Ct);

        await using (IdempotentProducer successor = stream.CreateProducer("worker", new ProducerOptions { Epoch = 1 }))
        {
            successor.Append("b");
            await successor.FlushAsync(Ct);
        }

        zombie.Append("z");
        var ex = await Assert.ThrowsAsync<StaleEpochException>(() => zombie.FlushAsync(Ct));
        Assert.Equal(1, ex.CurrentEpoch);
        Assert.Equal(DurableStreamErrorCodes.StaleEpoch, ex.ErrorCode);
        Assert.Equal("ab", await ReadTextAsync(stream.Url));

        // The zombie restarts past the server's epoch and continues.
        long epoch = await zombie.RestartAsync(Ct);
        Assert.Equal(2, epoch);
        zombie.Append("c");
        await zombie.FlushAsync(Ct);
        Assert.Equal("abc", await ReadTextAsync(stream.Url));
    }

    [Fact]
    public async Task FlushAsync_AutoClaimAfterNewerEpoch_ClaimsNextEpochWithoutLossOrDuplicates()
    {
        DurableStream stream = await CreateAsync("application/json");
        await using (IdempotentProducer other = stream.CreateProducer("ephemeral", new ProducerOptions { Epoch = 3 }))
        {
            other.Append("0");
            await other.FlushAsync(Ct);
        }

        await using IdempotentProducer producer = stream.CreateProducer("ephemeral", new ProducerOptions { AutoClaim = true, MaxInFlight = 5, MaxBatchItems = 2 });
        for (int i = 1; i <= 20; i++)
        {
            producer.Append(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        await producer.FlushAsync(Ct);

        Assert.Equal(4, producer.Epoch);
        List<JsonElement> messages = await ReadJsonMessagesAsync(stream.Url);
        Assert.Equal(Enumerable.Range(0, 21), messages.Select(m => m.GetInt32()));
    }

    [Fact]
    public async Task FlushAsync_ConnectionsCutAtRandom_StoresEveryMessageExactlyOnceInOrder()
    {
        DurableStream direct = await CreateAsync("application/json", "chaos");
        var retries = new CountingLogger();
        await using var proxy = new FaultProxy(server.BaseUrl);
        using var client = new DurableStreamClient(new DurableStreamClientOptions
        {
            BaseAddress = proxy.BaseUrl,
            RequestTimeout = TimeSpan.FromSeconds(5),
        });
        DurableStream stream = client.GetStream(proxy.BaseUrl + direct.Url.AbsolutePath.TrimStart('/'), "application/json");
        var options = new ProducerOptions
        {
            MaxInFlight = 5,
            MaxBatchItems = 25,
            Retry = new RetryOptions(maxRetries: 1000, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(100)),
            Logger = retries,
        };
        await using IdempotentProducer producer = stream.CreateProducer("chaos-producer", options);

        proxy.StartChaos(TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(20), seed: 4242);

        // Rounds of 5,000 messages until the chaos has cut a request in flight (a fast server can
        // take a whole round between two cuts), at most 40 rounds.
        const int Round = 5000;
        int count = 0;
        do
        {
            for (int end = count + Round; count < end; count++)
            {
                await producer.AppendAsync(new Message(count, "payload-" + count), TestJson.Default.Message, Ct);
            }

            await producer.FlushAsync(Ct);
        }
        while (retries.Count(4001) == 0 && count < 40 * Round);

        await proxy.StopChaosAsync();

        Assert.True(retries.Count(4001) > 0, $"No request was cut mid-flight in {count} messages ({proxy.Cuts} idle connections cut), so the test proved nothing.");
        List<JsonElement> messages = await ReadJsonMessagesAsync(direct.Url);
        Assert.Equal(Enumerable.Range(0, count), messages.Select(m => m.GetProperty("id").GetInt32()));
    }

    [Fact]
    public async Task AppendAsync_FullBatchesWithDefaultPipelining_NoBatchIsRefusedOrUploadedTwice()
    {
        // 40 messages of 256 KiB fill 1 MiB batches (MaxBatchBytes) while the first is in flight.
        // Sent side by side, a later batch can finish its upload first and is refused (409) after
        // the server read all of it; the producer must not let that happen to large batches.
        var statuses = new StatusCountingHandler(new SocketsHttpHandler());
        using var client = new DurableStreamClient(new HttpClient(statuses), new DurableStreamClientOptions { BaseAddress = server.BaseUrl });
        CreateStreamResult created = await client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl("producer-large"), ContentType = "application/octet-stream" }, Ct);
        byte[] message = new byte[256 * 1024];
        await using (IdempotentProducer producer = created.Stream.CreateProducer("large", new ProducerOptions { Linger = TimeSpan.Zero }))
        {
            for (int i = 0; i < 40; i++)
            {
                message.AsSpan().Fill((byte)('a' + (i % 26)));
                await producer.AppendAsync(message, Ct);
            }

            await producer.FlushAsync(Ct);
        }

        Assert.Equal(0, statuses.Count(HttpMethod.Post, HttpStatusCode.Conflict));
        Assert.True(statuses.Count(HttpMethod.Post, HttpStatusCode.OK) >= 10);
        byte[] stored = [.. (await ReadAllPagesAsync(created.Stream.Url)).Pages.SelectMany(page => page)];
        Assert.Equal(40 * message.Length, stored.Length);
        for (int i = 0; i < 40; i++)
        {
            Assert.True(stored.AsSpan(i * message.Length, message.Length).IndexOfAnyExcept((byte)('a' + (i % 26))) < 0, $"Message {i} is not where it belongs.");
        }
    }
}

public sealed record Message(int Id, string Text);

/// <summary>Counts log events by id.</summary>
internal sealed class CountingLogger : Microsoft.Extensions.Logging.ILogger
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, int> _counts = new();

    public int Count(int eventId) => _counts.GetValueOrDefault(eventId);

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _counts.AddOrUpdate(eventId.Id, 1, (_, n) => n + 1);
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(Message))]
internal sealed partial class TestJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Counts responses by request method and status code.</summary>
internal sealed class StatusCountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, int), int> _counts = new();

    public int Count(HttpMethod method, HttpStatusCode status) => _counts.GetValueOrDefault((method.Method, (int)status));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
        _counts.AddOrUpdate((request.Method.Method, (int)response.StatusCode), 1, (_, n) => n + 1);
        return response;
    }
}
