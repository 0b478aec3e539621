using System.Buffers;

namespace DurableStreams.Reading.Internal;

/// <summary>The event types the read tells apart (PROTOCOL.md §5.8); every other type is <see cref="Other"/>.</summary>
internal enum SseEventKind
{
    /// <summary>An event of a type the read ignores (including the default type, <c>message</c>).</summary>
    Other,

    /// <summary><c>event: data</c>.</summary>
    Data,

    /// <summary><c>event: control</c>.</summary>
    Control,
}

/// <summary>
/// Splits a <c>text/event-stream</c> body into events (the WHATWG event-stream format that
/// PROTOCOL.md §5.8 uses) straight from one pooled byte buffer: lines end with CR, LF or CRLF (also
/// across reads), a leading BOM and comment lines are skipped, <c>data</c> lines are joined with LF,
/// the event type is recognised from its bytes, a blank line dispatches, and a trailing event that
/// never got its blank line is dropped. Nothing is allocated per event: the data handed out is a
/// view of the buffer, valid until the next call.
/// </summary>
/// <remarks>
/// Built for the read's hot path instead of <c>System.Net.ServerSentEvents.SseParser</c>, which
/// hands every event over through an async iterator step and a new event-type string (measured:
/// docs/benchmarks.md, issue 14). The tests run it against <c>SseParser</c> as the oracle.
/// Bounds what a server can make it hold: a line longer than <c>lineLimit</c> and the joined data
/// of one event beyond <c>maxEventBytes</c> fail with <see cref="SseDecodingException"/> as soon as
/// they are seen, before they are held whole.
/// </remarks>
internal sealed class SseEventReader : IDisposable
{
    private const int InitialBufferBytes = 4 * 1024;

    private readonly Stream _stream;
    private readonly long _lineLimit;
    private readonly int _maxEventBytes;

    // Bytes [_start, _end) of _buffer are read but not parsed yet.
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private bool _afterCr;
    private bool _bomChecked;

    // The open event. Its data is either one line still in _buffer (the common case: no copy) or,
    // from the second line on, joined in _joined.
    private SseEventKind _kind;
    private bool _hasData;
    private int _dataStart;
    private int _dataLength;
    private bool _dataInBuffer;
    private byte[]? _joined;
    private int _joinedLength;

    /// <summary>Creates a reader over one response body.</summary>
    /// <param name="stream">The body.</param>
    /// <param name="lineLimit">The longest line accepted, line break excluded.</param>
    /// <param name="maxEventBytes">The most data one event may hold once its lines are joined.</param>
    public SseEventReader(Stream stream, long lineLimit, int maxEventBytes)
    {
        _stream = stream;
        _lineLimit = lineLimit;
        _maxEventBytes = maxEventBytes;
        _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferBytes);
    }

    /// <summary>
    /// Parses the next complete event from the bytes already read. Returns false when more bytes are
    /// needed first (<see cref="FillAsync"/>). <paramref name="data"/> is valid until the next call.
    /// </summary>
    public bool TryRead(out SseEventKind kind, out ReadOnlySpan<byte> data)
    {
        while (true)
        {
            if (!_bomChecked && !SkipBom())
            {
                break;
            }

            if (_afterCr)
            {
                if (_start == _end)
                {
                    break;
                }

                // CRLF: the LF belongs to the CR that ended the last line.
                if (_buffer[_start] == (byte)'\n')
                {
                    _start++;
                }

                _afterCr = false;
            }

            ReadOnlySpan<byte> rest = _buffer.AsSpan(_start, _end - _start);
            int lineEnd = rest.IndexOfAny((byte)'\r', (byte)'\n');
            if (lineEnd < 0)
            {
                if (rest.Length > _lineLimit)
                {
                    throw new SseDecodingException($"An SSE line of more than {_lineLimit} bytes exceeds the limit that ReadOptions.MaxSseEventBytes ({_maxEventBytes} bytes) sets");
                }

                break;
            }

            int lineStart = _start;
            _afterCr = rest[lineEnd] == (byte)'\r';
            _start += lineEnd + 1;
            if (lineEnd == 0)
            {
                // A blank line dispatches the open event. Without data lines nothing is dispatched
                // and, as in the runtime's SseParser (the behaviour the read always had), the event
                // type stays for the next event.
                if (!_hasData)
                {
                    continue;
                }

                kind = _kind;
                data = _dataInBuffer ? _buffer.AsSpan(_dataStart, _dataLength) : _joined.AsSpan(0, _joinedLength);
                _kind = SseEventKind.Other;
                _hasData = false;
                _dataInBuffer = false;
                _joinedLength = 0;
                return true;
            }

            Field(lineStart, lineEnd);
        }

        kind = SseEventKind.Other;
        data = default;
        return false;
    }

    /// <summary>
    /// Reads more of the body into the buffer. Returns false at the end of the body (an event
    /// without its blank line is then dropped, as the format says).
    /// </summary>
    public ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_eof)
        {
            return new ValueTask<bool>(false);
        }

        MakeRoom();
        ValueTask<int> read = _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        return read.IsCompletedSuccessfully ? new ValueTask<bool>(Filled(read.Result)) : AwaitFillAsync(read);
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _start = _end = 0;
        _dataInBuffer = false;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (_joined is { } joined)
        {
            _joined = null;
            ArrayPool<byte>.Shared.Return(joined);
        }
    }

    private async ValueTask<bool> AwaitFillAsync(ValueTask<int> read) => Filled(await read.ConfigureAwait(false));

    private bool Filled(int read)
    {
        if (read == 0)
        {
            _eof = true;
            return false;
        }

        _end += read;
        return true;
    }

    /// <summary>One non-blank line: <c>name[:[ ]value]</c>; a line starting with a colon is a comment.</summary>
    private void Field(int lineStart, int length)
    {
        ReadOnlySpan<byte> line = _buffer.AsSpan(lineStart, length);

        // The two fields of every durable-stream event, told by their first bytes (the name ends at
        // the first colon, so a line starting with "data:" is a data field): no search for the colon.
        if (line.StartsWith("data:"u8))
        {
            int start = length > 5 && line[5] == (byte)' ' ? 6 : 5;
            AddData(lineStart + start, length - start);
            return;
        }

        if (line.StartsWith("event:"u8))
        {
            EventType(line[(length > 6 && line[6] == (byte)' ' ? 7 : 6)..]);
            return;
        }

        int colon = line.IndexOf((byte)':');
        if (colon == 0)
        {
            return;
        }

        ReadOnlySpan<byte> name = colon < 0 ? line : line[..colon];
        int valueStart = colon < 0 ? length : colon + 1;
        if (valueStart < length && line[valueStart] == (byte)' ')
        {
            valueStart++;
        }

        ReadOnlySpan<byte> value = line[valueStart..];
        if (name.SequenceEqual("data"u8))
        {
            AddData(lineStart + valueStart, value.Length);
        }
        else if (name.SequenceEqual("event"u8))
        {
            EventType(value);
        }

        // id, retry and unknown fields mean nothing to a durable-stream read (PROTOCOL.md §5.8
        // resumes from offsets, not from Last-Event-ID).
    }

    private void EventType(ReadOnlySpan<byte> value) =>
        _kind = value.SequenceEqual("data"u8) ? SseEventKind.Data
            : value.SequenceEqual("control"u8) ? SseEventKind.Control
            : SseEventKind.Other;

    private void AddData(int valueStart, int valueLength)
    {
        if (!_hasData)
        {
            // The first line stays where it is; most events have only one.
            _hasData = true;
            _dataInBuffer = true;
            _dataStart = valueStart;
            _dataLength = valueLength;
            return;
        }

        if (_dataInBuffer)
        {
            MoveDataOutOfBuffer();
        }

        // Lines are joined with LF; the limit applies to the joined data, checked as it grows.
        long joined = (long)_joinedLength + 1 + valueLength;
        if (joined > _maxEventBytes)
        {
            string type = _kind switch { SseEventKind.Data => "data", SseEventKind.Control => "control", _ => "SSE" };
            throw new SseDecodingException($"An SSE '{type}' event of more than {_maxEventBytes} bytes exceeds ReadOptions.MaxSseEventBytes ({_maxEventBytes} bytes)");
        }

        EnsureJoined((int)joined);
        _joined![_joinedLength++] = (byte)'\n';
        _buffer.AsSpan(valueStart, valueLength).CopyTo(_joined.AsSpan(_joinedLength));
        _joinedLength += valueLength;
    }

    /// <summary>The open event's first data line moves to the join buffer (a second line came, or the buffer is about to move).</summary>
    private void MoveDataOutOfBuffer()
    {
        EnsureJoined(_dataLength);
        _buffer.AsSpan(_dataStart, _dataLength).CopyTo(_joined);
        _joinedLength = _dataLength;
        _dataInBuffer = false;
    }

    private void EnsureJoined(int length)
    {
        if (_joined is null || _joined.Length < length)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(length, _joined is null ? 256 : 2 * _joined.Length));
            if (_joined is not null)
            {
                _joined.AsSpan(0, _joinedLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_joined);
            }

            _joined = larger;
        }
    }

    /// <summary>Moves the unparsed bytes to the front, growing the buffer when one line fills it.</summary>
    private void MakeRoom()
    {
        if (_dataInBuffer)
        {
            MoveDataOutOfBuffer();
        }

        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            // The line is not complete yet; the line limit (checked in TryRead) bounds the growth.
            byte[] larger = ArrayPool<byte>.Shared.Rent(2 * _buffer.Length);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
    }

    /// <summary>Skips a UTF-8 byte order mark at the very start of the body. False while too few bytes are known to tell.</summary>
    private bool SkipBom()
    {
        ReadOnlySpan<byte> bom = [0xEF, 0xBB, 0xBF];
        ReadOnlySpan<byte> start = _buffer.AsSpan(_start, Math.Min(_end - _start, 3));
        if (start.Length < 3 && !_eof && bom.StartsWith(start))
        {
            return false;
        }

        if (start.SequenceEqual(bom))
        {
            _start += 3;
        }

        _bomChecked = true;
        return true;
    }
}
