using System.Globalization;

namespace DurableStreams.Cli;

/// <summary>
/// Counts bytes and messages sent and, when standard error is a terminal, redraws one status line
/// there while a long write runs.
/// </summary>
internal sealed class Progress : IDisposable
{
    private readonly TextWriter _error;
    private readonly bool _enabled;
    private readonly object _gate = new();
    private readonly Timer? _timer;
    private long _bytes;
    private long _messages;
    private bool _countMessages;
    private bool _stopped;

    public Progress(CliConsole console)
    {
        _error = console.Error;
        _enabled = console.ErrorIsTerminal;
        if (_enabled)
        {
            _timer = new Timer(_ => Draw(final: false), null, console.ProgressInterval, console.ProgressInterval);
        }
    }

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Messages => Interlocked.Read(ref _messages);

    public void AddBytes(long count) => Interlocked.Add(ref _bytes, count);

    public void AddMessage(long bytes)
    {
        _countMessages = true;
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Increment(ref _messages);
    }

    /// <summary>Stops redrawing and leaves the final count on its own line.</summary>
    public void Complete()
    {
        _timer?.Dispose();
        Draw(final: true);
    }

    public void Dispose()
    {
        _timer?.Dispose();
        lock (_gate)
        {
            _stopped = true;
        }
    }

    public string Describe() => _countMessages
        ? string.Create(CultureInfo.InvariantCulture, $"{Messages} {(Messages == 1 ? "message" : "messages")}, {Bytes} bytes sent")
        : string.Create(CultureInfo.InvariantCulture, $"{Bytes} bytes sent");

    private void Draw(bool final)
    {
        if (!_enabled)
        {
            return;
        }

        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _error.Write("\r" + Describe() + (final ? Environment.NewLine : string.Empty));
            _error.Flush();
            _stopped = final;
        }
    }
}

/// <summary>A read-only view of a stream that counts the bytes read through it.</summary>
internal sealed class CountingStream : Stream
{
    private readonly Stream _inner;
    private readonly ReadOnlyMemory<byte> _prefix;
    private readonly Action<long> _onRead;
    private int _prefixUsed;

    /// <param name="prefix">Bytes already taken from <paramref name="inner"/>, returned first.</param>
    public CountingStream(ReadOnlyMemory<byte> prefix, Stream inner, Action<long> onRead)
    {
        _prefix = prefix;
        _inner = inner;
        _onRead = onRead;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read = TakePrefix(buffer);
        if (read == 0)
        {
            read = _inner.Read(buffer);
        }

        _onRead(read);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = TakePrefix(buffer.Span);
        if (read == 0)
        {
            read = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        _onRead(read);
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int TakePrefix(Span<byte> destination)
    {
        int count = Math.Min(destination.Length, _prefix.Length - _prefixUsed);
        if (count <= 0)
        {
            return 0;
        }

        _prefix.Span.Slice(_prefixUsed, count).CopyTo(destination);
        _prefixUsed += count;
        return count;
    }
}
