namespace DurableStreams.Cli.Tests;

public sealed class StreamLocatorTests
{
    [Theory]
    [InlineData("orders", "http://localhost:4437", "http://localhost:4437/v1/stream/orders")]
    [InlineData("orders", "http://localhost:4437/", "http://localhost:4437/v1/stream/orders")]
    [InlineData("tenant-a/orders", "http://localhost:4437", "http://localhost:4437/v1/stream/tenant-a/orders")]
    [InlineData("/orders/", "https://streams.example/base", "https://streams.example/base/v1/stream/orders")]
    [InlineData("a b?c", "http://localhost:4437", "http://localhost:4437/v1/stream/a%20b%3Fc")]
    [InlineData("http://other:1234/v1/stream/x", "http://localhost:4437", "http://other:1234/v1/stream/x")]
    [InlineData("https://other/custom/path?token=1", null, "https://other/custom/path?token=1")]
    public void Resolve_NameOrUrl_GivesTheStreamUrl(string stream, string? server, string expected)
    {
        Assert.Equal(expected, StreamLocator.Resolve(stream, server).AbsoluteUri);
    }

    [Theory]
    [InlineData("orders", null, "STREAM_URL")]
    [InlineData("orders", "", "STREAM_URL")]
    [InlineData("orders", "localhost:4437", "not an absolute http(s) URL")]
    [InlineData("orders", "ftp://host", "not an absolute http(s) URL")]
    [InlineData("ftp://host/v1/stream/x", "http://localhost:4437", "not an http(s) URL")]
    [InlineData(" ", "http://localhost:4437", "cannot be empty")]
    public void Resolve_Unusable_ThrowsUsageException(string stream, string? server, string message)
    {
        UsageException error = Assert.Throws<UsageException>(() => StreamLocator.Resolve(stream, server));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }
}
