namespace DurableStreams.Tests;

internal static class TestClients
{
    public const string StreamUrl = "http://streams.test/v1/stream/orders";

    /// <summary>Retry options with tiny delays so retry tests run in milliseconds without a fake clock.</summary>
    public static RetryOptions FastRetry(int maxRetries = 3) =>
        new(maxRetries, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), multiplier: 1.0, jitter: false);

    public static DurableStreamClient Create(HttpMessageHandler handler, Action<DurableStreamClientOptions>? configure = null)
    {
        var options = new DurableStreamClientOptions { Retry = FastRetry(), ReadRetry = FastRetry() };
        configure?.Invoke(options);
        return new DurableStreamClient(new HttpClient(handler), options, disposeHttpClient: true);
    }
}
