using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization.Metadata;

namespace DurableStreams;

public partial class IdempotentProducer
{
    // ---- Flush, close, detach, restart ----------------------------------------------------------

    /// <summary>
    /// Sends what is batched now (without waiting for <see cref="ProducerOptions.Linger"/>) and waits
    /// until every message appended before this call is acknowledged by the server.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the messages are still sent.</param>
    /// <returns>A task that completes when everything appended so far is stored.</returns>
    /// <exception cref="DurableStreamException">A batch could not be stored (its subtypes say why: <see cref="StaleEpochException"/>, <see cref="SequenceGapException"/>, <see cref="StreamClosedException"/>, ...).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public virtual Task FlushAsync(CancellationToken cancellationToken = default) => _core.FlushAsync(cancellationToken);

    /// <summary>
    /// Flushes, then closes the stream (PROTOCOL.md §5.2.1, §5.3) with this producer's headers, so
    /// that readers see its end. The producer accepts no more messages. Calling it again returns the
    /// result of the first call (a later final message is ignored).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <exception cref="StreamClosedException">Another writer had already closed the stream.</exception>
    /// <exception cref="DurableStreamException">A batch or the close could not be stored.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed before.</exception>
    public virtual Task<CloseResult> CloseAsync(CancellationToken cancellationToken = default) =>
        _core.StartClose(static (_, _, _) => { }, 0, cancellationToken);

    /// <summary>Flushes, then appends <paramref name="finalMessage"/> and closes the stream in one atomic request.</summary>
    /// <param name="finalMessage">The last message; must not be empty; on a JSON stream one JSON value.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/remarks"/>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    public virtual Task<CloseResult> CloseAsync(ReadOnlyMemory<byte> finalMessage, CancellationToken cancellationToken = default)
    {
        RequireNonEmpty(finalMessage.Length, nameof(finalMessage));
        return _core.StartClose(static (buffer, batch, data) => buffer.WriteCloseBytes(batch, data.Span), finalMessage, cancellationToken);
    }

    /// <summary>Flushes, then appends <paramref name="finalMessage"/> (UTF-8, sent as it is) and closes the stream in one atomic request.</summary>
    /// <param name="finalMessage">The last message; must not be empty; on a JSON stream one JSON value.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    public virtual Task<CloseResult> CloseAsync(string finalMessage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(finalMessage);
        RequireNonEmpty(finalMessage.Length, nameof(finalMessage));
        return _core.StartClose(static (buffer, batch, text) => buffer.WriteCloseText(batch, text), finalMessage, cancellationToken);
    }

    /// <summary>Flushes, then serializes <paramref name="finalMessage"/> (trimming- and AOT-safe), appends it and closes the stream in one atomic request.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="finalMessage">The last message.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    public virtual Task<CloseResult> CloseAsync<T>(T finalMessage, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return _core.StartClose(
            static (buffer, batch, state) => buffer.WriteCloseJson(batch, state.finalMessage, state.jsonTypeInfo),
            (finalMessage, jsonTypeInfo),
            cancellationToken);
    }

    /// <summary>
    /// Flushes, then serializes <paramref name="finalMessage"/> with the client's serializer options
    /// (raw bytes and strings are sent as raw data), appends it and closes the stream atomically.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="finalMessage">The last message.</param>
    /// <param name="cancellationToken">Cancels the wait; the close still happens.</param>
    /// <returns>The stream's final offset.</returns>
    /// <inheritdoc cref="CloseAsync(CancellationToken)" path="/exception"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual Task<CloseResult> CloseAsync<T>(T finalMessage, CancellationToken cancellationToken = default)
    {
        switch (finalMessage)
        {
            case null:
                throw new ArgumentNullException(nameof(finalMessage));
            case byte[] bytes:
                return CloseAsync(new ReadOnlyMemory<byte>(bytes), cancellationToken);
            case ReadOnlyMemory<byte> memory:
                return CloseAsync(memory, cancellationToken);
            case Memory<byte> memory:
                return CloseAsync((ReadOnlyMemory<byte>)memory, cancellationToken);
            case ArraySegment<byte> segment:
                return CloseAsync(segment.AsMemory(), cancellationToken);
            case string text:
                return CloseAsync(text, cancellationToken);
            default:
                return _core.StartClose(
                    static (buffer, batch, value) => buffer.WriteCloseJson<T>(batch, value, jsonTypeInfo: null),
                    finalMessage,
                    cancellationToken);
        }
    }

    /// <summary>
    /// Flushes and stops the producer without closing the stream: another producer (or a later
    /// epoch of this one) can continue it.
    /// </summary>
    /// <param name="cancellationToken">Cancels the flush; the producer then stops and abandons what was not yet stored.</param>
    /// <returns>A task that completes when everything appended is stored and the producer has stopped.</returns>
    /// <exception cref="DurableStreamException">A batch could not be stored.</exception>
    public virtual Task DetachAsync(CancellationToken cancellationToken = default) => _core.DetachAsync(cancellationToken);

    /// <summary>
    /// Flushes and stops without closing the stream, like <see cref="DetachAsync"/> (or, after
    /// <c>CloseAsync</c>, waits for the close), for at most <see cref="ProducerOptions.DisposeTimeout"/>.
    /// Throws the producer's failure if no earlier call has thrown it; a second call does nothing.
    /// </summary>
    /// <remarks>
    /// When the timeout elapses first (a server that does not answer, a stream that stays
    /// unavailable), the producer stops and abandons the messages not yet acknowledged: they may or
    /// may not be stored. That is a failure with <see cref="DurableStreamErrorCodes.Timeout"/> that
    /// names how many messages were abandoned; it is logged, passed to
    /// <see cref="ProducerOptions.OnError"/> and thrown here.
    /// </remarks>
    /// <returns>A task that completes when the producer has stopped.</returns>
    /// <exception cref="DurableStreamException">A batch could not be stored and no earlier call reported it, or the timeout elapsed with messages not acknowledged.</exception>
    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        if (_core is not null)
        {
            await _core.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Starts a new epoch (PROTOCOL.md §5.2.1 restart flow): waits until no batch is in flight,
    /// then raises the epoch by one (or past the server's epoch, if a stale-epoch answer reported
    /// one), restarts sequence numbers at 0, clears a failure, and sends any queued messages in the
    /// new epoch. Batches that failed are not resent: their failure was reported.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The new epoch.</returns>
    /// <exception cref="InvalidOperationException">The producer is closing or closed the stream.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed.</exception>
    public virtual Task<long> RestartAsync(CancellationToken cancellationToken = default) => _core.RestartAsync(cancellationToken);
}
