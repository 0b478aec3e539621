namespace DurableStreams.IntegrationTests.Subscriptions;

[Collection(SubscriptionServerCollection.Name)]
public sealed class PullWakeLeaseTests(SubscriptionServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
    private readonly SubscriptionTestContext _a = new(server);
    private readonly SubscriptionTestContext _b = new(server);

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        _timeout.Dispose();
    }

    /// <summary>A subscription over one stream (plus its wake stream), leased for <paramref name="ttl"/>.</summary>
    private async Task<(string Id, string Path, DurableStream Stream, DurableStream Wake)> SetUpAsync(TimeSpan ttl)
    {
        string path = $"{_a.Prefix}/orders/1";
        DurableStream stream = await _a.CreateJsonStreamAsync(path, Ct);
        DurableStream wake = await _a.CreateJsonStreamAsync($"{_a.Prefix}/wake", Ct);
        string id = _a.NewId();
        await _a.Subscriptions.CreateAsync(id, new SubscriptionOptions { Pattern = $"{_a.Prefix}/orders/*", WakeStream = $"{_a.Prefix}/wake", LeaseTtl = ttl }, Ct);
        return (id, path, stream, wake);
    }

    private async Task<SubscriptionLease> ClaimWhenFreeAsync(SubscriptionTestContext ctx, string id, string worker)
    {
        while (true)
        {
            try
            {
                return await ctx.Subscriptions.ClaimAsync(id, worker, Ct);
            }
            catch (SubscriptionAlreadyClaimedException)
            {
                await Task.Delay(100, Ct);
            }
        }
    }

    [Fact]
    public async Task ClaimAsync_NothingPending_ThrowsNoPendingWork()
    {
        (string id, _, _, _) = await SetUpAsync(TimeSpan.FromSeconds(5));

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => _a.Subscriptions.ClaimAsync(id, "w1", Ct));

        Assert.Equal(DurableStreamErrorCodes.NoPendingWork, ex.ErrorCode);
        Assert.Equal(409, ex.Status);
    }

    [Fact]
    public async Task ClaimAsync_AfterAppend_WakeEventWrittenLeaseCarriesOffsetsAndRivalIsRefused()
    {
        (string id, string path, DurableStream stream, DurableStream wake) = await SetUpAsync(TimeSpan.FromSeconds(5));
        SubscriptionInfo before = await _a.Subscriptions.GetAsync(id, Ct);
        AppendResult appended = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);

        await using SubscriptionLease lease = await _a.Subscriptions.ClaimAsync(id, "w1", Ct);
        var rival = await Assert.ThrowsAsync<SubscriptionAlreadyClaimedException>(() => _b.Subscriptions.ClaimAsync(id, "w2", Ct));
        IReadOnlyList<System.Text.Json.JsonElement> wakes = await wake.ReadAllJsonAsync<System.Text.Json.JsonElement>(cancellationToken: Ct);

        SubscriptionWakeStream pending = Assert.Single(lease.Streams);
        Assert.Equal(path, pending.Path);
        Assert.Equal(before.Streams[0].AckedOffset, pending.AckedOffset);
        Assert.Equal(appended.NextOffset, pending.TailOffset);
        Assert.True(pending.HasPending);
        Assert.Equal("w1", rival.CurrentHolder);
        Assert.Equal(lease.Generation, rival.Generation);
        System.Text.Json.JsonElement wakeEvent = Assert.Single(wakes);
        Assert.Equal(id, wakeEvent.GetProperty("subscription_id").GetString());
        Assert.Equal(lease.Generation, wakeEvent.GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task AckThenCompleteAsync_MoveCursorAndReleaseTheLease()
    {
        (string id, string path, DurableStream stream, _) = await SetUpAsync(TimeSpan.FromSeconds(5));
        AppendResult first = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        AppendResult second = await stream.AppendAsync(new { n = 2 }, cancellationToken: Ct);
        SubscriptionLease lease = await _a.Subscriptions.ClaimAsync(id, "w1", Ct);

        await lease.AckAsync([new SubscriptionAck(path, first.NextOffset)], Ct);
        await lease.HeartbeatAsync(Ct);
        SubscriptionInfo midway = await _a.Subscriptions.GetAsync(id, Ct);
        SubscriptionAckResult done = await lease.CompleteAsync([new SubscriptionAck(path, second.NextOffset)], Ct);
        SubscriptionInfo after = await _a.Subscriptions.GetAsync(id, Ct);
        var nothingLeft = await Assert.ThrowsAsync<DurableStreamException>(() => _b.Subscriptions.ClaimAsync(id, "w2", Ct));
        await lease.DisposeAsync();

        Assert.Equal(first.NextOffset, midway.Streams[0].AckedOffset);
        Assert.Equal(second.NextOffset, after.Streams[0].AckedOffset);
        Assert.False(done.NextWake);
        Assert.Equal(SubscriptionLeaseState.Completed, lease.State);
        Assert.Equal(DurableStreamErrorCodes.NoPendingWork, nothingLeft.ErrorCode);
        await Assert.ThrowsAsync<InvalidOperationException>(() => lease.HeartbeatAsync(Ct));
    }

    [Fact]
    public async Task AckAsync_OffsetBeyondTail_ThrowsInvalidOffsetAndLeaseStaysActive()
    {
        (string id, string path, DurableStream stream, _) = await SetUpAsync(TimeSpan.FromSeconds(5));
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        await using SubscriptionLease lease = await _a.Subscriptions.ClaimAsync(id, "w1", Ct);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => lease.AckAsync([new SubscriptionAck(path, new Offset("9999999999999999_9999999999999999"))], Ct));

        Assert.Equal(DurableStreamErrorCodes.InvalidOffset, ex.ErrorCode);
        Assert.Equal(SubscriptionLeaseState.Active, lease.State);
    }

    [Fact]
    public async Task ReleaseAsync_WorkPending_AnotherWorkerClaimsTheNextGeneration()
    {
        (string id, _, DurableStream stream, _) = await SetUpAsync(TimeSpan.FromSeconds(5));
        await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        SubscriptionLease first = await _a.Subscriptions.ClaimAsync(id, "w1", Ct);

        await first.ReleaseAsync(Ct);
        await using SubscriptionLease second = await _b.Subscriptions.ClaimAsync(id, "w2", Ct);

        Assert.Equal(SubscriptionLeaseState.Released, first.State);
        Assert.True(second.Generation > first.Generation);
        Assert.NotEqual(first.WakeId, second.WakeId);
        Assert.Equal(first.Streams[0].AckedOffset, second.Streams[0].AckedOffset);
    }

    [Fact]
    public async Task Lease_HeldLongerThanItsTtl_StaysHeldThroughBackgroundHeartbeats()
    {
        // A 2 s TTL: the lease renews every third of it, so a heartbeat may come up to 1.3 s late
        // before the server lets the lease go (with 1 s, a CI machine busy with parallel test runs
        // delayed one by more than the 0.67 s that left, and the rival got the lease).
        (string id, string path, DurableStream stream, _) = await SetUpAsync(TimeSpan.FromSeconds(2));
        AppendResult appended = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        SubscriptionLease lease = await _a.Subscriptions.ClaimAsync(id, "slow", Ct);

        // A "handler" that works for three TTLs; a rival keeps trying meanwhile.
        for (int i = 0; i < 6; i++)
        {
            await Task.Delay(1_000, Ct);
            var rival = await Assert.ThrowsAsync<SubscriptionAlreadyClaimedException>(() => _b.Subscriptions.ClaimAsync(id, "rival", Ct));
            Assert.Equal("slow", rival.CurrentHolder);
            Assert.Equal(lease.Generation, rival.Generation);
        }

        await lease.CompleteAsync([new SubscriptionAck(path, appended.NextOffset)], Ct);
        await lease.DisposeAsync();

        Assert.Equal(appended.NextOffset, (await _a.Subscriptions.GetAsync(id, Ct)).Streams[0].AckedOffset);
        Assert.False(lease.Lost.IsCancellationRequested);
    }

    [Fact]
    public async Task AckAsync_StaleWorkerAfterLeaseExpired_IsFencedAndChangesNothing()
    {
        (string id, string path, DurableStream stream, _) = await SetUpAsync(TimeSpan.FromSeconds(1));
        AppendResult first = await stream.AppendAsync(new { n = 1 }, cancellationToken: Ct);
        AppendResult second = await stream.AppendAsync(new { n = 2 }, cancellationToken: Ct);
        SubscriptionLease stale = await _a.Subscriptions.ClaimAsync(id, "stale", Ct);

        // The stale worker's heartbeats stop reaching the server (it believes they did), so the
        // server expires its lease and wakes the subscription again.
        _a.SwallowHeartbeats = true;
        await using SubscriptionLease current = await ClaimWhenFreeAsync(_b, id, "current");
        await current.AckAsync([new SubscriptionAck(path, first.NextOffset)], Ct);
        _a.SwallowHeartbeats = false;

        var ex = await Assert.ThrowsAsync<SubscriptionFencedException>(() => stale.AckAsync([new SubscriptionAck(path, second.NextOffset)], Ct));
        var again = await Assert.ThrowsAsync<SubscriptionFencedException>(() => stale.CompleteAsync([new SubscriptionAck(path, second.NextOffset)], Ct));
        SubscriptionInfo after = await _a.Subscriptions.GetAsync(id, Ct);

        Assert.True(_a.SwallowedHeartbeats > 0);
        Assert.True(current.Generation > stale.Generation);
        Assert.Equal(stale.Generation, ex.Generation);
        Assert.Equal(DurableStreamErrorCodes.Fenced, again.ErrorCode);
        Assert.Equal(SubscriptionLeaseState.Fenced, stale.State);
        Assert.True(stale.Lost.IsCancellationRequested);
        Assert.Equal(first.NextOffset, after.Streams[0].AckedOffset);
        Assert.Equal(SubscriptionLeaseState.Active, current.State);
        await stale.DisposeAsync();
    }
}
