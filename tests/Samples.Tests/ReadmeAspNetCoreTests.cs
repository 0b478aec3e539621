using System.Net;
using System.Net.Http.Json;
using DurableStreams;
using DurableStreams.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Samples.Tests;

/// <summary>
/// The README's "ASP.NET Core" code, compiled and run (only the server address differs), and what it
/// says about two app instances that share a producer id.
/// </summary>
public sealed class ReadmeAspNetCoreTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private ReferenceServerProcess _server = null!;
    private DurableStreamClient _client = null!;

    private CancellationToken Ct => _timeout.Token;

    private Uri StreamsBase => new(_server.BaseUrl, "v1/stream/");

    public async Task InitializeAsync()
    {
        _server = await ReferenceServerProcess.StartAsync(TimeSpan.FromSeconds(2));
        _client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = StreamsBase });
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Readme_ProducerOwnedByTheContainer_StoresPostsAndIsDisposedWithTheApp()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = "orders", ContentType = "application/json" }, Ct)).Stream;
        string serverAddress = StreamsBase.AbsoluteUri;
        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();

        // README "ASP.NET Core" producer block.
        builder.Services.AddDurableStreams(options => options.BaseAddress = new Uri(serverAddress));
        // One producer per stream and producer id, shared by every request, flushed and disposed with the app.
        builder.Services.AddKeyedSingleton("orders", (services, _) => services.GetRequiredService<DurableStreamClient>()
            .GetStream("orders")
            .CreateProducer($"orders-api-{Environment.MachineName}", new ProducerOptions { AutoClaim = true }));

        WebApplication app = builder.Build();
        app.MapPost("/orders", async (Order order, [FromKeyedServices("orders")] IdempotentProducer orders) =>
        {
            await orders.AppendAsync(order); // into the producer's buffer, batched with other requests' messages
            await orders.FlushAsync();       // only where the caller must know that it is stored
            return Results.Accepted();
        });

        await app.StartAsync(Ct);
        HttpClient http = app.GetTestClient();
        using HttpResponseMessage first = await http.PostAsJsonAsync("/orders", new Order(1, 9.5m), Ct);
        using HttpResponseMessage second = await http.PostAsJsonAsync("/orders", new Order(2, 3m), Ct);
        IdempotentProducer producer = app.Services.GetRequiredKeyedService<IdempotentProducer>("orders");
        await producer.AppendAsync(new Order(3, 1m), Ct); // appended, not flushed: the app's disposal sends it
        await app.StopAsync(Ct);
        await app.DisposeAsync();

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.Equal([1, 2, 3], (await stream.ReadAllJsonAsync<Order>(cancellationToken: Ct)).Select(o => o.Id));
    }

    [Fact]
    public async Task SharedProducerId_WithAutoClaim_InstancesFenceEachOtherAndBothKeepWriting()
    {
        DurableStream stream = await CreateStreamAsync();
        await using IdempotentProducer a = stream.CreateProducer("shared", new ProducerOptions { AutoClaim = true });
        await using IdempotentProducer b = stream.CreateProducer("shared", new ProducerOptions { AutoClaim = true });

        await a.AppendAsync(1, Ct);
        await a.FlushAsync(Ct);
        await b.AppendAsync(2, Ct);
        await b.FlushAsync(Ct); // its first batch reuses epoch 0: b claims epoch 1
        await a.AppendAsync(3, Ct);
        await a.FlushAsync(Ct); // refused as stale: a claims epoch 2 and resends
        await b.AppendAsync(4, Ct);
        await b.FlushAsync(Ct); // refused as stale: b claims epoch 3 and resends

        Assert.Equal((2, 3), (a.Epoch, b.Epoch));
        Assert.Equal([1, 2, 3, 4], await stream.ReadAllJsonAsync<int>(cancellationToken: Ct));
    }

    [Fact]
    public async Task SharedProducerId_WithoutAutoClaim_FencedInstanceFailsWithStaleEpoch()
    {
        DurableStream stream = await CreateStreamAsync();
        await using IdempotentProducer a = stream.CreateProducer("shared");
        IdempotentProducer b = stream.CreateProducer("shared", new ProducerOptions { Epoch = 1 });

        await a.AppendAsync(1, Ct);
        await a.FlushAsync(Ct);
        await b.AppendAsync(2, Ct);
        await b.FlushAsync(Ct); // a newer epoch: b fences a
        await a.AppendAsync(3, Ct);
        await Assert.ThrowsAsync<StaleEpochException>(() => a.FlushAsync(Ct));
        await b.DisposeAsync();

        Assert.Equal([1, 2], await stream.ReadAllJsonAsync<int>(cancellationToken: Ct));
    }

    [Fact]
    public async Task DistinctProducerIds_InstancesNeverFenceEachOther()
    {
        DurableStream stream = await CreateStreamAsync();
        await using IdempotentProducer a = stream.CreateProducer("orders-api-host-a", new ProducerOptions { AutoClaim = true });
        await using IdempotentProducer b = stream.CreateProducer("orders-api-host-b", new ProducerOptions { AutoClaim = true });

        for (int i = 0; i < 3; i++)
        {
            await a.AppendAsync(2 * i, Ct);
            await a.FlushAsync(Ct);
            await b.AppendAsync((2 * i) + 1, Ct);
            await b.FlushAsync(Ct);
        }

        Assert.Equal((0, 0), (a.Epoch, b.Epoch));
        Assert.Equal(Enumerable.Range(0, 6), await stream.ReadAllJsonAsync<int>(cancellationToken: Ct));
    }

    private async Task<DurableStream> CreateStreamAsync()
    {
        CreateStreamResult created = await _client.CreateStreamAsync(new CreateOptions { Url = $"shared-{Guid.NewGuid():N}", ContentType = "application/json" }, Ct);
        return created.Stream;
    }

    public sealed record Order(int Id, decimal Total);
}
