using DurableStreams;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace WorkerProducer;

/// <summary>
/// Writes an event every few milliseconds through an idempotent producer, and flushes what it has
/// appended when the host shuts down (Ctrl-C, SIGTERM, or after Worker:Messages events).
/// </summary>
public sealed partial class EventWorker(
    DurableStreamClient client,
    IOptions<WorkerOptions> options,
    WorkerReport report,
    IHostApplicationLifetime lifetime,
    ILogger<EventWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        WorkerOptions settings = options.Value;
        DurableStream stream = client.GetStream(settings.Stream, "application/json");
        report.StreamUrl = stream.Url;

        // Idempotent: creates the stream, or confirms it exists with this configuration.
        await stream.CreateStreamAsync(new CreateOptions { ContentType = "application/json" }, stoppingToken);

        // Each start of the worker is a new session of the same logical producer, so it must use a
        // higher epoch than the last one (PROTOCOL.md §5.2.1): in the same epoch the server would
        // take the new batches 0, 1, ... for resends of the old ones and drop them as duplicates.
        // With no place to persist the epoch, the start time in milliseconds grows from one start to
        // the next; AutoClaim covers a clock that went back (the server's epoch + 1 is claimed).
        // Either way the previous instance, if still alive, is fenced.
        var producerOptions = new ProducerOptions
        {
            Epoch = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            AutoClaim = true,
        };
        IdempotentProducer producer = stream.CreateProducer(settings.ProducerId, producerOptions);
        await using (producer)
        {
            try
            {
                while (settings.Messages == 0 || report.Written < settings.Messages)
                {
                    // Waits only when the producer's buffer is full (backpressure); returns before the event is stored.
                    await producer.AppendAsync(new WorkerEvent(report.Run, report.Written, DateTimeOffset.UtcNow), stoppingToken);
                    report.Written++;
                    await Task.Delay(settings.IntervalMilliseconds, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                LogStopping(logger, report.Written);
            }
            finally
            {
                // Graceful shutdown: every event appended so far is stored before the host exits.
                // The host's shutdown timeout (HostOptions.ShutdownTimeout) bounds this wait.
                using var flushTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await producer.FlushAsync(flushTimeout.Token);
                LogFlushed(logger, report.Written, stream.Url, producer.LastAcknowledgedOffset);
            }
        }

        if (settings.Messages > 0)
        {
            lifetime.StopApplication();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shutdown requested after {Written} events; flushing.")]
    private static partial void LogStopping(ILogger logger, int written);

    [LoggerMessage(Level = LogLevel.Information, Message = "Flushed: {Written} events stored in {Stream}, tail {Offset}.")]
    private static partial void LogFlushed(ILogger logger, int written, Uri stream, Offset? offset);
}
