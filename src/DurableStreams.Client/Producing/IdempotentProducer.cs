using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Producing.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DurableStreams;

/// <summary>
/// Appends messages to one stream exactly once and in order, through retries, dropped connections
/// and restarts (PROTOCOL.md §5.2.1). Messages are collected into batches (one HTTP request each,
/// with its own <c>Producer-Seq</c>) and up to <see cref="ProducerOptions.MaxInFlight"/> batches are
/// sent at once; the server deduplicates resent batches, so a failed request is simply resent with
/// the same epoch and sequence number.
/// </summary>
/// <remarks>
/// <para>
/// Guarantee: every message appended before a <see cref="FlushAsync"/> that returns normally is
/// stored exactly once, in append order. If a batch cannot be stored (retries exhausted, the epoch
/// was fenced, the stream was closed or deleted), the producer stops sending and the failure is
/// thrown by the next <c>AppendAsync</c>, <c>Append</c>, <c>TryAppend</c>, <see cref="FlushAsync"/>,
/// <c>CloseAsync</c> and (if not yet thrown) <see cref="DisposeAsync"/>; it is also logged and
/// passed to <see cref="ProducerOptions.OnError"/>. <see cref="RestartAsync"/> resumes in a new epoch.
/// </para>
/// <para>
/// On a JSON stream each appended value is one message (an array included; PROTOCOL.md §9.1), and
/// raw bytes or text must be one JSON value, which is checked when appended. On other streams the
/// bytes of the messages are concatenated.
/// </para>
/// <para>Thread safety: every member may be called concurrently. Appends made concurrently are stored in the order the producer accepted them.</para>
/// </remarks>
public partial class IdempotentProducer : IAsyncDisposable
{
    private const string ReflectionJsonMessage =
        "JSON serialization of arbitrary types may need code that trimming removes; use the overload that takes a JsonTypeInfo<T>.";

    private const string DynamicCodeJsonMessage =
        "JSON serialization of arbitrary types may need runtime code generation; use the overload that takes a JsonTypeInfo<T>.";

    private readonly object _gate = new();
    private readonly DurableStream _stream = null!;
    private readonly HttpTransport _transport = null!;
    private readonly string _producerId = null!;
    private readonly bool _autoClaim;
    private readonly TimeSpan _linger;
    private readonly int _maxBatchBytes;
    private readonly int _maxBatchItems;
    private readonly int _maxInFlight;
    private readonly long _maxBufferedBytes;
    private readonly int _maxBufferedMessages;
    private readonly KeyValuePair<string, string>[] _headers = [];
    private readonly Func<CancellationToken, ValueTask<IReadOnlyDictionary<string, string>>>? _headersProvider;
    private readonly RetryOptions _retry = null!;
    private readonly TimeProvider _time = null!;
    private readonly ILogger _logger = NullLogger.Instance;
    private readonly Action<DurableStreamException>? _onError;
    private readonly JsonSerializerOptions _jsonOptions = null!;
    private readonly string _urlForLogs = null!;
    private readonly ITimer? _lingerTimer;
    private readonly CancellationTokenSource _stop = new();

    private ContentMode _mode;
    private Utf8JsonWriter? _jsonWriter;
    private int _sizeHint = 4096;
    private int _disposed;

    /// <summary>Creates a producer on <paramref name="stream"/>. Does no I/O.</summary>
    /// <param name="stream">The stream to append to.</param>
    /// <param name="producerId">A stable, non-empty identifier of the logical producer (sent as <c>Producer-Id</c>).</param>
    /// <param name="options">Batching, pipelining, buffering and retry settings. Default: <see cref="ProducerOptions"/>'s defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="producerId"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="producerId"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the parameter name says which.</exception>
    public IdempotentProducer(DurableStream stream, string producerId, ProducerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(producerId);
        if (producerId.Length == 0)
        {
            throw new ArgumentException("A producer id cannot be empty (PROTOCOL.md §5.2.1).", nameof(producerId));
        }

        options ??= new ProducerOptions();
        options.Validate();

        DurableStreamClient client = stream.Client;
        _stream = stream;
        _transport = client.Transport;
        _producerId = producerId;
        _autoClaim = options.AutoClaim;
        _linger = options.Linger;
        _maxBatchBytes = options.MaxBatchBytes;
        _maxBatchItems = options.MaxBatchItems;
        _maxInFlight = options.MaxInFlight;
        _maxBufferedBytes = options.MaxBufferedBytes;
        _maxBufferedMessages = options.MaxBufferedMessages;
        _headers = [.. options.Headers];
        _headersProvider = options.HeadersProvider;
        _retry = (options.Retry ?? client.Options.Retry).Clone();
        _time = options.TimeProvider ?? client.Options.TimeProvider;
        _logger = options.Logger ?? NullLogger.Instance;
        _onError = options.OnError;
        _jsonOptions = client.Options.JsonSerializerOptions ?? DurableStream.DefaultJsonOptions;
        _urlForLogs = DurableStreams.Internal.UrlUtilities.WithoutQuery(stream.Url);
        _epoch = options.Epoch;
        _contentType = stream.ContentType;
        _mode = ModeOf(_contentType);
        _lingerTimer = _time.CreateTimer(static state => ((IdempotentProducer)state!).OnLingerElapsed(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>For mocking: a producer with no stream, whose virtual members a test double overrides.</summary>
    protected IdempotentProducer()
    {
    }

    private enum ContentMode
    {
        Unknown,
        Json,
        Bytes,
    }

    /// <summary>The stream the producer appends to.</summary>
    public virtual DurableStream Stream => _stream;

    /// <summary>The producer id sent as <c>Producer-Id</c>.</summary>
    public virtual string ProducerId => _producerId;

    /// <summary>The current epoch: <see cref="ProducerOptions.Epoch"/>, raised by auto-claim or <see cref="RestartAsync"/>.</summary>
    public virtual long Epoch
    {
        get
        {
            lock (_gate)
            {
                return _epoch;
            }
        }
    }

    /// <summary>The sequence number the next batch will be sent with, in the current epoch.</summary>
    public virtual long NextSequence
    {
        get
        {
            lock (_gate)
            {
                return _nextSeq;
            }
        }
    }

    /// <summary>Messages appended and not yet sent (waiting in a batch).</summary>
    public virtual int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _pendingMessages;
            }
        }
    }

    /// <summary>Batches sent and awaiting their response (at most <see cref="ProducerOptions.MaxInFlight"/>).</summary>
    public virtual int InFlightCount
    {
        get
        {
            lock (_gate)
            {
                return _inFlight;
            }
        }
    }

    /// <summary>
    /// The highest stream tail offset the server reported for an acknowledged batch, or
    /// <see langword="null"/> before the first acknowledgement. Never moves backwards, even when
    /// pipelined responses arrive out of order.
    /// </summary>
    public virtual Offset? LastAcknowledgedOffset
    {
        get
        {
            lock (_gate)
            {
                return _lastAcked;
            }
        }
    }

    /// <summary>The failure that stopped the producer, or <see langword="null"/> while it is healthy.</summary>
    public virtual DurableStreamException? Failure
    {
        get
        {
            lock (_gate)
            {
                return _fault;
            }
        }
    }

    // ---- Append: fire-and-forget -------------------------------------------------------------

    /// <summary>
    /// Adds one message to the current batch and returns at once; the message is sent within
    /// <see cref="ProducerOptions.Linger"/>. The bytes are copied, so the caller may reuse the buffer.
    /// On a JSON stream the bytes must be one JSON value.
    /// </summary>
    /// <param name="data">The message; must not be empty.</param>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty, or is not one JSON value on a JSON stream.</exception>
    /// <exception cref="InvalidOperationException">The buffer is full (<see cref="ProducerOptions.MaxBufferedBytes"/>, <see cref="ProducerOptions.MaxBufferedMessages"/>): use <c>AppendAsync</c> to wait or <c>TryAppend</c>; or the producer is closing.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed.</exception>
    /// <exception cref="DurableStreamException">The producer failed earlier; this is that failure.</exception>
    public virtual void Append(ReadOnlySpan<byte> data)
    {
        RequireNonEmpty(data.Length, nameof(data));
        ThrowIfFull(TryAddBytes(data));
    }

    /// <inheritdoc cref="Append(ReadOnlySpan{byte})"/>
    public virtual void Append(ReadOnlyMemory<byte> data) => Append(data.Span);

    /// <inheritdoc cref="Append(ReadOnlySpan{byte})"/>
    public virtual void Append(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        Append(data.AsSpan());
    }

    /// <summary>
    /// Adds one text message (encoded as UTF-8, sent as it is) and returns at once. On a JSON stream
    /// the text must be one JSON value.
    /// </summary>
    /// <param name="text">The message; must not be empty.</param>
    /// <inheritdoc cref="Append(ReadOnlySpan{byte})" path="/exception"/>
    public virtual void Append(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        RequireNonEmpty(text.Length, nameof(text));
        ThrowIfFull(TryAddText(text));
    }

    /// <summary>Serializes <paramref name="value"/> with source-generated metadata (trimming- and AOT-safe) into the current batch and returns at once.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The message.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <inheritdoc cref="Append(ReadOnlySpan{byte})" path="/exception"/>
    public virtual void Append<T>(T value, JsonTypeInfo<T> jsonTypeInfo)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        ThrowIfFull(TryAddJson(value, jsonTypeInfo));
    }

    /// <summary>
    /// Serializes <paramref name="value"/> with the client's <see cref="JsonSerializerOptions"/>
    /// (default: web defaults, camelCase) into the current batch and returns at once.
    /// <see cref="byte"/> arrays, memory and strings passed here are appended as raw data, as by
    /// their own overloads.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The message.</param>
    /// <inheritdoc cref="Append(ReadOnlySpan{byte})" path="/exception"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual void Append<T>(T value) => ThrowIfFull(TryAddAny(value));

    // ---- TryAppend -----------------------------------------------------------------------------

    /// <summary>Adds one message unless the buffer is full; never waits.</summary>
    /// <param name="data">The message; must not be empty.</param>
    /// <returns><see langword="true"/> when the message was accepted; <see langword="false"/> when the buffer is full.</returns>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty, or is not one JSON value on a JSON stream.</exception>
    /// <exception cref="InvalidOperationException">The producer is closing.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed.</exception>
    /// <exception cref="DurableStreamException">The producer failed earlier; this is that failure.</exception>
    public virtual bool TryAppend(ReadOnlySpan<byte> data)
    {
        RequireNonEmpty(data.Length, nameof(data));
        return TryAddBytes(data);
    }

    /// <inheritdoc cref="TryAppend(ReadOnlySpan{byte})"/>
    public virtual bool TryAppend(ReadOnlyMemory<byte> data) => TryAppend(data.Span);

    /// <inheritdoc cref="TryAppend(ReadOnlySpan{byte})"/>
    public virtual bool TryAppend(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return TryAppend(data.AsSpan());
    }

    /// <summary>Adds one text message (UTF-8, sent as it is) unless the buffer is full; never waits.</summary>
    /// <param name="text">The message; must not be empty.</param>
    /// <returns><see langword="true"/> when the message was accepted; <see langword="false"/> when the buffer is full.</returns>
    /// <inheritdoc cref="TryAppend(ReadOnlySpan{byte})" path="/exception"/>
    public virtual bool TryAppend(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        RequireNonEmpty(text.Length, nameof(text));
        return TryAddText(text);
    }

    /// <summary>Serializes <paramref name="value"/> (trimming- and AOT-safe) and adds it unless the buffer is full; never waits.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The message.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <returns><see langword="true"/> when the message was accepted; <see langword="false"/> when the buffer is full.</returns>
    /// <inheritdoc cref="TryAppend(ReadOnlySpan{byte})" path="/exception"/>
    public virtual bool TryAppend<T>(T value, JsonTypeInfo<T> jsonTypeInfo)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return TryAddJson(value, jsonTypeInfo);
    }

    /// <summary>Serializes <paramref name="value"/> with the client's serializer options and adds it unless the buffer is full; raw bytes and strings are added as raw data.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The message.</param>
    /// <returns><see langword="true"/> when the message was accepted; <see langword="false"/> when the buffer is full.</returns>
    /// <inheritdoc cref="TryAppend(ReadOnlySpan{byte})" path="/exception"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual bool TryAppend<T>(T value) => TryAddAny(value);

    // ---- AppendAsync: waits for room -----------------------------------------------------------

    /// <summary>
    /// Adds one message, waiting while the buffer is full (backpressure). Completes when the message
    /// is accepted into a batch, not when it is stored: call <see cref="FlushAsync"/> for that.
    /// </summary>
    /// <param name="data">The message; must not be empty. The bytes are copied.</param>
    /// <param name="cancellationToken">Cancels the wait for room; a message already accepted is not withdrawn.</param>
    /// <returns>A task that completes when the message is accepted.</returns>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty, or is not one JSON value on a JSON stream.</exception>
    /// <exception cref="InvalidOperationException">The producer is closing.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed.</exception>
    /// <exception cref="DurableStreamException">The producer failed earlier; this is that failure.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public virtual ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        RequireNonEmpty(data.Length, nameof(data));
        return TryAddBytes(data.Span) ? default : AppendBytesSlowAsync(data, cancellationToken);
    }

    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    public virtual ValueTask AppendAsync(byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return AppendAsync(new ReadOnlyMemory<byte>(data), cancellationToken);
    }

    /// <summary>Adds one text message (UTF-8, sent as it is), waiting while the buffer is full.</summary>
    /// <param name="text">The message; must not be empty.</param>
    /// <param name="cancellationToken">Cancels the wait for room.</param>
    /// <returns>A task that completes when the message is accepted.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, CancellationToken)" path="/exception"/>
    public virtual ValueTask AppendAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        RequireNonEmpty(text.Length, nameof(text));
        return TryAddText(text) ? default : AppendTextSlowAsync(text, cancellationToken);
    }

    /// <summary>Serializes <paramref name="value"/> (trimming- and AOT-safe) and adds it, waiting while the buffer is full.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The message.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for room.</param>
    /// <returns>A task that completes when the message is accepted.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, CancellationToken)" path="/exception"/>
    public virtual ValueTask AppendAsync<T>(T value, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return TryAddJson(value, jsonTypeInfo) ? default : AppendJsonSlowAsync(value, jsonTypeInfo, cancellationToken);
    }

    /// <summary>
    /// Serializes <paramref name="value"/> with the client's serializer options and adds it, waiting
    /// while the buffer is full; raw bytes and strings are added as raw data.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The message.</param>
    /// <param name="cancellationToken">Cancels the wait for room.</param>
    /// <returns>A task that completes when the message is accepted.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, CancellationToken)" path="/exception"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual ValueTask AppendAsync<T>(T value, CancellationToken cancellationToken = default) =>
        TryAddAny(value) ? default : AppendAnySlowAsync(value, cancellationToken);

    private async ValueTask AppendBytesSlowAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        do
        {
            await WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }
        while (!TryAddBytes(data.Span));
    }

    private async ValueTask AppendTextSlowAsync(string text, CancellationToken cancellationToken)
    {
        do
        {
            await WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }
        while (!TryAddText(text));
    }

    private async ValueTask AppendJsonSlowAsync<T>(T value, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken)
    {
        do
        {
            await WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }
        while (!TryAddJson(value, jsonTypeInfo));
    }

    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    private async ValueTask AppendAnySlowAsync<T>(T value, CancellationToken cancellationToken)
    {
        do
        {
            await WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }
        while (!TryAddAny(value));
    }

    private async Task WaitForRoomAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                ThrowIfCannotAcceptLocked();
                if (HasRoomLocked())
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- Building batches ------------------------------------------------------------------------

    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    private bool TryAddAny<T>(T value)
    {
        // Generic overloads win overload resolution over conversions (a byte[] or Memory<byte> binds
        // to T), so raw data that arrives here is added as raw data, never serialized as JSON.
        switch (value)
        {
            case null:
                throw new ArgumentNullException(nameof(value), "A null value cannot be appended; send the text \"null\" for a JSON null.");
            case byte[] bytes:
                RequireNonEmpty(bytes.Length, nameof(value));
                return TryAddBytes(bytes);
            case ReadOnlyMemory<byte> memory:
                RequireNonEmpty(memory.Length, nameof(value));
                return TryAddBytes(memory.Span);
            case Memory<byte> memory:
                RequireNonEmpty(memory.Length, nameof(value));
                return TryAddBytes(memory.Span);
            case ArraySegment<byte> segment:
                RequireNonEmpty(segment.Count, nameof(value));
                return TryAddBytes(segment);
            case string text:
                RequireNonEmpty(text.Length, nameof(value));
                return TryAddText(text);
            case System.IO.Stream:
                throw new ArgumentException("A producer cannot append a Stream: read it into memory, or use DurableStream.AppendAsync(Stream).", nameof(value));
            default:
                return TryAddJson(value, jsonTypeInfo: null);
        }
    }

    private bool TryAddBytes(ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            if (!AcceptLocked())
            {
                return false;
            }

            ProducerBatch batch = OpenBatchForLocked(data.Length);
            int start = batch.BeginItem();
            data.CopyTo(batch.GetSpan(data.Length));
            batch.Advance(data.Length);
            AddedLocked(batch, start, rawJson: true, nameof(data));
            return true;
        }
    }

    private bool TryAddText(string text)
    {
        lock (_gate)
        {
            if (!AcceptLocked())
            {
                return false;
            }

            int length = Encoding.UTF8.GetByteCount(text);
            ProducerBatch batch = OpenBatchForLocked(length);
            int start = batch.BeginItem();
            WriteText(batch, text, length);
            AddedLocked(batch, start, rawJson: true, nameof(text));
            return true;
        }
    }

    private bool TryAddJson<T>(T value, JsonTypeInfo<T>? jsonTypeInfo)
    {
        lock (_gate)
        {
            if (!AcceptLocked())
            {
                return false;
            }

            ProducerBatch batch = OpenBatchLocked();
            int start = batch.BeginItem();
            WriteJsonLocked(batch, start, value, jsonTypeInfo);
            AddedLocked(batch, start, rawJson: false, nameof(value));
            return true;
        }
    }

    private static void WriteText(ProducerBatch batch, string text, int byteCount)
    {
        Span<byte> span = batch.GetSpan(byteCount);
        batch.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private void WriteJsonLocked<T>(ProducerBatch batch, int start, T value, JsonTypeInfo<T>? jsonTypeInfo)
    {
        Utf8JsonWriter writer = _jsonWriter ??= new Utf8JsonWriter(batch, new JsonWriterOptions
        {
            Encoder = _jsonOptions.Encoder,
            Indented = _jsonOptions.WriteIndented,
            MaxDepth = _jsonOptions.MaxDepth,
        });
        writer.Reset(batch);
        try
        {
            if (jsonTypeInfo is not null)
            {
                JsonSerializer.Serialize(writer, value, jsonTypeInfo);
            }
            else
            {
                SerializeWithReflection(writer, value);
            }

            writer.Flush();
        }
        catch
        {
            batch.RollbackItem(start);
            writer.Reset(System.IO.Stream.Null);
            throw;
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Reached only from overloads annotated with RequiresUnreferencedCode.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Reached only from overloads annotated with RequiresDynamicCode.")]
    private void SerializeWithReflection<T>(Utf8JsonWriter writer, T value) => JsonSerializer.Serialize(writer, value, _jsonOptions);

    /// <summary>Checks the item just written, accounts for it, and cuts the batch where the limits say.</summary>
    private void AddedLocked(ProducerBatch batch, int start, bool rawJson, string paramName)
    {
        ReadOnlySpan<byte> item = batch.ItemSince(start);
        if (rawJson && _mode == ContentMode.Json && !IsOneJsonValue(item))
        {
            batch.RollbackItem(start);
            throw new ArgumentException("On a JSON stream each message must be exactly one JSON value (PROTOCOL.md §9.1).", paramName);
        }

        int length = item.Length;
        batch.EndItem(start);
        _bufferedBytes += length;
        DurableStreamsTelemetry.ProducerBufferedBytes.Add(length);
        _bufferedMessages++;
        _pendingMessages++;

        if (batch.Count > 1 && batch.WireLength > _maxBatchBytes)
        {
            // The item does not fit: move it to a fresh batch and send the full one.
            ProducerBatch next = NewBatchLocked(isClose: false);
            next.AddItem(batch.ItemSince(start));
            batch.RemoveLastItem(start);
            SealOpenLocked();
            _open = next;
            ArmLingerLocked();
            batch = next;
        }

        if (batch.WireLength >= _maxBatchBytes || batch.Count >= _maxBatchItems)
        {
            SealOpenLocked();
        }

        PumpLocked();
    }

    /// <summary>
    /// The open batch, after sealing it first if an item of <paramref name="length"/> bytes would
    /// not fit, so that known-size items never overflow a batch's buffer.
    /// </summary>
    private ProducerBatch OpenBatchForLocked(int length)
    {
        if (_open is { Count: > 0 } open && open.WireLength + (open.JsonLayout ? 1 : 0) + length > _maxBatchBytes)
        {
            SealOpenLocked();
        }

        return OpenBatchLocked();
    }

    private ProducerBatch OpenBatchLocked()
    {
        if (_open is null)
        {
            _open = NewBatchLocked(isClose: false);
            ArmLingerLocked();
        }

        return _open;
    }

    private ProducerBatch NewBatchLocked(bool isClose) =>
        new(jsonLayout: _mode != ContentMode.Bytes, trackItems: _mode == ContentMode.Unknown, isClose ? 256 : _sizeHint) { IsClose = isClose };

    private void ArmLingerLocked()
    {
        _openGeneration++;
        _openLingerExpired = _linger == TimeSpan.Zero;
        if (!_openLingerExpired)
        {
            _armedGeneration = _openGeneration;
            _lingerTimer?.Change(_linger, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnLingerElapsed()
    {
        lock (_gate)
        {
            if (_open is not null && _armedGeneration == _openGeneration)
            {
                _openLingerExpired = true;
                PumpLocked();
            }
        }
    }

    /// <summary>Moves the open batch, if it has messages, to the send queue.</summary>
    private void SealOpenLocked()
    {
        ProducerBatch? batch = _open;
        if (batch is null || batch.Count == 0)
        {
            return;
        }

        _open = null;
        batch.Seal();
        batch.Ordinal = _nextOrdinal++;
        _sizeHint = Math.Max(256, Math.Min(batch.WireLength, _maxBatchBytes));
        _queued.Enqueue(batch);
    }

    private bool AcceptLocked()
    {
        ThrowIfCannotAcceptLocked();
        return HasRoomLocked();
    }

    private bool HasRoomLocked() =>
        _bufferedMessages == 0 || (_bufferedMessages < _maxBufferedMessages && _bufferedBytes < _maxBufferedBytes);

    private void ThrowIfCannotAcceptLocked()
    {
        ThrowIfFaultedLocked();
        if (_closeTask is not null)
        {
            throw new InvalidOperationException("The producer is closing or has closed the stream; no more messages can be appended.");
        }

        ObjectDisposedException.ThrowIf(_stopped, this);
    }

    private void ThrowIfFaultedLocked()
    {
        if (_fault is { } fault)
        {
            _faultObserved = true;
            ExceptionDispatchInfo.Throw(fault);
        }
    }

    private static void ThrowIfFull(bool accepted)
    {
        if (!accepted)
        {
            throw new InvalidOperationException(
                "The producer's buffer is full (MaxBufferedBytes / MaxBufferedMessages). Use AppendAsync to wait for room, or TryAppend.");
        }
    }

    private static void RequireNonEmpty(int length, string paramName)
    {
        if (length <= 0)
        {
            throw new ArgumentException("A message cannot be empty: the server rejects empty appends (PROTOCOL.md §5.2).", paramName);
        }
    }

    /// <summary>Whether the bytes are exactly one JSON value, checked without allocating.</summary>
    private static bool IsOneJsonValue(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read())
            {
                return false;
            }

            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static ContentMode ModeOf(string? contentType) =>
        contentType is null ? ContentMode.Unknown : MediaTypes.IsJson(contentType) ? ContentMode.Json : ContentMode.Bytes;
}
