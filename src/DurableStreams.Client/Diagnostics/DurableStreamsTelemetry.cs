using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace DurableStreams;

/// <summary>
/// The names under which the SDK publishes traces and metrics. Subscribe with OpenTelemetry's
/// <c>AddSource(DurableStreamsTelemetry.Name)</c> and <c>AddMeter(DurableStreamsTelemetry.Name)</c>,
/// or with an <see cref="ActivityListener"/> / <see cref="MeterListener"/>.
/// </summary>
/// <remarks>
/// Spans: one per HTTP operation (create, head, append, close, delete, fork, each read request,
/// each producer batch), tagged with the stream URL without its query, the offset, the byte count,
/// the HTTP status and the retry count; failures set the span status to error.
/// Instruments: see the <c>*Instrument</c> constants.
/// </remarks>
public static class DurableStreamsTelemetry
{
    /// <summary>The name of the SDK's <see cref="ActivitySource"/> and <see cref="Meter"/>: <c>DurableStreams.Client</c>.</summary>
    public const string Name = "DurableStreams.Client";

    /// <summary>Counter of bytes appended (acknowledged by the server), unit <c>By</c>.</summary>
    public const string BytesAppendedInstrument = "durable_streams.client.append.bytes";

    /// <summary>Counter of messages appended (one per plain append; one per item of a producer batch).</summary>
    public const string MessagesAppendedInstrument = "durable_streams.client.append.messages";

    /// <summary>Counter of bytes read, unit <c>By</c>.</summary>
    public const string BytesReadInstrument = "durable_streams.client.read.bytes";

    /// <summary>Counter of messages read from JSON streams.</summary>
    public const string MessagesReadInstrument = "durable_streams.client.read.messages";

    /// <summary>Histogram of HTTP request durations (one per attempt), unit <c>s</c>, tagged with operation and status.</summary>
    public const string RequestDurationInstrument = "durable_streams.client.request.duration";

    /// <summary>Counter of retried attempts, tagged with operation.</summary>
    public const string RetriesInstrument = "durable_streams.client.retries";

    /// <summary>Counter of live-read reconnects, tagged with the live mode.</summary>
    public const string ReconnectsInstrument = "durable_streams.client.read.reconnects";

    /// <summary>Histogram of producer batch sizes in bytes, unit <c>By</c>.</summary>
    public const string ProducerBatchBytesInstrument = "durable_streams.client.producer.batch.bytes";

    /// <summary>Histogram of producer batch sizes in messages.</summary>
    public const string ProducerBatchMessagesInstrument = "durable_streams.client.producer.batch.messages";

    /// <summary>Up-down counter of producer batches in flight.</summary>
    public const string ProducerInFlightInstrument = "durable_streams.client.producer.in_flight";

    /// <summary>Up-down counter of bytes buffered in producers and not yet acknowledged, unit <c>By</c>.</summary>
    public const string ProducerBufferedBytesInstrument = "durable_streams.client.producer.buffered.bytes";

    private static readonly string? Version = typeof(DurableStreamsTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    internal static readonly ActivitySource ActivitySource = new(Name, Version);

    internal static readonly Meter Meter = new(Name, Version);

    internal static readonly Counter<long> BytesAppended = Meter.CreateCounter<long>(BytesAppendedInstrument, "By", "Bytes appended and acknowledged.");

    internal static readonly Counter<long> MessagesAppended = Meter.CreateCounter<long>(MessagesAppendedInstrument, "{message}", "Messages appended and acknowledged.");

    internal static readonly Counter<long> BytesRead = Meter.CreateCounter<long>(BytesReadInstrument, "By", "Bytes read.");

    internal static readonly Counter<long> MessagesRead = Meter.CreateCounter<long>(MessagesReadInstrument, "{message}", "JSON messages read.");

    internal static readonly Histogram<double> RequestDuration = Meter.CreateHistogram<double>(RequestDurationInstrument, "s", "Duration of one HTTP attempt.");

    internal static readonly Counter<long> Retries = Meter.CreateCounter<long>(RetriesInstrument, "{retry}", "Attempts retried after a transient failure.");

    internal static readonly Counter<long> Reconnects = Meter.CreateCounter<long>(ReconnectsInstrument, "{reconnect}", "Live-read reconnects.");

    internal static readonly Histogram<long> ProducerBatchBytes = Meter.CreateHistogram<long>(ProducerBatchBytesInstrument, "By", "Producer batch size in bytes.");

    internal static readonly Histogram<long> ProducerBatchMessages = Meter.CreateHistogram<long>(ProducerBatchMessagesInstrument, "{message}", "Producer batch size in messages.");

    internal static readonly UpDownCounter<long> ProducerInFlight = Meter.CreateUpDownCounter<long>(ProducerInFlightInstrument, "{batch}", "Producer batches in flight.");

    internal static readonly UpDownCounter<long> ProducerBufferedBytes = Meter.CreateUpDownCounter<long>(ProducerBufferedBytesInstrument, "By", "Bytes buffered in producers.");

    /// <summary>Marks a span as failed with the exception's type and message (never header values).</summary>
    internal static void RecordError(Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.SetTag("error.type", exception.GetType().FullName);
        activity.AddEvent(new ActivityEvent("exception", tags: new ActivityTagsCollection
        {
            ["exception.type"] = exception.GetType().FullName,
            ["exception.message"] = exception.Message,
        }));
    }
}
