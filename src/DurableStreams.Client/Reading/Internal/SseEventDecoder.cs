using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// Decodes the events of one SSE connection (PROTOCOL.md §5.8) into groups: the data events up to
/// and including their control event. No I/O and no read state: the parsed events go in
/// (<see cref="Decode"/> takes each event <see cref="SseEventReader"/> dispatches, <see cref="Add"/> collects them),
/// decoded groups come out, and a malformed event throws <see cref="SseDecodingException"/> naming
/// what was wrong. The read checks the group's offsets against its own position.
/// </summary>
internal sealed class SseEventDecoder
{
    private readonly bool _base64;
    private readonly bool _json;
    private readonly int _maxEventBytes;
    private readonly int _maxGroupBytes;

    // One list for the connection: a group's payloads are handed on (or copied) before the next group starts.
    private readonly List<byte[]> _data = [];
    private long _total;
    private string? _cursor;

    // The last streamNextOffset: a control event repeating it (a keep-alive) reuses the string.
    private Offset _lastOffset;

    /// <summary>Creates a decoder for one connection.</summary>
    /// <param name="base64">The response carried <c>stream-sse-data-encoding: base64</c>.</param>
    /// <param name="json">The stream is a JSON stream: each data event is a JSON array, and a group is one array of all their messages.</param>
    /// <param name="maxEventBytes">The largest event, in bytes of data (<see cref="ReadOptions.MaxSseEventBytes"/>).</param>
    /// <param name="maxGroupBytes">The most data of one group before its control event (<see cref="ReadOptions.MaxBufferedBytes"/>).</param>
    /// <param name="cursor">The read's last cursor; a control event repeating it reuses the string.</param>
    public SseEventDecoder(bool base64, bool json, int maxEventBytes, int maxGroupBytes, string? cursor)
    {
        _base64 = base64;
        _json = json;
        _maxEventBytes = maxEventBytes;
        _maxGroupBytes = maxGroupBytes;
        _cursor = cursor;
    }

    /// <summary>Decodes one dispatched event from its type and its UTF-8 data bytes.</summary>
    public SseEvent Decode(SseEventKind kind, ReadOnlySpan<byte> data)
    {
        if (data.Length > _maxEventBytes)
        {
            string type = kind switch { SseEventKind.Data => "data", SseEventKind.Control => "control", _ => "SSE" };
            throw new SseDecodingException($"An SSE '{type}' event of {data.Length} bytes exceeds ReadOptions.MaxSseEventBytes ({_maxEventBytes} bytes)");
        }

        return kind switch
        {
            SseEventKind.Data => new SseEvent(_base64 ? DecodeBase64(data) : data.ToArray(), null),
            SseEventKind.Control => new SseEvent(null, ParseControl(data)),

            // PROTOCOL.md §5.8 defines only "data" and "control"; anything else is skipped.
            _ => default,
        };
    }

    /// <summary>
    /// Adds a decoded event to the open group. Returns the group when the event is its control event
    /// (and starts the next group), otherwise null.
    /// </summary>
    public SseGroup? Add(SseEvent item)
    {
        if (item.Control is { } control)
        {
            ReadOnlyMemory<byte> bytes = _json ? MergeJsonEvents(out int messages) : Join(out messages);
            _data.Clear();
            _total = 0;
            return new SseGroup(bytes, messages, control);
        }

        if (item.Data is { Length: > 0 } payload)
        {
            // PROTOCOL.md §5.8: a control event ends every group; data that never gets one
            // would otherwise be collected without end.
            _total += payload.Length;
            if (_total > _maxGroupBytes)
            {
                throw new SseDecodingException(
                    $"The SSE data events since the last control event hold more than ReadOptions.MaxBufferedBytes ({_maxGroupBytes} bytes); " +
                    "a control event must follow the data");
            }

            _data.Add(payload);
        }

        return null;
    }

    private ReadOnlyMemory<byte> Join(out int messages)
    {
        messages = 0;
        if (_data.Count == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        if (_data.Count == 1)
        {
            return _data[0];
        }

        byte[] joined = new byte[_total];
        int position = 0;
        foreach (byte[] part in _data)
        {
            part.CopyTo(joined, position);
            position += part.Length;
        }

        return joined;
    }

    /// <summary>Each data event of a JSON stream is a JSON array; the group is one array of all their items.</summary>
    private ReadOnlyMemory<byte> MergeJsonEvents(out int messages)
    {
        messages = 0;
        if (_data.Count == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        if (_data.Count == 1)
        {
            // The common live case (one append per group): the event's own bytes are the array.
            try
            {
                messages = JsonArrayScanner.Count(_data[0], CancellationToken.None);
            }
            catch (JsonException ex)
            {
                throw new SseDecodingException($"An SSE data event of the JSON stream is not a JSON array ({ex.Message})", ex);
            }

            return messages == 0 ? ReadOnlyMemory<byte>.Empty : _data[0];
        }

        int length = 1;
        for (int i = 0; i < _data.Count; i++)
        {
            try
            {
                length += JsonArrayScanner.Measure(_data[i], 0, out int count);
                messages += count;
            }
            catch (JsonException ex)
            {
                throw new SseDecodingException($"An SSE data event of the JSON stream is not a JSON array ({ex.Message})", ex);
            }
        }

        if (messages == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        byte[] merged = new byte[length];
        int position = 0;
        foreach (byte[] payload in _data)
        {
            position = JsonArrayScanner.Write(payload, 0, merged, position);
        }

        merged[position] = (byte)']';
        return merged;
    }

    /// <summary>
    /// PROTOCOL.md §5.8: base64 data events may be split across lines; remove CR/LF and decode the
    /// UTF-8 bytes straight to bytes (never through a string). Text of one line (the usual event) is
    /// decoded where it is; otherwise the runs between line breaks are copied out whole.
    /// </summary>
    private static byte[] DecodeBase64(ReadOnlySpan<byte> data)
    {
        if (data.IndexOfAny((byte)'\r', (byte)'\n') < 0)
        {
            return DecodeBase64Text(data);
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

            return DecodeBase64Text(text[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Decodes base64 text without line breaks into an array of exactly the decoded length.</summary>
    private static byte[] DecodeBase64Text(ReadOnlySpan<byte> text)
    {
        int length = text.Length;
        if (length == 0)
        {
            return [];
        }

        // The exact size when the text is well-formed (length a multiple of 4), so the decoded
        // array is the chunk's own without a trimming copy; malformed text fails below either way.
        int padding = text[length - 1] != (byte)'=' ? 0 : length > 1 && text[length - 2] == (byte)'=' ? 2 : 1;
        byte[] decoded = new byte[length % 4 == 0 ? (length / 4 * 3) - padding : Base64.GetMaxDecodedFromUtf8Length(length)];
        OperationStatus result = Base64.DecodeFromUtf8(text, decoded, out int consumed, out int written);
        if (result != OperationStatus.Done || consumed != length)
        {
            throw new SseDecodingException($"An SSE data event is not valid base64 ({result})");
        }

        return written == decoded.Length ? decoded : decoded.AsSpan(0, written).ToArray();
    }

    /// <summary>
    /// PROTOCOL.md §5.8: a control event is a JSON object with at least <c>streamNextOffset</c>.
    /// Read with <see cref="Utf8JsonReader"/> alone (no JsonDocument), compared as bytes; an unchanged
    /// cursor or offset reuses the previous string, so a control event allocates at most its new offset.
    /// </summary>
    private SseControl ParseControl(ReadOnlySpan<byte> data)
    {
        if (TryParseFlatControl(data) is { } control)
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

        _lastOffset = next;

        if (!string.IsNullOrEmpty(cursor))
        {
            _cursor = cursor;
        }

        return new SseControl(next, cursor, upToDate, closed);
    }

    /// <summary>
    /// The common case of streamNextOffset without escapes and of plain ASCII: checked on the bytes,
    /// and the previous offset's string reused when they repeat it. Null for anything else, which
    /// the caller checks on the string as before.
    /// </summary>
    private Offset? CheckedOffset(ref Utf8JsonReader reader) => reader.ValueIsEscaped ? null : CheckedOffset(reader.ValueSpan);

    private Offset? CheckedOffset(ReadOnlySpan<byte> value)
    {
        if (!Offset.IsValidUtf8(value) || value.SequenceEqual("now"u8) || value.SequenceEqual("-1"u8))
        {
            return null;
        }

        if (!_lastOffset.IsBeginning && Ascii.Equals(value, _lastOffset.Value))
        {
            return _lastOffset;
        }

        return Offset.FromChecked(Encoding.UTF8.GetString(value));
    }

    /// <summary>
    /// The shape servers send (PROTOCOL.md §5.8): one flat object whose values are strings of
    /// printable ASCII without escapes, <c>true</c>, <c>false</c> or <c>null</c>, with a valid
    /// <c>streamNextOffset</c>. Scanned in one pass without <see cref="Utf8JsonReader"/>; null for
    /// anything else (numbers, nesting, escapes, non-ASCII, any syntax error), which the caller then
    /// reads, checks and reports with <see cref="Utf8JsonReader"/> as before.
    /// </summary>
    private SseControl? TryParseFlatControl(ReadOnlySpan<byte> data)
    {
        int i = SkipWhiteSpace(data, 0);
        if (i == data.Length || data[i] != (byte)'{')
        {
            return null;
        }

        i = SkipWhiteSpace(data, i + 1);
        ReadOnlySpan<byte> next = default;
        bool nextIsString = false;
        ReadOnlySpan<byte> cursor = default;
        bool cursorIsString = false;
        bool upToDate = false;
        bool closed = false;
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
                    return null;
                }

                i = SkipWhiteSpace(data, i);
                if (i == data.Length || data[i] != (byte)':')
                {
                    return null;
                }

                i = SkipWhiteSpace(data, i + 1);
                ReadOnlySpan<byte> text = default;
                bool isString = false;
                bool isTrue = false;
                if (i < data.Length && data[i] == (byte)'"')
                {
                    if (!TryFlatString(data, ref i, out text))
                    {
                        return null;
                    }

                    isString = true;
                }
                else if (data[i..].StartsWith("true"u8))
                {
                    isTrue = true;
                    i += 4;
                }
                else if (data[i..].StartsWith("false"u8))
                {
                    i += 5;
                }
                else if (data[i..].StartsWith("null"u8))
                {
                    i += 4;
                }
                else
                {
                    return null;
                }

                // As with the reader: a repeated property counts with its last value.
                if (name.SequenceEqual("streamNextOffset"u8))
                {
                    next = text;
                    nextIsString = isString;
                }
                else if (name.SequenceEqual("streamCursor"u8))
                {
                    cursor = text;
                    cursorIsString = isString;
                }
                else if (name.SequenceEqual("upToDate"u8))
                {
                    upToDate = isTrue;
                }
                else if (name.SequenceEqual("streamClosed"u8))
                {
                    closed = isTrue;
                }

                i = SkipWhiteSpace(data, i);
                if (i < data.Length && data[i] == (byte)',')
                {
                    i = SkipWhiteSpace(data, i + 1);
                    continue;
                }

                if (i < data.Length && data[i] == (byte)'}')
                {
                    i++;
                    break;
                }

                return null;
            }
        }

        if (SkipWhiteSpace(data, i) != data.Length || !nextIsString || CheckedOffset(next) is not { } offset)
        {
            return null;
        }

        string? cursorText = !cursorIsString ? null
            : _cursor is not null && Ascii.Equals(cursor, _cursor) ? _cursor
            : Encoding.ASCII.GetString(cursor);
        if (!string.IsNullOrEmpty(cursorText))
        {
            _cursor = cursorText;
        }

        _lastOffset = offset;
        return new SseControl(offset, cursorText, upToDate, closed);
    }

    /// <summary>A JSON string of printable ASCII without escapes, starting at <paramref name="i"/>; moves past it.</summary>
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
        if (value.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E) || value.Contains((byte)'\\'))
        {
            return false;
        }

        i += end + 2;
        return true;
    }

    private static int SkipWhiteSpace(ReadOnlySpan<byte> data, int i)
    {
        while (i < data.Length && data[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
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

/// <summary>A decoded event: data bytes, a control, or neither (an event type the read ignores).</summary>
internal readonly record struct SseEvent(byte[]? Data, SseControl? Control);

/// <summary>A control event's fields (PROTOCOL.md §5.8).</summary>
internal readonly record struct SseControl(Offset NextOffset, string? Cursor, bool UpToDate, bool Closed);

/// <summary>One group: the data of its data events (for JSON, one array of <paramref name="Messages"/> messages) and its control event.</summary>
internal readonly record struct SseGroup(ReadOnlyMemory<byte> Data, int Messages, SseControl Control);

/// <summary>An SSE event broke PROTOCOL.md §5.8; the read turns it into a <see cref="DurableStreamProtocolException"/> with its URL and offset.</summary>
internal sealed class SseDecodingException : Exception
{
    public SseDecodingException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
