using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
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
    /// <param name="options">Where to start. Default: from the beginning.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Every byte from the start position to the tail.</returns>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<byte[]> ReadAllBytesAsync(ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ReadOptions plan = Snapshot(options);
        using var buffer = new MemoryStream();
        bool json = false;
        await foreach (StreamChunk chunk in ReadChunksAsync(plan, cancellationToken, default).ConfigureAwait(false))
        {
            json |= MediaTypes.IsJson(chunk.ContentType);
            if (!chunk.Data.IsEmpty)
            {
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

        return buffer.ToArray();
    }

    /// <summary>Reads the stream up to the tail (the first up-to-date response) and returns it as UTF-8 text.</summary>
    /// <param name="options">Where to start. Default: from the beginning.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The text from the start position to the tail.</returns>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<string> ReadAllTextAsync(ReadOptions? options = null, CancellationToken cancellationToken = default) =>
        Encoding.UTF8.GetString(await ReadAllBytesAsync(options, cancellationToken).ConfigureAwait(false));

    /// <summary>Reads the messages of a JSON stream up to the tail (the first up-to-date response).</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="options">Where to start. Default: from the beginning.</param>
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
    /// <param name="options">Where to start. Default: from the beginning.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The messages from the start position to the tail, in order.</returns>
    /// <exception cref="JsonException">A message does not deserialize to <typeparamref name="T"/>.</exception>
    /// <exception cref="InvalidOperationException">The stream's content type is not <c>application/json</c>.</exception>
    /// <inheritdoc cref="ReadAsync(ReadOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<IReadOnlyList<T>> ReadAllJsonAsync<T>(JsonTypeInfo<T> jsonTypeInfo, ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        ReadOptions plan = Snapshot(options);
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

    private async IAsyncEnumerable<StreamChunk> ReadChunksAsync(
        ReadOptions plan,
        CancellationToken callToken,
        [EnumeratorCancellation] CancellationToken enumeratorToken)
    {
        using CancellationTokenSource? linked = callToken.CanBeCanceled && enumeratorToken.CanBeCanceled && callToken != enumeratorToken
            ? CancellationTokenSource.CreateLinkedTokenSource(callToken, enumeratorToken)
            : null;
        CancellationToken cancellationToken = linked?.Token ?? (callToken.CanBeCanceled ? callToken : enumeratorToken);

        ReadCheckpoint start = plan.Checkpoint ?? new ReadCheckpoint(plan.Offset);
        long toSkip = start.Skip;

        // Disposing the client ends the read, also while it waits for data or to retry. Handled
        // here rather than by another iterator around the session: every chunk passes one layer less.
        using CancellationTokenSource readToken = Client.LinkDisposal(cancellationToken);
        IAsyncEnumerator<StreamChunk> chunks = ReadSession.Start(this, plan, start.Offset, start.Cursor, readToken.Token);
        await using (chunks.ConfigureAwait(false))
        {
            while (true)
            {
                Exception? ended = null;
                bool more;
                try
                {
                    more = await chunks.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when ((ended = Client.EndedBy(ex, cancellationToken)) is not null)
                {
                    throw ended;
                }

                if (!more)
                {
                    yield break;
                }

                StreamChunk chunk = chunks.Current;
                if (toSkip == 0 || chunk.Data.IsEmpty)
                {
                    yield return chunk;
                    continue;
                }

                // Drop what the checkpoint says was already processed (ReadCheckpoint.Skip).
                ReadOnlyMemory<byte> remaining;
                long skipped;
                if (MediaTypes.IsJson(chunk.ContentType))
                {
                    int count = JsonCount(chunk, cancellationToken);
                    int drop = (int)Math.Min(toSkip, count);
                    remaining = JsonArrayScanner.Skip(chunk.Data.Span, drop);
                    skipped = drop;
                }
                else
                {
                    int drop = (int)Math.Min(toSkip, chunk.Data.Length);
                    remaining = chunk.Data[drop..];
                    skipped = drop;
                }

                toSkip -= skipped;
                yield return new StreamChunk(remaining, chunk.StartOffset, chunk.NextOffset, chunk.Cursor, chunk.UpToDate, chunk.StreamClosed, chunk.Status, chunk.ContentType)
                {
                    SkippedItems = skipped,
                    Partial = chunk.Partial,
                    ResponsePosition = chunk.ResponsePosition,
                };
            }
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
        await foreach (StreamChunk chunk in ReadChunksAsync(plan, callToken, enumeratorToken).ConfigureAwait(false))
        {
            RequireJsonStream(chunk.ContentType);
            if (!chunk.Data.IsEmpty)
            {
                // Each message is deserialized when it is handed out, so a message that does not
                // deserialize fails the read only after every message before it was delivered.
                var scanner = default(JsonArrayScanner);
                bool more = NextJsonItem(ref scanner, chunk, out Range current);
                for (long i = 0; more; i++)
                {
                    // A cancelled read stops between messages too, not only between responses.
                    callToken.ThrowIfCancellationRequested();
                    enumeratorToken.ThrowIfCancellationRequested();
                    more = NextJsonItem(ref scanner, chunk, out Range next);
                    T value = JsonSerializer.Deserialize(chunk.Data.Span[current], jsonTypeInfo)!;
                    ReadCheckpoint checkpoint = more
                        ? new ReadCheckpoint(chunk.StartOffset, chunk.SkippedItems + i + 1, chunk.Cursor)
                        : chunk.Checkpoint;
                    yield return new StreamItem<T>(value, checkpoint, !more && chunk.UpToDate, !more && chunk.StreamClosed);
                    current = next;
                }
            }

            if (stopAtUpToDate && (chunk.UpToDate || chunk.StreamClosed))
            {
                yield break;
            }
        }
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
