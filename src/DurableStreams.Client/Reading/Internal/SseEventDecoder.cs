using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// Decodes the events of one SSE connection (PROTOCOL.md §5.8). No I/O: each event
/// <see cref="SseEventReader"/> dispatches goes in through <see cref="Accept"/>; a data event's payload
/// is decoded straight into one buffer (base64 decoded, a JSON array's messages appended to the
/// messages before them), a control event is checked against the position before it, moves
/// <see cref="Position"/>, closes its group and comes back out, and <see cref="TakeCompleted"/>
/// hands out the data of every group closed so far as one array. A malformed event throws
/// <see cref="SseDecodingException"/> naming what was wrong; the read adds its URL and offset.
/// </summary>
/// <remarks>
/// The buffer holds the closed groups' data followed by the open group's (the data events since the
/// last control event). For a JSON stream it holds the messages separated by commas, without the
/// brackets, so that any number of groups becomes one array. It is rented from the shared pool and
/// returned whenever it empties, so an idle connection holds none. A large event that arrives while
/// nothing else is pending is kept in an array of its own instead (decoded; a JSON event checked and
/// kept as it came), which is handed out as it is if nothing joins it (one copy of a big payload
/// instead of two).
/// </remarks>
internal sealed class SseEventDecoder : IDisposable
{
    private readonly bool _base64;
    private readonly bool _json;
    private readonly int _maxEventBytes;
    private readonly int _maxGroupBytes;

    /// <summary>The smallest event kept in an array of its own when nothing else is pending.</summary>
    private const int SoloEventBytes = 4 * 1024;

    /// <summary>The bytes of a flat control event: printable ASCII except the backslash (so no escapes).</summary>
    private static readonly SearchValues<byte> FlatControlBytes = SearchValues.Create(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"u8);

    private byte[]? _buffer;

    // All pending data when set (one large event, see remarks); _buffer is then unused and _length
    // is its length.
    private byte[]? _solo;
    private int _length;
    private int _completedLength;
    private int _completedMessages;
    private int _openMessages;

    // The payload of the open group, as the group limit counts it (a JSON event's whole text).
    private long _openBytes;
    private string? _cursor;

    // The read position: the read's offset before the first control event, then the last control
    // event's streamNextOffset. The offset of a control event in the usual shape stays bytes
    // (_pendingOffset) until Position is asked for, which the read does once per chunk; a control
    // event repeating the position (a keep-alive) changes nothing.
    private Offset _position;
    private byte[]? _pendingOffset;
    private int _pendingOffsetLength = -1;

    /// <summary>Creates a decoder for one connection.</summary>
    /// <param name="base64">The response carried <c>stream-sse-data-encoding: base64</c>.</param>
    /// <param name="json">The stream is a JSON stream: each data event is a JSON array, and the data handed out is one array of all their messages.</param>
    /// <param name="maxEventBytes">The largest event, in bytes of data (<see cref="ReadOptions.MaxSseEventBytes"/>).</param>
    /// <param name="maxGroupBytes">The most data of one group before its control event (<see cref="ReadOptions.MaxBufferedBytes"/>).</param>
    /// <param name="cursor">The read's last cursor; a control event repeating it reuses the string.</param>
    /// <param name="position">The read's offset: the first control event must not be before it, nor equal to it after data (no check for the sentinels).</param>
    public SseEventDecoder(bool base64, bool json, int maxEventBytes, int maxGroupBytes, string? cursor, Offset position)
    {
        _base64 = base64;
        _json = json;
        _maxEventBytes = maxEventBytes;
        _maxGroupBytes = maxGroupBytes;
        _cursor = cursor;
        _position = position;
    }

    /// <summary>The last control event's <c>streamNextOffset</c> (the read's offset before the first).</summary>
    public Offset Position
    {
        get
        {
            if (_pendingOffsetLength >= 0)
            {
                _position = Offset.FromChecked(Encoding.ASCII.GetString(_pendingOffset.AsSpan(0, _pendingOffsetLength)));
                _pendingOffsetLength = -1;
            }

            return _position;
        }
    }

    /// <summary>The last non-empty cursor of a control event (the read's cursor before the first).</summary>
    public string? Cursor => _cursor;

    /// <summary>The bytes of data of the closed groups not yet taken (for JSON: their messages and separators; never more than 0 without a message).</summary>
    public int CompletedBytes => _completedLength;

    /// <summary>
    /// Decodes one dispatched event from its type and its UTF-8 data bytes. A data event's payload is
    /// added to the open group; a control event is checked against the position (offsets never go
    /// backwards, and data moves them), moves it, closes the group and is returned. Events of other
    /// types are skipped (PROTOCOL.md §5.8 defines only <c>data</c> and <c>control</c>).
    /// </summary>
    public SseControl? Accept(SseEventKind kind, ReadOnlySpan<byte> data)
    {
        if (data.Length > _maxEventBytes)
        {
            string type = kind switch { SseEventKind.Data => "data", SseEventKind.Control => "control", _ => "SSE" };
            throw new SseDecodingException($"An SSE '{type}' event of {data.Length} bytes exceeds ReadOptions.MaxSseEventBytes ({_maxEventBytes} bytes)");
        }

        switch (kind)
        {
            case SseEventKind.Data:
                AddData(data);
                return null;
            case SseEventKind.Control:
                bool hadData = _json ? _openMessages > 0 : _length > _completedLength;
                SseControl control = ParseControl(data, hadData);
                _completedLength = _length;
                _completedMessages += _openMessages;
                _openMessages = 0;
                _openBytes = 0;
                return control;
            default:
                return null;
        }
    }

    /// <summary>
    /// Hands out the data of every group closed so far as one array the caller owns (for JSON, one
    /// array of their messages, or empty when they hold none) and keeps the open group's data.
    /// </summary>
    public ReadOnlyMemory<byte> TakeCompleted(out int messages)
    {
        messages = _completedMessages;
        int taken = _completedLength;
        if (taken == 0)
        {
            _completedMessages = 0;
            return ReadOnlyMemory<byte>.Empty;
        }

        if (_solo is { } solo)
        {
            // Data that joins a large event moves it to the buffer first, so it is all there is.
            _solo = null;
            _length = 0;
            _completedLength = 0;
            return solo;
        }

        // For JSON, closed data means at least one message (only messages reach the buffer). Every
        // byte of the array is written, so it is not cleared first.
        byte[] result;
        if (_json)
        {
            result = GC.AllocateUninitializedArray<byte>(taken + 2);
            result[0] = (byte)'[';
            _buffer.AsSpan(0, taken).CopyTo(result.AsSpan(1));
            result[^1] = (byte)']';
        }
        else
        {
            result = GC.AllocateUninitializedArray<byte>(taken);
            _buffer.AsSpan(0, taken).CopyTo(result);
        }

        // The open group's data moves to the front; for JSON without the comma that joined it to
        // the messages taken.
        int open = _length - taken;
        if (open > 0 && _json && taken > 0)
        {
            taken++;
            open--;
        }

        _buffer.AsSpan(taken, open).CopyTo(_buffer);
        _length = open;
        _completedLength = 0;
        _completedMessages = 0;
        ReleaseIfEmpty();
        return result;
    }

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        _solo = null;
        _length = 0;
        _completedLength = 0;
        ReleaseIfEmpty();
    }

    private void ReleaseIfEmpty()
    {
        if (_length == 0 && _buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Room for <paramref name="bytes"/> more bytes after <see cref="_length"/>.</summary>
    private Span<byte> Reserve(int bytes)
    {
        int needed = _length + bytes;
        if (_buffer is null || _buffer.Length < needed)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer is null ? 256 : 2 * _buffer.Length));
            if (_buffer is { } old)
            {
                old.AsSpan(0, _length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(old);
            }

            _buffer = larger;
        }

        return _buffer.AsSpan(_length);
    }

    private void AddData(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        if (_solo is not null)
        {
            Spill();
        }

        if (_json)
        {
            // The event's whole text counts against the group limit, its messages go to the buffer:
            // at most the text's length, brackets replaced by one separator. A large event with
            // nothing pending is checked and kept as it is.
            CountAgainstGroupLimit(data.Length);
            try
            {
                if (_length == 0 && data.Length >= SoloEventBytes)
                {
                    int count = JsonArrayScanner.Count(data, CancellationToken.None);
                    if (count > 0)
                    {
                        _solo = data.ToArray();
                        _length = _solo.Length;
                        _openMessages += count;
                    }

                    return;
                }

                _openMessages += JsonArrayScanner.AppendElements(data, Reserve(data.Length), separateFirst: _length > 0, out int written);
                _length += written;
            }
            catch (JsonException ex)
            {
                throw new SseDecodingException($"An SSE data event of the JSON stream is not a JSON array ({ex.Message})", ex);
            }
        }
        else if (_base64)
        {
            DecodeBase64(data);
        }
        else
        {
            CountAgainstGroupLimit(data.Length);
            if (_length == 0 && data.Length >= SoloEventBytes)
            {
                _solo = data.ToArray();
            }
            else
            {
                data.CopyTo(Reserve(data.Length));
            }

            _length += data.Length;
        }
    }

    /// <summary>
    /// Moves the large event kept on its own into the buffer, before data joins it. It is all the
    /// pending data, either of a closed group or of the open one. For JSON the buffer takes what lies
    /// between the array's brackets as it is (the event was checked when it came, and has messages),
    /// so it is not parsed a second time; white space between its messages stays.
    /// </summary>
    private void Spill()
    {
        byte[] solo = _solo!;
        bool completed = _completedLength > 0;
        _solo = null;
        _length = 0;
        ReadOnlySpan<byte> data = solo;
        if (_json)
        {
            data = data.Trim(" \t\r\n"u8)[1..^1].Trim(" \t\r\n"u8);
        }

        int length = data.Length;
        data.CopyTo(Reserve(length));
        _length = length;
        _completedLength = completed ? length : 0;
    }

    private void CountAgainstGroupLimit(int bytes)
    {
        // PROTOCOL.md §5.8: a control event ends every group; data that never gets one would
        // otherwise be collected without end.
        _openBytes += bytes;
        if (_openBytes > _maxGroupBytes)
        {
            throw new SseDecodingException(
                $"The SSE data events since the last control event hold more than ReadOptions.MaxBufferedBytes ({_maxGroupBytes} bytes); " +
                "a control event must follow the data");
        }
    }

    /// <summary>
    /// PROTOCOL.md §5.8: base64 data events may be split across lines; remove CR/LF and decode the
    /// UTF-8 bytes straight into the buffer (never through a string). Text of one line (the usual
    /// event) is decoded where it is; otherwise the runs between line breaks are copied out whole.
    /// </summary>
    private void DecodeBase64(ReadOnlySpan<byte> data)
    {
        if (data.IndexOfAny((byte)'\r', (byte)'\n') < 0)
        {
            DecodeBase64Text(data);
            return;
        }

        byte[]? rented = null;
        Span<byte> text = data.Length <= 1024 ? stackalloc byte[data.Length] : (rented = ArrayPool<byte>.Shared.Rent(data.Length));
        try
        {
            int length = 0;
            ReadOnlySpan<byte> rest = data;
            while (!rest.IsEmpty)
            {
                int lineBreak = rest.IndexOfAny((byte)'\r', (byte)'\n');
                ReadOnlySpan<byte> run = lineBreak < 0 ? rest : rest[..lineBreak];
                run.CopyTo(text[length..]);
                length += run.Length;
                rest = lineBreak < 0 ? default : rest[(lineBreak + 1)..];
            }

            DecodeBase64Text(text[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Decodes base64 text without line breaks after the pending data; the decoded bytes count against the group limit.</summary>
    private void DecodeBase64Text(ReadOnlySpan<byte> text)
    {
        int length = text.Length;
        if (length == 0)
        {
            return;
        }

        // The exact size when the text is well-formed (length a multiple of 4); malformed text
        // fails below either way.
        int padding = text[length - 1] != (byte)'=' ? 0 : length > 1 && text[length - 2] == (byte)'=' ? 2 : 1;
        int decodedLength = length % 4 == 0 ? (length / 4 * 3) - padding : Base64.GetMaxDecodedFromUtf8Length(length);
        byte[]? solo = _length == 0 && decodedLength >= SoloEventBytes ? new byte[decodedLength] : null;
        Span<byte> destination = solo ?? Reserve(decodedLength);
        OperationStatus result = Base64.DecodeFromUtf8(text, destination, out int consumed, out int written);
        if (result != OperationStatus.Done || consumed != length)
        {
            throw new SseDecodingException($"An SSE data event is not valid base64 ({result})");
        }

        CountAgainstGroupLimit(written);
        _solo = solo is null ? null : written == solo.Length ? solo : solo.AsSpan(0, written).ToArray();
        _length += written;
    }

    /// <summary>
    /// PROTOCOL.md §5.8: a control event is a JSON object with at least <c>streamNextOffset</c>.
    /// Read with <see cref="Utf8JsonReader"/> alone (no JsonDocument), compared as bytes; an unchanged
    /// cursor or offset reuses the previous string, so a control event allocates at most its new offset.
    /// </summary>
    private SseControl ParseControl(ReadOnlySpan<byte> data, bool hadData)
    {
        if (TryParseFlatControl(data, hadData) is { } control)
        {
            return control;
        }

        JsonTokenType rootToken;
        string? nextText = null;
        bool nextIsString = false;
        Offset? checkedNext = null;
        string? cursor = null;
        bool upToDate = false;
        bool closed = false;
        try
        {
            var reader = new Utf8JsonReader(data);
            if (!reader.Read())
            {
                throw new JsonException("The control event is empty.");
            }

            rootToken = reader.TokenType;
            if (rootToken != JsonTokenType.StartObject)
            {
                reader.Skip();
            }
            else
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("streamNextOffset"u8))
                    {
                        reader.Read();
                        nextIsString = reader.TokenType == JsonTokenType.String;
                        checkedNext = nextIsString ? CheckedOffset(ref reader) : null;
                        nextText = nextIsString && checkedNext is null ? reader.GetString() : null;
                    }
                    else if (reader.ValueTextEquals("streamCursor"u8))
                    {
                        reader.Read();
                        cursor = reader.TokenType != JsonTokenType.String ? null
                            : _cursor is not null && !reader.ValueIsEscaped && Ascii.Equals(reader.ValueSpan, _cursor) ? _cursor
                            : reader.GetString();
                    }
                    else if (reader.ValueTextEquals("upToDate"u8))
                    {
                        reader.Read();
                        upToDate = reader.TokenType == JsonTokenType.True;
                    }
                    else if (reader.ValueTextEquals("streamClosed"u8))
                    {
                        reader.Read();
                        closed = reader.TokenType == JsonTokenType.True;
                    }
                    else
                    {
                        reader.Read();
                    }

                    reader.Skip();
                }
            }

            if (reader.Read())
            {
                throw new JsonException("Unexpected data after the JSON value.");
            }
        }
        catch (JsonException ex)
        {
            string preview = data.Length == 0 ? "an empty event" : $"'{Encoding.UTF8.GetString(data[..Math.Min(data.Length, 200)])}'";
            throw new SseDecodingException($"An SSE control event is not valid JSON: {preview} ({ex.Message})", ex);
        }

        if (rootToken != JsonTokenType.StartObject)
        {
            throw new SseDecodingException($"An SSE control event is a JSON {KindOf(rootToken)}, not an object");
        }

        if (!nextIsString)
        {
            throw new SseDecodingException("An SSE control event has no streamNextOffset string");
        }

        Offset next;
        if (checkedNext is { } known)
        {
            next = known;
        }
        else if (!Offset.TryParse(nextText, out next) || next.IsNow || next.IsBeginning)
        {
            throw new SseDecodingException($"An SSE control event has the invalid streamNextOffset '{nextText}'");
        }

        MoveTo(next, hadData);
        if (!string.IsNullOrEmpty(cursor))
        {
            _cursor = cursor;
        }

        return new SseControl(cursor, upToDate, closed);
    }

    /// <summary>
    /// The common case of streamNextOffset without escapes and of plain ASCII: checked on the bytes,
    /// and the previous offset's string reused when they repeat it. Null for anything else, which
    /// the caller checks on the string as before.
    /// </summary>
    private Offset? CheckedOffset(ref Utf8JsonReader reader) =>
        reader.ValueIsEscaped || !IsPlainOffset(reader.ValueSpan) ? null
        : Ascii.Equals(reader.ValueSpan, Position.Value) ? Position
        : Offset.FromChecked(Encoding.UTF8.GetString(reader.ValueSpan));

    /// <summary>An offset the constructor accepts, decided on its bytes, and not a sentinel (which a server never sends as a position).</summary>
    private static bool IsPlainOffset(ReadOnlySpan<byte> value) =>
        Offset.IsValidUtf8(value) && !value.SequenceEqual("now"u8) && !value.SequenceEqual("-1"u8);

    /// <summary>Moves the position to a control event's offset (as a string) after checking it against the current one.</summary>
    private void MoveTo(Offset next, bool hadData)
    {
        Offset current = Position;
        if (!current.IsBeginning && !current.IsNow)
        {
            Check(next.CompareTo(current), next.Value, hadData);
        }

        _position = next;
    }

    /// <summary>
    /// Moves the position to a control event's offset of printable ASCII (<see cref="IsPlainOffset"/>),
    /// kept as bytes, after checking it against the current one; compared as bytes, which orders
    /// ASCII text as <see cref="Offset.CompareTo(Offset)"/> orders its strings.
    /// </summary>
    private void MoveTo(ReadOnlySpan<byte> next, bool hadData)
    {
        if (_pendingOffsetLength >= 0)
        {
            int order = next.SequenceCompareTo(_pendingOffset.AsSpan(0, _pendingOffsetLength));
            Check(order, next, hadData);
            if (order == 0)
            {
                return;
            }
        }
        else if (!_position.IsBeginning && !_position.IsNow)
        {
            string current = _position.Value;
            if (current.Length > 256 || !Ascii.IsValid(current))
            {
                MoveTo(Offset.FromChecked(Encoding.ASCII.GetString(next)), hadData);
                return;
            }

            Span<byte> currentBytes = stackalloc byte[current.Length];
            Ascii.FromUtf16(current, currentBytes, out _);
            int order = next.SequenceCompareTo(currentBytes);
            Check(order, next, hadData);
            if (order == 0)
            {
                return;
            }
        }

        if (_pendingOffset is null || _pendingOffset.Length < next.Length)
        {
            _pendingOffset = new byte[Math.Max(64, next.Length)];
        }

        next.CopyTo(_pendingOffset);
        _pendingOffsetLength = next.Length;
    }

    private void Check(int order, ReadOnlySpan<byte> next, bool hadData)
    {
        if (order < 0 || (order == 0 && hadData))
        {
            Check(order, Encoding.ASCII.GetString(next), hadData);
        }
    }

    /// <summary>PROTOCOL.md §5.8: offsets never go backwards, and data moves them (or a resumed read would receive it again).</summary>
    private void Check(int order, string next, bool hadData)
    {
        if (order < 0)
        {
            throw new SseDecodingException($"The control event's streamNextOffset {next} is before the offset {Position} the read asked for: offsets must not go backwards");
        }

        if (order == 0 && hadData)
        {
            throw new SseDecodingException($"SSE data events are followed by a control event whose streamNextOffset stays at {Position}: data must move the offset");
        }
    }

    /// <summary>
    /// The shape servers send (PROTOCOL.md §5.8): one flat object whose values are strings,
    /// <c>true</c>, <c>false</c> or <c>null</c>, all of it printable ASCII without escapes (spaces
    /// allowed between tokens), with a valid <c>streamNextOffset</c>. Checked for that alphabet in
    /// one pass and then scanned without <see cref="Utf8JsonReader"/>; null for anything else
    /// (numbers, nesting, escapes, non-ASCII, line breaks or tabs, any syntax error), which the
    /// caller then reads, checks and reports with <see cref="Utf8JsonReader"/> as before.
    /// </summary>
    /// <remarks>
    /// This runs once per group, so it is the read's hottest code after the line splitting: the
    /// profile of 100-byte events put the earlier scan (a check of the alphabet for every string,
    /// names compared one after the other) at about 45 % of the read (docs/benchmarks.md, issue 14).
    /// </remarks>
    private SseControl? TryParseFlatControl(ReadOnlySpan<byte> data, bool hadData)
    {
        if (data.ContainsAnyExcept(FlatControlBytes))
        {
            return null;
        }

        // From here every byte is printable ASCII and no string holds an escape: a string ends at
        // the next quote.
        ReadOnlySpan<byte> next = default;
        bool nextIsString = false;
        ReadOnlySpan<byte> cursor = default;
        bool cursorIsString = false;
        bool upToDate = false;
        bool closed = false;
        if (MatchServerShape(data, ref next, ref cursor, ref cursorIsString, ref upToDate, ref closed))
        {
            nextIsString = true;
        }
        else if (!TryScanFlatObject(data, ref next, ref nextIsString, ref cursor, ref cursorIsString, ref upToDate, ref closed))
        {
            return null;
        }

        if (!nextIsString || !IsPlainOffset(next))
        {
            return null;
        }

        MoveTo(next, hadData);
        string? cursorText = !cursorIsString ? null
            : _cursor is not null && Ascii.Equals(cursor, _cursor) ? _cursor
            : Encoding.ASCII.GetString(cursor);
        if (!string.IsNullOrEmpty(cursorText))
        {
            _cursor = cursorText;
        }

        return new SseControl(cursorText, upToDate, closed);
    }

    /// <summary>
    /// The control event exactly as the reference server writes it, in its order and without
    /// spaces: <c>{"streamNextOffset":"…"</c>, then optionally <c>,"streamCursor":"…"</c>,
    /// <c>,"upToDate":true</c> and <c>,"streamClosed":true</c>, then <c>}</c>. Matched by its literal
    /// parts; false for anything else (nothing is set then), which the general scan reads.
    /// </summary>
    private static bool MatchServerShape(
        ReadOnlySpan<byte> data,
        ref ReadOnlySpan<byte> next,
        ref ReadOnlySpan<byte> cursor,
        ref bool cursorIsString,
        ref bool upToDate,
        ref bool closed)
    {
        ReadOnlySpan<byte> offsetName = "{\"streamNextOffset\":\""u8;
        if (!data.StartsWith(offsetName))
        {
            return false;
        }

        ReadOnlySpan<byte> rest = data[offsetName.Length..];
        int end = rest.IndexOf((byte)'"');
        if (end < 0)
        {
            return false;
        }

        ReadOnlySpan<byte> offset = rest[..end];
        rest = rest[(end + 1)..];
        ReadOnlySpan<byte> cursorValue = default;
        bool hasCursor = false;
        ReadOnlySpan<byte> cursorName = ",\"streamCursor\":\""u8;
        if (rest.StartsWith(cursorName))
        {
            rest = rest[cursorName.Length..];
            end = rest.IndexOf((byte)'"');
            if (end < 0)
            {
                return false;
            }

            cursorValue = rest[..end];
            hasCursor = true;
            rest = rest[(end + 1)..];
        }

        bool isUpToDate = rest.StartsWith(",\"upToDate\":true"u8);
        if (isUpToDate)
        {
            rest = rest[",\"upToDate\":true".Length..];
        }

        bool isClosed = rest.StartsWith(",\"streamClosed\":true"u8);
        if (isClosed)
        {
            rest = rest[",\"streamClosed\":true".Length..];
        }

        if (rest.Length != 1 || rest[0] != (byte)'}')
        {
            return false;
        }

        next = offset;
        cursor = cursorValue;
        cursorIsString = hasCursor;
        upToDate = isUpToDate;
        closed = isClosed;
        return true;
    }

    /// <summary>
    /// Any flat object of checked text (see <see cref="TryParseFlatControl"/>): string, <c>true</c>,
    /// <c>false</c> and <c>null</c> values, spaces between tokens; the last value of a repeated
    /// property counts, as with the reader. False on anything else.
    /// </summary>
    private static bool TryScanFlatObject(
        ReadOnlySpan<byte> data,
        ref ReadOnlySpan<byte> next,
        ref bool nextIsString,
        ref ReadOnlySpan<byte> cursor,
        ref bool cursorIsString,
        ref bool upToDate,
        ref bool closed)
    {
        int i = SkipSpaces(data, 0);
        if (i == data.Length || data[i] != (byte)'{')
        {
            return false;
        }

        i = SkipSpaces(data, i + 1);
        if (i < data.Length && data[i] == (byte)'}')
        {
            i++;
        }
        else
        {
            while (true)
            {
                if (!TryFlatString(data, ref i, out ReadOnlySpan<byte> name))
                {
                    return false;
                }

                i = SkipSpaces(data, i);
                if (i == data.Length || data[i] != (byte)':')
                {
                    return false;
                }

                i = SkipSpaces(data, i + 1);
                if (i == data.Length)
                {
                    return false;
                }

                ReadOnlySpan<byte> text = default;
                bool isString = false;
                bool isTrue = false;
                switch (data[i])
                {
                    case (byte)'"':
                        if (!TryFlatString(data, ref i, out text))
                        {
                            return false;
                        }

                        isString = true;
                        break;
                    case (byte)'t' when data[i..].StartsWith("true"u8):
                        isTrue = true;
                        i += 4;
                        break;
                    case (byte)'f' when data[i..].StartsWith("false"u8):
                        i += 5;
                        break;
                    case (byte)'n' when data[i..].StartsWith("null"u8):
                        i += 4;
                        break;
                    default:
                        return false;
                }

                // As with the reader: a repeated property counts with its last value.
                switch (name.Length)
                {
                    case 16 when name.SequenceEqual("streamNextOffset"u8):
                        next = text;
                        nextIsString = isString;
                        break;
                    case 12 when name.SequenceEqual("streamCursor"u8):
                        cursor = text;
                        cursorIsString = isString;
                        break;
                    case 12 when name.SequenceEqual("streamClosed"u8):
                        closed = isTrue;
                        break;
                    case 8 when name.SequenceEqual("upToDate"u8):
                        upToDate = isTrue;
                        break;
                }

                i = SkipSpaces(data, i);
                if (i < data.Length && data[i] == (byte)',')
                {
                    i = SkipSpaces(data, i + 1);
                    continue;
                }

                if (i < data.Length && data[i] == (byte)'}')
                {
                    i++;
                    break;
                }

                return false;
            }
        }

        return SkipSpaces(data, i) == data.Length;
    }

    /// <summary>
    /// A JSON string starting at <paramref name="i"/> in text that <see cref="TryParseFlatControl"/>
    /// has checked (printable ASCII, no backslash); moves past it.
    /// </summary>
    private static bool TryFlatString(ReadOnlySpan<byte> data, scoped ref int i, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (i == data.Length || data[i] != (byte)'"')
        {
            return false;
        }

        ReadOnlySpan<byte> rest = data[(i + 1)..];
        int end = rest.IndexOf((byte)'"');
        if (end < 0)
        {
            return false;
        }

        value = rest[..end];
        i += end + 2;
        return true;
    }

    private static int SkipSpaces(ReadOnlySpan<byte> data, int i)
    {
        while (i < data.Length && data[i] == (byte)' ')
        {
            i++;
        }

        return i;
    }

    private static string KindOf(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => "Array",
        JsonTokenType.String => "String",
        JsonTokenType.Number => "Number",
        JsonTokenType.True => "True",
        JsonTokenType.False => "False",
        _ => "Null",
    };
}

/// <summary>A control event's fields (PROTOCOL.md §5.8).</summary>
/// <remarks>The offset moves the decoder's <see cref="SseEventDecoder.Position"/>.</remarks>
internal readonly record struct SseControl(string? Cursor, bool UpToDate, bool Closed);

/// <summary>An SSE event broke PROTOCOL.md §5.8; the read turns it into a <see cref="DurableStreamProtocolException"/> with its URL and offset.</summary>
internal sealed class SseDecodingException : Exception
{
    public SseDecodingException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
