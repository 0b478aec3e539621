using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace DurableStreams.Tests;

/// <summary>Spans, metrics and logs that the SDK publishes. Each test filters by its own stream URL,
/// because listeners see every test running in parallel.</summary>
public sealed class TelemetryTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));
    private readonly string _url = $"http://telemetry.test/v1/stream/{Guid.NewGuid():N}";

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    /// <summary>Collects the SDK's finished spans whose URL is this test's stream.</summary>
    private ActivityListener ListenToSpansOfThisStream(List<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == DurableStreamsTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("url.full"), _url))
                {
                    lock (spans)
                    {
                        spans.Add(activity);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    [Fact]
    public async Task AppendAsync_WithRetry_EmitsOneSpanWithUrlBytesStatusAndRetryCount()
    {
        var spans = new List<Activity>();
        using ActivityListener listener = ListenToSpansOfThisStream(spans);
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(_url + "?tenant=a", "text/plain").AppendAsync("hello", cancellationToken: Ct);

        Activity span = Assert.Single(spans);
        Assert.Equal("durable_streams.append", span.OperationName);
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal(204, span.GetTagItem("http.response.status_code"));
        Assert.Equal(1, span.GetTagItem("durable_streams.retry_count"));
        Assert.Equal(5L, span.GetTagItem("durable_streams.bytes"));
        Assert.Equal("POST", span.GetTagItem("http.request.method"));
        Assert.NotEqual(ActivityStatusCode.Error, span.Status);
    }

    [Fact]
    public async Task HeadAsync_Failure_MarksTheSpanAsError()
    {
        var spans = new List<Activity>();
        using ActivityListener listener = ListenToSpansOfThisStream(spans);
        var handler = new RecordingHandler().ThenThrow(() => new HttpRequestException("boom", new IOException("reset")));
        using DurableStreamClient client = TestClients.Create(handler, o => o.Retry = TestClients.FastRetry(maxRetries: 1));

        await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(_url).HeadAsync(Ct));

        Activity span = Assert.Single(spans);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Equal(1, span.GetTagItem("durable_streams.retry_count"));
        Assert.Contains(span.Events, e => e.Name == "exception");
    }

    [Fact]
    public async Task Metrics_RecordRetriesRequestDurationsAndAppendedBytes()
    {
        var measurements = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == DurableStreamsTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, value, copy));
            }
        }

        meters.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        meters.Start();
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.TooManyRequests).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(_url, "application/json").AppendAsync("""{"a":1}""", cancellationToken: Ct);
        meters.RecordObservableInstruments();

        lock (measurements)
        {
            // Other tests run in parallel, so look for at least this test's measurements.
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.RetriesInstrument && Equals(m.Tags["durable_streams.operation"], "append"));
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.RequestDurationInstrument && Equals(m.Tags["http.response.status_code"], "429"));
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.RequestDurationInstrument && Equals(m.Tags["http.response.status_code"], "204"));
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.BytesAppendedInstrument && m.Value == 9);
        }
    }

    [Fact]
    public async Task Metrics_AttemptWithoutAResponse_IsRecordedWithStatusError()
    {
        var statuses = new List<object?>();
        string operation = "head";
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == DurableStreamsTelemetry.Name && instrument.Name == DurableStreamsTelemetry.RequestDurationInstrument)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            object? op = null, status = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                op = tag.Key == "durable_streams.operation" ? tag.Value : op;
                status = tag.Key == "http.response.status_code" ? tag.Value : status;
            }

            if (Equals(op, operation))
            {
                lock (statuses)
                {
                    statuses.Add(status);
                }
            }
        });
        meters.Start();
        var handler = new RecordingHandler()
            .ThenThrow(() => new HttpRequestException(HttpRequestError.ConnectionError, "refused", new System.Net.Sockets.SocketException(111)))
            .Then(_ => RecordingHandler.Ok(HttpStatusCode.OK, contentType: "text/plain"));
        using DurableStreamClient client = TestClients.Create(handler);

        await client.GetStream(_url).HeadAsync(Ct);

        lock (statuses)
        {
            // Other tests run in parallel: this test's HEADs are among the measurements.
            Assert.Contains("error", statuses);
            Assert.Contains("200", statuses);
        }
    }

    [Fact]
    public async Task Logging_Retry_IsLoggedWithEventIdAndWithoutHeaderValues()
    {
        var collector = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(collector)));
        var handler = new RecordingHandler().ThenRespond(HttpStatusCode.BadGateway).Then(_ => RecordingHandler.Ok());
        using DurableStreamClient client = TestClients.Create(handler, o =>
        {
            o.LoggerFactory = loggerFactory;
            o.DefaultHeaders["Authorization"] = "Bearer log-s3cret";
        });

        await client.GetStream(_url + "?sig=query-s3cret", "text/plain").AppendAsync("x", cancellationToken: Ct);

        FakeLogRecord retry = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 1);
        Assert.Equal(LogLevel.Warning, retry.Level);
        Assert.Contains("HTTP 502", retry.Message, StringComparison.Ordinal);
        Assert.Contains(_url, retry.Message, StringComparison.Ordinal);
        Assert.Equal("append", retry.StructuredState!.Single(kv => kv.Key == "Operation").Value);
        Assert.Contains(collector.GetSnapshot(), r => r.Id.Id == 6 && r.Message.Contains("204", StringComparison.Ordinal));
        Assert.DoesNotContain(collector.GetSnapshot(), r => r.Message.Contains("s3cret", StringComparison.Ordinal));
    }
    [Fact]
    public async Task Producer_Batch_EmitsOneSpanAndBatchMetrics()
    {
        var spans = new List<Activity>();
        using ActivityListener listener = ListenToSpansOfThisStream(spans);
        var measurements = new List<(string Instrument, long Value)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == DurableStreamsTelemetry.Name && instrument.Name.Contains("producer", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            lock (measurements)
            {
                measurements.Add((instrument.Name, value));
            }
        });
        meters.Start();
        var handler = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.OK));
        using DurableStreamClient client = TestClients.Create(handler);
        await using IdempotentProducer producer = client.GetStream(_url, "application/json")
            .CreateProducer("telemetry", new ProducerOptions { Linger = TimeSpan.FromMinutes(1), MaxBatchItems = 7 });

        for (int i = 0; i < 7; i++)
        {
            producer.Append(i);
        }

        await producer.FlushAsync(Ct);

        Activity span = Assert.Single(spans);
        Assert.Equal("durable_streams.producer.batch", span.OperationName);
        Assert.Equal(7, span.GetTagItem("durable_streams.messages"));
        Assert.Equal(7L, span.GetTagItem("durable_streams.bytes"));
        Assert.Equal(0L, span.GetTagItem("durable_streams.producer.seq"));
        Assert.Equal(200, span.GetTagItem("http.response.status_code"));
        Assert.Equal(0, span.GetTagItem("durable_streams.retry_count"));
        lock (measurements)
        {
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.ProducerBatchMessagesInstrument && m.Value == 7);
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.ProducerInFlightInstrument && m.Value == 1);
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.ProducerInFlightInstrument && m.Value == -1);
            Assert.Contains(measurements, m => m.Instrument == DurableStreamsTelemetry.ProducerBufferedBytesInstrument && m.Value == -7);
        }
    }
}
