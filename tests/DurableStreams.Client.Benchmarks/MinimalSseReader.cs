using System.Buffers;

namespace DurableStreams.Benchmarks;

/// <summary>
/// The hand-rolled floor for SSE: the least a client must do to read Server-Sent Events off a response
/// body — split lines on LF, keep the <c>event:</c> name, join the <c>data:</c> lines of one event
/// (PROTOCOL.md §5.8), dispatch on the blank line. No retry field, no id, no CR handling, no limits.
/// One buffer, reused; the caller copies out what it keeps.
/// </summary>
internal sealed class MinimalSseReader
{
    private readonly Stream _stream;
    private readonly bool _joinWithoutNewline;
    private readonly ArrayBufferWriter<byte> _data = new(1024);
    private byte[] _buffer = new byte[4 * 1024];
    private int _start;
    private int _end;

    /// <param name="stream">The response body.</param>
    /// <param name="joinWithoutNewline">Join data lines without LF (base64 payloads, PROTOCOL.md §5.8).</param>
    public MinimalSseReader(Stream stream, bool joinWithoutNewline = false)
    {
        _stream = stream;
        _joinWithoutNewline = joinWithoutNewline;
    }

    /// <summary>Whether the last event was <c>event: control</c> (else it was a data event).</summary>
    public bool IsControl { get; private set; }

    /// <summary>The data of the last event; valid until the next call.</summary>
    public ReadOnlySpan<byte> Data => _data.WrittenSpan;

    /// <summary>Reads the next event; <see langword="false"/> at the end of the body.</summary>
    public async ValueTask<bool> ReadEventAsync(CancellationToken cancellationToken = default)
    {
        _data.ResetWrittenCount();
        IsControl = false;
        bool any = false, firstData = true;
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline < 0)
            {
                if (_start > 0)
                {
                    _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                    _end -= _start;
                    _start = 0;
                }

                if (_end == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return false;
                }

                _end += read;
                continue;
            }

            ReadOnlySpan<byte> line = _buffer.AsSpan(_start, newline);
            _start += newline + 1;
            if (line.IsEmpty)
            {
                if (any)
                {
                    return true;
                }

                continue;
            }

            any = true;
            if (line.StartsWith("data:"u8))
            {
                ReadOnlySpan<byte> value = line[5..];
                if (!value.IsEmpty && value[0] == (byte)' ')
                {
                    value = value[1..];
                }

                if (!firstData && !_joinWithoutNewline)
                {
                    _data.Write("\n"u8);
                }

                _data.Write(value);
                firstData = false;
            }
            else if (line.StartsWith("event:"u8))
            {
                IsControl = line[6..].Trim((byte)' ').SequenceEqual("control"u8);
            }
        }
    }
}
