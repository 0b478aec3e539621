using Microsoft.Extensions.Logging;

namespace DurableStreams;

/// <summary>
/// Settings of an <see cref="IdempotentProducer"/>. A mutable class so that it binds from
/// configuration; the producer copies the values when it is constructed, so later changes do not
/// affect a running producer.
/// </summary>
/// <remarks>
/// Each setter rejects an out-of-range value at once with an <see cref="ArgumentOutOfRangeException"/>
/// whose <see cref="ArgumentException.ParamName"/> is the property name; <see cref="Validate"/>
/// checks everything again and the producer calls it before any I/O.
/// </remarks>
public sealed class ProducerOptions
{
    /// <summary>The largest epoch and sequence number the protocol allows (2^53 − 1, PROTOCOL.md §5.2.1).</summary>
    public const long MaxEpoch = (1L << 53) - 1;

    private long _epoch;
    private TimeSpan _linger = TimeSpan.FromMilliseconds(5);
    private int _maxBatchBytes = 1024 * 1024;
    private int _maxBatchItems = int.MaxValue;
    private int _maxInFlight = 5;
    private long _maxBufferedBytes = 64L * 1024 * 1024;
    private int _maxBufferedMessages = 100_000;
    private TimeSpan _disposeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The epoch the producer starts in (PROTOCOL.md §5.2.1): increase it each time a producer with
    /// the same id restarts, so that the server fences the previous instance. Default: 0.
    /// </summary>
    /// <remarks>
    /// A restarted producer that reuses the epoch of its previous run would have its first batches
    /// answered as duplicates of the old run's. The producer detects that (a duplicate answer to a
    /// batch it never sent before) and fails with <see cref="StaleEpochException"/> instead of
    /// dropping them — or, with <see cref="AutoClaim"/>, claims the next epoch and resends.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative or above 2^53 − 1.</exception>
    public long Epoch
    {
        get => _epoch;
        set
        {
            if (value is < 0 or > MaxEpoch)
            {
                throw new ArgumentOutOfRangeException(nameof(Epoch), value, "Epoch must be between 0 and 2^53-1.");
            }

            _epoch = value;
        }
    }

    /// <summary>
    /// Whether the producer, when the server says its epoch is stale (403) or already used (a
    /// duplicate answer to a batch sent for the first time), claims the server's
    /// epoch + 1 and resends what it had not yet stored, instead of failing with
    /// <see cref="StaleEpochException"/>. Meant for ephemeral producers that do not persist their
    /// epoch; it fences any other live producer with the same id. Default: <see langword="false"/>.
    /// </summary>
    public bool AutoClaim { get; set; }

    /// <summary>
    /// How long a batch waits for more messages after its first one before it is sent, when a
    /// request slot is free. Zero sends as soon as a slot is free. Default: 5 ms.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public TimeSpan Linger
    {
        get => _linger;
        set
        {
            if (value < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(Linger), value, "Linger must be >= 0.");
            }

            _linger = value;
        }
    }

    /// <summary>
    /// The largest request body a batch grows to, in bytes, counting the JSON array brackets and
    /// commas. A single message larger than this is sent alone. Default: 1 MiB (1,048,576).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int MaxBatchBytes
    {
        get => _maxBatchBytes;
        set
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxBatchBytes), value, "MaxBatchBytes must be > 0.");
            }

            _maxBatchBytes = value;
        }
    }

    /// <summary>The most messages in one batch. Default: <see cref="int.MaxValue"/> (only <see cref="MaxBatchBytes"/> limits a batch).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int MaxBatchItems
    {
        get => _maxBatchItems;
        set
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxBatchItems), value, "MaxBatchItems must be > 0.");
            }

            _maxBatchItems = value;
        }
    }

    /// <summary>
    /// How many batches may await their response at once (pipelining). Messages are stored in
    /// append order whatever the value. Default: 5.
    /// </summary>
    /// <remarks>
    /// Pipelined batches travel on separate connections and can reach the server out of order. A
    /// server that refuses such a batch (409 with a lower <c>Producer-Expected-Seq</c>, PROTOCOL.md
    /// §5.2.1) instead of waiting for its predecessor makes the producer re-send it. To keep that
    /// rare, a batch is sent only after the previous batch's body has been written in full, and a
    /// batch with a body larger than 64 KiB is followed only after its response (so full batches go
    /// one at a time). After the first refusal the producer sends one batch at a time, so that no
    /// batch is uploaded twice.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int MaxInFlight
    {
        get => _maxInFlight;
        set
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxInFlight), value, "MaxInFlight must be > 0.");
            }

            _maxInFlight = value;
        }
    }

    /// <summary>
    /// How many bytes of appended, not yet acknowledged messages the producer holds before
    /// <see cref="IdempotentProducer.AppendAsync(ReadOnlyMemory{byte}, CancellationToken)"/> waits and
    /// <c>TryAppend</c> refuses. One message is always accepted into an empty buffer. Default: 64 MiB.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public long MaxBufferedBytes
    {
        get => _maxBufferedBytes;
        set
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxBufferedBytes), value, "MaxBufferedBytes must be > 0.");
            }

            _maxBufferedBytes = value;
        }
    }

    /// <summary>
    /// How many appended, not yet acknowledged messages the producer holds before
    /// <c>AppendAsync</c> waits and <c>TryAppend</c> refuses. Default: 100,000.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public int MaxBufferedMessages
    {
        get => _maxBufferedMessages;
        set
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxBufferedMessages), value, "MaxBufferedMessages must be > 0.");
            }

            _maxBufferedMessages = value;
        }
    }

    /// <summary>
    /// Headers added to every producer request (they override the client's headers of the same
    /// name; the protocol's producer headers cannot be overridden). Default: none.
    /// </summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Called before every producer request, retries included, to supply headers whose value
    /// changes; they override <see cref="Headers"/>. Default: none.
    /// </summary>
    public Func<CancellationToken, ValueTask<IReadOnlyDictionary<string, string>>>? HeadersProvider { get; set; }

    /// <summary>
    /// Retries of producer requests after network failures, 429 and 5xx. Each retry resends the
    /// same epoch and sequence number, which the server deduplicates. Default: the client's
    /// <see cref="DurableStreamClientOptions.Retry"/>.
    /// </summary>
    public RetryOptions? Retry { get; set; }

    /// <summary>The clock for linger and retry delays. Default: the client's <see cref="DurableStreamClientOptions.TimeProvider"/>.</summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>
    /// How long <see cref="IdempotentProducer.DisposeAsync"/> waits for the messages appended so far
    /// (or a close in progress) to be acknowledged before it stops and abandons them, reporting a
    /// <see cref="DurableStreamErrorCodes.Timeout"/> failure. <see cref="Timeout.InfiniteTimeSpan"/>
    /// waits as long as it takes. Measured on <see cref="TimeProvider"/>. Default: 30 s.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan DisposeTimeout
    {
        get => _disposeTimeout;
        set
        {
            if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(nameof(DisposeTimeout), value, "DisposeTimeout must be > 0, or Timeout.InfiniteTimeSpan.");
            }

            _disposeTimeout = value;
        }
    }

    /// <summary>
    /// Where the producer logs retries, epoch claims and failures (never header values). Default:
    /// a logger from the client's <see cref="DurableStreamClientOptions.LoggerFactory"/> (category
    /// <c>DurableStreams.IdempotentProducer</c>; set by <c>AddDurableStreams</c> from the app's
    /// logging), or none when the client has no logger factory.
    /// </summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Called once when the producer fails (a batch could not be stored), for observability. The
    /// failure is also thrown by the next <c>AppendAsync</c>, <c>FlushAsync</c>, <c>CloseAsync</c>
    /// or <c>DisposeAsync</c>. It must not throw. Default: none.
    /// </summary>
    public Action<DurableStreamException>? OnError { get; set; }

    /// <summary>Checks every value again, together.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the parameter name says which.</exception>
    public void Validate()
    {
        Epoch = _epoch;
        Linger = _linger;
        MaxBatchBytes = _maxBatchBytes;
        MaxBatchItems = _maxBatchItems;
        MaxInFlight = _maxInFlight;
        MaxBufferedBytes = _maxBufferedBytes;
        MaxBufferedMessages = _maxBufferedMessages;
        DisposeTimeout = _disposeTimeout;
        Retry?.Validate();
    }
}
