namespace DurableStreams;

public partial class DurableStream
{
    /// <summary>
    /// Creates an idempotent producer on this stream (PROTOCOL.md §5.2.1): batched, pipelined appends
    /// that the server stores exactly once, in append order, through retries and reconnects. Does no I/O.
    /// </summary>
    /// <param name="producerId">A stable, non-empty identifier of the logical producer.</param>
    /// <param name="options">Batching, pipelining, buffering and retry settings. Default: <see cref="ProducerOptions"/>'s defaults.</param>
    /// <returns>The producer; dispose it (or close or detach it) to flush and stop.</returns>
    /// <exception cref="ArgumentException"><paramref name="producerId"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the parameter name says which.</exception>
    /// <exception cref="ObjectDisposedException">The client that made this handle was disposed.</exception>
    public virtual IdempotentProducer CreateProducer(string producerId, ProducerOptions? options = null)
    {
        _client?.ThrowIfDisposed();
        return new(this, producerId, options, ClientDisposedToken);
    }

    /// <summary>Cancelled when the client that made this handle is disposed: its producers then stop.</summary>
    internal CancellationToken ClientDisposedToken => _client?.DisposalToken ?? CancellationToken.None;
}
