using System.Security.Cryptography;
using Xunit.Abstractions;

namespace DurableStreams.IntegrationTests;

/// <summary>
/// Reads whose allocation is measured process-wide (<see cref="GC.GetTotalAllocatedBytes(bool)"/>):
/// alone, so that no test of another collection allocates at the same time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurementCollection : ICollectionFixture<ReferenceServerFixture>
{
    public const string Name = "Allocation measurements";
}

/// <summary>How much a large catch-up read allocates against the real server.</summary>
[Collection(AllocationMeasurementCollection.Name)]
public sealed class ReaderAllocationTests(ReferenceServerFixture server, ITestOutputHelper output) : ServerClientTest(server)
{
    [Fact]
    public async Task ReadAsync_TenMegabyteCatchUp_ComesInBoundedPartsWithoutHoldingTheStream()
    {
        const int size = 10 * 1024 * 1024;
        DurableStream stream = (await Client.CreateStreamAsync(new CreateOptions { Url = Server.NewStreamUrl("reader-10mb"), ContentType = "application/octet-stream" }, Ct)).Stream;
        byte[] data = new byte[size];
        new Random(42).NextBytes(data);
        for (int i = 0; i < 10; i++)
        {
            await stream.AppendAsync(data.AsMemory(i * (size / 10), size / 10), cancellationToken: Ct);
        }

        byte[] expectedHash = SHA256.HashData(data);
        data = [];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        int largest = 0;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        await foreach (StreamChunk chunk in stream.ReadAsync(cancellationToken: Ct))
        {
            hash.AppendData(chunk.Data.Span);
            total += chunk.Data.Length;
            largest = Math.Max(largest, chunk.Data.Length);
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        output.WriteLine($"Read {total} bytes in parts of at most {largest} bytes, allocating {allocated} bytes.");

        Assert.Equal(size, total);
        Assert.Equal(expectedHash, hash.GetHashAndReset());
        Assert.True(largest <= 1024 * 1024, $"The largest chunk had {largest} bytes.");

        // Each part is a fresh array the caller owns (about 1x the stream); holding the whole
        // response in a growing buffer would cost 2x or more.
        Assert.True(allocated < 1.5 * size, $"The read allocated {allocated} bytes for a {size}-byte stream.");
    }
}
