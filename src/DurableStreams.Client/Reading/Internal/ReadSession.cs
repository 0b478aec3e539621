using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using DurableStreams.Diagnostics.Internal;
using DurableStreams.Errors.Internal;
using DurableStreams.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// The read protocol loop (PROTOCOL.md §5.6-§5.8): catch-up, then long-poll or SSE, with retries,
/// reconnects and the recovery hook. Yields one <see cref="StreamChunk"/> per response or per SSE
/// control group, empty ones included; for JSON streams the chunk's data is one JSON array (or empty).
/// </summary>
/// <remarks>
/// The loop is pull-based: it sends the next request when the consumer asks for the next chunk, or,
/// with <see cref="ReadOptions.ReadAhead"/>, as soon as a response's headers say there is more to
/// catch up on (the request ahead, <see cref="StartAhead"/>, which on a JSON stream also receives
/// and checks the page's body on its own task); it is never more than one request ahead of the
/// consumer. Every request is sent as a single attempt; the loop
/// retries itself so that <see cref="ReadOptions.OnFailure"/> sees every failure, including failures
/// in the middle of a response body.
///
/// Where the read is lives in one <see cref="ReadPhase"/>: <see cref="Steps"/> runs one
/// <see cref="ReadNextAsync"/> step of the current phase at a time, and only <see cref="MoveTo"/>
/// changes it (after a completed response or SSE group, and on the SSE fallback). SSE events are
/// decoded by <see cref="SseEventDecoder"/>, which knows nothing of the read's position.
/// </remarks>
internal sealed partial class ReadSession
{
    /// <summary>The largest part a response of a non-JSON stream is handed out in.</summary>
    internal const int MaxPartBytes = 1024 * 1024;

    /// <summary>
    /// After this many empty, not up-to-date responses in a row that do not move the offset, the read
    /// fails: the server claims there is more to read but never sends it.
    /// </summary>
    internal const int MaxResponsesWithoutProgress = 5;

    /// <summary>A long-poll that returns nothing sooner than this did not really wait, and the next one is paced.</summary>
    internal static readonly TimeSpan ShortLongPoll = TimeSpan.FromSeconds(1);

    private const string Operation = "read";

    private readonly DurableStream _stream;
    private readonly ReadOptions _options;
    private readonly HttpTransport _transport;
    private readonly RetryOptions _retry;
    private readonly RetryOptions _firstResponseRetry;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _url;
    private readonly Dictionary<string, string> _headers;
    private Offset _offset;
    private string? _cursor;
    private string? _contentType;

    // The last response's Content-Type as sent and as HttpClient formats it (see ResponseContentType).
    private string? _rawContentType;
    private string? _formattedContentType;

    // Where the read is: changed only by MoveTo. _live is where the read goes once caught up:
    // Auto until the content type resolves it, LongPoll after an SSE fallback.
    private ReadPhase _phase;
    private LiveMode _live;
    private int _failures;
    private int _shortConnections;
    private bool _connected;

    // A malformed SSE event read after complete groups: thrown once their chunk has been handed out.
    private DurableStreamProtocolException? _sseFailure;
    private int _responsesWithoutProgress;
    private int _shortLongPolls;

    // The next catch-up page's request, sent before the consumer asked for it (ReadOptions.ReadAhead),
    // and the releases of ones dropped on the way that have not finished yet.
    private RequestAhead? _ahead;
    private Task _releasing = Task.CompletedTask;

    // Set for the typed JSON reader, which checks each response's array itself in the same pass
    // that deserializes it (before it hands out any message), so this loop does not scan it first.
    private readonly bool _jsonCheckedByConsumer;

    // Whether read requests ask for a compressed answer (see AcceptEncoding).
    private readonly bool _askForCompression;

    private ReadSession(DurableStream stream, ReadOptions options, Offset start, string? cursor, bool jsonCheckedByConsumer)
    {
        _jsonCheckedByConsumer = jsonCheckedByConsumer;
        _stream = stream;
        _options = options;
        _transport = stream.Client.Transport;
        DurableStreamClientOptions clientOptions = _transport.Options;
        _retry = options.Retry ?? clientOptions.ReadRetry;

        // Until the first successful response a read is not different from any other request: a
        // server that is down fails it after the client's normal retries instead of hanging it.
        _firstResponseRetry = options.Retry ?? clientOptions.Retry;
        _idleTimeout = clientOptions.ResponseIdleTimeout;
        _time = clientOptions.TimeProvider;
        _logger = _transport.Logger;
        _url = UrlUtilities.WithoutQuery(stream.Url);
        _headers = new Dictionary<string, string>(options.Headers, StringComparer.OrdinalIgnoreCase);
        _askForCompression = !stream.Url.IsLoopback
            && !_headers.ContainsKey(AcceptEncodingHeader)
            && !clientOptions.DefaultHeaders.ContainsKey(AcceptEncodingHeader);
        _offset = start;
        _cursor = string.IsNullOrEmpty(cursor) ? null : cursor;
        _contentType = stream.ContentType;
        _live = options.Live;
        ResolveAuto(force: false);

        // PROTOCOL.md §5.7: a long-poll at an offset where data exists answers at once, so a read
        // that follows with long-poll needs no catch-up request first; SSE keeps fetch-then-live.
        // Not from "now": a long-poll there whose answer is lost (the connection drops in its body)
        // would be retried at a later "now" and skip what it answered. A catch-up from "now" answers
        // at once with the tail and never with data (PROTOCOL.md §8), and the long-polls wait there.
        _phase = _live == LiveMode.LongPoll && !start.IsNow ? ReadPhase.LongPoll : ReadPhase.CatchUp;
    }

    /// <summary>Starts a read: no request is sent before the first <c>MoveNextAsync</c>.</summary>
    public static IAsyncEnumerator<StreamChunk> Start(
        DurableStream stream,
        ReadOptions options,
        Offset start,
        string? cursor,
        CancellationToken cancellationToken,
        bool jsonCheckedByConsumer = false) =>
        new Steps(new ReadSession(stream, options, start, cursor, jsonCheckedByConsumer), cancellationToken);

    /// <summary>
    /// One step of the current phase: one catch-up or long-poll response (retried until it
    /// succeeds), or one SSE connection. The step moves the phase when it completes a response or
    /// a group (<see cref="Complete"/>) or falls back from SSE.
    /// </summary>
    private IAsyncEnumerable<StreamChunk> ReadNextAsync(CancellationToken cancellationToken) => _phase switch
    {
        ReadPhase.CatchUp => ReadResponseAsync(live: false, cancellationToken),
        ReadPhase.LongPoll => ReadResponseAsync(live: true, cancellationToken),
        ReadPhase.Sse => ReadSseAsync(cancellationToken),
        _ => throw new InvalidOperationException($"The read has no step in phase {_phase}."),
    };

    /// <summary>
    /// The phase after a completed response or SSE group. For SSE, fetch-then-live (PROTOCOL.md §5.6,
    /// §5.8): plain catch-up GETs until a response is up to date, only then the SSE connection, which
    /// stays in SSE. A long-poll read starts with a long-poll (PROTOCOL.md §5.7: it answers at once
    /// where data exists), and goes to catch-up GETs whenever a long-poll answer is not up to date
    /// (the rest of a long backlog reads as plain, cacheable pages).
    /// </summary>
    private ReadPhase PhaseAfter(bool upToDate, bool closed)
    {
        if (closed)
        {
            // PROTOCOL.md §5.7, §5.8: Stream-Closed is EOF in every mode; never reconnect after it.
            return ReadPhase.Done;
        }

        if (_phase == ReadPhase.Sse)
        {
            return ReadPhase.Sse;
        }

        if (!upToDate)
        {
            return ReadPhase.CatchUp;
        }

        if (_live == LiveMode.Off)
        {
            return ReadPhase.Done;
        }

        ResolveAuto(force: true);
        return _live == LiveMode.Sse ? ReadPhase.Sse : ReadPhase.LongPoll;
    }

    /// <summary>
    /// Runs the read one <see cref="ReadNextAsync"/> step after the other until the phase is done.
    /// Written out rather than as an iterator around the steps: a chunk the step has ready (an SSE
    /// group already in the buffer) passes through without another async state machine.
    /// </summary>
    private sealed class Steps : IAsyncEnumerator<StreamChunk>
    {
        private readonly ReadSession _session;
        private readonly CancellationToken _cancellationToken;
        private IAsyncEnumerator<StreamChunk>? _step;

        public Steps(ReadSession session, CancellationToken cancellationToken)
        {
            _session = session;
            _cancellationToken = cancellationToken;
        }

        public StreamChunk Current { get; private set; } = null!;

        public ValueTask<bool> MoveNextAsync()
        {
            while (true)
            {
                if (_step is null)
                {
                    if (_session._phase == ReadPhase.Done)
                    {
                        return new ValueTask<bool>(false);
                    }

                    _cancellationToken.ThrowIfCancellationRequested();
                    _step = _session.ReadNextAsync(_cancellationToken).GetAsyncEnumerator(_cancellationToken);
                }

                ValueTask<bool> next = _step.MoveNextAsync();
                if (!next.IsCompletedSuccessfully)
                {
                    return AwaitStepAsync(next);
                }

                if (next.Result)
                {
                    Current = _step.Current;
                    return new ValueTask<bool>(true);
                }

                ValueTask ended = EndStepAsync();
                if (!ended.IsCompletedSuccessfully)
                {
                    return AwaitEndThenMoveNextAsync(ended);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await EndStepAsync().ConfigureAwait(false);
            }
            finally
            {
                await _session.EndAheadAsync().ConfigureAwait(false);
            }
        }

        private async ValueTask<bool> AwaitStepAsync(ValueTask<bool> next)
        {
            if (await next.ConfigureAwait(false))
            {
                Current = _step!.Current;
                return true;
            }

            await EndStepAsync().ConfigureAwait(false);
            return await MoveNextAsync().ConfigureAwait(false);
        }

        private async ValueTask<bool> AwaitEndThenMoveNextAsync(ValueTask ended)
        {
            await ended.ConfigureAwait(false);
            return await MoveNextAsync().ConfigureAwait(false);
        }

        private ValueTask EndStepAsync()
        {
            IAsyncEnumerator<StreamChunk>? step = _step;
            _step = null;
            return step?.DisposeAsync() ?? default;
        }
    }

    /// <summary>The one place the phase changes.</summary>
    private void MoveTo(ReadPhase next) => _phase = next;

    // ---------------------------------------------------------------- catch-up and long-poll

    /// <summary>One catch-up or long-poll response (retried until it succeeds), as one or more chunks.</summary>
    private async IAsyncEnumerable<StreamChunk> ReadResponseAsync(bool live, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await PaceAsync(cancellationToken).ConfigureAwait(false);
        Offset start = _offset;

        // Bytes of this response already handed out: a retry after a failure in the middle of the
        // body asks for the same offset again (the data there never changes) and drops them.
        long delivered = 0;
        while (true)
        {
            // When it went out matters for long-polls only (pacing), which are never sent ahead.
            long sent = _time.GetTimestamp();
            HttpResponseMessage? response;
            ReadFailure? failure;
            JsonBody? bodyAhead = null;
            if (!live && TakeAhead(_offset) is { } ahead)
            {
                using (ahead.Cancellation)
                {
                    (response, failure, bodyAhead) = await ahead.Answer.ConfigureAwait(false);
                }
            }
            else
            {
                StreamRequest request = CreateRequest(_offset, live ? ProtocolHeaders.LongPollValue : null);
                (response, failure) = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            }

            if (response is null)
            {
                await RecoverAsync(failure!, live, cancellationToken).ConfigureAwait(false);
                continue;
            }

            using (response)
            {
                int status = (int)response.StatusCode;
                if (status is not (200 or 204))
                {
                    throw Protocol($"The read answered HTTP {status}, which is not a read response");
                }

                Offset next = ResponseHeaders.RequireNextOffset(response, _stream.Url, Operation);
                if (next.IsBeginning)
                {
                    throw Protocol($"The response's {ProtocolHeaders.NextOffset} is the reserved value '-1'");
                }

                RequireNotBackwards(start, next, ProtocolHeaders.NextOffset);
                string? cursor = ResponseHeaders.Get(response, ProtocolHeaders.Cursor);
                if (!string.IsNullOrEmpty(cursor))
                {
                    // Known from the headers on, so that the parts of a large body carry it too.
                    _cursor = cursor;
                }

                bool closed = ResponseHeaders.IsClosed(response);
                bool upToDate = closed || ResponseHeaders.IsTrue(response, ProtocolHeaders.UpToDate) || status == 204;
                LearnContentType(ResponseContentType(response));
                _connected = true;
                bool quick = _time.GetElapsedTime(sent) < ShortLongPoll;
                if (!upToDate && status == 200 && next != start)
                {
                    // More to catch up on, and where it starts is known before this body is read.
                    StartAhead(next, cancellationToken);
                }

                if (status == 204)
                {
                    // PROTOCOL.md §5.7: the long-poll timed out with nothing new; caught up.
                    Complete(next, cursor, upToDate: true, closed);
                    NoteEmpty(start, next, upToDate: true, live, quick);
                    yield return new StreamChunk(ReadOnlyMemory<byte>.Empty, start, next, _cursor, true, closed, status, _contentType);
                    yield break;
                }

                bool json = MediaTypes.IsJson(_contentType);
                if (json)
                {
                    JsonBody body = bodyAhead ?? await TryReadJsonBodyAsync(response, start, cancellationToken).ConfigureAwait(false);
                    if (body.Failure is not null)
                    {
                        failure = BodyFailure(body.Failure, start);
                    }
                    else
                    {
                        ReadOnlyMemory<byte> data = ValidateJsonBody(body, start, out int messages, cancellationToken);
                        if (data.IsEmpty)
                        {
                            NoteEmpty(start, next, upToDate, live, quick);
                        }
                        else
                        {
                            RequireAdvance(start, next);
                        }

                        Complete(next, cursor, upToDate, closed);
                        Record(data.Length, messages);
                        yield return new StreamChunk(data, start, next, _cursor, upToDate, closed, status, _contentType);
                        yield break;
                    }
                }
                else
                {
                    Stream? bodyStream = null;
                    Exception? bodyFailure = null;
                    try
                    {
                        bodyStream = await OpenBodyAsync(response, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (IsBodyFailure(ex, cancellationToken))
                    {
                        bodyFailure = ex;
                    }

                    if (bodyStream is not null)
                    {
                        await using (bodyStream.ConfigureAwait(false))
                        {
                            var parts = new BodyPartReader(bodyStream, MaxPartBytes, text: _contentType is null || MediaTypes.IsTextual(_contentType));
                            long position = 0;
                            byte[]? pending = null;
                            long pendingPosition = 0;
                            while (true)
                            {
                                (byte[] part, bool eof, Exception? partFailure) = await TryReadPartAsync(parts, cancellationToken).ConfigureAwait(false);
                                if (partFailure is not null)
                                {
                                    bodyFailure = partFailure;
                                    break;
                                }

                                if (position == 0 && part.Length > 0)
                                {
                                    // Checked before any byte is handed out: data must move the offset.
                                    RequireAdvance(start, next);
                                }

                                long partPosition = position;
                                position += part.Length;
                                if (partPosition < delivered && part.Length > 0)
                                {
                                    int drop = (int)Math.Min(part.Length, delivered - partPosition);
                                    part = part.AsSpan(drop).ToArray();
                                    partPosition += drop;
                                }

                                if (part.Length > 0)
                                {
                                    if (pending is not null)
                                    {
                                        // More data follows: hand out the held part without the response's end state.
                                        delivered = pendingPosition + pending.Length;
                                        Record(pending.Length, 0);
                                        yield return new StreamChunk(pending, start, start, _cursor, false, false, status, _contentType)
                                        {
                                            Partial = true,
                                            ResponsePosition = pendingPosition,
                                        };
                                    }

                                    pending = part;
                                    pendingPosition = partPosition;
                                }

                                if (eof)
                                {
                                    break;
                                }
                            }

                            if (bodyFailure is null)
                            {
                                if (position == 0)
                                {
                                    NoteEmpty(start, next, upToDate, live, quick);
                                }
                                else
                                {
                                    _shortLongPolls = 0;
                                }

                                Complete(next, cursor, upToDate, closed);
                                ReadOnlyMemory<byte> data = pending ?? ReadOnlyMemory<byte>.Empty;
                                Record(data.Length, 0);
                                yield return new StreamChunk(data, start, next, _cursor, upToDate, closed, status, _contentType)
                                {
                                    ResponsePosition = pendingPosition,
                                };
                                yield break;
                            }
                        }
                    }

                    failure = BodyFailure(bodyFailure!, start);
                }
            }

            await RecoverAsync(failure!, live, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits before the next catch-up or long-poll request when the last responses made no progress
    /// (an empty, not up-to-date answer at the same offset) or when long-polls keep returning empty
    /// without having waited: jittered backoff from the read's retry policy, so a broken server is
    /// not hammered. A response that waits, brings data or moves the offset resets both.
    /// </summary>
    private async ValueTask PaceAsync(CancellationToken cancellationToken)
    {
        int streak = Math.Max(_responsesWithoutProgress, _shortLongPolls);
        if (streak > 0)
        {
            TimeSpan delay = Backoff.Delay(_retry, streak - 1, null)!.Value;
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Counts a response without data towards the pacing and the no-progress limit (PROTOCOL.md §5.6, §5.7).</summary>
    private void NoteEmpty(Offset start, Offset next, bool upToDate, bool live, bool quick)
    {
        bool stuck = !upToDate && next == start;
        _responsesWithoutProgress = stuck ? _responsesWithoutProgress + 1 : 0;
        if (_responsesWithoutProgress >= MaxResponsesWithoutProgress)
        {
            throw Protocol(
                $"{_responsesWithoutProgress} responses in a row had no data, were not up to date and kept {ProtocolHeaders.NextOffset} at {next}; " +
                "the server claims more data but never sends it");
        }

        // An empty long-poll that answered at once did not wait for data: pace the next one.
        _shortLongPolls = live && quick ? _shortLongPolls + 1 : 0;
    }

    /// <summary>PROTOCOL.md §8: offsets only grow; an answer that moves the read backwards would repeat data.</summary>
    private void RequireNotBackwards(Offset start, Offset next, string where)
    {
        if (!start.IsBeginning && !start.IsNow && next < start)
        {
            throw Protocol($"The {where} {next} is before the offset {start} the read asked for: offsets must not go backwards");
        }
    }

    /// <summary>Data must move the offset, or a resumed read would receive it again.</summary>
    private void RequireAdvance(Offset start, Offset next)
    {
        _responsesWithoutProgress = 0;
        _shortLongPolls = 0;
        if (!start.IsBeginning && !start.IsNow && next == start)
        {
            throw Protocol($"The response carries data but its {ProtocolHeaders.NextOffset} stays at {start}, the offset the read asked for");
        }
    }

    /// <summary>
    /// PROTOCOL.md §9.1: the body of a JSON stream is one JSON array; no messages reads as empty data.
    /// The check began while the body arrived (<see cref="JsonBody.Counter"/>) and ends here.
    /// </summary>
    private ReadOnlyMemory<byte> ValidateJsonBody(JsonBody json, Offset start, out int messages, CancellationToken cancellationToken)
    {
        messages = 0;
        ReadOnlyMemory<byte> body = json.Bytes;
        ReadOnlySpan<byte> trimmed = body.Span.Trim(" \t\r\n"u8);
        if (trimmed.IsEmpty)
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        if (_jsonCheckedByConsumer)
        {
            // The typed reader checks the whole array before its first message and counts the
            // messages; only "[]" is recognized here, so that an empty answer reads as empty.
            bool emptyArray = trimmed.Length >= 2 && trimmed[0] == (byte)'[' && trimmed[^1] == (byte)']' && trimmed[1..^1].Trim(" \t\r\n"u8).IsEmpty;
            return emptyArray ? ReadOnlyMemory<byte>.Empty : body;
        }

        try
        {
            if (json.Malformed is not null)
            {
                throw json.Malformed;
            }

            messages = json.Counter.Finish(body.Span, cancellationToken);
        }
        catch (JsonException ex)
        {
            throw Protocol($"The body of the JSON stream's response at offset {start} is not a JSON array ({ex.Message})", ex);
        }

        // Keep the server's own bytes: re-serializing would change escaping and number formats.
        return messages == 0 ? ReadOnlyMemory<byte>.Empty : body;
    }

    /// <summary>
    /// Reads a JSON body whole (its messages are framed by the closing bracket), decompressed, up to
    /// <see cref="ReadOptions.MaxBufferedBytes"/>. A body of a declared length (not compressed, and
    /// within the bound) is read into an array of that length: one allocation, no copy. Any other body
    /// is gathered in pooled buffers that double as bytes arrive and is copied once into an array of
    /// its length at the end, so a lying header or a compression bomb cannot take more memory than the
    /// bound, and a large page leaves no trail of discarded arrays for the GC. Unless the typed reader
    /// checks the array itself, the bytes are checked as they arrive (<see cref="JsonArrayCounter"/>):
    /// while the next bytes are on their way, not after the last.
    /// </summary>
    private async Task<JsonBody> TryReadJsonBodyAsync(HttpResponseMessage response, Offset start, CancellationToken cancellationToken)
    {
        var counter = default(JsonArrayCounter);
        JsonException? malformed = null;
        bool check = !_jsonCheckedByConsumer;
        int max = _options.MaxBufferedBytes;
        long? declared = response.Content.Headers.ContentEncoding.Count == 0 ? response.Content.Headers.ContentLength : null;
        if (declared > max)
        {
            throw TooLarge($"declares a Content-Length of {declared} bytes", start);
        }

        byte[] buffer = declared is { } exact
            ? GC.AllocateUninitializedArray<byte>((int)exact)
            : ArrayPool<byte>.Shared.Rent(Math.Min(max, 16 * 1024));
        bool pooled = declared is null;
        try
        {
            Stream body = await OpenBodyAsync(response, cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                int length = 0;
                byte[]? probe = null;
                while (true)
                {
                    int capacity = Math.Min(buffer.Length, max);
                    if (length == capacity)
                    {
                        // The buffer is full: one byte more, or the end, decides whether it grows.
                        probe ??= new byte[1];
                        if (await body.ReadAsync(probe, cancellationToken).ConfigureAwait(false) == 0)
                        {
                            break;
                        }

                        if (length == max)
                        {
                            throw TooLarge($"is larger than {max} bytes", start);
                        }

                        byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(max, Math.Max(16 * 1024, 2L * length)));
                        buffer.AsSpan(0, length).CopyTo(larger);
                        if (pooled)
                        {
                            ArrayPool<byte>.Shared.Return(buffer);
                        }

                        buffer = larger;
                        pooled = true;
                        buffer[length++] = probe[0];
                        capacity = Math.Min(buffer.Length, max);
                    }

                    int read = await body.ReadAsync(buffer.AsMemory(length, capacity - length), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    length += read;
                    if (check)
                    {
                        try
                        {
                            counter.Advance(buffer.AsSpan(0, length), cancellationToken);
                        }
                        catch (JsonException ex)
                        {
                            // Reported once the body is in: a failure while receiving it still retries.
                            malformed = ex;
                            check = false;
                        }
                    }
                }

                // The array is handed to the caller; nothing else ever touches it.
                byte[] bytes = buffer;
                if (pooled)
                {
                    bytes = length == 0 ? [] : GC.AllocateUninitializedArray<byte>(length);
                    buffer.AsSpan(0, length).CopyTo(bytes);
                }

                return new JsonBody(new ReadOnlyMemory<byte>(bytes, 0, length), counter, malformed, null);
            }
        }
        catch (Exception ex) when (IsBodyFailure(ex, cancellationToken))
        {
            return new JsonBody(default, default, null, ex);
        }
        finally
        {
            if (pooled)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// A JSON body read whole: its bytes and how far their check got while they arrived (the counter
    /// to finish, or what it found malformed); or the failure that stopped the body, which the read retries.
    /// </summary>
    private readonly record struct JsonBody(ReadOnlyMemory<byte> Bytes, JsonArrayCounter Counter, JsonException? Malformed, Exception? Failure);

    private DurableStreamProtocolException TooLarge(string what, Offset start) =>
        Protocol(
            $"The JSON response at offset {start} {what} (decompressed); a JSON response is read whole, and " +
            $"ReadOptions.MaxBufferedBytes ({_options.MaxBufferedBytes} bytes) bounds it");

    /// <summary>The response body, decompressed, failing with <see cref="TimeoutException"/> when it stalls (see <see cref="DurableStreamClientOptions.ResponseIdleTimeout"/>).</summary>
    private async Task<Stream> OpenBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        Stream body = await HttpTransport.ReadBodyAsync(response.Content, cancellationToken).ConfigureAwait(false);
        return _idleTimeout == Timeout.InfiniteTimeSpan ? body : new IdleTimeoutStream(body, _idleTimeout, _time, cancellationToken);
    }

    private static async Task<(byte[] Part, bool Eof, Exception? Failure)> TryReadPartAsync(BodyPartReader reader, CancellationToken cancellationToken)
    {
        try
        {
            (byte[] part, bool eof) = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return (part, eof, null);
        }
        catch (Exception ex) when (IsBodyFailure(ex, cancellationToken))
        {
            return ([], false, ex);
        }
    }

    // ---------------------------------------------------------------- requests, failures, state

    private StreamRequest CreateRequest(Offset offset, string? live)
    {
        var request = new StreamRequest(HttpMethod.Get, _stream.Url, Operation, live is null ? RequestKind.CatchUpRead : RequestKind.LiveRead)
        {
            ExtraQuery = _options.QueryParameters.Count == 0 ? null : _options.QueryParameters,
        };

        // Always name the offset: the live modes require it (PROTOCOL.md §5.7, §5.8), and "-1" is the start.
        request.Query.Add(new(ProtocolHeaders.OffsetParameter, offset.Value));
        if (live is not null)
        {
            request.Query.Add(new(ProtocolHeaders.LiveParameter, live));
            if (_cursor is not null)
            {
                // PROTOCOL.md §10.1: echo the last cursor so that CDNs can collapse live requests.
                request.Query.Add(new(ProtocolHeaders.CursorParameter, _cursor));
            }
        }

        foreach (KeyValuePair<string, string> header in _headers)
        {
            request.AddHeader(header.Key, header.Value);
        }

        if (_askForCompression)
        {
            request.AddHeader(AcceptEncodingHeader, AcceptEncoding);
        }

        return request;
    }

    private const string AcceptEncodingHeader = "Accept-Encoding";

    /// <summary>
    /// What a read asks for unless it reads from a loopback address or the caller set
    /// <c>Accept-Encoding</c> itself: a JSON or text backlog shrinks several times, which pays over
    /// any network, while on loopback compressing and inflating costs more than moving the bytes
    /// (docs/benchmarks.md). The answer is decoded by <see cref="HttpTransport.ReadBodyAsync"/>,
    /// whatever the handler does. Other requests carry small bodies and never ask.
    /// </summary>
    private const string AcceptEncoding = "gzip, deflate, br";

    /// <summary>
    /// Sends the catch-up request for <paramref name="offset"/> now, before the consumer asks for
    /// it (<see cref="ReadOptions.ReadAhead"/>), unless it is already on its way. Its answer (a
    /// response with the body unread, or a failure) waits for <see cref="TakeAhead"/>.
    /// </summary>
    private void StartAhead(Offset offset, CancellationToken cancellationToken)
    {
        if (!_options.ReadAhead || _ahead?.Offset == offset)
        {
            return;
        }

        // A page asked for again that ends somewhere else than the first answer said.
        DropAhead();

        var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        StreamRequest request = CreateRequest(offset, live: null);
        bool json = MediaTypes.IsJson(_contentType);
        CancellationToken token = cancellation.Token;

        // On its own task from the start: the request and a JSON body run beside the caller.
        _ahead = new RequestAhead(offset, Task.Run(() => SendAheadAsync(request, offset, json, token), CancellationToken.None), cancellation);
    }

    /// <summary>
    /// The request ahead on its own task. On a JSON stream a page is read whole before it is handed
    /// out anyway, so its body is read here too (and checked, unless the typed reader checks it as
    /// it deserializes), on another thread, while the caller's
    /// current page is still being read and checked: one page more in memory, at most
    /// <see cref="ReadOptions.MaxBufferedBytes"/>. Other streams' bodies stay unread until the read
    /// gets there. A failure while receiving the body comes back as a value, as it would in the read.
    /// </summary>
    private async Task<(HttpResponseMessage? Response, ReadFailure? Failure, JsonBody? Body)> SendAheadAsync(StreamRequest request, Offset offset, bool json, CancellationToken cancellationToken)
    {
        (HttpResponseMessage? response, ReadFailure? failure) = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response is null || !json || response.StatusCode != HttpStatusCode.OK)
        {
            return (response, failure, null);
        }

        try
        {
            return (response, null, await TryReadJsonBodyAsync(response, offset, cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The request ahead if it is for <paramref name="offset"/>. One for another offset stays: it is
    /// the page after the one being asked for again (a retry), and <see cref="Complete"/> releases it
    /// if that page ends somewhere else.
    /// </summary>
    private RequestAhead? TakeAhead(Offset offset)
    {
        if (_ahead is { } ahead && ahead.Offset == offset)
        {
            _ahead = null;
            return ahead;
        }

        return null;
    }

    /// <summary>Releases the request ahead without waiting; <see cref="EndAheadAsync"/> waits for it.</summary>
    private void DropAhead()
    {
        Task release = ReleaseAheadAsync();
        if (!release.IsCompleted)
        {
            _releasing = _releasing.IsCompleted ? release : Task.WhenAll(_releasing, release);
        }
    }

    /// <summary>At the end of the read: releases the request ahead and waits for every release still running.</summary>
    private async Task EndAheadAsync()
    {
        await ReleaseAheadAsync().ConfigureAwait(false);
        await _releasing.ConfigureAwait(false);
    }

    /// <summary>Cancels the request ahead, if any, and waits until its response (if one came) is released.</summary>
    private Task ReleaseAheadAsync()
    {
        RequestAhead? ahead = _ahead;
        _ahead = null;
        if (ahead is null)
        {
            return Task.CompletedTask;
        }

        ahead.Cancellation.Cancel();
        return ReleaseAsync(ahead);
    }

    private static async Task ReleaseAsync(RequestAhead ahead)
    {
        try
        {
            (HttpResponseMessage? response, _, _) = await ahead.Answer.ConfigureAwait(false);
            response?.Dispose();
        }
        catch (Exception)
        {
            // Cancelled, or failed: nobody asked for this answer, so there is nothing to report.
        }
        finally
        {
            ahead.Cancellation.Dispose();
        }
    }

    /// <summary>Sends one attempt; an error status or a network failure comes back as a <see cref="ReadFailure"/>.</summary>
    private async Task<(HttpResponseMessage? Response, ReadFailure? Failure)> SendAsync(StreamRequest request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _transport.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (DurableStreamException ex) when (ex.Status == 0 && ex.InnerException is not null && FailureClassifier.IsNetworkFailure(ex.InnerException) && !cancellationToken.IsCancellationRequested)
        {
            return (null, new ReadFailure(ex.InnerException, ex, 0, null));
        }

        if (response.IsSuccessStatusCode)
        {
            return (response, null);
        }

        using (response)
        {
            DurableStreamException error = await ErrorMapper.ToExceptionAsync(response, request, _time).ConfigureAwait(false);
            return (null, new ReadFailure(error, error, (int)response.StatusCode, HttpTransport.RetryAfterOf(response, _time)));
        }
    }

    /// <summary>
    /// Decides what happens after a failed request: asks the hook (with the SDK's own decision), then
    /// either throws or waits the backoff before the caller sends the request again.
    /// </summary>
    private async Task RecoverAsync(ReadFailure failure, bool live, CancellationToken cancellationToken)
    {
        _failures = _failures == int.MaxValue ? int.MaxValue : _failures + 1;
        RetryOptions retry = _connected ? _retry : _firstResponseRetry;
        bool transient = failure.Status == 0 || FailureClassifier.IsTransientStatus((HttpStatusCode)failure.Status);
        bool willRetry = transient && _failures <= retry.MaxRetries && Backoff.Allows(retry, failure.RetryAfter);
        ReadRecovery recovery = ReadRecovery.Default;
        if (_options.OnFailure is { } hook)
        {
            var context = new ReadFailureContext(_stream, failure.Exception, failure.Status, _failures, _offset, willRetry);
            recovery = await hook(context, cancellationToken).ConfigureAwait(false) ?? ReadRecovery.Default;
        }

        if (!(recovery.ShouldRetry ?? willRetry))
        {
            if (_logger.IsEnabled(LogLevel.Warning))
            {
                Log.ReadGaveUp(_logger, _url, _failures, Describe(failure), _connected);
            }

            throw failure.Error;
        }

        if (recovery.Headers is { } headers)
        {
            foreach (KeyValuePair<string, string> header in headers)
            {
                _headers[header.Key] = header.Value;
            }
        }

        // A Retry-After beyond MaxRetryAfter that the hook chose to retry anyway waits the cap.
        TimeSpan delay = recovery.Delay ?? Backoff.Delay(retry, _failures - 1, failure.RetryAfter) ?? retry.MaxRetryAfter;
        if (_logger.IsEnabled(LogLevel.Warning))
        {
            Log.Retrying(_logger, "GET", _url, Operation, _failures, Describe(failure), delay.TotalMilliseconds);
        }

        DurableStreamsTelemetry.Retries.Add(1, new KeyValuePair<string, object?>("durable_streams.operation", Operation));
        if (live && _connected)
        {
            CountReconnect(failure.Status == 0 ? "the connection failed" : $"HTTP {failure.Status}");
        }

        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string Describe(ReadFailure failure) =>
        failure.Status == 0 ? failure.Exception.GetType().Name : $"HTTP {failure.Status}";

    private void CountReconnect(string reason)
    {
        string mode = _phase == ReadPhase.Sse ? "sse" : "long-poll";
        DurableStreamsTelemetry.Reconnects.Add(1, new KeyValuePair<string, object?>("durable_streams.live_mode", mode));
        if (_logger.IsEnabled(LogLevel.Information))
        {
            Log.Reconnecting(_logger, mode, _url, _offset.Value, reason);
        }
    }

    /// <summary>
    /// A failure while receiving a response body: the read requests again from the last byte it
    /// handed out. A body that is not valid HTTP (a malformed chunk, for example) would arrive the
    /// same way again, so it fails the read at once instead of being retried without end.
    /// </summary>
    private ReadFailure BodyFailure(Exception exception, Offset start) =>
        exception is HttpIOException { HttpRequestError: HttpRequestError.InvalidResponse }
            ? throw Protocol($"The response body for offset {start} is not valid HTTP ({exception.Message}); the same answer would recur, so the read was not retried", exception)
            : new(exception,
                new DurableStreamException(
                    $"GET {_url} (read) failed while receiving the response for offset {start}: {exception.Message}",
                    0,
                    exception is TimeoutException ? DurableStreamErrorCodes.Timeout : DurableStreamErrorCodes.NetworkError,
                    _stream.Url,
                    exception),
                0,
                null);

    private static bool IsBodyFailure(Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not (IOException or HttpRequestException or InvalidDataException or TimeoutException))
        {
            return false;
        }

        // The caller's cancellation surfaces as itself, not as a network failure.
        cancellationToken.ThrowIfCancellationRequested();
        return true;
    }

    /// <summary>A response succeeded: move to its next offset and remember its cursor.</summary>
    private void Complete(Offset next, string? cursor, bool upToDate, bool closed)
    {
        _offset = next;
        if (_ahead is not null && _ahead.Offset != next)
        {
            // Asked for ahead of a page that ended somewhere else when it was asked for again.
            DropAhead();
        }

        if (!string.IsNullOrEmpty(cursor))
        {
            _cursor = cursor;
        }

        _failures = 0;
        MoveTo(PhaseAfter(upToDate, closed));
    }

    /// <summary>
    /// The response's Content-Type as <see cref="ResponseHeaders.ContentType"/> gives it. HttpClient
    /// parses and formats the header again on every response; a read's responses repeat one value,
    /// so the formatted text is kept beside the raw text it came from and reused while they match.
    /// </summary>
    private string? ResponseContentType(HttpResponseMessage response)
    {
        if (response.Content.Headers.NonValidated.TryGetValues("Content-Type", out HeaderStringValues raw) && raw.Count == 1)
        {
            string text = raw.ToString();
            if (_rawContentType is not null && string.Equals(text, _rawContentType, StringComparison.Ordinal))
            {
                return _formattedContentType;
            }

            string? formatted = ResponseHeaders.ContentType(response);
            _rawContentType = text;
            _formattedContentType = formatted;
            return formatted;
        }

        return ResponseHeaders.ContentType(response);
    }

    private void LearnContentType(string? contentType)
    {
        if (contentType is not null && !MediaTypes.SameMediaType(contentType, MediaTypes.EventStream))
        {
            if (_contentType is not null && !MediaTypes.SameMediaType(contentType, _contentType))
            {
                // A login page or an error page of a proxy can carry a copied Stream-Next-Offset; its
                // body is not the stream's data (PROTOCOL.md §5.6: reads answer in the stream's type).
                throw Protocol($"The response's Content-Type '{contentType}' is not the stream's content type '{_contentType}'");
            }

            _contentType = contentType;
            _stream.RememberContentType(contentType);
        }

        ResolveAuto(force: false);
    }

    /// <summary>
    /// Auto picks SSE for text and JSON streams (one connection, pushed data, lowest latency) and
    /// long-poll for everything else, where SSE would carry base64 (a third more bytes).
    /// </summary>
    private void ResolveAuto(bool force)
    {
        if (_live == LiveMode.Auto && (force || _contentType is not null))
        {
            _live = MediaTypes.IsTextual(_contentType) ? LiveMode.Sse : LiveMode.LongPoll;
        }
    }

    private static void Record(int bytes, int messages)
    {
        if (bytes > 0)
        {
            DurableStreamsTelemetry.BytesRead.Add(bytes);
        }

        if (messages > 0)
        {
            DurableStreamsTelemetry.MessagesRead.Add(messages);
        }
    }

    private DurableStreamProtocolException Protocol(string what, Exception? inner = null) =>
        new($"{what} (GET {_url}, offset {_offset}).", _stream.Url, inner);

    /// <summary>A catch-up request sent ahead: the offset it reads from, its answer to come, and how to cancel it.</summary>
    private sealed record RequestAhead(Offset Offset, Task<(HttpResponseMessage? Response, ReadFailure? Failure, JsonBody? Body)> Answer, CancellationTokenSource Cancellation);

    /// <summary>A failed request: what the hook sees, what the read throws if it gives up, and the status (0 = no response).</summary>
    private sealed record ReadFailure(Exception Exception, DurableStreamException Error, int Status, TimeSpan? RetryAfter);
}
