using System.Text;

namespace DurableStreams.Tests.Reading;

/// <summary>ReadTextAsync decodes UTF-8 across chunk boundaries.</summary>
public sealed class ReadTextDecodingTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task ReadTextAsync_CharacterSplitAcrossResponses_IsCompletedInTheNextItem()
    {
        byte[] e = Encoding.UTF8.GetBytes("é€");
        var handler = new RecordingHandler()
            .Then(_ => ReadScript.CatchUp([(byte)'a', e[0]], "0000_0001", upToDate: false))
            .Then(_ => ReadScript.CatchUp([e[1], e[2]], "0000_0002", upToDate: false))
            .Then(_ => ReadScript.CatchUp([e[3], e[4], (byte)'b'], "0000_0003", closed: true));
        using DurableStreamClient client = TestClients.Create(handler);

        var items = new List<string>();
        await foreach (StreamItem<string> item in client.GetStream(TestClients.StreamUrl).ReadTextAsync(cancellationToken: _timeout.Token))
        {
            items.Add(item.Value);
        }

        Assert.Equal(["a", "é", "€b"], items);
    }
}
