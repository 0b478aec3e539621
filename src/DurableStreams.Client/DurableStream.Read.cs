using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Diagnostics.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Reading.Internal;

namespace DurableStreams;

public partial class DurableStream
{
    /// <summary>
    /// Reads the stream as a sequence of chunks (PROTOCOL.md §5.6-§5.8): first everything from the
    /// start position up to the tail (catch-up), then, when <see cref="ReadOptions.Live"/> is not
    /// <see cref="LiveMode.Off"/>, new data as it is appended, until the stream is closed or the
    /// enumeration is cancelled or abandoned.
    /// </summary>
    /// <param name="options">Where to start and how to follow. Default: from the beginning, catch-up only.</param>
    /// <param name="cancellationToken">Cancels the read, including the request in flight.</param>
    /// <returns>
    /// A lazy, single-use sequence: no request is sent before the first <c>MoveNextAsync</c>, and it
    /// never fetches more than one response ahead of the consumer. Empty chunks are yielded too, so that
    /// <see cref="StreamChunk.UpToDate"/> and <see cref="StreamChunk.StreamClosed"/> are visible.
    /// </returns>
    /// <remarks>
    /// Network failures, 429 and 5xx are retried: until the first successful response as any request
    /// (<see cref="DurableStreamClientOptions.Retry"/>), so a read against a server that is down fails
    /// instead of hanging, then by default without limit (<see cref="DurableStreamClientOptions.ReadRetry"/>);
    /// every failed attempt is logged at Warning. A dropped live connection is resumed from the
    /// last offset, so no byte is lost, repeated or reordered. The sequence ends after the chunk whose
    /// <see cref="StreamChunk.StreamClosed"/> is <see langword="true"/>. A response that breaks the
    /// protocol (an offset that goes backwards, data that does not move the offset, a foreign content
    /// type, a body beyond <see cref="ReadOptions.MaxBufferedBytes"/>) fails the read at once.
    /// </remarks>
    /// <exception cref="ArgumentException">An option is invalid (thrown by this call, before any I/O).</exception>
    /// <exception cref="StreamNotFoundException">The stream does not exist (thrown while enumerating).</exception>
    /// <exception cref="StreamBadRequestException">The start offset is malformed (<see cref="DurableStreamErrorCodes.InvalidOffset"/>).</exception>
    /// <exception cref="StreamGoneException">The start offset is before the stream's retained data.</exception>
    /// <exception cref="DurableStreamProtocolException">The server sent a response that breaks the protocol.</exception>
    /// <exception cref="DurableStreamException">Any other failure that retries did not overcome.</exception>
    public virtual IAsyncEnumerable<StreamChunk> ReadAsync(ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ReadOptions plan = Snapshot(options);
        return new SingleUseAsyncEnumerable<StreamChunk>(
            enumeratorToken => ReadChunksAsync(plan, cancellationToken, enumeratorToken).GetAsyncEnumerator(enumeratorToken));
    }

    /// <summary>Reads the stream's bytes, one item per non-empty chunk.</summary>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)"/>
    public virtual IAsyncEnumerable<StreamItem<ReadOnlyMemory<byte>>> ReadBytesAsync(ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ReadOptions plan = Snapshot(options);
        return new SingleUseAsyncEnumerable<StreamItem<ReadOnlyMemory<byte>>>(
            enumeratorToken => ReadBytesCoreAsync(plan, cancellationToken, enumeratorToken).GetAsyncEnumerator(enumeratorToken));
    }

    /// <summary>
    /// Reads the stream as UTF-8 text, one item per non-empty chunk. A character split across two
    /// chunks is completed before it is returned.
    /// </summary>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)"/>
    public virtual IAsyncEnumerable<StreamItem<string>> ReadTextAsync(ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ReadOptions plan = Snapshot(options);
        return new SingleUseAsyncEnumerable<StreamItem<string>>(
            enumeratorToken => ReadTextCoreAsync(plan, cancellationToken, enumeratorToken).GetAsyncEnumerator(enumeratorToken));
    }

    /// <summary>
    /// Reads the messages of a JSON stream (PROTOCOL.md §9.1), one item per message, deserialized
    /// with the client's <see cref="DurableStreamClientOptions.JsonSerializerOptions"/>. Each item's
    /// <see cref="StreamItem{T}.Checkpoint"/> resumes right after that message.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual IAsyncEnumerable<StreamItem<T>> ReadJsonAsync<T>(ReadOptions? options = null, CancellationToken cancellationToken = default) =>
        ReadJsonAsync(ReflectionTypeInfo<T>(), options, cancellationToken);

    /// <summary>
    /// Reads the messages of a JSON stream (PROTOCOL.md §9.1), one item per message, deserialized
    /// with source-generated metadata (trimming- and AOT-safe). Each item's
    /// <see cref="StreamItem{T}.Checkpoint"/> resumes right after that message.
    /// The messages of one catch-up or long-poll response are deserialized together, in one pass
    /// that also checks the response is one well-formed JSON array before its first message is
    /// handed out; they are held until handed out, so memory follows the response, which
    /// <see cref="ReadOptions.MaxBufferedBytes"/> bounds. When a response does not deserialize whole,
    /// its messages are deserialized one at a time as they are handed out, so the one that fails
    /// throws after every message before it was delivered.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="options">Where to start and how to follow. Default: from the beginning, catch-up only.</param>
    /// <param name="cancellationToken">Cancels the read, including the request in flight.</param>
    /// <returns>A lazy, single-use sequence of messages.</returns>
    /// <exception cref="JsonException">A message does not deserialize to <typeparamref name="T"/> (thrown when that message is reached; the messages before it are delivered).</exception>
    /// <exception cref="InvalidOperationException">The stream's content type is not <c>application/json</c> (thrown while enumerating).</exception>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/remarks"/>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    public virtual IAsyncEnumerable<StreamItem<T>> ReadJsonAsync<T>(JsonTypeInfo<T> jsonTypeInfo, ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        ReadOptions plan = Snapshot(options);
        return new SingleUseAsyncEnumerable<StreamItem<T>>(
            enumeratorToken => ReadJsonCoreAsync(jsonTypeInfo, plan, cancellationToken, enumeratorToken).GetAsyncEnumerator(enumeratorToken));
    }

    /// <summary>
    /// Reads the stream's bytes up to the tail (the first up-to-date response) and returns them; for a
    /// JSON stream, one JSON array holding every message.
    /// </summary>
    /// <param name="options">Where to start (<see cref="ReadOptions.Live"/> is ignored: the read ends at the tail). Default: from the beginning.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Every byte from the start position to the tail.</returns>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<byte[]> ReadAllBytesAsync(ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ReadOptions plan = CatchUpOnly(Snapshot(options));
        using var buffer = new MemoryStream();
        bool json = false;

        // The data of a read that fits one chunk (the common catch-up: one response) is not
        // copied: the chunk's memory is the caller's (StreamChunk.Data), so it is returned as is.
        ReadOnlyMemory<byte> only = default;
        await foreach (StreamChunk chunk in ReadChunksAsync(plan, cancellationToken, default).ConfigureAwait(false))
        {
            json |= MediaTypes.IsJson(chunk.ContentType);
            if (!chunk.Data.IsEmpty)
            {
                if (!json && only.IsEmpty && buffer.Length == 0)
                {
                    only = chunk.Data;
                }
                else
                {
                    buffer.Write(only.Span);
                    only = default;
                    if (json)
                    {
                        // A JSON stream reads back as one array of all its messages (PROTOCOL.md §9.1).
                        AppendJsonElements(buffer, chunk);
                    }
                    else
                    {
                        buffer.Write(chunk.Data.Span);
                    }
                }
            }

            if (chunk.UpToDate || chunk.StreamClosed)
            {
                break;
            }
        }

        if (json)
        {
            if (buffer.Length == 0)
            {
                return "[]"u8.ToArray();
            }

            buffer.WriteByte((byte)']');
        }
        else if (!only.IsEmpty)
        {
            return MemoryMarshal.TryGetArray(only, out ArraySegment<byte> whole) && whole.Offset == 0 && whole.Count == whole.Array!.Length
                ? whole.Array
                : only.ToArray();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads the stream up to the tail (the first up-to-date response) and returns it as UTF-8 text.</summary>
    /// <param name="options">Where to start (<see cref="ReadOptions.Live"/> is ignored: the read ends at the tail). Default: from the beginning.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The text from the start position to the tail.</returns>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<string> ReadAllTextAsync(ReadOptions? options = null, CancellationToken cancellationToken = default) =>
        Encoding.UTF8.GetString(await ReadAllBytesAsync(options, cancellationToken).ConfigureAwait(false));

    /// <summary>Reads the messages of a JSON stream up to the tail (the first up-to-date response).</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="options">Where to start (<see cref="ReadOptions.Live"/> is ignored: the read ends at the tail). Default: from the beginning.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The messages from the start position to the tail, in order.</returns>
    /// <exception cref="JsonException">A message does not deserialize to <typeparamref name="T"/>.</exception>
    /// <exception cref="InvalidOperationException">The stream's content type is not <c>application/json</c>.</exception>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual Task<IReadOnlyList<T>> ReadAllJsonAsync<T>(ReadOptions? options = null, CancellationToken cancellationToken = default) =>
        ReadAllJsonAsync(ReflectionTypeInfo<T>(), options, cancellationToken);

    /// <summary>Reads the messages of a JSON stream up to the tail (the first up-to-date response), with source-generated metadata.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="options">Where to start (<see cref="ReadOptions.Live"/> is ignored: the read ends at the tail). Default: from the beginning.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The messages from the start position to the tail, in order.</returns>
    /// <exception cref="JsonException">A message does not deserialize to <typeparamref name="T"/>.</exception>
    /// <exception cref="InvalidOperationException">The stream's content type is not <c>application/json</c>.</exception>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<IReadOnlyList<T>> ReadAllJsonAsync<T>(JsonTypeInfo<T> jsonTypeInfo, ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        ReadOptions plan = CatchUpOnly(Snapshot(options));
        var messages = new List<T>();
        await foreach (StreamItem<T> item in ReadJsonCoreAsync(jsonTypeInfo, plan, cancellationToken, default, stopAtUpToDate: true).ConfigureAwait(false))
        {
            messages.Add(item.Value);
        }

        return messages;
    }

    /// <summary>
    /// The reflection-based metadata of <typeparamref name="T"/>. Options without a resolver get the
    /// default one first, as the serializer itself does on first use (GetTypeInfo alone would throw).
    /// </summary>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    private JsonTypeInfo<T> ReflectionTypeInfo<T>()
    {
        JsonSerializerOptions options = JsonOptions;
        if (!options.IsReadOnly)
        {
            options.MakeReadOnly(populateMissingResolver: true);
        }

        return (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));
    }

    /// <summary>
    /// The ReadAll methods end at the tail, so they never follow live: a long-poll read would start
    /// with a long-poll (PROTOCOL.md §5.7), which at the tail of an open stream waits for new data.
    /// </summary>
    private static ReadOptions CatchUpOnly(ReadOptions plan)
    {
        plan.Live = LiveMode.Off;
        return plan;
    }

    private static ReadOptions Snapshot(ReadOptions? options)
    {
        options ??= new ReadOptions();
        options.Validate();
        var copy = new ReadOptions
        {
            Offset = options.Offset,
            Checkpoint = options.Checkpoint,
            Live = options.Live,
            Retry = options.Retry,
            OnFailure = options.OnFailure,
            MaxSseEventBytes = options.MaxSseEventBytes,
            MaxBufferedBytes = options.MaxBufferedBytes,
            SseFallbackShortConnections = options.SseFallbackShortConnections,
            SseShortConnectionDuration = options.SseShortConnectionDuration,
            OneChunkPerSseGroup = options.OneChunkPerSseGroup,
            ReadAhead = options.ReadAhead,
        };
        foreach (KeyValuePair<string, string> header in options.Headers)
        {
            copy.Headers[header.Key] = header.Value;
        }

        foreach (KeyValuePair<string, string> parameter in options.QueryParameters)
        {
            copy.QueryParameters[parameter.Key] = parameter.Value;
        }

        return copy;
    }

    [SuppressMessage("Performance", "CA1859:Use concrete types when possible for improved performance", Justification = "The readers enumerate it with ConfigureAwait, which needs the interface type; the chunks pass through the enumerator, not this call.")]
    private IAsyncEnumerable<StreamChunk> ReadChunksAsync(ReadOptions plan, CancellationToken callToken, CancellationToken enumeratorToken, bool jsonCheckedByConsumer = false) =>
        new ChunkReader(this, plan, jsonCheckedByConsumer, callToken, enumeratorToken);

    /// <summary>
    /// The chunks of one read: the session's chunks with what a checkpoint already processed dropped
    /// (<see cref="ReadCheckpoint.Skip"/>), ended by the client's disposal. Written out rather than as
    /// an async iterator so that a chunk the session has ready (an SSE group already in the buffer)
    /// reaches the caller without another async state machine; nothing starts before the first
    /// <see cref="MoveNextAsync"/>, and the read ends (its tokens and session disposed) when it
    /// completes, fails or is disposed.
    /// </summary>
    private sealed class ChunkReader : IAsyncEnumerable<StreamChunk>, IAsyncEnumerator<StreamChunk>
    {
        private readonly DurableStream _stream;
        private readonly ReadOptions _plan;
        private readonly CancellationToken _callToken;
        private readonly CancellationToken _enumeratorToken;
        private readonly bool _jsonCheckedByConsumer;
        private CancellationTokenSource? _linked;
        private CancellationTokenSource? _readToken;
        private CancellationToken _cancellationToken;
        private IAsyncEnumerator<StreamChunk>? _chunks;
        private long _toSkip;
        private bool _ended;

        public ChunkReader(DurableStream stream, ReadOptions plan, bool jsonCheckedByConsumer, CancellationToken callToken, CancellationToken enumeratorToken)
        {
            _stream = stream;
            _plan = plan;
            _callToken = callToken;
            _enumeratorToken = enumeratorToken;
            _jsonCheckedByConsumer = jsonCheckedByConsumer;
        }

        public StreamChunk Current { get; private set; } = null!;

        public IAsyncEnumerator<StreamChunk> GetAsyncEnumerator(CancellationToken cancellationToken = default) => this;

        public ValueTask<bool> MoveNextAsync()
        {
            if (_ended)
            {
                return new ValueTask<bool>(false);
            }

            ValueTask<bool> next;
            try
            {
                next = (_chunks ?? Start()).MoveNextAsync();
                if (next.IsCompletedSuccessfully)
                {
                    return next.Result ? new ValueTask<bool>(Take()) : EndAsync(null);
                }
            }
            catch (Exception ex)
            {
                return EndAsync(ex);
            }

            return AwaitNextAsync(next);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_ended)
            {
                await EndAsync(null).ConfigureAwait(false);
            }
        }

        private IAsyncEnumerator<StreamChunk> Start()
        {
            _linked = _callToken.CanBeCanceled && _enumeratorToken.CanBeCanceled && _callToken != _enumeratorToken
                ? CancellationTokenSource.CreateLinkedTokenSource(_callToken, _enumeratorToken)
                : null;
            _cancellationToken = _linked?.Token ?? (_callToken.CanBeCanceled ? _callToken : _enumeratorToken);
            ReadCheckpoint start = _plan.Checkpoint ?? new ReadCheckpoint(_plan.Offset);
            _toSkip = start.Skip;

            // Disposing the client ends the read, also while it waits for data or to retry.
            _readToken = _stream.Client.LinkDisposal(_cancellationToken);
            return _chunks = ReadSession.Start(_stream, _plan, start.Offset, start.Cursor, _readToken.Token, _jsonCheckedByConsumer);
        }

        private async ValueTask<bool> AwaitNextAsync(ValueTask<bool> next)
        {
            bool more;
            try
            {
                more = await next.ConfigureAwait(false);
                if (more)
                {
                    return Take();
                }
            }
            catch (Exception ex)
            {
                return await EndAsync(ex).ConfigureAwait(false);
            }

            return await EndAsync(null).ConfigureAwait(false);
        }

        /// <summary>The session's current chunk, without what the checkpoint says was already processed.</summary>
        private bool Take()
        {
            StreamChunk chunk = _chunks!.Current;
            if (_toSkip == 0 || chunk.Data.IsEmpty)
            {
                Current = chunk;
                return true;
            }

            ReadOnlyMemory<byte> remaining;
            long skipped;
            if (MediaTypes.IsJson(chunk.ContentType))
            {
                int count = _stream.JsonCount(chunk, _cancellationToken);
                int drop = (int)Math.Min(_toSkip, count);
                remaining = JsonArrayScanner.Skip(chunk.Data.Span, drop);
                skipped = drop;
            }
            else
            {
                int drop = (int)Math.Min(_toSkip, chunk.Data.Length);
                remaining = chunk.Data[drop..];
                skipped = drop;
            }

            _toSkip -= skipped;
            Current = new StreamChunk(remaining, chunk.StartOffset, chunk.NextOffset, chunk.Cursor, chunk.UpToDate, chunk.StreamClosed, chunk.Status, chunk.ContentType)
            {
                SkippedItems = skipped,
                Partial = chunk.Partial,
                ResponsePosition = chunk.ResponsePosition,
            };
            return true;
        }

        /// <summary>
        /// Ends the read: disposes the session and the tokens, then returns false or throws
        /// <paramref name="failure"/> (the client's disposal as ObjectDisposedException, the caller's
        /// cancellation with the caller's token).
        /// </summary>
        private async ValueTask<bool> EndAsync(Exception? failure)
        {
            _ended = true;
            try
            {
                if (_chunks is { } chunks)
                {
                    _chunks = null;
                    await chunks.DisposeAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                _readToken?.Dispose();
                _linked?.Dispose();
            }

            if (failure is not null)
            {
                if (_readToken is not null && _stream.Client.EndedBy(failure, _cancellationToken) is { } ended)
                {
                    throw ended;
                }

                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            return false;
        }
    }

    private async IAsyncEnumerable<StreamItem<ReadOnlyMemory<byte>>> ReadBytesCoreAsync(
        ReadOptions plan,
        CancellationToken callToken,
        [EnumeratorCancellation] CancellationToken enumeratorToken)
    {
        await foreach (StreamChunk chunk in ReadChunksAsync(plan, callToken, enumeratorToken).ConfigureAwait(false))
        {
            if (!chunk.Data.IsEmpty)
            {
                yield return new StreamItem<ReadOnlyMemory<byte>>(chunk.Data, chunk.Checkpoint, chunk.UpToDate, chunk.StreamClosed);
            }
        }
    }

    private async IAsyncEnumerable<StreamItem<string>> ReadTextCoreAsync(
        ReadOptions plan,
        CancellationToken callToken,
        [EnumeratorCancellation] CancellationToken enumeratorToken)
    {
        Decoder decoder = Encoding.UTF8.GetDecoder();
        await foreach (StreamChunk chunk in ReadChunksAsync(plan, callToken, enumeratorToken).ConfigureAwait(false))
        {
            if (chunk.Data.IsEmpty)
            {
                continue;
            }

            ReadOnlyMemory<byte> bytes = chunk.Data;
            bool flush = chunk.StreamClosed;
            int count = decoder.GetCharCount(bytes.Span, flush);
            if (count == 0)
            {
                // Only part of a character: the decoder keeps it for the next chunk.
                decoder.GetChars(bytes.Span, [], flush);
                continue;
            }

            // Decoded straight into the string, without an intermediate char array.
            string text = string.Create(count, (decoder, bytes, flush), static (chars, state) => state.decoder.GetChars(state.bytes.Span, chars, state.flush));
            yield return new StreamItem<string>(text, chunk.Checkpoint, chunk.UpToDate, chunk.StreamClosed);
        }
    }

    private async IAsyncEnumerable<StreamItem<T>> ReadJsonCoreAsync<T>(
        JsonTypeInfo<T> jsonTypeInfo,
        ReadOptions plan,
        CancellationToken callToken,
        [EnumeratorCancellation] CancellationToken enumeratorToken,
        bool stopAtUpToDate = false)
    {
        RequireJsonStream(ContentType);
        JsonTypeInfo<List<T>> pageTypeInfo = JsonPages<T>.For(jsonTypeInfo);
        await foreach (StreamChunk chunk in ReadChunksAsync(plan, callToken, enumeratorToken, jsonCheckedByConsumer: true).ConfigureAwait(false))
        {
            RequireJsonStream(chunk.ContentType);
            if (!chunk.Data.IsEmpty)
            {
                // One pass over the response: deserializing it as one list also checks that it is one
                // well-formed array before any message is handed out (the read loop left that to us).
                // A small response (an SSE event is usually one message) skips it: the list's fixed
                // cost, the serializer's frame stack for a nested read (~500 B), outweighs one scan.
                List<T>? values = chunk.Data.Length > SmallJsonPageBytes ? TryDeserializePage(chunk, pageTypeInfo) : null;
                if (values is not null)
                {
                    DurableStreamsTelemetry.MessagesRead.Add(values.Count);
                    for (int i = 0; i < values.Count; i++)
                    {
                        // A cancelled read stops between messages too, not only between responses.
                        callToken.ThrowIfCancellationRequested();
                        enumeratorToken.ThrowIfCancellationRequested();
                        bool last = i == values.Count - 1;
                        T value = values[i];
                        values[i] = default!;
                        yield return JsonItem(chunk, value, i, last);
                    }
                }
                else
                {
                    // A small page, or one that did not deserialize whole: a malformed array fails the read before any
                    // of its messages; otherwise each message is deserialized when it is handed out,
                    // so the one that does not fit T fails the read after every message before it.
                    DurableStreamsTelemetry.MessagesRead.Add(JsonCount(chunk, callToken));
                    var scanner = default(JsonArrayScanner);
                    bool more = NextJsonItem(ref scanner, chunk, out Range current);
                    for (int i = 0; more; i++)
                    {
                        callToken.ThrowIfCancellationRequested();
                        enumeratorToken.ThrowIfCancellationRequested();
                        more = NextJsonItem(ref scanner, chunk, out Range next);
                        T value = JsonSerializer.Deserialize(chunk.Data.Span[current], jsonTypeInfo)!;
                        yield return JsonItem(chunk, value, i, !more);
                        current = next;
                    }
                }
            }

            if (stopAtUpToDate && (chunk.UpToDate || chunk.StreamClosed))
            {
                yield break;
            }
        }
    }

    /// <summary>
    /// The size up to which a JSON response is deserialized one message at a time after a validation
    /// scan instead of as one list (<see cref="ReadJsonCoreAsync"/>): below it the list costs more than
    /// it saves (measured with 100-byte messages, ReadAllocationTests).
    /// </summary>
    private const int SmallJsonPageBytes = 4 * 1024;

    /// <summary>The item of message <paramref name="index"/> of a chunk; its checkpoint resumes right after it.</summary>
    private static StreamItem<T> JsonItem<T>(StreamChunk chunk, T value, int index, bool last)
    {
        ReadCheckpoint checkpoint = last
            ? chunk.Checkpoint
            : new ReadCheckpoint(chunk.StartOffset, chunk.SkippedItems + index + 1, chunk.Cursor);
        return new StreamItem<T>(value, checkpoint, last && chunk.UpToDate, last && chunk.StreamClosed);
    }

    /// <summary>
    /// Deserializes a whole JSON chunk as one list of <typeparamref name="T"/>, or returns
    /// <see langword="null"/> when that fails for any reason (malformed data, a message that does not
    /// fit, a converter that throws): the caller then finds out which message it is.
    /// </summary>
    private static List<T>? TryDeserializePage<T>(StreamChunk chunk, JsonTypeInfo<List<T>> pageTypeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(chunk.Data.Span, pageTypeInfo);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            return null;
        }
    }

    /// <summary>
    /// The metadata of a list of <typeparamref name="T"/> for a given element metadata, built once
    /// per element metadata (trimming- and AOT-safe: no reflection, the element's own converter). A
    /// list rather than an array: the array converter fills a list and then copies it.
    /// </summary>
    private static class JsonPages<T>
    {
        private static readonly ConditionalWeakTable<JsonTypeInfo<T>, JsonTypeInfo<List<T>>> Cache = new();

        public static JsonTypeInfo<List<T>> For(JsonTypeInfo<T> element) =>
            Cache.GetValue(element, static e => JsonMetadataServices.CreateListInfo<List<T>, T>(
                e.Options,
                new JsonCollectionInfoValues<List<T>> { ObjectCreator = static () => new List<T>(), ElementInfo = e }));
    }

    /// <summary>
    /// The JSON readers read JSON streams only: data of another type would fail as "not a JSON array",
    /// which blames the server for the caller's choice of reader.
    /// </summary>
    private void RequireJsonStream(string? contentType)
    {
        if (contentType is not null && !MediaTypes.IsJson(contentType))
        {
            throw new InvalidOperationException(
                $"The stream {Url} has the content type '{contentType}', not {MediaTypes.Json}: ReadJsonAsync and ReadAllJsonAsync read JSON streams only. " +
                "Use ReadTextAsync or ReadBytesAsync and parse the data yourself.");
        }
    }

    /// <summary>Remembers the content type a read learned, as <see cref="HeadAsync"/> does.</summary>
    internal void RememberContentType(string contentType) => _contentType = contentType;

    private bool NextJsonItem(ref JsonArrayScanner scanner, StreamChunk chunk, out Range item)
    {
        try
        {
            return scanner.MoveNext(chunk.Data.Span, out item);
        }
        catch (JsonException ex)
        {
            throw NotJsonArray(chunk, ex);
        }
    }

    private int JsonCount(StreamChunk chunk, CancellationToken cancellationToken)
    {
        try
        {
            return JsonArrayScanner.Count(chunk.Data.Span, cancellationToken);
        }
        catch (JsonException ex)
        {
            throw NotJsonArray(chunk, ex);
        }
    }

    private void AppendJsonElements(MemoryStream buffer, StreamChunk chunk)
    {
        try
        {
            ReadOnlySpan<byte> json = chunk.Data.Span;
            var scanner = default(JsonArrayScanner);
            while (scanner.MoveNext(json, out Range item))
            {
                buffer.WriteByte(buffer.Length == 0 ? (byte)'[' : (byte)',');
                buffer.Write(json[item]);
            }
        }
        catch (JsonException ex)
        {
            throw NotJsonArray(chunk, ex);
        }
    }

    private DurableStreamProtocolException NotJsonArray(StreamChunk chunk, JsonException ex) =>
        new($"The JSON stream {Url} returned data at offset {chunk.StartOffset} that is not a JSON array of messages: {ex.Message}", Url, ex);
}
