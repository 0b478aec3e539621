using System.Net;
using System.Runtime.CompilerServices;
using System.Text;

namespace DurableStreams.Tests;

/// <summary>
/// Users test their own code without a server: a <see cref="DurableStream"/> subclass overrides the
/// operations their code calls, and <see cref="DurableStreamsModelFactory"/> makes the results.
/// </summary>
public sealed class MockingTests
{
    private static readonly Offset Tail = new("0000_0042");

    /// <summary>Code a user would write: copies every chunk of one stream to another and reports the tail.</summary>
    private static async Task<(int Chunks, Offset Tail)> CopyAsync(DurableStream source, DurableStream target, CancellationToken cancellationToken)
    {
        int chunks = 0;
        Offset tail = Offset.Beginning;
        await foreach (StreamChunk chunk in source.ReadAsync(new ReadOptions { Live = LiveMode.Off }, cancellationToken))
        {
            if (!chunk.Data.IsEmpty)
            {
                AppendResult appended = await target.AppendAsync(chunk.Data, cancellationToken: cancellationToken);
                tail = appended.NextOffset;
                chunks++;
            }
        }

        return (chunks, tail);
    }

    [Fact]
    public async Task FakeStream_SubclassWithModelFactoryResults_DrivesUserCodeWithoutAServer()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var source = new FakeStream();
        var target = new FakeStream();

        (int chunks, Offset tail) = await CopyAsync(source, target, timeout.Token);

        Assert.Equal(2, chunks);
        Assert.Equal(Tail, tail);
        Assert.Equal(["hello ", "world"], target.Appended);
    }

    [Fact]
    public void ModelFactory_Results_CarryTheGivenValues()
    {
        var stream = new FakeStream();
        var checkpoint = new ReadCheckpoint(Tail, skip: 3, cursor: "c1");

        CreateStreamResult created = DurableStreamsModelFactory.CreateStreamResult(stream, created: false, Tail, "application/json", streamClosed: true);
        StreamMetadata metadata = DurableStreamsModelFactory.StreamMetadata("text/plain", Tail, TimeSpan.FromHours(1), null, streamClosed: true, etag: "\"e\"");
        StreamChunk chunk = DurableStreamsModelFactory.StreamChunk("x"u8.ToArray(), Offset.Beginning, Tail, upToDate: true, cursor: "c2");
        StreamItem<string> item = DurableStreamsModelFactory.StreamItem("v", checkpoint, upToDate: true, streamClosed: true);
        ReadFailureContext failure = DurableStreamsModelFactory.ReadFailureContext(stream, new IOException("reset"), status: 503, attempt: 2, offset: Tail, willRetry: false);

        Assert.Equal((stream, false, Tail, "application/json", true), (created.Stream, created.Created, created.NextOffset, created.ContentType, created.StreamClosed));
        Assert.Equal(("text/plain", Tail, TimeSpan.FromHours(1), true, "\"e\""), (metadata.ContentType, metadata.NextOffset, metadata.Ttl, metadata.StreamClosed, metadata.ETag));
        Assert.Equal((Tail, true, "c2", new ReadCheckpoint(Tail, 0, "c2")), (chunk.NextOffset, chunk.UpToDate, chunk.Cursor, chunk.Checkpoint));
        Assert.Equal(("v", checkpoint, true, true), (item.Value, item.Checkpoint, item.UpToDate, item.StreamClosed));
        Assert.Equal((503, 2, Tail, false), (failure.Status, failure.Attempt, failure.Offset, failure.WillRetry));
        Assert.Equal(Tail, DurableStreamsModelFactory.CloseResult(Tail).FinalOffset);
        Assert.True(DurableStreamsModelFactory.AppendResult(Tail, streamClosed: true).StreamClosed);
    }

    [Fact]
    public void ModelFactory_ReadFailureContext_RejectsAttemptBelowOne()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => DurableStreamsModelFactory.ReadFailureContext(new FakeStream(), new IOException(), attempt: 0));
        Assert.Equal("attempt", ex.ParamName);
    }

    private sealed class FakeStream : DurableStream
    {
        public List<string> Appended { get; } = [];

        public override Uri Url { get; } = new("http://fake.test/v1/stream/s");

        public override async IAsyncEnumerable<StreamChunk> ReadAsync(ReadOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            yield return DurableStreamsModelFactory.StreamChunk("hello "u8.ToArray(), Offset.Beginning, new Offset("0000_0006"));
            yield return DurableStreamsModelFactory.StreamChunk(ReadOnlyMemory<byte>.Empty, new Offset("0000_0006"), new Offset("0000_0006"));
            yield return DurableStreamsModelFactory.StreamChunk("world"u8.ToArray(), new Offset("0000_0006"), new Offset("0000_0011"), upToDate: true);
        }

        public override Task<AppendResult> AppendAsync(ReadOnlyMemory<byte> data, AppendOptions? options = null, CancellationToken cancellationToken = default)
        {
            Appended.Add(Encoding.UTF8.GetString(data.Span));
            return Task.FromResult(DurableStreamsModelFactory.AppendResult(Tail));
        }
    }
}

/// <summary><see cref="DurableStream.ExistsAsync"/> answers "no" without an exception, and only for 404/410.</summary>
public sealed class ExistsTests
{
    [Theory]
    [InlineData(HttpStatusCode.OK, true)]
    [InlineData(HttpStatusCode.NotFound, false)]
    [InlineData(HttpStatusCode.Gone, false)]
    public async Task ExistsAsync_HeadAnswer_MapsToExistence(HttpStatusCode status, bool expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(status));
        using DurableStreamClient client = TestClients.Create(handler);

        bool exists = await client.GetStream(TestClients.StreamUrl).ExistsAsync(timeout.Token);

        Assert.Equal(expected, exists);
        Assert.Equal(HttpMethod.Head, handler.Requests.Single().Method);
    }

    [Theory]
    [InlineData(HttpStatusCode.Forbidden)]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    public async Task ExistsAsync_OtherFailure_ThrowsRatherThanAnsweringNo(HttpStatusCode status)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var handler = new RecordingHandler().ThenRespond(status);
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAnyAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).ExistsAsync(timeout.Token));

        Assert.Equal((int)status, ex.Status);
    }
}
