namespace DurableStreams.IntegrationTests.Subscriptions;

[Collection(SubscriptionServerCollection.Name)]
public sealed class SubscriptionManagementTests(SubscriptionServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));
    private readonly SubscriptionTestContext _ctx = new(server);

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _ctx.Dispose();
        _timeout.Dispose();
    }

    private SubscriptionOptions PullWake(string? pattern = null, params string[] streams)
    {
        var options = new SubscriptionOptions { Type = SubscriptionType.PullWake, Pattern = pattern, WakeStream = $"{_ctx.Prefix}/wake" };
        foreach (string stream in streams)
        {
            options.Streams.Add(stream);
        }

        return options;
    }

    [Fact]
    public async Task CreateAsync_NewThenIdentical_ReportsCreatedThenConfirmedWithEveryField()
    {
        DurableStream existing = await _ctx.CreateJsonStreamAsync($"{_ctx.Prefix}/orders/1", Ct);
        AppendResult appended = await existing.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        string id = _ctx.NewId();
        SubscriptionOptions options = PullWake($"{_ctx.Prefix}/orders/*", $"{_ctx.Prefix}/manual/a");
        options.LeaseTtl = TimeSpan.FromSeconds(5);
        options.Description = "order processor";

        CreateSubscriptionResult first = await _ctx.Subscriptions.CreateAsync(id, options, Ct);
        CreateSubscriptionResult second = await _ctx.Subscriptions.CreateAsync(id, options, Ct);

        Assert.True(first.Created);
        Assert.False(second.Created);
        SubscriptionInfo info = first.Subscription;
        Assert.Equal(id, info.Id);
        Assert.Equal(SubscriptionType.PullWake, info.Type);
        Assert.Equal($"{_ctx.Prefix}/orders/*", info.Pattern);
        Assert.Equal($"{_ctx.Prefix}/wake", info.WakeStream);
        Assert.Equal(TimeSpan.FromSeconds(5), info.LeaseTtl);
        Assert.Equal("order processor", info.Description);
        Assert.Equal(SubscriptionStatus.Active, info.Status);
        Assert.NotNull(info.CreatedAt);
        Assert.Null(info.WebhookUrl);
        Assert.Null(info.WebhookSigning);

        // PROTOCOL.md §6.2: an existing matching stream is linked at its current tail (no replay).
        SubscriptionStreamLink glob = Assert.Single(info.Streams, s => s.Path == $"{_ctx.Prefix}/orders/1");
        Assert.Equal(SubscriptionLinkType.Glob, glob.LinkType);
        Assert.Equal(appended.NextOffset, glob.AckedOffset);
        SubscriptionStreamLink manual = Assert.Single(info.Streams, s => s.Path == $"{_ctx.Prefix}/manual/a");
        Assert.Equal(SubscriptionLinkType.Explicit, manual.LinkType);
    }

    [Fact]
    public async Task CreateAsync_SameIdDifferentConfiguration_ThrowsSubscriptionConflictException()
    {
        string id = _ctx.NewId();
        await _ctx.Subscriptions.CreateAsync(id, PullWake($"{_ctx.Prefix}/a/*"), Ct);

        var ex = await Assert.ThrowsAsync<SubscriptionConflictException>(() => _ctx.Subscriptions.CreateAsync(id, PullWake($"{_ctx.Prefix}/b/*"), Ct));

        Assert.Equal(409, ex.Status);
        Assert.Equal(DurableStreamErrorCodes.SubscriptionAlreadyExists, ex.ErrorCode);
        Assert.Equal(id, ex.SubscriptionId);
        Assert.IsAssignableFrom<DurableStreamException>(ex);
    }

    [Fact]
    public async Task CreateAsync_WebhookOnServerWithoutWebhooks_ThrowsBadRequest()
    {
        var options = new SubscriptionOptions { Type = SubscriptionType.Webhook, Pattern = $"{_ctx.Prefix}/*", WebhookUrl = new Uri("http://127.0.0.1:9/hook") };

        var ex = await Assert.ThrowsAsync<StreamBadRequestException>(() => _ctx.Subscriptions.CreateAsync(_ctx.NewId(), options, Ct));

        Assert.Equal(DurableStreamErrorCodes.BadRequest, ex.ErrorCode);
        Assert.Contains("not enabled", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAsync_UnknownId_ThrowsSubscriptionNotFoundException()
    {
        string id = _ctx.NewId();

        var ex = await Assert.ThrowsAsync<SubscriptionNotFoundException>(() => _ctx.Subscriptions.GetAsync(id, Ct));

        Assert.Equal(404, ex.Status);
        Assert.Equal(DurableStreamErrorCodes.SubscriptionNotFound, ex.ErrorCode);
        Assert.Equal(id, ex.SubscriptionId);
    }

    [Fact]
    public async Task DeleteAsync_ExistingThenAgain_RemovesItAndSucceedsTwice()
    {
        string id = _ctx.NewId();
        await _ctx.Subscriptions.CreateAsync(id, PullWake($"{_ctx.Prefix}/*"), Ct);

        await _ctx.Subscriptions.DeleteAsync(id, Ct);
        await _ctx.Subscriptions.DeleteAsync(id, Ct);

        await Assert.ThrowsAsync<SubscriptionNotFoundException>(() => _ctx.Subscriptions.GetAsync(id, Ct));
    }

    [Fact]
    public async Task AddStreamsAsync_StreamAlsoMatchedByGlob_ShowsExplicitAndRemovingItLeavesGlob()
    {
        string path = $"{_ctx.Prefix}/orders/7";
        await _ctx.CreateJsonStreamAsync(path, Ct);
        string id = _ctx.NewId();
        await _ctx.Subscriptions.CreateAsync(id, PullWake($"{_ctx.Prefix}/orders/*"), Ct);

        await _ctx.Subscriptions.AddStreamsAsync(id, [path, $"{_ctx.Prefix}/deep/er/x"], Ct);
        await _ctx.Subscriptions.AddStreamsAsync(id, [path], Ct);
        SubscriptionInfo added = await _ctx.Subscriptions.GetAsync(id, Ct);

        await _ctx.Subscriptions.RemoveStreamAsync(id, path, Ct);
        await _ctx.Subscriptions.RemoveStreamAsync(id, $"{_ctx.Prefix}/deep/er/x", Ct);
        await _ctx.Subscriptions.RemoveStreamAsync(id, $"{_ctx.Prefix}/never/linked", Ct);
        SubscriptionInfo removed = await _ctx.Subscriptions.GetAsync(id, Ct);

        Assert.Equal(SubscriptionLinkType.Explicit, Assert.Single(added.Streams, s => s.Path == path).LinkType);
        Assert.Equal(SubscriptionLinkType.Explicit, Assert.Single(added.Streams, s => s.Path == $"{_ctx.Prefix}/deep/er/x").LinkType);
        Assert.Equal(2, added.Streams.Count);
        Assert.Equal(SubscriptionLinkType.Glob, Assert.Single(removed.Streams).LinkType);
        Assert.Equal(path, removed.Streams[0].Path);
    }

    [Fact]
    public async Task AddStreamsAsync_UnknownSubscription_ThrowsSubscriptionNotFoundException()
    {
        await Assert.ThrowsAsync<SubscriptionNotFoundException>(() => _ctx.Subscriptions.AddStreamsAsync(_ctx.NewId(), ["x/y"], Ct));
        await Assert.ThrowsAsync<SubscriptionNotFoundException>(() => _ctx.Subscriptions.RemoveStreamAsync(_ctx.NewId(), "x/y", Ct));
    }

    [Fact]
    public async Task GetStream_RelativePath_AddressesTheSameStreamAsTheClient()
    {
        string path = $"{_ctx.Prefix}/same/stream";
        await _ctx.CreateJsonStreamAsync(path, Ct);

        DurableStream viaSubscriptions = _ctx.Subscriptions.GetStream(path);

        Assert.Equal(new Uri(_ctx.StreamRoot, path), viaSubscriptions.Url);
        Assert.Equal("application/json", (await viaSubscriptions.HeadAsync(Ct)).ContentType);
    }
}
