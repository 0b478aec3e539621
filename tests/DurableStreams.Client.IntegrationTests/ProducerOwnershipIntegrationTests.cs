using System.Buffers;
using System.Text;
using System.Text.Json;

namespace DurableStreams.IntegrationTests;

/// <summary>Messages appended with ownership (<c>AppendAsync(IMemoryOwner&lt;byte&gt;, int)</c>) against the reference server.</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class ProducerOwnershipIntegrationTests(ReferenceServerFixture server) : ServerClientTest(server)
{
    private const int BatchBytes = 64 * 1024;

    [Fact]
    public async Task AppendAsync_OwnedMessagesBetweenCopiedOnes_StoredOnceInAppendOrderAndEveryOwnerDisposedOnce()
    {
        DurableStream stream = (await Client.CreateStreamAsync(new CreateOptions { Url = Server.NewStreamUrl("producer-owned"), ContentType = "application/octet-stream" }, Ct)).Stream;
        var owners = new List<CountingOwner>();
        var expected = new MemoryStream();
        await using (IdempotentProducer producer = stream.CreateProducer("owned", new ProducerOptions { MaxBatchBytes = BatchBytes }))
        {
            for (int i = 0; i < 12; i++)
            {
                // Sizes around the batch limit: owned and sent as they are (>= MaxBatchBytes), owned
                // and copied (smaller), and copied by the ordinary overload, interleaved.
                int size = (i % 4) switch { 0 => BatchBytes, 1 => BatchBytes + 1000, 2 => 300, _ => BatchBytes / 2 };
                byte[] message = Pattern(i, size);
                expected.Write(message);
                if (i % 4 == 3)
                {
                    await producer.AppendAsync(message, Ct);
                    continue;
                }

                var owner = new CountingOwner(MemoryPool<byte>.Shared.Rent(size));
                message.CopyTo(owner.Memory);
                owners.Add(owner);
                await producer.AppendAsync(owner, size, Ct);
            }

            await producer.FlushAsync(Ct);
            Assert.All(owners, owner => Assert.Equal(1, owner.Disposals));
        }

        Assert.Equal(expected.ToArray(), await stream.ReadAllBytesAsync(cancellationToken: Ct));
        Assert.All(owners, owner => Assert.Equal(1, owner.Disposals));
    }

    [Fact]
    public async Task AppendAsync_OwnedJsonArrayOnJsonStream_IsStoredAsOneMessage()
    {
        DurableStream stream = (await Client.CreateStreamAsync(new CreateOptions { Url = Server.NewStreamUrl("producer-owned-json"), ContentType = "application/json" }, Ct)).Stream;

        // A JSON array message is as large as a batch: sent from the owner's memory, it must still be
        // one message, not flattened into its elements (PROTOCOL.md §9.1.2).
        string array = "[" + string.Join(",", Enumerable.Range(0, BatchBytes / 4)) + "]";
        byte[] json = Encoding.UTF8.GetBytes(array);
        Assert.True(json.Length >= BatchBytes);
        var owner = new CountingOwner(MemoryPool<byte>.Shared.Rent(json.Length));
        json.CopyTo(owner.Memory);
        await using (IdempotentProducer producer = stream.CreateProducer("owned-json", new ProducerOptions { MaxBatchBytes = BatchBytes }))
        {
            await producer.AppendAsync("""{"before":true}""", Ct);
            await producer.AppendAsync(owner, json.Length, Ct);
            await producer.AppendAsync("""{"after":true}""", Ct);
            await producer.FlushAsync(Ct);
        }

        IReadOnlyList<JsonElement> messages = await stream.ReadAllJsonAsync<JsonElement>(cancellationToken: Ct);
        Assert.Equal(3, messages.Count);
        Assert.True(messages[0].GetProperty("before").GetBoolean());
        Assert.Equal(JsonValueKind.Array, messages[1].ValueKind);
        Assert.Equal(BatchBytes / 4, messages[1].GetArrayLength());
        Assert.Equal(BatchBytes / 4 - 1, messages[1][BatchBytes / 4 - 1].GetInt32());
        Assert.True(messages[2].GetProperty("after").GetBoolean());
        Assert.Equal(1, owner.Disposals);
    }

    private static byte[] Pattern(int seed, int size)
    {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++)
        {
            bytes[i] = (byte)((seed * 31) + i);
        }

        return bytes;
    }

    /// <summary>Wraps a pooled owner, counts disposals, and passes the first one on.</summary>
    private sealed class CountingOwner(IMemoryOwner<byte> inner) : IMemoryOwner<byte>
    {
        private int _disposals;

        public int Disposals => Volatile.Read(ref _disposals);

        public Memory<byte> Memory => inner.Memory;

        public void Dispose()
        {
            if (Interlocked.Increment(ref _disposals) == 1)
            {
                inner.Dispose();
            }
        }
    }
}
