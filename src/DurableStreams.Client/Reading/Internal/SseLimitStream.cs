namespace DurableStreams.Reading.Internal;

/// <summary>
/// A read-only wrapper that bounds what the SSE parser can be made to hold before an event is
/// dispatched: the bytes since the last line break (one endless line) and the bytes since the last
/// <see cref="ResetCount"/> (called for every dispatched event: one endless event of many lines).
/// </summary>
internal sealed class SseLimitStream : Stream
{
    private readonly Stream _inner;
    private readonly long _lineLimit;
    private readonly long _eventLimit;
    private readonly Func<string, Exception> _tooLarge;
    private long _count;
    private long _line;

    public SseLimitStream(Stream inner, long lineLimit, long eventLimit, Func<string, Exception> tooLarge)
    {
        _inner = inner;
        _lineLimit = lineLimit;
        _eventLimit = eventLimit;
        _tooLarge = tooLarge;
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

    public void ResetCount() => _count = 0;

    public override int Read(byte[] buffer, int offset, int count) => Count(buffer.AsSpan(offset, _inner.Read(buffer, offset, count)));

    public override int Read(Span<byte> buffer) => Count(buffer[.._inner.Read(buffer)]);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Count(buffer.Span[..read]);
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
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private int Count(ReadOnlySpan<byte> read)
    {
        // PROTOCOL.md §5.8 / the SSE format: lines end with CR, LF or CRLF.
        int lastBreak = read.LastIndexOfAny((byte)'\r', (byte)'\n');
        _line = lastBreak < 0 ? _line + read.Length : read.Length - lastBreak - 1;
        if (_line > _lineLimit)
        {
            throw _tooLarge($"An SSE line of more than {_lineLimit} bytes");
        }

        _count += read.Length;
        if (_count > _eventLimit)
        {
            throw _tooLarge($"An SSE event of more than {_eventLimit} bytes");
        }

        return read.Length;
    }
}
