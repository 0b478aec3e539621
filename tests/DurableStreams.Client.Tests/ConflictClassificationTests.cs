using System.Net;

namespace DurableStreams.Tests;

/// <summary>A 409's reason comes from what the request sent before the server's wording is consulted.</summary>
public sealed class ConflictClassificationTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    public void Dispose() => _timeout.Dispose();

    private static RecordingHandler Conflict(string text) =>
        new RecordingHandler().ThenRespond(HttpStatusCode.Conflict, r => r.Content = new StringContent(text));

    [Theory]
    [InlineData("")]
    [InlineData("sequence mismatch")]          // misleading wording: a PUT has no sequence
    public async Task CreateStreamAsync_Conflict_IsAnExistingConfigurationWhateverTheText(string text)
    {
        using DurableStreamClient client = TestClients.Create(Conflict(text));

        var ex = await Assert.ThrowsAsync<StreamConflictException>(() => client.CreateStreamAsync(new CreateOptions { Url = TestClients.StreamUrl, ContentType = "text/plain" }, _timeout.Token));

        Assert.Equal(ConflictReason.ExistsWithDifferentConfiguration, ex.Reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sequence mismatch")]          // no Stream-Seq was sent, so it cannot be a regression
    public async Task AppendAsync_ConflictWithoutStreamSeq_IsAContentTypeMismatch(string text)
    {
        using DurableStreamClient client = TestClients.Create(Conflict(text));

        var ex = await Assert.ThrowsAsync<StreamConflictException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: _timeout.Token));

        Assert.Equal(ConflictReason.ContentTypeMismatch, ex.Reason);
        Assert.Equal(DurableStreamErrorCodes.Conflict, ex.ErrorCode);
    }

    [Theory]
    [InlineData("Sequence regression: 5 <= 7", ConflictReason.SequenceConflict)]
    [InlineData("Content-Type does not match the stream", ConflictReason.ContentTypeMismatch)]
    [InlineData("", ConflictReason.Unknown)]
    public async Task AppendAsync_ConflictWithStreamSeq_FallsBackToTheServersText(string text, ConflictReason expected)
    {
        using DurableStreamClient client = TestClients.Create(Conflict(text));

        var ex = await Assert.ThrowsAsync<StreamConflictException>(() => client.GetStream(TestClients.StreamUrl, "text/plain")
            .AppendAsync("x", new AppendOptions { Sequence = "5" }, _timeout.Token));

        Assert.Equal(expected, ex.Reason);
    }
}
