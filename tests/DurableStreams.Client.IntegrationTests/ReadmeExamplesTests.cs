using System.Buffers;
using Microsoft.Extensions.DependencyInjection;

namespace DurableStreams.IntegrationTests;

/// <summary>The README's code blocks, kept compiling and running against the reference server.
/// Only the server address differs from the README.</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class ReadmeExamplesTests(ReferenceServerFixture server)
{
    private string StreamBase => server.BaseUrl.AbsoluteUri + $"v1/stream/readme-{Guid.NewGuid():N}/";

    [Fact]
    public async Task Readme_Writing_RunsAsWritten()
    {
        string baseAddress = StreamBase;

        // README "Writing" block.
        using var client = new DurableStreamClient(new DurableStreamClientOptions {
            BaseAddress = new Uri(baseAddress) });

        CreateStreamResult created = await client.CreateStreamAsync(new CreateOptions {
            Url = "orders", ContentType = "application/json", Ttl = TimeSpan.FromDays(7) });
        DurableStream orders = created.Stream;

        AppendResult appended = await orders.AppendAsync(new { Id = 1, Total = 9.5 });
        StreamMetadata metadata = await orders.HeadAsync();

        CreateStreamResult fork = await orders.ForkAsync(new ForkOptions {
            Url = "orders-what-if", Offset = appended.NextOffset });

        CloseResult closed = await orders.CloseAsync(new { Done = true });
        await fork.Stream.DeleteAsync();

        Assert.True(created.Created);
        Assert.Equal(appended.NextOffset, metadata.NextOffset);
        Assert.True(closed.FinalOffset > appended.NextOffset);
        await Assert.ThrowsAsync<StreamNotFoundException>(() => fork.Stream.HeadAsync());
    }

    [Fact]
    public async Task Readme_DependencyInjection_RunsAsWritten()
    {
        string baseAddress = StreamBase;

        // README "Dependency injection" block.
        var services = new ServiceCollection();
        services.AddDurableStreams(options => options.BaseAddress = new Uri(baseAddress));
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<DurableStreamClient>();

        CreateStreamResult result = await client.CreateStreamAsync(new CreateOptions { Url = "events" });
        Assert.Equal(new Uri(baseAddress + "events"), result.Stream.Url);
    }
    [Fact]
    public async Task Readme_Reading_RunsAsWritten()
    {
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(StreamBase) });
        DurableStream orders = (await client.CreateStreamAsync(new CreateOptions { Url = "orders", ContentType = "application/json" })).Stream;
        await orders.AppendAsync(new Order(1, 9.5));
        await orders.AppendAsync(new Order(2, 3.0));
        string? savedText = null;
        using var stop = new CancellationTokenSource();
        CancellationToken cancellationToken = stop.Token;
        var seen = new List<Order>();

        // README "Reading" block (Console.WriteLine replaced by collecting the values).
        IReadOnlyList<Order> all = await orders.ReadAllJsonAsync<Order>();

        ReadCheckpoint? resumeFrom = savedText is null ? null : ReadCheckpoint.Parse(savedText);
        try
        {
            await foreach (StreamItem<Order> item in orders.ReadJsonAsync<Order>(
                new ReadOptions { Checkpoint = resumeFrom, Live = LiveMode.Auto }, cancellationToken))
            {
                seen.Add(item.Value);
                savedText = item.Checkpoint.ToString();
                if (seen.Count == 1)
                {
                    stop.Cancel(); // "killed" after the first message
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        Assert.Equal([new Order(1, 9.5), new Order(2, 3.0)], all);
        Assert.Equal([new Order(1, 9.5)], seen);

        // Resuming from the saved text yields exactly the rest, then follows live until the close.
        await orders.CloseAsync(new Order(3, 1.0));
        var rest = new List<Order>();
        await foreach (StreamItem<Order> item in orders.ReadJsonAsync<Order>(
            new ReadOptions { Checkpoint = ReadCheckpoint.Parse(savedText!), Live = LiveMode.Auto }))
        {
            rest.Add(item.Value);
        }

        Assert.Equal([new Order(2, 3.0), new Order(3, 1.0)], rest);
    }

    [Fact]
    public async Task Readme_RecoveryHook_RenewsTheTokenAfter401()
    {
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(StreamBase) });
        DurableStream stream = (await client.CreateStreamAsync(new CreateOptions { Url = "guarded", ContentType = "text/plain" })).Stream;
        await stream.AppendAsync("hello");
        var tokens = new TokenSource();
        var handler = new RequireTokenHandler("Bearer fresh") { InnerHandler = new HttpClientHandler() };
        using var guarded = new DurableStreamClient(new HttpClient(handler), new DurableStreamClientOptions(), disposeHttpClient: true);

        // README "Reading" recovery block.
        var options = new ReadOptions {
            Live = LiveMode.Sse,
            OnFailure = async (failure, ct) => failure.Status == 401
                ? ReadRecovery.Retry(new Dictionary<string, string> {
                    ["Authorization"] = "Bearer " + await tokens.RefreshAsync(ct) })
                : ReadRecovery.Default,
        };

        await foreach (StreamChunk chunk in guarded.GetStream(stream.Url.AbsoluteUri).ReadAsync(options))
        {
            Assert.Equal("hello", System.Text.Encoding.UTF8.GetString(chunk.Data.Span));
            break;
        }

        Assert.Equal(1, tokens.Refreshes);
        Assert.True(handler.Rejected >= 1);
    }

    [Fact]
    public async Task Readme_Producer_RunsAsWritten()
    {
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(StreamBase) });
        DurableStream orders = (await client.CreateStreamAsync(new CreateOptions { Url = "orders", ContentType = "application/json" })).Stream;
        Order[] incoming = [.. Enumerable.Range(1, 500).Select(i => new Order(i, i / 2.0))];

        // README "Producing exactly once" block.
        await using IdempotentProducer producer = orders.CreateProducer("order-service-1",
            new ProducerOptions { AutoClaim = true });
        foreach (Order order in incoming)
        {
            await producer.AppendAsync(order);
        }
        await producer.FlushAsync();

        Assert.Equal(incoming, await orders.ReadAllJsonAsync<Order>());
    }

    [Fact]
    public async Task Readme_ProducerOwnedMemory_RunsAsWritten()
    {
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(StreamBase) });
        DurableStream images = (await client.CreateStreamAsync(new CreateOptions { Url = "images", ContentType = "application/octet-stream" })).Stream;
        byte[] content = [.. Enumerable.Range(0, 3 * 1024 * 1024).Select(i => (byte)(i * 7))];
        using var file = new MemoryStream(content);
        const int size = 2 * 1024 * 1024;
        await using IdempotentProducer producer = images.CreateProducer("image-loader");

        for (int i = 0; i < 2; i++)
        {
            // README "Producing exactly once" owned-memory block.
            IMemoryOwner<byte> owner = MemoryPool<byte>.Shared.Rent(size);
            int length = await file.ReadAtLeastAsync(owner.Memory[..size], size, throwOnEndOfStream: false);
            await producer.AppendAsync(owner, length);   // the producer returns it to the pool
        }

        await producer.FlushAsync();
        Assert.Equal(content, await images.ReadAllBytesAsync());
    }

    private sealed record Order(int Id, double Total);

    private sealed class TokenSource
    {
        public int Refreshes { get; private set; }

        public Task<string> RefreshAsync(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Refreshes++;
            return Task.FromResult("fresh");
        }
    }

    /// <summary>Answers 401 until a request carries the expected Authorization value.</summary>
    private sealed class RequireTokenHandler(string expected) : DelegatingHandler
    {
        public int Rejected { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Headers.Authorization?.ToString() != expected)
            {
                Rejected++;
                return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.Unauthorized) { Content = new StringContent("no token") });
            }

            return base.SendAsync(request, cancellationToken);
        }
    }
}
