using DurableStreams.Internal;

namespace DurableStreams.Tests;

/// <summary>The request URL's query: the stream URL's own query first, then parameters ordered by key (PROTOCOL.md §10.1).</summary>
public sealed class UrlUtilitiesTests
{
    [Fact]
    public void WithQuery_ParametersOutOfOrderWithADuplicateKey_SortsByKeyAndKeepsDuplicatesInTheirOrder()
    {
        var url = new Uri("http://streams.test/v1/stream/s?tenant=a");
        List<KeyValuePair<string, string>> parameters =
        [
            new("offset", "0000_0001"),
            new("live", "long-poll"),
            new("b", "2"),
            new("cursor", "c 1"),
            new("b", "1"),
            new("a", "x/y"),
        ];

        Uri result = UrlUtilities.WithQuery(url, parameters);

        Assert.Equal("http://streams.test/v1/stream/s?tenant=a&a=x%2Fy&b=2&b=1&cursor=c%201&live=long-poll&offset=0000_0001", result.AbsoluteUri);
    }

    [Fact]
    public void WithQuery_NoParameters_ReturnsTheUrlItself()
    {
        var url = new Uri("http://streams.test/v1/stream/s");

        Assert.Same(url, UrlUtilities.WithQuery(url, []));
    }
}
