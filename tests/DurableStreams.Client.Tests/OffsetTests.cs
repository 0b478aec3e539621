namespace DurableStreams.Tests;

public sealed class OffsetTests
{
    [Fact]
    public void Default_IsBeginning_AndSentinelsHaveTheirWireValues()
    {
        Assert.Equal(Offset.Beginning, default);
        Assert.Equal("-1", Offset.Beginning.Value);
        Assert.Equal("now", Offset.Now.Value);
        Assert.True(new Offset("-1").IsBeginning);
        Assert.True(Offset.Now.IsNow);
    }

    [Fact]
    public void CompareTo_OrdersServerOffsetsOrdinallyAndSentinelsAtTheEnds()
    {
        var a = new Offset("0000000000000000_0000000000000010");
        var b = new Offset("0000000000000000_0000000000000020");

        Assert.True(a < b);
        Assert.True(Offset.Beginning < a);
        Assert.True(b < Offset.Now);
        Assert.Equal(0, a.CompareTo(new Offset(a.Value)));
    }

    [Fact]
    public void ToStringAndParse_RoundTrip()
    {
        var offset = new Offset("abc_123");

        Assert.Equal(offset, Offset.Parse(offset.ToString()));
        Assert.True(Offset.TryParse("abc_123", out Offset parsed));
        Assert.Equal(offset.GetHashCode(), parsed.GetHashCode());
    }
}
