// Consumes DurableStreams.Client from its nupkg and runs the README's examples against a server.
//   dotnet run --project tests/PackageConsumer -- http://127.0.0.1:4437
using DurableStreams;
using Microsoft.Extensions.DependencyInjection;

if (args.Length != 1)
{
    Console.Error.WriteLine("usage: PackageConsumer <server-base-url>");
    return 2;
}

string server = args[0].TrimEnd('/');
string run = Guid.NewGuid().ToString("N");

// README "Hello world".
var stream = await DurableStream.CreateAsync(new CreateOptions {
    Url = $"{server}/v1/stream/consumer-{run}", ContentType = "application/json" });
await stream.AppendAsync(new { Event = "user.created" });

// README "Writing".
using var client = new DurableStreamClient(new DurableStreamClientOptions {
    BaseAddress = new Uri($"{server}/v1/stream/consumer-{run}/") });
CreateStreamResult created = await client.CreateStreamAsync(new CreateOptions {
    Url = "orders", ContentType = "application/json", Ttl = TimeSpan.FromDays(7) });
DurableStream orders = created.Stream;
AppendResult appended = await orders.AppendAsync(new { Id = 1, Total = 9.5 });
StreamMetadata metadata = await orders.HeadAsync();
CreateStreamResult fork = await orders.ForkAsync(new ForkOptions {
    Url = "orders-what-if", Offset = appended.NextOffset });
CloseResult closed = await orders.CloseAsync(new { Done = true });
await fork.Stream.DeleteAsync();

// README "Dependency injection".
var services = new ServiceCollection();
services.AddDurableStreams(options => options.BaseAddress = new Uri($"{server}/v1/stream/"));
using var provider = services.BuildServiceProvider();
var injected = provider.GetRequiredService<DurableStreamClient>();
StreamMetadata viaDi = await injected.GetStream($"consumer-{run}/orders").HeadAsync();

if (!viaDi.StreamClosed || viaDi.NextOffset != closed.FinalOffset || metadata.NextOffset != appended.NextOffset)
{
    Console.Error.WriteLine("The package consumer saw unexpected stream state.");
    return 1;
}

Console.WriteLine($"Package consumer OK: {orders.Url} closed at {closed.FinalOffset}.");
return 0;
