namespace DurableStreams.Reading.Internal;

/// <summary>
/// A read-only wrapper that fails a read with <see cref="TimeoutException"/> when the body sends no
/// byte for a given time, so a server that trickles or stalls in the middle of a response cannot
/// hold a read forever (see <see cref="DurableStreamClientOptions.ResponseIdleTimeout"/>). The
/// clock restarts at every read, so any progress resets it.
/// </summary>
internal sealed class IdleTimeoutStream : Stream
{
    private readonly Stream _inner;
    private readonly TimeSpan _idle;
    private readonly CancellationToken _outer;
    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _linked;

    public IdleTimeoutStream(Stream inner, TimeSpan idle, TimeProvider time, CancellationToken outer)
    {
        _inner = inner;
        _idle = idle;
        _outer = outer;

        // One timer per body, re-armed by every read: no allocation per read.
        _timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(outer, _timer.Token);
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        CancellationTokenSource? callLinked = cancellationToken.CanBeCanceled && cancellationToken != _outer
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _linked.Token)
            : null;
        try
        {
            _timer.CancelAfter(_idle);
            int read = await _inner.ReadAsync(buffer, callLinked?.Token ?? _linked.Token).ConfigureAwait(false);
            _timer.CancelAfter(Timeout.InfiniteTimeSpan);
            return read;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && _timer.IsCancellationRequested && !cancellationToken.IsCancellationRequested && !_outer.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"The response body sent no data for {_idle.TotalSeconds:0.###} s (DurableStreamClientOptions.ResponseIdleTimeout).", ex);
        }
        finally
        {
            callLinked?.Dispose();
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _linked.Dispose();
            _timer.Dispose();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        _linked.Dispose();
        _timer.Dispose();
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
