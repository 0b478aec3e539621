using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Producing.Internal;

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
    private const string ReflectionJsonMessage = ProducerCore.ReflectionJsonMessage;

    private const string DynamicCodeJsonMessage = ProducerCore.DynamicCodeJsonMessage;

    // The working parts (buffer, epoch and sequence numbers, batch sender) live behind the core;
    // this class is the public surface. Null only in a mocking subclass.
    private readonly ProducerCore _core = null!;

    /// <summary>Creates a producer on <paramref name="stream"/>. Does no I/O.</summary>
    /// <param name="stream">The stream to append to.</param>
    /// <param name="producerId">A stable, non-empty identifier of the logical producer (sent as <c>Producer-Id</c>).</param>
    /// <param name="options">Batching, pipelining, buffering and retry settings. Default: <see cref="ProducerOptions"/>'s defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> or <paramref name="producerId"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="producerId"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the parameter name says which.</exception>
    public IdempotentProducer(DurableStream stream, string producerId, ProducerOptions? options = null)
        : this(stream, producerId, options, stream?.ClientDisposedToken ?? CancellationToken.None)
    {
    }

    /// <summary>Creates a producer that also stops when <paramref name="clientDisposed"/> is cancelled (its client was disposed).</summary>
    internal IdempotentProducer(DurableStream stream, string producerId, ProducerOptions? options, CancellationToken clientDisposed)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(producerId);
        if (producerId.Length == 0)
        {
            throw new ArgumentException("A producer id cannot be empty (PROTOCOL.md §5.2.1).", nameof(producerId));
        }

        options ??= new ProducerOptions();
        options.Validate();
        _core = new ProducerCore(stream, producerId, options, clientDisposed);
    }

    /// <summary>For mocking: a producer with no stream, whose virtual members a test double overrides.</summary>
    protected IdempotentProducer()
    {
    }

    /// <summary>The stream the producer appends to.</summary>
    public virtual DurableStream Stream => _core.Stream;

    /// <summary>The producer id sent as <c>Producer-Id</c>.</summary>
    public virtual string ProducerId => _core.ProducerId;

    /// <summary>The current epoch: <see cref="ProducerOptions.Epoch"/>, raised by auto-claim or <see cref="RestartAsync"/>.</summary>
    public virtual long Epoch => _core.Epoch;

    /// <summary>The sequence number the next batch will be sent with, in the current epoch.</summary>
    public virtual long NextSequence => _core.NextSequence;

    /// <summary>Messages appended and not yet sent (waiting in a batch).</summary>
    public virtual int PendingCount => _core.PendingCount;

    /// <summary>Batches sent and awaiting their response (at most <see cref="ProducerOptions.MaxInFlight"/>).</summary>
    public virtual int InFlightCount => _core.InFlightCount;

    /// <summary>
    /// The highest stream tail offset the server reported for an acknowledged batch, or
    /// <see langword="null"/> before the first acknowledgement. Never moves backwards, even when
    /// pipelined responses arrive out of order.
    /// </summary>
    public virtual Offset? LastAcknowledgedOffset => _core.LastAcknowledgedOffset;

    /// <summary>Where the producer is in its life; for tests and diagnostics.</summary>
    internal ProducerState State => _core.State;

    /// <summary>The failure that stopped the producer, or <see langword="null"/> while it is healthy.</summary>
    public virtual DurableStreamException? Failure => _core.Failure;

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

    /// <summary>
    /// Adds one message whose memory the producer takes over, waiting while the buffer is full:
    /// the first <paramref name="length"/> bytes of <paramref name="owner"/>'s
    /// <see cref="IMemoryOwner{T}.Memory"/>. For large messages this saves the copy that the other
    /// overloads make (they let the caller reuse its buffer at once).
    /// </summary>
    /// <remarks>
    /// <para>
    /// The call transfers ownership in every outcome: the producer disposes <paramref name="owner"/>
    /// exactly once, and the caller must neither dispose it nor touch its memory after calling,
    /// even when this method throws or is cancelled.
    /// </para>
    /// <para>
    /// A message of at least <see cref="ProducerOptions.MaxBatchBytes"/> is sent alone, as the other
    /// overloads would send it, with the memory itself as the request body: <paramref name="owner"/>
    /// is disposed once that batch is finished (acknowledged, failed, or abandoned when the producer
    /// stops) and no request is still reading the memory, which retries and resends keep alive. A
    /// smaller message is copied into a batch like any other, and <paramref name="owner"/> is
    /// disposed before the returned task completes.
    /// </para>
    /// </remarks>
    /// <param name="owner">The owner of the message's memory, e.g. from <see cref="MemoryPool{T}.Rent(int)"/>; the producer disposes it.</param>
    /// <param name="length">How many bytes of the memory, from its start, are the message; at least 1.</param>
    /// <param name="cancellationToken">Cancels the wait for room; a message already accepted is not withdrawn.</param>
    /// <returns>A task that completes when the message is accepted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="owner"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is less than 1 or larger than the memory.</exception>
    /// <exception cref="ArgumentException">The message is not one JSON value on a JSON stream.</exception>
    /// <exception cref="InvalidOperationException">The producer is closing.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed.</exception>
    /// <exception cref="DurableStreamException">The producer failed earlier; this is that failure.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public virtual ValueTask AppendAsync(IMemoryOwner<byte> owner, int length, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(owner);
        OwnedAppend added;
        try
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(length, owner.Memory.Length);
            added = _core.TryAddOwned(owner, length, nameof(owner));
        }
        catch
        {
            owner.Dispose();
            throw;
        }

        switch (added)
        {
            case OwnedAppend.NoRoom:
                return AppendOwnedSlowAsync(owner, length, cancellationToken);
            case OwnedAppend.Copied:
                owner.Dispose();
                break;
        }

        return default;
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

    private async ValueTask AppendOwnedSlowAsync(IMemoryOwner<byte> owner, int length, CancellationToken cancellationToken)
    {
        OwnedAppend added;
        try
        {
            do
            {
                await WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
            }
            while ((added = _core.TryAddOwned(owner, length, nameof(owner))) == OwnedAppend.NoRoom);
        }
        catch
        {
            owner.Dispose();
            throw;
        }

        if (added == OwnedAppend.Copied)
        {
            owner.Dispose();
        }
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

    private Task WaitForRoomAsync(CancellationToken cancellationToken) => _core.WaitForRoomAsync(cancellationToken);

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
            case IMemoryOwner<byte>:
                // Reached by AppendAsync(owner) without a length, where the generic overload wins.
                throw new ArgumentException("To append memory with its owner, pass the message's length: AppendAsync(IMemoryOwner<byte>, int). The producer did not take the owner.", nameof(value));
            case System.IO.Stream:
                throw new ArgumentException("A producer cannot append a Stream: read it into memory, or use DurableStream.AppendAsync(Stream).", nameof(value));
            default:
                return TryAddJson(value, jsonTypeInfo: null);
        }
    }

    private bool TryAddBytes(ReadOnlySpan<byte> data) => _core.TryAddBytes(data);

    private bool TryAddText(string text) => _core.TryAddText(text);

    private bool TryAddJson<T>(T value, JsonTypeInfo<T>? jsonTypeInfo) => _core.TryAddJson(value, jsonTypeInfo);

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
}
