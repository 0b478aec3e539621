using DurableStreams.Transport.Internal;

namespace DurableStreams.Tests;

/// <summary>
/// Pins the request-kind table (<see cref="RequestPolicy.Of"/>): a change to how any kind of
/// request is retried or streamed must change this test too, on purpose.
/// </summary>
public sealed class RequestPolicyTests
{
    // Names, not the internal enums, so the public test methods can take them.
    public static TheoryData<string, string, bool, bool> Table => new()
    {
        // kind, which failures are retried, Polly retries (else one attempt), streamed response
        { nameof(RequestKind.Control), nameof(RetryScope.Safe), true, false },
        { nameof(RequestKind.PlainAppend), nameof(RetryScope.UnsafeBody), true, false },
        { nameof(RequestKind.OneShotAppend), nameof(RetryScope.Never), false, false },
        { nameof(RequestKind.ProducerBatch), nameof(RetryScope.Safe), false, false },
        { nameof(RequestKind.CatchUpRead), nameof(RetryScope.Safe), false, true },
        { nameof(RequestKind.LiveRead), nameof(RetryScope.Safe), false, true },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Of_EachKind_HasItsPinnedPolicy(string kind, string retry, bool pollyRetries, bool streamedResponse)
    {
        Assert.Equal(
            new RequestPolicy(Enum.Parse<RetryScope>(retry), pollyRetries, streamedResponse),
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
