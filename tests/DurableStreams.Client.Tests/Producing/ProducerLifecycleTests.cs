using System.Net;
using DurableStreams.DependencyInjection;
using DurableStreams.Producing.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace DurableStreams.Tests.Producing;

/// <summary>How a producer ends: dispose bound, its client's disposal, its logger, and its states.</summary>
public sealed class ProducerLifecycleTests
{
    [Fact]
    public async Task DisposeAsync_ServerNeverAnswers_GivesUpAfterDisposeTimeoutAndReportsTheAbandonedMessages()
    {
        await using var h = new ProducerHarness(configure: o => o.DisposeTimeout = TimeSpan.FromSeconds(10));
        h.Producer.Append("1");
        h.Producer.Append("2");

        Task dispose = h.Producer.DisposeAsync().AsTask();
        await h.NextWithoutTimeAsync(); // sent, never answered
        h.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(dispose.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(1));

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => dispose.WaitAsync(h.Ct));
        Assert.Equal(DurableStreamErrorCodes.Timeout, ex.ErrorCode);
        Assert.Contains("DisposeTimeout", ex.Message, StringComparison.Ordinal);
        Assert.Contains("2 message(s) not acknowledged", ex.Message, StringComparison.Ordinal);
        Assert.Same(ex, Assert.Single(h.Errors));
        Assert.Same(ex, h.Producer.Failure);
        Assert.Equal(1, h.Handler.Count);
        Assert.Equal(ProducerState.Detached, h.Producer.State);
    }

    [Fact]
    public async Task ClientDisposed_WhileABatchIsInFlight_EndsTheProducerWithObjectDisposedNamingTheClient()
    {
        using var clientGone = new CancellationTokenSource();
        await using var h = new ProducerHarness(clientDisposed: clientGone.Token);
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);
        await h.NextWithoutTimeAsync(); // in flight, unanswered

        clientGone.Cancel();

        var flushed = await Assert.ThrowsAsync<ObjectDisposedException>(() => flush.WaitAsync(h.Ct));
        Assert.Equal(typeof(DurableStreamClient).FullName, flushed.ObjectName);
        Assert.Equal(typeof(DurableStreamClient).FullName, Assert.Throws<ObjectDisposedException>(() => h.Producer.Append("2")).ObjectName);
        DurableStreamException reported = Assert.Single(h.Errors);
        Assert.IsType<ObjectDisposedException>(reported.InnerException);
        Assert.Contains("1 message(s) not acknowledged", reported.Message, StringComparison.Ordinal);
        Assert.Equal(ProducerState.Detached, h.Producer.State);
        await h.Producer.DisposeAsync(); // ends quietly: the abandonment was reported
    }

    [Fact]
    public async Task DurableStreamClientDispose_WhileABatchIsInFlight_EndsItsProducers()
    {
        await using var h = new ProducerHarness();
        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);
        await h.NextWithoutTimeAsync(); // in flight, unanswered

        h.Client.Dispose();

        var flushed = await Assert.ThrowsAsync<ObjectDisposedException>(() => flush.WaitAsync(h.Ct));
        Assert.Equal(typeof(DurableStreamClient).FullName, flushed.ObjectName);
        Assert.Throws<ObjectDisposedException>(() => h.Producer.Append("2"));
        Assert.Equal(ProducerState.Detached, h.Producer.State);
    }

    [Fact]
    public async Task ClientDisposed_Idle_LaterCallsThrowObjectDisposedAndNothingIsReported()
    {
        using var clientGone = new CancellationTokenSource();
        await using var h = new ProducerHarness(clientDisposed: clientGone.Token);

        clientGone.Cancel();

        Assert.Throws<ObjectDisposedException>(() => h.Producer.Append("1"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => h.Producer.FlushAsync(h.Ct));
        Assert.Empty(h.Errors);
        Assert.Equal(0, h.Handler.Count);
    }

    [Fact]
    public async Task CreateProducer_DiClientAndNoLoggerOption_LogsFailuresThroughTheClientsLoggerFactory()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var logged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var collector = FakeLogCollector.Create(new FakeLogCollectorOptions
        {
            OutputSink = line =>
            {
                if (line.Contains("no further batches are sent", StringComparison.Ordinal))
                {
                    logged.TrySetResult();
                }
            },
        });
        var recording = new RecordingHandler().ThenRespond(HttpStatusCode.NotFound);
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddProvider(new FakeLoggerProvider(collector)));
        services
            .AddDurableStreams(o => o.BaseAddress = new Uri("http://streams.test/v1/stream/"))
            .HttpClientBuilder.ConfigurePrimaryHttpMessageHandler(() => recording);
        await using ServiceProvider provider = services.BuildServiceProvider();
        DurableStream stream = provider.GetRequiredService<DurableStreamClient>().GetStream("orders", "application/json");
        await using IdempotentProducer producer = stream.CreateProducer("p");

        producer.Append("1");
        await Assert.ThrowsAsync<StreamNotFoundException>(() => producer.FlushAsync(timeout.Token));
        await logged.Task.WaitAsync(timeout.Token); // a flush that finds the failure already set may return before it is logged

        FakeLogRecord failed = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 4004);
        Assert.Equal(LogLevel.Error, failed.Level);
        Assert.Equal("DurableStreams.IdempotentProducer", failed.Category);
        Assert.IsType<StreamNotFoundException>(failed.Exception);
    }

    [Fact]
    public async Task State_ThroughFailureRestartAndClose_MovesOpenFaultedOpenClosingClosed()
    {
        await using var h = new ProducerHarness();
        Assert.Equal(ProducerState.Open, h.Producer.State);

        h.Producer.Append("1");
        Task flush = h.Producer.FlushAsync(h.Ct);
        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.Forbidden, ("Producer-Epoch", "3"));
        await Assert.ThrowsAsync<StaleEpochException>(() => flush);
        Assert.Equal(ProducerState.Faulted, h.Producer.State);

        Assert.Equal(4, await h.Producer.RestartAsync(h.Ct));
        Assert.Equal(ProducerState.Open, h.Producer.State);

        Task<CloseResult> close = h.Producer.CloseAsync(h.Ct);
        Assert.Equal(ProducerState.Closing, h.Producer.State);
        (await h.NextWithoutTimeAsync()).Respond(HttpStatusCode.NoContent, ("Stream-Next-Offset", PendingRequest.Offset(1)), ("Stream-Closed", "true"));
        await close;
        Assert.Equal(ProducerState.Closed, h.Producer.State);

        await h.Producer.DisposeAsync();
        Assert.Equal(ProducerState.Closed, h.Producer.State);
    }
}
