using System.Runtime.CompilerServices;
using System.Text.Json.Serialization;

namespace DurableStreams.IntegrationTests;

[Collection(ReferenceServerCollection.Name)]
public sealed class AppendAllTests(ReferenceServerFixture server) : ServerClientTest(server)
{
    private static async IAsyncEnumerable<Tick> TicksAsync(int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (int i = 0; i < count; i++)
        {
            if (i % 100 == 0)
            {
                await Task.Yield();
            }

            cancellationToken.ThrowIfCancellationRequested();
            yield return new Tick(i);
        }
    }

    [Fact]
    public async Task AppendAllAsync_AsyncSequence_StoresEveryMessageOnceInOrder()
    {
        CreateStreamResult created = await Client.CreateStreamAsync(new CreateOptions { Url = Server.NewStreamUrl("append-all"), ContentType = "application/json" }, Ct);
        await using (IdempotentProducer producer = created.Stream.CreateProducer("append-all-1"))
        {
            long accepted = await producer.AppendAllAsync(TicksAsync(2_000), AppendAllJson.Default.Tick, Ct);
            await producer.FlushAsync(Ct);
            Assert.Equal(2_000, accepted);
        }

        IReadOnlyList<Tick> stored = await created.Stream.ReadAllJsonAsync(AppendAllJson.Default.Tick, cancellationToken: Ct);

        Assert.Equal(Enumerable.Range(0, 2_000), stored.Select(t => t.N));
    }

    [Fact]
    public async Task AppendAllAsync_Cancelled_StopsEnumeratingAndKeepsWhatWasAccepted()
    {
        CreateStreamResult created = await Client.CreateStreamAsync(new CreateOptions { Url = Server.NewStreamUrl("append-all-cancel"), ContentType = "application/json" }, Ct);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        int yielded = 0;

        async IAsyncEnumerable<Tick> StopsAfterTen([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await foreach (Tick tick in TicksAsync(1_000, cancellationToken))
            {
                if (++yielded == 11)
                {
                    await stop.CancelAsync();
                }

                yield return tick;
            }
        }

        await using IdempotentProducer producer = created.Stream.CreateProducer("append-all-2");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => producer.AppendAllAsync(StopsAfterTen(), AppendAllJson.Default.Tick, stop.Token));
        await producer.FlushAsync(Ct);

        IReadOnlyList<Tick> stored = await created.Stream.ReadAllJsonAsync(AppendAllJson.Default.Tick, cancellationToken: Ct);
        Assert.InRange(stored.Count, 10, 11);
        Assert.Equal(Enumerable.Range(0, stored.Count), stored.Select(t => t.N));
    }
}

public sealed record Tick(int N);

[JsonSerializable(typeof(Tick))]
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
internal sealed partial class AppendAllJson : JsonSerializerContext;
