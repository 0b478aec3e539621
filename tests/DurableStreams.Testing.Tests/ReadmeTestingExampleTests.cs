// The "Testing your code" example of the repository README, compiled and run as written.
using DurableStreams;
using DurableStreams.Testing;

namespace DurableStreams.Testing.Tests;

public class OrderEventsTests
{
    [Fact]
    public async Task AppendedEvents_ReadBackInOrder()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var server = await DurableStreamTestServer.StartAsync();
        DurableStream stream = server.Client.GetStream(server.StreamUrl("orders"));
        await stream.CreateStreamAsync(new CreateOptions { ContentType = "application/json" }, timeout.Token);

        await stream.AppendAsync(new { Event = "order.placed" }, cancellationToken: timeout.Token);
        await stream.AppendAsync(new { Event = "order.shipped" }, cancellationToken: timeout.Token);

        var events = new List<string>();
        await foreach (StreamItem<OrderEvent> item in stream.ReadJsonAsync<OrderEvent>(cancellationToken: timeout.Token))
        {
            events.Add(item.Value.Event);
        }

        Assert.Equal(["order.placed", "order.shipped"], events);
    }

    public sealed record OrderEvent(string Event);
}
