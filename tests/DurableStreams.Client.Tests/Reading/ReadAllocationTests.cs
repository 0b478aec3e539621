using System.Text;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// What a live SSE read allocates per event beyond the payload: with the public types that is the
/// chunk and its offset string, nothing for parsing the events.
/// </summary>
public sealed class ReadAllocationTests : IDisposable
{
    private const int Events = 1_000;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    public void Dispose() => _timeout.Dispose();

    [Theory]
    [InlineData(ReadScript.Text, 330)]
    [InlineData(ReadScript.Json, 330)]
    [InlineData(ReadScript.Binary, 330)]
    public async Task Sse_ManySmallEvents_AllocateLittleBeyondTheirPayload(string contentType, int maxBytesPerEvent)
    {
        byte[] events = Encoding.UTF8.GetBytes(BuildEvents(contentType));
        await ReadAsync(contentType, events); // JIT and first-use costs

        // In-memory responses complete synchronously, so the read stays on this thread. Steady state
        // is ~280-295 B: payload ~125 B, the chunk ~90 B and its offset string ~40 B (short offsets
        // here), plus the fixed cost of the read spread over the events. With System.Net.ServerSentEvents
        // the two event type strings it creates per group made it ~350-370 B; JsonDocument-per-control
        // parsing before that took ~700-1,000 B.
        long before = GC.GetAllocatedBytesForCurrentThread();
        int chunks = await ReadAsync(contentType, events);
        long perEvent = (GC.GetAllocatedBytesForCurrentThread() - before) / Events;

        Assert.Equal(Events, chunks);
        Assert.True(perEvent <= maxBytesPerEvent, $"{perEvent} bytes per event (100-byte payload) on {contentType}.");
    }

    /// <summary>1,000 groups of one data event (a 100-byte payload) and its control event, the last one closing the stream.</summary>
    private static string BuildEvents(string contentType)
    {
        var events = new StringBuilder();
        for (int i = 1; i <= Events; i++)
        {
            string payload = contentType switch
            {
                ReadScript.Json => "[{\"id\":" + (100_000 + i).ToString(System.Globalization.CultureInfo.InvariantCulture) + ",\"pad\":\"" + new string('x', 100 - 21) + "\"}]",
                ReadScript.Binary => Convert.ToBase64String(new byte[100]),
                _ => new string('t', 100),
            };
            events.Append(ReadScript.Data("\n", payload));
            events.Append(ReadScript.Control($"0000_{i:D4}", cursor: "c", upToDate: true, closed: i == Events));
        }

        return events.ToString();
    }

    /// <summary>The events as one in-memory body, encoded before the measurement, so that it holds only what the SDK allocates.</summary>
    private static HttpResponseMessage PlainSse(byte[] events, bool base64)
    {
        var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new ByteArrayContent(events) };
        response.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/event-stream");
        if (base64)
        {
            response.Headers.TryAddWithoutValidation("stream-sse-data-encoding", "base64");
        }

        return response;
    }

    private async Task<int> ReadAsync(string contentType, byte[] events)
    {
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp(contentType == ReadScript.Json ? "[]" : "", "0000_0000", contentType, cursor: "c"))
            .Then(_ => PlainSse(events, base64: contentType == ReadScript.Binary));
        using DurableStreamClient client = TestClients.Create(handler);
        int chunks = 0;
        await foreach (StreamChunk chunk in client.GetStream(TestClients.StreamUrl).ReadAsync(new ReadOptions { Live = LiveMode.Sse }, _timeout.Token))
        {
            chunks += chunk.Data.IsEmpty ? 0 : 1;
        }

        return chunks;
    }
}
