using DurableStreams.Transport.Internal;

namespace DurableStreams.Tests;

/// <summary>
/// Pins the request-kind table (<see cref="RequestPolicy.Of"/>): a change to how any kind of
/// request is retried, streamed or timed out must change this test too, on purpose.
/// </summary>
public sealed class RequestPolicyTests
{
    // Names, not the internal enums, so the public test methods can take them.
    public static TheoryData<string, string, bool, bool, bool> Table => new()
    {
        // kind, which failures are retried, Polly retries (else one attempt), streamed response, per-attempt timeout
        { nameof(RequestKind.Control), nameof(RetryScope.Safe), true, false, true },
        { nameof(RequestKind.PlainAppend), nameof(RetryScope.UnsafeBody), true, false, true },
        { nameof(RequestKind.OneShotAppend), nameof(RetryScope.Never), false, false, true },
        { nameof(RequestKind.ProducerBatch), nameof(RetryScope.Safe), false, false, true },
        { nameof(RequestKind.CatchUpRead), nameof(RetryScope.Safe), false, true, true },
        { nameof(RequestKind.LiveRead), nameof(RetryScope.Safe), false, true, true },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Of_EachKind_HasItsPinnedPolicy(string kind, string retry, bool pollyRetries, bool streamedResponse, bool attemptTimeout)
    {
        Assert.Equal(
            new RequestPolicy(Enum.Parse<RetryScope>(retry), pollyRetries, streamedResponse, attemptTimeout),
            RequestPolicy.Of(Enum.Parse<RequestKind>(kind)));
    }

    [Fact]
    public void Of_EveryKind_IsInThePinnedTable()
    {
        var pinned = Table.Select(row => Enum.Parse<RequestKind>((string)row[0])).ToHashSet();
        Assert.Equal(Enum.GetValues<RequestKind>().ToHashSet(), pinned);
    }

    [Fact]
    public void Of_UnknownKind_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RequestPolicy.Of((RequestKind)99));
    }

    [Fact]
    public void StreamRequest_Constructed_CarriesThePolicyOfItsKind()
    {
        var request = new StreamRequest(HttpMethod.Get, new Uri("http://streams.test/s"), "read", RequestKind.LiveRead);

        Assert.Equal(RequestKind.LiveRead, request.Kind);
        Assert.Equal(RequestPolicy.Of(RequestKind.LiveRead), request.Policy);
    }
}
