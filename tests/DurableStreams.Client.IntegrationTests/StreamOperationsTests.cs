using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DurableStreams.IntegrationTests;

[Collection(ReferenceServerCollection.Name)]
public sealed class StreamOperationsTests(ReferenceServerFixture server) : IDisposable
{
    private static readonly HttpClient Raw = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All });
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));
    private readonly DurableStreamClient _client = new(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _client.Dispose();
        _timeout.Dispose();
    }

    private static async Task<string> ReadAllRawAsync(string url)
    {
        using HttpResponseMessage response = await Raw.GetAsync(url + "?offset=-1");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task DevelopersSnippet_CreatesJsonStreamAndAppendsOneEvent()
    {
        string url = server.NewStreamUrl("snippet");

        // The usage from the project's public docs, verbatim apart from the URL.
        var stream = await DurableStream.CreateAsync(new CreateOptions {
            Url = url, ContentType = "application/json" });
        await stream.AppendAsync(new { Event = "user.created" });

        Assert.Equal("""[{"event":"user.created"}]""", await ReadAllRawAsync(url));
    }

    [Fact]
    public async Task CreateStreamAsync_SameConfigurationTwice_ReportsCreatedThenExisting()
    {
        var options = new CreateOptions { Url = server.NewStreamUrl(), ContentType = "text/plain" };

        CreateStreamResult first = await _client.CreateStreamAsync(options, Ct);
        CreateStreamResult second = await _client.CreateStreamAsync(options, Ct);

        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal(first.NextOffset, second.NextOffset);
        Assert.Equal("text/plain", first.ContentType);
        Assert.Equal("text/plain", first.Stream.ContentType);
    }

    [Fact]
    public async Task CreateStreamAsync_DifferentConfiguration_ThrowsConflictWithReason()
    {
        string url = server.NewStreamUrl();
        await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "text/plain" }, Ct);

        var ex = await Assert.ThrowsAsync<StreamConflictException>(() =>
            _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct));

        Assert.Equal(ConflictReason.ExistsWithDifferentConfiguration, ex.Reason);
        Assert.Equal(409, ex.Status);
        Assert.Equal(DurableStreamErrorCodes.Conflict, ex.ErrorCode);
        Assert.Contains(url, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateStreamAsync_WithTtl_HeadReportsTtl()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(), Ttl = TimeSpan.FromHours(1) }, Ct)).Stream;

        StreamMetadata metadata = await stream.HeadAsync(Ct);

        Assert.Equal(TimeSpan.FromHours(1), metadata.Ttl);
        Assert.Null(metadata.ExpiresAt);
        Assert.Equal("application/octet-stream", metadata.ContentType);
        Assert.False(metadata.StreamClosed);
    }

    [Fact]
    public async Task CreateStreamAsync_WithExpiresAt_HeadReportsExpiry()
    {
        var expiresAt = new DateTimeOffset(2099, 1, 2, 3, 4, 5, TimeSpan.Zero);
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(), ExpiresAt = expiresAt }, Ct)).Stream;

        StreamMetadata metadata = await stream.HeadAsync(Ct);

        Assert.Equal(expiresAt, metadata.ExpiresAt);
        Assert.Null(metadata.Ttl);
    }

    [Fact]
    public async Task CreateStreamAsync_ClosedWithInitialData_IsClosedAndHoldsTheData()
    {
        string url = server.NewStreamUrl();
        CreateStreamResult result = await _client.CreateStreamAsync(
            new CreateOptions { Url = url, ContentType = "text/plain", Closed = true, InitialData = "complete"u8.ToArray() }, Ct);

        StreamMetadata metadata = await result.Stream.HeadAsync(Ct);

        Assert.True(result.StreamClosed);
        Assert.True(metadata.StreamClosed);
        Assert.Equal(result.NextOffset, metadata.NextOffset);
        Assert.NotEqual(Offset.Beginning, metadata.NextOffset);
        Assert.Equal("complete", await ReadAllRawAsync(url));
    }

    [Fact]
    public async Task CreateStreamAsync_ContentTypeWithParameters_IsStoredVerbatim()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(), ContentType = "text/plain; charset=utf-8" }, Ct)).Stream;

        Assert.Equal("text/plain; charset=utf-8", (await stream.HeadAsync(Ct)).ContentType);
    }

    [Fact]
    public async Task AppendAsync_BytesTextAndStream_AreStoredInOrder()
    {
        string url = server.NewStreamUrl();
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/octet-stream" }, Ct)).Stream;

        AppendResult a = await stream.AppendAsync(new byte[] { 0x00, 0xFF }, cancellationToken: Ct);
        AppendResult b = await stream.AppendAsync("text", cancellationToken: Ct);
        using var body = new MemoryStream(Encoding.UTF8.GetBytes("-from-a-stream"));
        AppendResult c = await stream.AppendAsync(body, cancellationToken: Ct);

        Assert.True(a.NextOffset < b.NextOffset);
        Assert.True(b.NextOffset < c.NextOffset);
        Assert.Equal(c.NextOffset, (await stream.HeadAsync(Ct)).NextOffset);
        using HttpResponseMessage raw = await Raw.GetAsync(url + "?offset=-1", Ct);
        Assert.Equal([0x00, 0xFF, .. "text-from-a-stream"u8.ToArray()], await raw.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task AppendAsync_LargeNonSeekableStream_IsSentChunkedAndStoredWhole()
    {
        string url = server.NewStreamUrl();
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = url }, Ct)).Stream;
        byte[] payload = new byte[3 * 1024 * 1024];
        new Random(42).NextBytes(payload);

        await stream.AppendAsync(new NonSeekableStream(payload), cancellationToken: Ct);

        using HttpResponseMessage raw = await Raw.GetAsync(url + "?offset=-1", Ct);
        Assert.Equal(payload, await raw.Content.ReadAsByteArrayAsync(Ct));
    }

    [Fact]
    public async Task AppendAsync_JsonValuesOnJsonStream_StoreOneMessagePerCallArraysIncluded()
    {
        string url = server.NewStreamUrl();
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct)).Stream;

        await stream.AppendAsync(new[] { 1, 2 }, cancellationToken: Ct);
        await stream.AppendAsync(new Order("o-1", 3), TestJsonContext.Default.Order, cancellationToken: Ct);
        await stream.AppendAsync("""[{"raw":true}]""", cancellationToken: Ct);
        await stream.AppendAsync("""{"bytes":1}"""u8.ToArray(), cancellationToken: Ct);

        using JsonDocument all = JsonDocument.Parse(await ReadAllRawAsync(url));
        Assert.Equal(4, all.RootElement.GetArrayLength());
        Assert.Equal("[1,2]", all.RootElement[0].GetRawText());
        Assert.Equal("""{"Id":"o-1","Quantity":3}""", all.RootElement[1].GetRawText());
        Assert.Equal("""[{"raw":true}]""", all.RootElement[2].GetRawText());
        Assert.Equal("""{"bytes":1}""", all.RootElement[3].GetRawText());
    }

    [Fact]
    public async Task AppendAsync_WithoutKnownContentType_LearnsItWithHead()
    {
        string url = server.NewStreamUrl();
        await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct);
        DurableStream fresh = _client.GetStream(url);
        Assert.Null(fresh.ContentType);

        await fresh.AppendAsync(new { A = 1 }, cancellationToken: Ct);

        Assert.Equal("application/json", fresh.ContentType);
        Assert.Equal("""[{"a":1}]""", await ReadAllRawAsync(url));
    }

    [Fact]
    public async Task AppendAsync_StreamSeqRegression_ThrowsSequenceConflict()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(), ContentType = "text/plain" }, Ct)).Stream;
        await stream.AppendAsync("a", new AppendOptions { Sequence = "0002" }, Ct);

        var ex = await Assert.ThrowsAsync<StreamConflictException>(() => stream.AppendAsync("b", new AppendOptions { Sequence = "0001" }, Ct));

        Assert.Equal(ConflictReason.SequenceConflict, ex.Reason);
        Assert.Equal(DurableStreamErrorCodes.SequenceConflict, ex.ErrorCode);
    }

    [Fact]
    public async Task AppendAsync_ContentTypeMismatch_ThrowsConflictWithReason()
    {
        string url = server.NewStreamUrl();
        await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct);
        DurableStream wrongType = _client.GetStream(url, "text/plain");

        var ex = await Assert.ThrowsAsync<StreamConflictException>(() => wrongType.AppendAsync("x", cancellationToken: Ct));

        Assert.Equal(ConflictReason.ContentTypeMismatch, ex.Reason);
    }

    [Fact]
    public async Task AppendAsync_MissingStream_ThrowsNotFoundNamingTheUrl()
    {
        string url = server.NewStreamUrl("missing");
        DurableStream stream = _client.GetStream(url, "text/plain");

        var ex = await Assert.ThrowsAsync<StreamNotFoundException>(() => stream.AppendAsync("x", cancellationToken: Ct));

        Assert.Equal(404, ex.Status);
        Assert.Equal(new Uri(url), ex.StreamUrl);
        Assert.Contains(url, ex.Message, StringComparison.Ordinal);
        Assert.Contains("POST", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AppendAsync_InvalidJsonOnJsonStream_ThrowsBadRequest()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(), ContentType = "application/json" }, Ct)).Stream;

        var ex = await Assert.ThrowsAsync<StreamBadRequestException>(() => stream.AppendAsync("{not json", cancellationToken: Ct));

        Assert.Equal(DurableStreamErrorCodes.BadRequest, ex.ErrorCode);
    }

    [Fact]
    public async Task CloseAsync_CloseOnly_IsIdempotentAndReturnsTheFinalOffset()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(), ContentType = "text/plain" }, Ct)).Stream;
        AppendResult appended = await stream.AppendAsync("last", cancellationToken: Ct);

        CloseResult first = await stream.CloseAsync(Ct);
        CloseResult second = await stream.CloseAsync(Ct);

        Assert.Equal(appended.NextOffset, first.FinalOffset);
        Assert.Equal(first.FinalOffset, second.FinalOffset);
        Assert.True((await stream.HeadAsync(Ct)).StreamClosed);
    }

    [Fact]
    public async Task AppendAsync_AfterClose_ThrowsClosedWithFinalOffset()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl(), ContentType = "text/plain" }, Ct)).Stream;
        CloseResult closed = await stream.CloseAsync(Ct);

        var ex = await Assert.ThrowsAsync<StreamClosedException>(() => stream.AppendAsync("late", cancellationToken: Ct));

        Assert.Equal(closed.FinalOffset, ex.FinalOffset);
        Assert.Equal(ConflictReason.StreamClosed, ex.Reason);
        Assert.Equal(DurableStreamErrorCodes.StreamClosed, ex.ErrorCode);
    }

    [Fact]
    public async Task CloseAsync_WithFinalMessage_AppendsAndClosesAtomically()
    {
        string url = server.NewStreamUrl();
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct)).Stream;
        await stream.AppendAsync(new { Step = 1 }, cancellationToken: Ct);

        CloseResult result = await stream.CloseAsync(new { Done = true }, cancellationToken: Ct);

        StreamMetadata metadata = await stream.HeadAsync(Ct);
        Assert.True(metadata.StreamClosed);
        Assert.Equal(result.FinalOffset, metadata.NextOffset);
        Assert.Equal("""[{"step":1},{"done":true}]""", await ReadAllRawAsync(url));
        await Assert.ThrowsAsync<StreamClosedException>(() => stream.CloseAsync("again", cancellationToken: Ct));
    }

    [Fact]
    public async Task DeleteAsync_ExistingStream_RemovesIt()
    {
        DurableStream stream = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl() }, Ct)).Stream;

        await stream.DeleteAsync(Ct);

        await Assert.ThrowsAsync<StreamNotFoundException>(() => stream.HeadAsync(Ct));
        await Assert.ThrowsAsync<StreamNotFoundException>(() => stream.DeleteAsync(Ct));
    }

    [Fact]
    public async Task HeadAsync_MissingStream_ThrowsNotFound()
    {
        string url = server.NewStreamUrl("missing");

        var ex = await Assert.ThrowsAsync<StreamNotFoundException>(() => _client.GetStream(url).HeadAsync(Ct));

        Assert.Contains(url, ex.Message, StringComparison.Ordinal);
        Assert.Contains("HEAD", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_ExistingStream_LearnsContentType_MissingStream_Throws()
    {
        string url = server.NewStreamUrl();
        await _client.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "text/csv" }, Ct);

        DurableStream connected = await DurableStream.ConnectAsync(url, Ct);

        Assert.Equal("text/csv", connected.ContentType);
        await Assert.ThrowsAsync<StreamNotFoundException>(() => DurableStream.ConnectAsync(server.NewStreamUrl("missing"), Ct));
    }

    [Fact]
    public async Task ForkAsync_AtAnOffset_InheritsDataBeforeItAndTheContentType()
    {
        string sourceUrl = server.NewStreamUrl("source");
        DurableStream source = (await _client.CreateStreamAsync(new CreateOptions { Url = sourceUrl, ContentType = "application/json" }, Ct)).Stream;
        AppendResult first = await source.AppendAsync(new { N = 1 }, cancellationToken: Ct);
        await source.AppendAsync(new { N = 2 }, cancellationToken: Ct);
        string forkUrl = server.NewStreamUrl("fork");

        CreateStreamResult fork = await source.ForkAsync(new ForkOptions { Url = forkUrl, Offset = first.NextOffset }, Ct);
        await fork.Stream.AppendAsync(new { N = 3 }, cancellationToken: Ct);

        Assert.True(fork.Created);
        Assert.Equal("application/json", fork.ContentType);
        Assert.Equal("""[{"n":1},{"n":3}]""", await ReadAllRawAsync(forkUrl));
        Assert.Equal("""[{"n":1},{"n":2}]""", await ReadAllRawAsync(sourceUrl));
    }

    [Fact]
    public async Task ForkAsync_WithSubOffset_InheritsThatManyMessagesPastTheOffset()
    {
        string sourceUrl = server.NewStreamUrl("source");
        CreateStreamResult created = await _client.CreateStreamAsync(new CreateOptions { Url = sourceUrl, ContentType = "application/json" }, Ct);
        // One POST of a three-element array stores three messages; the sub-offset splits it.
        using (var batch = new StringContent("""[{"n":1},{"n":2},{"n":3}]""", Encoding.UTF8, "application/json"))
        {
            (await Raw.PostAsync(sourceUrl, batch, Ct)).EnsureSuccessStatusCode();
        }

        string forkUrl = server.NewStreamUrl("fork");
        CreateStreamResult fork = await created.Stream.ForkAsync(new ForkOptions { Url = forkUrl, Offset = created.NextOffset, SubOffset = 2 }, Ct);

        Assert.True(fork.Created);
        Assert.Equal("""[{"n":1},{"n":2}]""", await ReadAllRawAsync(forkUrl));
    }

    [Fact]
    public async Task ForkAsync_MissingSource_ThrowsNotFound()
    {
        DurableStream missing = _client.GetStream(server.NewStreamUrl("missing"));

        await Assert.ThrowsAsync<StreamNotFoundException>(() => missing.ForkAsync(new ForkOptions { Url = server.NewStreamUrl("fork") }, Ct));
    }

    [Fact]
    public async Task ForkAsync_OffsetBeyondTail_ThrowsBadRequest()
    {
        DurableStream source = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl("source"), ContentType = "text/plain" }, Ct)).Stream;
        DurableStream other = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl("other"), ContentType = "text/plain" }, Ct)).Stream;
        AppendResult far = await other.AppendAsync(new string('x', 1000), cancellationToken: Ct);

        await Assert.ThrowsAsync<StreamBadRequestException>(() => source.ForkAsync(new ForkOptions { Url = server.NewStreamUrl("fork"), Offset = far.NextOffset }, Ct));
    }

    [Fact]
    public async Task ForkAsync_DifferentContentType_ThrowsConflict()
    {
        DurableStream source = (await _client.CreateStreamAsync(new CreateOptions { Url = server.NewStreamUrl("source"), ContentType = "text/plain" }, Ct)).Stream;

        await Assert.ThrowsAsync<StreamConflictException>(() => source.ForkAsync(new ForkOptions { Url = server.NewStreamUrl("fork"), ContentType = "application/json" }, Ct));
    }

    [Fact]
    public async Task DeleteAsync_SourceWithFork_SoftDeletesSoSourceIsGoneButForkReadable()
    {
        string sourceUrl = server.NewStreamUrl("source");
        DurableStream source = (await _client.CreateStreamAsync(new CreateOptions { Url = sourceUrl, ContentType = "text/plain" }, Ct)).Stream;
        await source.AppendAsync("inherited", cancellationToken: Ct);
        string forkUrl = server.NewStreamUrl("fork");
        await source.ForkAsync(new ForkOptions { Url = forkUrl }, Ct);

        await source.DeleteAsync(Ct);

        var ex = await Assert.ThrowsAsync<StreamGoneException>(() => source.HeadAsync(Ct));
        Assert.Equal(410, ex.Status);
        Assert.Equal("inherited", await ReadAllRawAsync(forkUrl));
    }

    [Fact]
    public async Task CreateStreamAsync_ServerRejectsExpiryInThePastOrBadTtl_ThrowsBadRequest()
    {
        var options = new CreateOptions { Url = server.NewStreamUrl() };
        options.Headers["Stream-TTL"] = "03600";

        var ex = await Assert.ThrowsAsync<StreamBadRequestException>(() => _client.CreateStreamAsync(options, Ct));

        Assert.Equal(DurableStreamErrorCodes.BadRequest, ex.ErrorCode);
    }

    private sealed class NonSeekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}

public sealed record Order(string Id, int Quantity);

[JsonSerializable(typeof(Order))]
internal sealed partial class TestJsonContext : JsonSerializerContext;
