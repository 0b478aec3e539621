namespace DurableStreams.Tests.Producing;

/// <summary>The append hot path copies the message into the open batch and allocates nothing else.</summary>
[Collection(AllocationMeasurementCollection.Name)]
public sealed class ProducerAllocationTests
{
    [Theory]
    [InlineData("application/json")]
    [InlineData("application/octet-stream")]
    public async Task Append_IntoAnOpenBatch_AllocatesNothingPerMessage(string contentType)
    {
        // Fake time: the linger never elapses, so every append lands in the same open batch.
        await using var h = new ProducerHarness(contentType);
        byte[] message = System.Text.Encoding.UTF8.GetBytes("{\"id\":1,\"pad\":\"" + new string('x', 82) + "\"}");

        // Warm up: JIT the path and grow the batch buffer (1,000 x 100 B; it doubles to 128 KiB).
        for (int i = 0; i < 1_000; i++)
        {
            h.Producer.Append(message);
        }

        // 200 more messages (20 KB) fit in the buffer as it is.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            h.Producer.Append(message);
            ValueTask append = h.Producer.AppendAsync(message, h.Ct);
            Assert.True(append.IsCompletedSuccessfully);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, h.Handler.Count);
        Assert.Equal(1_200, h.Producer.PendingCount);
        Assert.True(allocated < 200, $"200 appends allocated {allocated} bytes.");
    }
}
