using System.Runtime.CompilerServices;
using DurableStreams.Diagnostics.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace DurableStreams.Reading.Internal;

internal sealed partial class ReadSession
{
    /// <summary>
    /// The most data one chunk collects from groups already received before it is handed out (the
    /// size of the parts a large catch-up response is split into).
    /// </summary>
    private const int MaxCoalescedBytes = 1024 * 1024;

    /// <summary>
    /// One SSE connection (PROTOCOL.md §5.8): data events are buffered until their control event; the
    /// groups already received become one chunk (or one chunk each, <see cref="ReadOptions.OneChunkPerSseGroup"/>).
    /// Ends when the server ends the response (the caller reconnects from the last control offset),
    /// after a failure (recovered first), or at <c>streamClosed</c>.
    /// </summary>
    private async IAsyncEnumerable<StreamChunk> ReadSseAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        StreamRequest request = CreateRequest(_offset, ProtocolHeaders.SseValue);
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
            _sseFailure = null;
            bool base64 = string.Equals(ResponseHeaders.Get(response, ProtocolHeaders.SseDataEncoding)?.Trim(), "base64", StringComparison.OrdinalIgnoreCase);
            using var decoder = new SseEventDecoder(base64, MediaTypes.IsJson(_contentType), _options.MaxSseEventBytes, _options.MaxBufferedBytes, _cursor, _offset);
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
                // A line longer than the event limit plus slack for the field name fails before it is
                // held whole; the joined data of one event is checked as it grows (SseEventReader).
                long lineLimit = Math.Min(int.MaxValue, _options.MaxSseEventBytes + (64L * 1024));
                await using (body.ConfigureAwait(false))
                {
                    using var events = new SseEventReader(body, lineLimit, _options.MaxSseEventBytes);
                    while (true)
                    {
                        // Every group already read is handed out without awaiting: the read only
                        // waits when the buffer holds no complete group.
                        StreamChunk? chunk = NextChunk(events, decoder, status);
                        if (chunk is null)
                        {
                            bool more;
                            try
                            {
                                more = await events.FillAsync(cancellationToken).ConfigureAwait(false);
                            }
                            catch (Exception ex) when (IsBodyFailure(ex, cancellationToken))
                            {
                                bodyFailure = ex;
                                break;
                            }

                            if (more)
                            {
                                continue;
                            }

                            // The server ended the response (PROTOCOL.md §10.2: about every 60 s).
                            // Data events without their control event are dropped: the reconnect
                            // from the last control offset sends them again, so nothing repeats.
                            await OnSseEndedAsync(_time.GetElapsedTime(connected), gotData, cancellationToken).ConfigureAwait(false);
                            yield break;
                        }

                        gotData |= !chunk.Data.IsEmpty;
                        yield return chunk;
                        if (chunk.StreamClosed)
                        {
                            yield break;
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
        bool isShort = lasted < _options.SseShortConnectionDuration && !gotData;
        _shortConnections = !isShort ? 0 : _shortConnections == int.MaxValue ? int.MaxValue : _shortConnections + 1;
        int fallbackAfter = _options.SseFallbackShortConnections;
        if (fallbackAfter > 0 && _shortConnections >= fallbackAfter)
        {
            // Something between us and the server (typically a buffering proxy) breaks the event
            // stream; long-poll needs only plain request/response, so the read carries on with it.
            if (_logger.IsEnabled(LogLevel.Warning))
            {
                Log.SseFallbackToLongPoll(_logger, _url, _shortConnections);
            }

            _live = LiveMode.LongPoll;
            _shortConnections = 0;
            MoveTo(ReadPhase.LongPoll);
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
    /// Parses the events already read and makes one chunk of the groups they complete: all of them
    /// (up to <see cref="MaxCoalescedBytes"/>, and never past <c>streamClosed</c>), or only the next
    /// with <see cref="ReadOptions.OneChunkPerSseGroup"/>. The decoder checks each control event
    /// against the position before it; the read moves once per chunk. Null when the buffer holds no
    /// complete group (the open group's data events stay in the decoder until more bytes come). A
    /// malformed event after complete groups fails the read after their chunk has been handed out.
    /// </summary>
    private StreamChunk? NextChunk(SseEventReader events, SseEventDecoder decoder, int status)
    {
        if (_sseFailure is { } failure)
        {
            _sseFailure = null;
            throw failure;
        }

        SseControl? last = null;
        try
        {
            while (events.TryRead(out SseEventKind kind, out ReadOnlySpan<byte> data))
            {
                if (decoder.Accept(kind, data) is not { } control)
                {
                    continue;
                }

                last = control;
                if (control.Closed || _options.OneChunkPerSseGroup || decoder.CompletedBytes >= MaxCoalescedBytes)
                {
                    break;
                }
            }
        }
        catch (SseDecodingException ex)
        {
            if (last is null)
            {
                throw Protocol(ex.Message, ex.InnerException);
            }

            _sseFailure = Protocol(ex.Message, ex.InnerException);
        }

        if (last is not { } final)
        {
            return null;
        }

        Offset start = _offset;
        Offset next = decoder.Position;
        if (decoder.CompletedBytes > 0)
        {
            // Some group of the chunk carried data, and the decoder saw each one move the offset.
            RequireAdvance(start, next);
        }

        // A closed stream at its final offset is up to date by definition (PROTOCOL.md §5.8).
        bool upToDate = final.UpToDate || final.Closed;
        Complete(next, decoder.Cursor, upToDate, final.Closed);
        ReadOnlyMemory<byte> chunkData = decoder.TakeCompleted(out int messages);
        Record(chunkData.Length, messages);
        return new StreamChunk(chunkData, start, next, _cursor, upToDate, final.Closed, status, _contentType);
    }
}
