using System.Diagnostics.CodeAnalysis;
using System.Text.Json.Serialization.Metadata;

namespace DurableStreams;

public partial class IdempotentProducer
{
    /// <summary>
    /// Appends every message of an asynchronous sequence, in order, waiting for room in the buffer
    /// before each one exactly as <see cref="AppendAsync{T}(T, JsonTypeInfo{T}, CancellationToken)"/> does.
    /// Completes when the sequence has ended and every message was accepted into a batch, not when
    /// they are stored: call <see cref="FlushAsync"/> (or close or dispose the producer) for that.
    /// </summary>
    /// <remarks>
    /// The sequence is enumerated once, on the caller's context; the producer keeps sending batches
    /// while it is enumerated, so a slow source and the network overlap. A message the sequence yields
    /// after a failure is not accepted: the failure is thrown, and the messages accepted before it
    /// behave as in <see cref="FlushAsync"/>.
    /// </remarks>
    /// <typeparam name="T">The message type, serialized with <paramref name="jsonTypeInfo"/>.</typeparam>
    /// <param name="messages">The messages; each becomes one message of the stream.</param>
    /// <param name="jsonTypeInfo">Serialization metadata for <typeparamref name="T"/> (trimming and native AOT safe).</param>
    /// <param name="cancellationToken">Cancels the enumeration and the waits for room; messages already accepted are not withdrawn.</param>
    /// <returns>How many messages were accepted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="messages"/> or <paramref name="jsonTypeInfo"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The producer is closing.</exception>
    /// <exception cref="ObjectDisposedException">The producer was detached or disposed.</exception>
    /// <exception cref="DurableStreamException">The producer failed; this is that failure.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public virtual Task<long> AppendAllAsync<T>(IAsyncEnumerable<T> messages, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return AppendAllCoreAsync(messages, (producer, message, ct) => producer.AppendAsync(message, jsonTypeInfo, ct), cancellationToken);
    }

    /// <summary>
    /// Appends every message of an asynchronous sequence, in order, waiting for room in the buffer
    /// before each one exactly as <see cref="AppendAsync{T}(T, CancellationToken)"/> does: byte arrays
    /// and memory are sent as they are, strings as UTF-8 text, other values as JSON (reflection).
    /// Completes when every message was accepted into a batch; call <see cref="FlushAsync"/> to wait
    /// until they are stored.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="messages">The messages; each becomes one message of the stream.</param>
    /// <param name="cancellationToken">Cancels the enumeration and the waits for room; messages already accepted are not withdrawn.</param>
    /// <returns>How many messages were accepted.</returns>
    /// <inheritdoc cref="AppendAllAsync{T}(IAsyncEnumerable{T}, JsonTypeInfo{T}, CancellationToken)" path="/remarks"/>
    /// <inheritdoc cref="AppendAllAsync{T}(IAsyncEnumerable{T}, JsonTypeInfo{T}, CancellationToken)" path="/exception"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual Task<long> AppendAllAsync<T>(IAsyncEnumerable<T> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return AppendAllCoreAsync(messages, (producer, message, ct) => producer.AppendAsync(message, ct), cancellationToken);
    }

    private async Task<long> AppendAllCoreAsync<T>(IAsyncEnumerable<T> messages, Func<IdempotentProducer, T, CancellationToken, ValueTask> append, CancellationToken cancellationToken)
    {
        long count = 0;
        await foreach (T message in messages.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            await append(this, message, cancellationToken).ConfigureAwait(false);
            count++;
        }

        return count;
    }
}
