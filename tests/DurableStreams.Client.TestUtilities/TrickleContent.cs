using System.Net;

namespace DurableStreams.Testing;

/// <summary>
/// Response content whose stream hands out its bytes in reads of at most <c>maxReadSize</c> bytes
/// (1 = "trickle"), optionally following a fixed pattern of read sizes, and can end with an
/// exception instead of end-of-stream to simulate a connection dropped in the middle of a body.
/// Records whether it was disposed, so tests can check that responses are released.
/// </summary>
public sealed class TrickleContent : HttpContent
{
    private readonly byte[] _data;
    private readonly int[] _readSizes;
    private readonly Func<Exception>? _failAtEnd;
    private readonly bool _hangAtEnd;

    /// <summary>Creates the content.</summary>
    /// <param name="data">The body.</param>
    /// <param name="readSizes">The sizes of successive reads, repeated; <c>[1]</c> trickles one byte per read.</param>
    /// <param name="contentType">The Content-Type header, if any.</param>
    /// <param name="failAtEnd">Thrown by the read after the last byte instead of returning 0.</param>
    /// <param name="hangAtEnd">The read after the last byte waits until it is cancelled (a live response that stays open).</param>
    public TrickleContent(byte[] data, int[]? readSizes = null, string? contentType = null, Func<Exception>? failAtEnd = null, bool hangAtEnd = false)
    {
        _hangAtEnd = hangAtEnd;
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        _readSizes = readSizes is { Length: > 0 } ? readSizes : [int.MaxValue];
        _failAtEnd = failAtEnd;
        if (contentType is not null)
        {
            Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
    }

    /// <summary>Whether the content (and so its response) was disposed.</summary>
    public bool Disposed { get; private set; }

    /// <summary>Completes when a reader waits at the end of a <c>hangAtEnd</c> body.</summary>
    public TaskCompletionSource Hanging { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many bytes the reader has taken so far.</summary>
    public int BytesRead => _stream?.Position is { } p ? (int)p : 0;

    private TrickleStream? _stream;

    /// <inheritdoc />
    protected override Task<Stream> CreateContentReadStreamAsync()
    {
        _stream = new TrickleStream(this);
        return Task.FromResult<Stream>(_stream);
    }

    /// <inheritdoc />
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        ArgumentNullException.ThrowIfNull(stream);
        await stream.WriteAsync(_data);
    }

    /// <inheritdoc />
    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        Disposed = true;
        base.Dispose(disposing);
    }

    private sealed class TrickleStream(TrickleContent owner) : Stream
    {
        private int _position;
        private int _reads;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => owner._data.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(owner.Disposed, owner);

            int remaining = owner._data.Length - _position;
            if (remaining == 0)
            {
                if (owner._failAtEnd is { } fail)
                {
                    throw fail();
                }

                return 0;
            }

            int size = owner._readSizes[_reads++ % owner._readSizes.Length];
            int n = Math.Min(Math.Min(size, remaining), buffer.Length);
            owner._data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (owner._hangAtEnd && _position == owner._data.Length)
            {
                owner.Hanging.TrySetResult();
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return Read(buffer.Span);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
