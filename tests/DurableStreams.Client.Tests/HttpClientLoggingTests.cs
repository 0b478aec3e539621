using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace DurableStreams.Tests;

/// <summary>The DI-configured HttpClient does not log four Information lines per request.</summary>
public sealed class HttpClientLoggingTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    private static ServiceProvider Build(FakeLogCollector collector, RecordingHandler handler, bool restoreDefaultLogger)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Information).AddProvider(new FakeLoggerProvider(collector)));
        IHttpClientBuilder http = services
            .AddDurableStreams(o => o.BaseAddress = new Uri("http://streams.test/v1/stream/"))
            .HttpClientBuilder.ConfigurePrimaryHttpMessageHandler(() => handler);
        if (restoreDefaultLogger)
        {
            http.AddDefaultLogger();
        }

        return services.BuildServiceProvider();
    }

    private static int HttpClientRecords(FakeLogCollector collector) =>
        collector.GetSnapshot().Count(r => r.Category?.StartsWith("System.Net.Http.HttpClient", StringComparison.Ordinal) == true);

    [Fact]
    public async Task AddDurableStreams_Requests_LogNoPerRequestHttpClientLines()
    {
        var collector = new FakeLogCollector();
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.OK, contentType: "text/plain"));
        await using ServiceProvider provider = Build(collector, handler, restoreDefaultLogger: false);
        DurableStream stream = provider.GetRequiredService<DurableStreamClient>().GetStream("orders");

        await stream.HeadAsync(Ct);
        await stream.HeadAsync(Ct);

        Assert.Equal(2, handler.Requests.Count);
        Assert.Equal(0, HttpClientRecords(collector));
    }

    [Fact]
    public async Task AddDurableStreams_AddDefaultLogger_BringsTheHttpClientLinesBack()
    {
        var collector = new FakeLogCollector();
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.OK, contentType: "text/plain"));
        await using ServiceProvider provider = Build(collector, handler, restoreDefaultLogger: true);

        await provider.GetRequiredService<DurableStreamClient>().GetStream("orders").HeadAsync(Ct);

        Assert.Equal(4, HttpClientRecords(collector));
    }
}
