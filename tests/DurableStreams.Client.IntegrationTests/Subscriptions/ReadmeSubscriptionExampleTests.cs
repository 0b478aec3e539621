using System.Collections.Concurrent;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace DurableStreams.IntegrationTests.Subscriptions;

/// <summary>The README's "Subscriptions" block, run against the reference server. Only the server
/// address and the unique names differ from the README.</summary>
[Collection(SubscriptionServerCollection.Name)]
public sealed class ReadmeSubscriptionExampleTests(SubscriptionServerFixture server)
{
    internal static readonly ConcurrentQueue<Order> Handled = new();

    [Fact]
    public async Task Readme_Subscriptions_RunsAsWritten()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        // The reference server's stream root is fixed (/v1/stream/): unique names keep tests apart.
        string root = server.BaseUrl.AbsoluteUri + "v1/stream/";
        string u = $"readme-{Guid.NewGuid():N}";
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(root) });
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        IServiceCollection services = builder.Services;

        // README "Subscriptions" block.
        await client.CreateStreamAsync(new CreateOptions { Url = $"{u}/wake/orders", ContentType = "application/json" });
        await client.Subscriptions.CreateAsync($"{u}-order-processor", new SubscriptionOptions {
            Type = SubscriptionType.PullWake, Pattern = $"{u}/orders/*", WakeStream = $"{u}/wake/orders",
            LeaseTtl = TimeSpan.FromSeconds(30) });

        services.AddDurableStreams(o => o.BaseAddress = new Uri(root));
        services.AddDurableStreamsSubscriptionWorker<OrderHandler>($"{u}-order-processor");

        using IHost host = builder.Build();
        await host.StartAsync(timeout.Token);
        CreateStreamResult orders = await client.CreateStreamAsync(new CreateOptions { Url = $"{u}/orders/eu", ContentType = "application/json" }, timeout.Token);
        await orders.Stream.AppendAsync(new Order { Id = 42 }, AppJson.Default.Order, cancellationToken: timeout.Token);
        while (!Handled.Any(o => o.Id == 42))
        {
            await Task.Delay(50, timeout.Token);
        }

        await host.StopAsync(timeout.Token);
        Assert.Contains(Handled, o => o.Id == 42);
    }
}

public sealed class Order
{
    public int Id { get; set; }
}

[JsonSerializable(typeof(Order))]
internal sealed partial class AppJson : JsonSerializerContext
{
}

internal sealed class OrderHandler : ISubscriptionHandler
{
    public Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken)
    {
        foreach (Order order in batch.ReadJson(AppJson.Default.Order)) { ReadmeSubscriptionExampleTests.Handled.Enqueue(order); }
        return Task.CompletedTask;
    }
}
