namespace DurableStreams.Reading.Internal;

/// <summary>Wraps an iterator so that it can be enumerated only once: a read is one pass over the stream.</summary>
internal sealed class SingleUseAsyncEnumerable<T> : IAsyncEnumerable<T>
{
    private readonly Func<CancellationToken, IAsyncEnumerator<T>> _start;
    private int _started;

    public SingleUseAsyncEnumerable(Func<CancellationToken, IAsyncEnumerator<T>> start) => _start = start;

    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        Interlocked.Exchange(ref _started, 1) == 0
            ? _start(cancellationToken)
            : throw new InvalidOperationException("A read can be enumerated only once; call ReadAsync again to read again.");
}
