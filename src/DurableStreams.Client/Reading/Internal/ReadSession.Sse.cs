using System.Buffers;
using System.Buffers.Text;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DurableStreams.Diagnostics.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace DurableStreams.Reading.Internal;

internal sealed partial class ReadSession
{
    /// <summary>
    /// One SSE connection (PROTOCOL.md §5.8): data events are buffered until their control event, and
    /// each group becomes one chunk. Ends when the server ends the response (the caller reconnects
    /// from the last control offset), after a failure (recovered first), or at <c>streamClosed</c>.
    /// </summary>
    private async IAsyncEnumerable<StreamChunk> ReadSseAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        StreamRequest request = CreateRequest(ProtocolHeaders.SseValue);
        (HttpResponseMessage? response, ReadFailure? failure) = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response is null)
        {
            await RecoverAsync(failure!, live: true, cancellationToken).ConfigureAwait(false);
            yield break;
        }

        using (response)
        {
            // Checked on every (re)connect: a proxy or a misrouted request must not be parsed as events.
            int status = (int)response.StatusCode;
            if (status != 200)
            {
                throw Protocol($"The SSE read answered HTTP {status} instead of 200");
            }

            string? responseType = ResponseHeaders.ContentType(response);
            if (!MediaTypes.SameMediaType(responseType, MediaTypes.EventStream))
            {
                throw Protocol($"The SSE read answered with Content-Type '{responseType}' instead of {MediaTypes.EventStream}");
            }

            _connected = true;
            bool base64 = string.Equals(ResponseHeaders.Get(response, ProtocolHeaders.SseDataEncoding)?.Trim(), "base64", StringComparison.OrdinalIgnoreCase);
            bool json = MediaTypes.IsJson(_contentType);
            long connected = _time.GetTimestamp();
            bool gotData = false;

            Stream? body = null;
            Exception? bodyFailure = null;
            try
            {
                body = await HttpTransport.ReadBodyAsync(response.Content, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsBodyFailure(ex, cancellationToken))
            {
                bodyFailure = ex;
            }

            if (body is not null)
            {
                // Bounds the bytes of one line and of one event before the parser has them whole, so an
                // endless line or event cannot exhaust memory before its size is known; the exact
                // per-event check is in ParseEvent. The slack covers field names and line breaks.
                long lineLimit = Math.Min(int.MaxValue, _options.MaxSseEventBytes + (64L * 1024));
                long eventLimit = Math.Min(int.MaxValue, (2L * _options.MaxSseEventBytes) + (64 * 1024));
                var limited = new SseLimitStream(body, lineLimit, eventLimit, what => Protocol($"{what} exceeds the limit that ReadOptions.MaxSseEventBytes ({_options.MaxSseEventBytes} bytes) sets"));
                await using (limited.ConfigureAwait(false))
                {
                    SseParser<SseEvent> parser = SseParser.Create(limited, (type, data) => ParseEvent(type, data, base64, limited));
                    IAsyncEnumerator<SseItem<SseEvent>> events = parser.EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
                    await using (events.ConfigureAwait(false))
                    {
                        // One list for the connection: a group's payloads are handed on (or copied) by
                        // BuildGroup before the next group is read.
                        var data = new List<byte[]>();
                        while (true)
                        {
                            (SseControl? control, Exception? groupFailure) = await ReadGroupAsync(events, data, cancellationToken).ConfigureAwait(false);
                            if (groupFailure is not null)
                            {
                                bodyFailure = groupFailure;
                                break;
                            }

                            if (control is null)
                            {
                                // The server ended the response (PROTOCOL.md §10.2: about every 60 s).
                                // Data events without their control event are dropped: the reconnect
                                // from the last control offset sends them again, so nothing repeats.
                                await OnSseEndedAsync(_time.GetElapsedTime(connected), gotData, cancellationToken).ConfigureAwait(false);
                                yield break;
                            }

                            StreamChunk chunk = BuildGroup(data, control.Value, json, status);
                            gotData |= !chunk.Data.IsEmpty;
                            yield return chunk;
                            if (chunk.StreamClosed)
                            {
                                yield break;
                            }
                        }
                    }
                }
            }

            failure = BodyFailure(bodyFailure!, _offset);
        }

        // A failure in the middle of the event stream: reconnect from the last control offset.
        await RecoverAsync(failure, live: true, cancellationToken).ConfigureAwait(false);
    }

    private async Task OnSseEndedAsync(TimeSpan lasted, bool gotData, CancellationToken cancellationToken)
    {
        bool isShort = lasted < ShortConnection && !gotData;
        _shortConnections = isShort ? _shortConnections + 1 : 0;
        if (_shortConnections >= ShortConnectionsBeforeFallback)
        {
            // Something between us and the server (typically a buffering proxy) breaks the event
            // stream; long-poll needs only plain request/response, so the read carries on with it.
            if (_logger.IsEnabled(LogLevel.Warning))
            {
                Log.SseFallbackToLongPoll(_logger, _url, _shortConnections);
            }

            _mode = LiveMode.LongPoll;
            _shortConnections = 0;
            return;
        }

        CountReconnect(isShort ? "the connection ended early without data" : "the server ended the event stream");
        if (isShort)
        {
            // A healthy connection is resumed at once; one that keeps ending early backs off.
            await Task.Delay(Backoff.Delay(_retry, _shortConnections - 1, null)!.Value, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads events up to and including the next control event, collecting the data events' payloads
    /// into <paramref name="data"/> (cleared first). A ValueTask: most groups complete synchronously
    /// from buffered bytes, and then nothing is allocated for the call.
    /// </summary>
    private async ValueTask<(SseControl? Control, Exception? Failure)> ReadGroupAsync(
        IAsyncEnumerator<SseItem<SseEvent>> events,
        List<byte[]> data,
        CancellationToken cancellationToken)
    {
        data.Clear();
        long total = 0;
        try
        {
            while (await events.MoveNextAsync().ConfigureAwait(false))
            {
                SseEvent item = events.Current.Data;
                if (item.Control is { } control)
                {
                    return (control, null);
                }

                if (item.Data is { Length: > 0 } payload)
                {
                    // PROTOCOL.md §5.8: a control event ends every group; data that never gets one
                    // would otherwise be collected without end.
                    total += payload.Length;
                    if (total > _options.MaxBufferedBytes)
                    {
                        throw Protocol(
                            $"The SSE data events since the last control event hold more than ReadOptions.MaxBufferedBytes ({_options.MaxBufferedBytes} bytes); " +
                            "a control event must follow the data");
                    }

                    data.Add(payload);
                }
            }

            return (null, null);
        }
        catch (Exception ex) when (IsBodyFailure(ex, cancellationToken))
        {
            return (null, ex);
        }
    }

    /// <summary>Turns one group (data events + control event) into a chunk and moves the read position.</summary>
    private StreamChunk BuildGroup(List<byte[]> data, SseControl control, bool json, int status)
    {
        Offset start = _offset;
        ReadOnlyMemory<byte> bytes;
        int messages = 0;
        if (json)
        {
            bytes = MergeJsonEvents(data, out messages);
        }
        else if (data.Count == 1)
        {
            bytes = data[0];
        }
        else
        {
            byte[] joined = new byte[data.Sum(d => d.Length)];
            int position = 0;
            foreach (byte[] part in data)
            {
                part.CopyTo(joined, position);
                position += part.Length;
            }

            bytes = joined;
        }

        RequireNotBackwards(start, control.NextOffset, "control event's streamNextOffset");
        if (!bytes.IsEmpty)
        {
            RequireAdvance(start, control.NextOffset);
        }

        // A closed stream at its final offset is up to date by definition (PROTOCOL.md §5.8).
        bool upToDate = control.UpToDate || control.Closed;
        Complete(control.NextOffset, control.Cursor, upToDate);
        _caughtUp = true;
        Record(bytes.Length, messages);
        return new StreamChunk(bytes, start, control.NextOffset, _cursor, upToDate, control.Closed, status, _contentType);
    }

    /// <summary>Each data event of a JSON stream is a JSON array; the group is one array of all their items.</summary>
    private ReadOnlyMemory<byte> MergeJsonEvents(List<byte[]> data, out int messages)
    {
        messages = 0;
        if (data.Count == 1)
        {
            // The common live case (one append per group): the event's own bytes are the array.
            try
            {
                JsonArrayScanner.Measure(data[0], 0, out messages);
            }
            catch (JsonException ex)
            {
                throw Protocol($"An SSE data event of the JSON stream is not a JSON array ({ex.Message})", ex);
            }

            return messages == 0 ? ReadOnlyMemory<byte>.Empty : data[0];
        }

        int length = 1;
        for (int i = 0; i < data.Count; i++)
        {
            try
            {
                length += JsonArrayScanner.Measure(data[i], 0, out int count);
                messages += count;
            }
            catch (JsonException ex)
            {
                throw Protocol($"An SSE data event of the JSON stream is not a JSON array ({ex.Message})", ex);
            }
        }

        if (messages == 0)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        byte[] merged = new byte[length];
        int position = 0;
        foreach (byte[] payload in data)
        {
            position = JsonArrayScanner.Write(payload, 0, merged, position);
        }

        merged[position] = (byte)']';
        return merged;
    }

    /// <summary>The SseParser item callback: runs once per dispatched event, on the event's UTF-8 data bytes.</summary>
    private SseEvent ParseEvent(string type, ReadOnlySpan<byte> data, bool base64, SseLimitStream limited)
    {
        limited.ResetCount();
        if (data.Length > _options.MaxSseEventBytes)
        {
            throw Protocol($"An SSE '{type}' event of {data.Length} bytes exceeds ReadOptions.MaxSseEventBytes ({_options.MaxSseEventBytes} bytes)");
        }

        return type switch
        {
            "data" => new SseEvent(base64 ? DecodeBase64(data) : data.ToArray(), null),
            "control" => new SseEvent(null, ParseControl(data)),

            // PROTOCOL.md §5.8 defines only "data" and "control"; anything else is skipped.
            _ => default,
        };
    }

    /// <summary>
    /// PROTOCOL.md §5.8: base64 data events may be split across lines; remove CR/LF and decode the
    /// UTF-8 bytes straight to bytes (never through a string).
    /// </summary>
    private byte[] DecodeBase64(ReadOnlySpan<byte> data)
    {
        byte[]? rented = null;
        Span<byte> text = data.Length <= 1024 ? stackalloc byte[data.Length] : (rented = ArrayPool<byte>.Shared.Rent(data.Length));
        try
        {
            int length = 0;
            foreach (byte b in data)
            {
                if (b is not ((byte)'\r' or (byte)'\n'))
                {
                    text[length++] = b;
                }
            }

            if (length == 0)
            {
                return [];
            }

            // The exact size when the text is well-formed (length a multiple of 4), so the decoded
            // array is the chunk's own without a trimming copy; malformed text fails below either way.
            int padding = text[length - 1] != (byte)'=' ? 0 : length > 1 && text[length - 2] == (byte)'=' ? 2 : 1;
            byte[] decoded = new byte[length % 4 == 0 ? (length / 4 * 3) - padding : Base64.GetMaxDecodedFromUtf8Length(length)];
            OperationStatus result = Base64.DecodeFromUtf8(text[..length], decoded, out int consumed, out int written);
            if (result != OperationStatus.Done || consumed != length)
            {
                throw Protocol($"An SSE data event is not valid base64 ({result})");
            }

            return written == decoded.Length ? decoded : decoded.AsSpan(0, written).ToArray();
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// PROTOCOL.md §5.8: a control event is a JSON object with at least <c>streamNextOffset</c>.
    /// Read with <see cref="Utf8JsonReader"/> alone (no JsonDocument), and an unchanged cursor reuses
    /// the previous string, so a control event allocates only its offset.
    /// </summary>
    private SseControl ParseControl(ReadOnlySpan<byte> data)
    {
        JsonTokenType rootToken;
        string? nextText = null;
        bool nextIsString = false;
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
                        nextText = nextIsString ? reader.GetString() : null;
                    }
                    else if (reader.ValueTextEquals("streamCursor"u8))
                    {
                        reader.Read();
                        cursor = reader.TokenType != JsonTokenType.String ? null
                            : _cursor is not null && reader.ValueTextEquals(_cursor) ? _cursor
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
            string preview = data.Length == 0 ? "an empty event" : $"'{System.Text.Encoding.UTF8.GetString(data[..Math.Min(data.Length, 200)])}'";
            throw Protocol($"An SSE control event is not valid JSON: {preview} ({ex.Message})", ex);
        }

        if (rootToken != JsonTokenType.StartObject)
        {
            throw Protocol($"An SSE control event is a JSON {KindOf(rootToken)}, not an object");
        }

        if (!nextIsString)
        {
            throw Protocol("An SSE control event has no streamNextOffset string");
        }

        if (!Offset.TryParse(nextText, out Offset next) || next.IsNow || next.IsBeginning)
        {
            throw Protocol($"An SSE control event has the invalid streamNextOffset '{nextText}'");
        }

        return new SseControl(next, cursor, upToDate, closed);
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

    /// <summary>A parsed event: data bytes, a control, or neither (an event type the read ignores).</summary>
    private readonly record struct SseEvent(byte[]? Data, SseControl? Control);

    private readonly record struct SseControl(Offset NextOffset, string? Cursor, bool UpToDate, bool Closed);
}
