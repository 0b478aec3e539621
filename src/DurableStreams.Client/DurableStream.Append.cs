using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams;

public partial class DurableStream
{
    private const string ReflectionJsonMessage =
        "JSON serialization of arbitrary types may need code that trimming removes; use the overload that takes a JsonTypeInfo<T>.";

    private const string DynamicCodeJsonMessage =
        "JSON serialization of arbitrary types may need runtime code generation; use the overload that takes a JsonTypeInfo<T>.";

    /// <summary>
    /// Appends bytes (PROTOCOL.md §5.2). On a JSON stream the bytes must be one JSON value and are
    /// stored as exactly one message, even when they are an array (§9.1).
    /// </summary>
    /// <param name="data">The bytes; must not be empty.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The stream's new tail offset.</returns>
    /// <remarks>
    /// A plain append is retried only when the server answered 429 or 5xx or the connection could
    /// not be opened; if the connection fails after the body may have reached the server, the append
    /// is not resent (that could store it twice) and <see cref="AppendOutcomeUnknownException"/> is
    /// thrown. Use <c>IdempotentProducer</c> for exactly-once appends through failures.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="data"/> is empty (checked before any I/O).</exception>
    /// <exception cref="StreamClosedException">The stream is closed; the exception carries its final offset.</exception>
    /// <exception cref="StreamNotFoundException">The stream does not exist.</exception>
    /// <exception cref="StreamConflictException">The content type or <see cref="AppendOptions.Sequence"/> conflicts.</exception>
    /// <exception cref="AppendOutcomeUnknownException">The connection failed after the body may have been stored.</exception>
    /// <exception cref="DurableStreamException">Any other failure.</exception>
    public virtual Task<AppendResult> AppendAsync(ReadOnlyMemory<byte> data, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        RequireNonEmpty(data.Length, nameof(data));
        return AppendBytesAsync(data, options, close: false, cancellationToken);
    }

    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)"/>
    public virtual Task<AppendResult> AppendAsync(byte[] data, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        return AppendAsync(new ReadOnlyMemory<byte>(data), options, cancellationToken);
    }

    /// <summary>
    /// Appends text, encoded as UTF-8 and sent as it is. On a JSON stream the text must be one JSON
    /// value and is stored as exactly one message (use <see cref="AppendAsync{T}(T, AppendOptions?, CancellationToken)"/>
    /// to serialize a .NET value instead).
    /// </summary>
    /// <param name="text">The text; must not be empty.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The stream's new tail offset.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/remarks"/>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    public virtual Task<AppendResult> AppendAsync(string text, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        RequireNonEmpty(text.Length, nameof(text));
        return AppendBytesAsync(Encoding.UTF8.GetBytes(text), options, close: false, cancellationToken);
    }

    /// <summary>
    /// Appends the rest of <paramref name="content"/>, copied to the network as it is read and sent
    /// chunked, so it is never held in memory whole. The caller keeps ownership of the stream.
    /// </summary>
    /// <param name="content">The data; read from its current position to its end.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The stream's new tail offset.</returns>
    /// <remarks>
    /// A seekable stream is rewound to its starting position when the server asks for a retry (429/5xx);
    /// a non-seekable one can be sent only once and is never retried.
    /// </remarks>
    /// <exception cref="ArgumentException"><paramref name="content"/> cannot be read, or is seekable and has nothing left.</exception>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<AppendResult> AppendAsync(Stream content, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanRead)
        {
            throw new ArgumentException("The stream cannot be read.", nameof(content));
        }

        long start = content.CanSeek ? content.Position : -1;
        if (content.CanSeek)
        {
            RequireNonEmpty(content.Length - start, nameof(content));
        }

        string contentType = await EnsureContentTypeAsync(cancellationToken).ConfigureAwait(false);
        bool wrap = MediaTypes.IsJson(contentType);
        var request = NewAppendRequest("append", content.CanSeek ? RequestKind.PlainAppend : RequestKind.OneShotAppend, contentType, options);
        request.Content = () =>
        {
            if (start >= 0)
            {
                content.Position = start;
            }

            return new StreamBodyContent(content, wrap);
        };
        return await SendAppendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Serializes <paramref name="value"/> to JSON with the client's <see cref="JsonSerializerOptions"/>
    /// (default: web defaults, camelCase) and appends it. On a JSON stream it is stored as exactly one
    /// message, arrays included (PROTOCOL.md §9.1). <see cref="byte"/> arrays, memory, strings and
    /// <see cref="Stream"/>s passed here are appended as raw data, as by their own overloads.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The stream's new tail offset.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/remarks"/>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    /// <exception cref="InvalidOperationException">
    /// The stream is not a JSON stream (its content type is known to the handle, or learned with one
    /// HEAD): a serialized value is appended only to JSON streams, nothing is sent.
    /// </exception>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual Task<AppendResult> AppendAsync<T>(T value, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (TryAppendRaw(value, options, cancellationToken) is { } raw)
        {
            return raw;
        }

        byte[] json = JsonSerializer.SerializeToUtf8Bytes(value, JsonOptions);
        return AppendBytesAsync(json, options, close: false, cancellationToken, jsonValue: true);
    }

    /// <summary>
    /// Serializes <paramref name="value"/> with source-generated metadata (trimming- and AOT-safe)
    /// and appends it; on a JSON stream it is stored as exactly one message.
    /// </summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">The value.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The stream's new tail offset.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/remarks"/>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    /// <exception cref="InvalidOperationException">
    /// The stream is not a JSON stream (its content type is known to the handle, or learned with one
    /// HEAD): a serialized value is appended only to JSON streams, nothing is sent.
    /// </exception>
    public virtual Task<AppendResult> AppendAsync<T>(T value, JsonTypeInfo<T> jsonTypeInfo, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(value, jsonTypeInfo);
        return AppendBytesAsync(json, options, close: false, cancellationToken, jsonValue: true);
    }

    /// <summary>
    /// Closes the stream without appending (PROTOCOL.md §5.3): readers that reach its end see
    /// end-of-stream and no append is accepted any more. Closing a closed stream succeeds again.
    /// </summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The close's result: <see cref="CloseResult.FinalOffset"/> is the stream's final offset, where readers see end-of-stream.</returns>
    /// <exception cref="StreamNotFoundException">The stream does not exist.</exception>
    /// <exception cref="DurableStreamException">Any other failure.</exception>
    public virtual async Task<CloseResult> CloseAsync(CancellationToken cancellationToken = default)
    {
        var request = new StreamRequest(HttpMethod.Post, Url, "close", RequestKind.Control);
        request.AddHeader(ProtocolHeaders.Closed, ProtocolHeaders.True);
        AppendResult result = await SendAppendAsync(request, cancellationToken).ConfigureAwait(false);
        return new CloseResult(result.NextOffset);
    }

    /// <summary>
    /// Appends <paramref name="finalData"/> and closes the stream in one atomic step (PROTOCOL.md §5.2).
    /// Unlike a close-only call this is not idempotent: on a closed stream it throws
    /// <see cref="StreamClosedException"/>.
    /// </summary>
    /// <param name="finalData">The last bytes of the stream; must not be empty.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The close's result: <see cref="CloseResult.FinalOffset"/> is the stream's final offset, where readers see end-of-stream.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    public virtual async Task<CloseResult> CloseAsync(ReadOnlyMemory<byte> finalData, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        RequireNonEmpty(finalData.Length, nameof(finalData));
        AppendResult result = await AppendBytesAsync(finalData, options, close: true, cancellationToken).ConfigureAwait(false);
        return new CloseResult(result.NextOffset);
    }

    /// <summary>Appends <paramref name="finalText"/> (UTF-8, sent as it is) and closes the stream in one atomic step.</summary>
    /// <param name="finalText">The last text of the stream; must not be empty.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The close's result: <see cref="CloseResult.FinalOffset"/> is the stream's final offset, where readers see end-of-stream.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    public virtual Task<CloseResult> CloseAsync(string finalText, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(finalText);
        RequireNonEmpty(finalText.Length, nameof(finalText));
        return CloseAsync(new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(finalText)), options, cancellationToken);
    }

    /// <summary>Serializes <paramref name="finalValue"/> (trimming- and AOT-safe), appends it as the last message and closes the stream atomically.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="finalValue">The last message.</param>
    /// <param name="jsonTypeInfo">The serialization metadata of <typeparamref name="T"/>.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The close's result: <see cref="CloseResult.FinalOffset"/> is the stream's final offset, where readers see end-of-stream.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    /// <exception cref="InvalidOperationException">
    /// The stream is not a JSON stream (its content type is known to the handle, or learned with one
    /// HEAD): a serialized value is appended only to JSON streams, nothing is sent.
    /// </exception>
    public virtual async Task<CloseResult> CloseAsync<T>(T finalValue, JsonTypeInfo<T> jsonTypeInfo, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(finalValue, jsonTypeInfo);
        AppendResult result = await AppendBytesAsync(json, options, close: true, cancellationToken, jsonValue: true).ConfigureAwait(false);
        return new CloseResult(result.NextOffset);
    }

    /// <summary>Serializes <paramref name="finalValue"/> with the client's serializer options, appends it as the last message and closes the stream atomically.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="finalValue">The last message.</param>
    /// <param name="options">Per-call options. Default: none.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The close's result: <see cref="CloseResult.FinalOffset"/> is the stream's final offset, where readers see end-of-stream.</returns>
    /// <inheritdoc cref="AppendAsync(ReadOnlyMemory{byte}, AppendOptions?, CancellationToken)" path="/exception"/>
    /// <exception cref="InvalidOperationException">
    /// The stream is not a JSON stream (its content type is known to the handle, or learned with one
    /// HEAD): a serialized value is appended only to JSON streams, nothing is sent.
    /// </exception>
    [RequiresUnreferencedCode(ReflectionJsonMessage)]
    [RequiresDynamicCode(DynamicCodeJsonMessage)]
    public virtual async Task<CloseResult> CloseAsync<T>(T finalValue, AppendOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (RawPayload(finalValue) is { } raw)
        {
            return await CloseAsync(raw, options, cancellationToken).ConfigureAwait(false);
        }

        byte[] json = JsonSerializer.SerializeToUtf8Bytes(finalValue, JsonOptions);
        AppendResult result = await AppendBytesAsync(json, options, close: true, cancellationToken, jsonValue: true).ConfigureAwait(false);
        return new CloseResult(result.NextOffset);
    }

    /// <summary>The content type appends send: known to the handle, or learned with one HEAD.</summary>
    internal async ValueTask<string> EnsureContentTypeAsync(CancellationToken cancellationToken)
    {
        if (_contentType is { } known)
        {
            return known;
        }

        StreamMetadata metadata = await HeadAsync(cancellationToken).ConfigureAwait(false);
        return metadata.ContentType ?? MediaTypes.OctetStream;
    }

    private Task<AppendResult>? TryAppendRaw<T>(T value, AppendOptions? options, CancellationToken cancellationToken)
    {
        if (value is Stream content)
        {
            return AppendAsync(content, options, cancellationToken);
        }

        return RawPayload(value) is { } raw ? AppendAsync(raw, options, cancellationToken) : null;
    }

    /// <summary>
    /// Generic overloads win overload resolution over conversions (a <c>byte[]</c> or <c>Memory&lt;byte&gt;</c>
    /// binds to <c>T</c>), so raw data that arrives there is sent as raw data, never serialized as JSON.
    /// </summary>
    private static ReadOnlyMemory<byte>? RawPayload<T>(T value)
    {
        ReadOnlyMemory<byte> raw;
        switch (value)
        {
            case null:
                throw new ArgumentNullException(nameof(value), "A null value cannot be appended; send the text \"null\" for a JSON null.");
            case byte[] bytes:
                raw = bytes;
                break;
            case ReadOnlyMemory<byte> memory:
                raw = memory;
                break;
            case Memory<byte> memory:
                raw = memory;
                break;
            case ArraySegment<byte> segment:
                raw = segment;
                break;
            case string text:
                raw = Encoding.UTF8.GetBytes(text);
                break;
            default:
                return null;
        }

        if (raw.IsEmpty)
        {
            throw new ArgumentException("An append cannot be empty: the server rejects empty bodies (PROTOCOL.md §5.2).", nameof(value));
        }

        return raw;
    }

    private Task<AppendResult> AppendBytesAsync(ReadOnlyMemory<byte> data, AppendOptions? options, bool close, CancellationToken cancellationToken, bool jsonValue = false)
    {
        if (_contentType is not { } known)
        {
            return LearnTypeThenAppendBytesAsync(data, options, close, jsonValue, cancellationToken);
        }

        // The content type is known (the usual case): no async layer of its own between the caller
        // and the request, and failures still surface through the returned task.
        try
        {
            return SendAppendAsync(NewBytesAppendRequest(known, data, options, close, jsonValue), cancellationToken);
        }
        catch (Exception ex)
        {
            return Task.FromException<AppendResult>(ex);
        }
    }

    private async Task<AppendResult> LearnTypeThenAppendBytesAsync(ReadOnlyMemory<byte> data, AppendOptions? options, bool close, bool jsonValue, CancellationToken cancellationToken)
    {
        string contentType = await EnsureContentTypeAsync(cancellationToken).ConfigureAwait(false);
        return await SendAppendAsync(NewBytesAppendRequest(contentType, data, options, close, jsonValue), cancellationToken).ConfigureAwait(false);
    }

    private StreamRequest NewBytesAppendRequest(string contentType, ReadOnlyMemory<byte> data, AppendOptions? options, bool close, bool jsonValue)
    {
        if (jsonValue && !MediaTypes.IsJson(contentType))
        {
            // A serialized .NET value is JSON; stored in a text or binary stream it would be one run
            // of bytes that no reader can split back into values. Raw data goes through the
            // byte, string and Stream overloads.
            throw new InvalidOperationException(
                $"The stream {Url} has the content type '{contentType}', not {MediaTypes.Json}: a .NET value is appended as JSON only to a JSON stream. " +
                "Append a string or bytes instead (for example JsonSerializer.Serialize(value) + \"\\n\" for newline-delimited JSON).");
        }

        // PROTOCOL.md §9.1.2: the server flattens one array level, so one call is wrapped in [ ]
        // to store exactly one message. A serialized value on a non-JSON stream is sent as it is.
        bool wrap = MediaTypes.IsJson(contentType);
        StreamRequest request = NewAppendRequest(close ? "append-and-close" : "append", RequestKind.PlainAppend, contentType, options);
        request.Content = () => new BytesContent(data, wrap);
        request.BodyLength = data.Length + (wrap ? 2 : 0);
        if (close)
        {
            request.AddHeader(ProtocolHeaders.Closed, ProtocolHeaders.True);
        }

        return request;
    }

    private StreamRequest NewAppendRequest(string operation, RequestKind kind, string contentType, AppendOptions? options)
    {
        var request = new StreamRequest(HttpMethod.Post, Url, operation, kind) { ContentType = contentType };
        if (options is not null)
        {
            if (options.Sequence is { } seq)
            {
                if (seq.Length == 0)
                {
                    throw new ArgumentException("Seq cannot be empty.", $"{nameof(options)}.{nameof(AppendOptions.Sequence)}");
                }

                request.AddHeader(ProtocolHeaders.Seq, seq);
            }

            request.Headers.AddRange(options.Headers);
            if (options.QueryParameters.Count > 0)
            {
                request.ExtraQuery = options.QueryParameters;
            }
        }

        return request;
    }

    private async Task<AppendResult> SendAppendAsync(StreamRequest request, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.NoContent or HttpStatusCode.OK))
        {
            throw await UnexpectedAsync(response, request).ConfigureAwait(false);
        }

        var result = new AppendResult(ResponseHeaders.RequireNextOffset(response, Url, request.Operation), ResponseHeaders.IsClosed(response));
        if (request.BodyLength is { } bytes and > 0)
        {
            DurableStreamsTelemetry.BytesAppended.Add(bytes);
            DurableStreamsTelemetry.MessagesAppended.Add(1);
        }

        return result;
    }

    private static void RequireNonEmpty(long length, string paramName)
    {
        if (length <= 0)
        {
            throw new ArgumentException("An append cannot be empty: the server rejects empty bodies (PROTOCOL.md §5.2).", paramName);
        }
    }
}
