using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace DurableStreams.IntegrationTests;

/// <summary>
/// Live readers behind a proxy that cuts connections at random while a writer appends numbered
/// messages: every message must arrive exactly once, in order.
/// </summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class ReaderFaultTests(ReferenceServerFixture server, ITestOutputHelper output) : IAsyncLifetime
{
    private const int Messages = 2000;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(45));
    private readonly EventIdCollector _log = new();
    private FaultProxy? _proxy;
    private DurableStreamClient? _direct;
    private DurableStreamClient? _throughProxy;

    private CancellationToken Ct => _timeout.Token;

    public Task InitializeAsync()
    {
        _proxy = new FaultProxy(server.BaseUrl);
        _direct = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = server.BaseUrl });
        _throughProxy = new DurableStreamClient(new DurableStreamClientOptions
        {
            BaseAddress = _proxy.BaseUrl,
            ReadRetry = new RetryOptions(int.MaxValue, TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(100)),
            LoggerFactory = _log,
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _throughProxy?.Dispose();
        _direct?.Dispose();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        _timeout.Dispose();
    }

    [Fact]
    public async Task SseReader_ConnectionsCutAtRandom_ReceivesEveryMessageOnceInOrder() =>
        await RunAsync(LiveMode.Sse, seed: 1234);

    [Fact]
    public async Task LongPollReader_ConnectionsCutAtRandom_ReceivesEveryMessageOnceInOrder() =>
        await RunAsync(LiveMode.LongPoll, seed: 4321);

    private async Task RunAsync(LiveMode mode, int seed)
    {
        string url = server.NewStreamUrl("fault");
        DurableStream writer = (await _direct!.CreateStreamAsync(new CreateOptions { Url = url, ContentType = "application/json" }, Ct)).Stream;
        DurableStream reader = _throughProxy!.GetStream(new Uri(_proxy!.BaseUrl, new Uri(url).AbsolutePath).AbsoluteUri);

        var received = new List<int>();
        Task reading = Task.Run(
            async () =>
            {
                await foreach (StreamItem<int> item in reader.ReadJsonAsync(ReaderJsonContext.Default.Int32, new ReadOptions { Live = mode }, Ct))
                {
                    received.Add(item.Value);
                }
            },
            Ct);

        _proxy.StartChaos(TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(120), seed);
        for (int i = 0; i < Messages; i++)
        {
            await writer.AppendAsync(Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), cancellationToken: Ct);
            if (i % 100 == 99)
            {
                // Let live responses go out between bursts, so cuts hit open live connections too.
                await Task.Delay(20, Ct);
            }
        }

        await writer.CloseAsync(Ct);
        await reading.WaitAsync(Ct);
        await _proxy.StopChaosAsync();

        int retries = _log.EventIds.Count(id => id == 1);
        output.WriteLine($"{mode}: {_proxy.Cuts} cuts, {_proxy.Accepted} connections, {retries} read retries.");
        Assert.Equal(Enumerable.Range(0, Messages), received);
        Assert.True(_proxy.Cuts >= 5, $"The proxy cut only {_proxy.Cuts} connections.");
        Assert.True(retries >= 3, $"The reader recovered from only {retries} failures.");
        if (mode == LiveMode.Sse)
        {
            // Cuts are network failures, not a buffering proxy: the read stays on SSE.
            Assert.DoesNotContain(3, _log.EventIds);
        }
    }

    /// <summary>Records the event ids the SDK logs.</summary>
    private sealed class EventIdCollector : ILoggerFactory, ILogger
    {
        public ConcurrentBag<int> EventIds { get; } = [];

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => this;

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            EventIds.Add(eventId.Id);
    }
}
