using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Protocol.Internal;

namespace DurableStreams.Producing.Internal;

/// <summary>How the producer lays out messages, from the stream's content type.</summary>
internal enum ContentMode
{
    /// <summary>The content type is not known yet: batches are built as JSON arrays and keep item boundaries, so they can become concatenations.</summary>
    Unknown,

    /// <summary>A JSON stream: each batch is a JSON array of messages (PROTOCOL.md §9.1.2).</summary>
    Json,

    /// <summary>Any other stream: the messages of a batch are concatenated.</summary>
    Bytes,
}

/// <summary>Whether the open batch may leave without more messages.</summary>
internal enum LingerState
{
    /// <summary>Within <see cref="ProducerOptions.Linger"/> of its first message: it waits for more.</summary>
    Waiting,

    /// <summary>The linger elapsed (or is zero): the batch goes as soon as a request slot is free.</summary>
    Expired,
}

/// <summary>
/// The messages the producer holds and has not sent: the open batch (with its linger), the sealed
/// batches queued for sending, and the size accounting behind backpressure. Every member except
/// the constructor runs under the producer's lock; the linger timer calls back through
/// <c>lingerElapsed</c>, which takes it.
/// </summary>
internal sealed class ProducerBuffer : IDisposable
{
    private readonly Queue<ProducerBatch> _queued = new();
    private readonly TimeSpan _linger;
    private readonly int _maxBatchBytes;
    private readonly int _maxBatchItems;
    private readonly long _maxBufferedBytes;
    private readonly int _maxBufferedMessages;
    private readonly JsonSerializerOptions _jsonOptions;
    private readonly ITimer _lingerTimer;

    private ProducerBatch? _open;
    private LingerState _openLinger;
    private long _nextOrdinal;
    private int _sizeHint = 4096;
    private long _bufferedBytes;
    private int _bufferedMessages;
    private int _pendingMessages;
    private Utf8JsonWriter? _jsonWriter;

    public ProducerBuffer(ProducerOptions options, JsonSerializerOptions jsonOptions, string? contentType, TimeProvider time, Action lingerElapsed)
    {
        _linger = options.Linger;
        _maxBatchBytes = options.MaxBatchBytes;
        _maxBatchItems = options.MaxBatchItems;
        _maxBufferedBytes = options.MaxBufferedBytes;
        _maxBufferedMessages = options.MaxBufferedMessages;
        _jsonOptions = jsonOptions;
        Mode = ModeOf(contentType);
        _lingerTimer = time.CreateTimer(static state => ((Action)state!)(), lingerElapsed, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The layout of new batches; learned from the server when the handle did not know the content type.</summary>
    public ContentMode Mode { get; private set; }

    /// <summary>Messages appended and not yet sent.</summary>
    public int PendingMessages => _pendingMessages;

    /// <summary>Messages appended and not yet acknowledged (sent or not).</summary>
    public int UnacknowledgedMessages => _bufferedMessages;

    /// <summary>Sealed batches waiting for a request slot.</summary>
    public int QueuedBatches => _queued.Count;

    /// <summary>The ordinal of the last sealed batch (-1 before the first): a flush waits until it is acknowledged.</summary>
    public long LastOrdinal => _nextOrdinal - 1;

    /// <summary>
    /// Whether one more message is accepted: below both limits, and always into an empty buffer so
    /// that a message larger than the limits still goes.
    /// </summary>
    public bool HasRoom =>
        _bufferedMessages == 0 || (_bufferedMessages < _maxBufferedMessages && _bufferedBytes < _maxBufferedBytes);

    public static ContentMode ModeOf(string? contentType) =>
        contentType is null ? ContentMode.Unknown : MediaTypes.IsJson(contentType) ? ContentMode.Json : ContentMode.Bytes;

    public void LearnContentType(string contentType) => Mode = ModeOf(contentType);

    // ---- Adding messages ------------------------------------------------------------------------

    // AddBytes, Added, ProducerCore.TryAddBytes and DispatchLocked run for every message: compiled
    // fully optimized at once, a new process does not spend its first million appends in
    // unoptimized and instrumented code (measured: ~100 -> ~55 ns per 100-byte append over the
    // first iterations of the benchmark loop; unchanged once tiering has finished).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddBytes(ReadOnlySpan<byte> data, string paramName)
    {
        ProducerBatch batch = OpenBatchFor(data.Length);
        int start = batch.BeginItem();
        data.CopyTo(batch.GetSpan(data.Length));
        batch.Advance(data.Length);
        Added(batch, start, rawJson: true, paramName);
    }

    /// <summary>
    /// Adds the first <paramref name="length"/> bytes of <paramref name="owner"/>'s memory. A message
    /// that fills a batch by itself (at least <see cref="ProducerOptions.MaxBatchBytes"/>; the copying
    /// path would send it alone too) becomes a batch over that memory, and the batch then owns it
    /// (returns <see langword="true"/>); a smaller one is copied into the open batch and the caller
    /// still owns it (returns <see langword="false"/>).
    /// </summary>
    public bool AddOwned(IMemoryOwner<byte> owner, int length, string paramName)
    {
        ReadOnlyMemory<byte> message = owner.Memory[..length];
        if (length < _maxBatchBytes)
        {
            AddBytes(message.Span, paramName);
            return false;
        }

        if (Mode == ContentMode.Json && !JsonSyntax.IsOneValue(message.Span))
        {
            throw new ArgumentException("On a JSON stream each message must be exactly one JSON value (PROTOCOL.md §9.1).", paramName);
        }

        // Everything appended before it leaves first, in its own batch.
        SealOpen();
        ProducerBatch batch = ProducerBatch.Owning(owner, message, jsonLayout: Mode != ContentMode.Bytes, trackItems: Mode == ContentMode.Unknown);
        _bufferedBytes += length;
        DurableStreamsTelemetry.ProducerBufferedBytes.Add(length);
        _bufferedMessages++;
        _pendingMessages++;
        batch.Ordinal = _nextOrdinal++;
        batch.State = BatchState.Queued;
        _queued.Enqueue(batch);
        return true;
    }

    public void AddText(string text, string paramName)
    {
        int length = Encoding.UTF8.GetByteCount(text);
        ProducerBatch batch = OpenBatchFor(length);
        int start = batch.BeginItem();
        WriteText(batch, text, length);
        Added(batch, start, rawJson: true, paramName);
    }

    /// <summary>Serializes <paramref name="value"/> into the open batch; without <paramref name="jsonTypeInfo"/> by reflection (only reached from the annotated public overloads).</summary>
    public void AddJson<T>(T value, JsonTypeInfo<T>? jsonTypeInfo, string paramName)
    {
        ProducerBatch batch = OpenBatch();
        int start = batch.BeginItem();
        WriteJson(batch, start, value, jsonTypeInfo);
        Added(batch, start, rawJson: false, paramName);
    }

    // ---- The close request's batch --------------------------------------------------------------

    /// <summary>A batch for the close request; it is not counted until <see cref="EnqueueClose"/>.</summary>
    public ProducerBatch NewCloseBatch() => NewBatch(isClose: true);

    public void WriteCloseBytes(ProducerBatch batch, ReadOnlySpan<byte> data)
    {
        int start = batch.BeginItem();
        data.CopyTo(batch.GetSpan(data.Length));
        batch.Advance(data.Length);
        CheckCloseItem(batch, start, rawJson: true);
    }

    public void WriteCloseText(ProducerBatch batch, string text)
    {
        int start = batch.BeginItem();
        WriteText(batch, text, Encoding.UTF8.GetByteCount(text));
        CheckCloseItem(batch, start, rawJson: true);
    }

    public void WriteCloseJson<T>(ProducerBatch batch, T value, JsonTypeInfo<T>? jsonTypeInfo)
    {
        int start = batch.BeginItem();
        WriteJson(batch, start, value, jsonTypeInfo);
        CheckCloseItem(batch, start, rawJson: false);
    }

    /// <summary>Seals the close batch and queues it behind everything appended before it.</summary>
    public void EnqueueClose(ProducerBatch closeBatch)
    {
        closeBatch.Seal();
        closeBatch.Ordinal = _nextOrdinal++;
        closeBatch.State = BatchState.Queued;
        _bufferedBytes += closeBatch.PayloadBytes;
        DurableStreamsTelemetry.ProducerBufferedBytes.Add(closeBatch.PayloadBytes);
        _bufferedMessages += closeBatch.Count;
        _pendingMessages += closeBatch.Count;
        _queued.Enqueue(closeBatch);
    }

    // ---- Leaving the buffer ---------------------------------------------------------------------

    /// <summary>Moves the open batch, if it has messages, to the send queue.</summary>
    public void SealOpen()
    {
        ProducerBatch? batch = _open;
        if (batch is null || batch.Count == 0)
        {
            return;
        }

        _open = null;
        batch.Seal();
        batch.Ordinal = _nextOrdinal++;
        batch.State = BatchState.Queued;
        _sizeHint = Math.Max(256, Math.Min(batch.WireLength, _maxBatchBytes));
        _queued.Enqueue(batch);
    }

    /// <summary>The next batch to send: a queued one, else the open one once its linger has expired.</summary>
    public bool TryTakeNext([NotNullWhen(true)] out ProducerBatch? batch)
    {
        if (_queued.Count == 0 && _open is { Count: > 0 } && _openLinger == LingerState.Expired)
        {
            SealOpen();
        }

        if (!_queued.TryDequeue(out batch))
        {
            return false;
        }

        _pendingMessages -= batch.Count;
        return true;
    }

    /// <summary>The linger timer fired: whether an open batch may now leave (the caller then dispatches).</summary>
    public bool ExpireLinger()
    {
        if (_open is null)
        {
            return false;
        }

        _openLinger = LingerState.Expired;
        return true;
    }

    /// <summary>A sent batch was answered (or abandoned): its messages stop counting against the limits.</summary>
    public void Release(ProducerBatch batch)
    {
        _bufferedBytes -= batch.PayloadBytes;
        _bufferedMessages -= batch.Count;
        DurableStreamsTelemetry.ProducerBufferedBytes.Add(-batch.PayloadBytes);
    }

    /// <summary>Drops every batch not yet sent (the producer failed; its failure reports them).</summary>
    public void DropUnsent()
    {
        while (_queued.TryDequeue(out ProducerBatch? queued))
        {
            Drop(queued);
        }

        if (_open is { } open)
        {
            _open = null;
            Drop(open);
        }
    }

    public void Dispose() => _lingerTimer.Dispose();

    private void Drop(ProducerBatch batch)
    {
        batch.State = BatchState.Abandoned;
        _bufferedBytes -= batch.PayloadBytes;
        DurableStreamsTelemetry.ProducerBufferedBytes.Add(-batch.PayloadBytes);
        _bufferedMessages -= batch.Count;
        _pendingMessages -= batch.Count;
        batch.Release();
    }

    // ---- Batches ----------------------------------------------------------------------------------

    /// <summary>Checks the item just written, accounts for it, and cuts the batch where the limits say.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Added(ProducerBatch batch, int start, bool rawJson, string paramName)
    {
        ReadOnlySpan<byte> item = batch.ItemSince(start);
        if (rawJson && Mode == ContentMode.Json && !JsonSyntax.IsOneValue(item))
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
            ProducerBatch next = NewBatch(isClose: false);
            next.AddItem(batch.ItemSince(start));
            batch.RemoveLastItem(start);
            SealOpen();
            _open = next;
            StartLinger();
            batch = next;
        }

        if (batch.WireLength >= _maxBatchBytes || batch.Count >= _maxBatchItems)
        {
            SealOpen();
        }
    }

    /// <summary>
    /// The open batch, after sealing it first if an item of <paramref name="length"/> bytes would
    /// not fit, so that known-size items never overflow a batch's buffer.
    /// </summary>
    private ProducerBatch OpenBatchFor(int length)
    {
        if (_open is { Count: > 0 } open && open.WireLength + (open.JsonLayout ? 1 : 0) + length > _maxBatchBytes)
        {
            SealOpen();
        }

        return OpenBatch();
    }

    private ProducerBatch OpenBatch()
    {
        if (_open is null)
        {
            _open = NewBatch(isClose: false);
            StartLinger();
        }

        return _open;
    }

    private ProducerBatch NewBatch(bool isClose) =>
        new(jsonLayout: Mode != ContentMode.Bytes, trackItems: Mode == ContentMode.Unknown, isClose ? 256 : _sizeHint) { IsClose = isClose };

    private void StartLinger()
    {
        if (_linger == TimeSpan.Zero)
        {
            _openLinger = LingerState.Expired;
        }
        else
        {
            _openLinger = LingerState.Waiting;
            _lingerTimer.Change(_linger, Timeout.InfiniteTimeSpan);
        }
    }

    private void CheckCloseItem(ProducerBatch batch, int start, bool rawJson, string paramName = "finalMessage")
    {
        if (rawJson && Mode == ContentMode.Json && !JsonSyntax.IsOneValue(batch.ItemSince(start)))
        {
            batch.RollbackItem(start);
            throw new ArgumentException("On a JSON stream the final message must be exactly one JSON value (PROTOCOL.md §9.1).", paramName);
        }

        batch.EndItem(start);
    }

    private static void WriteText(ProducerBatch batch, string text, int byteCount)
    {
        Span<byte> span = batch.GetSpan(byteCount);
        batch.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    private void WriteJson<T>(ProducerBatch batch, int start, T value, JsonTypeInfo<T>? jsonTypeInfo)
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
}
