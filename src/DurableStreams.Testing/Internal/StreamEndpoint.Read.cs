using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace DurableStreams.Testing.Internal;

internal sealed partial class StreamEndpoint
{
    private static readonly byte[] EmptyJsonArray = "[]"u8.ToArray();

    private async Task ReadAsync(HttpContext context, string path)
    {
        var request = context.Request;
        var response = context.Response;
        var query = request.Query;

        var offsets = query["offset"];
        if (offsets.Count > 1)
        {
            await ErrorAsync(response, 400, "Send one offset parameter.").ConfigureAwait(false);
            return;
        }

        var live = query["live"].ToString();
        if (live.Length > 0 && live is not ("long-poll" or "sse"))
        {
            await ErrorAsync(response, 400, "live must be long-poll or sse.").ConfigureAwait(false);
            return;
        }

        var offsetText = offsets.Count == 1 ? offsets[0] : null;
        if (offsetText is null && live.Length > 0)
        {
            await ErrorAsync(response, 400, "Live reads need an offset (PROTOCOL.md §5.7, §5.8).").ConfigureAwait(false);
            return;
        }

        if (offsetText is not null && offsetText is not ("-1" or "now") && !StreamOffsets.TryParse(offsetText, out _))
        {
            await ErrorAsync(response, 400, "The offset is malformed.").ConfigureAwait(false);
            return;
        }

        var stream = FindActive(path, out var status);
        if (stream is null)
        {
            await ErrorAsync(response, status, status == 410 ? "The stream was deleted." : "No stream at this URL.").ConfigureAwait(false);
            return;
        }

        stream.Touch(_store.Now);
        var fromNow = offsetText == "now";
        var (tail, _) = stream.Snapshot();
        long position;
        if (fromNow)
        {
            position = tail;
        }
        else if (offsetText is null or "-1")
        {
            position = 0;
        }
        else
        {
            if (!StreamOffsets.TryParse(offsetText, out position) || position > tail)
            {
                await ErrorAsync(response, 400, "The offset is beyond the stream's tail.").ConfigureAwait(false);
                return;
            }
        }

        switch (live)
        {
            case "sse":
                await ServeSseAsync(context, stream, position).ConfigureAwait(false);
                break;
            case "long-poll":
                await ServeLongPollAsync(context, stream, position).ConfigureAwait(false);
                break;
            default:
                await ServeCatchUpAsync(context, stream, position, fromNow).ConfigureAwait(false);
                break;
        }
    }

    private async Task ServeCatchUpAsync(HttpContext context, StoredStream stream, long position, bool fromNow)
    {
        var response = context.Response;
        if (fromNow)
        {
            // PROTOCOL.md §8: offset=now answers with no data, the tail, and no caching or ETag.
            var (tail, closed) = stream.Snapshot();
            response.StatusCode = 200;
            response.ContentType = stream.ContentType;
            response.Headers.CacheControl = NoStore;
            WriteStreamHeaders(response, tail, closed);
            response.Headers["Stream-Up-To-Date"] = "true";
            if (stream.IsJson)
            {
                await response.Body.WriteAsync(EmptyJsonArray, context.RequestAborted).ConfigureAwait(false);
            }

            return;
        }

        var read = stream.Read(position, _options.MaxReadChunkSize);
        await WriteDataResponseAsync(context, stream, position, read, cursor: null).ConfigureAwait(false);
    }

    private static async Task WriteDataResponseAsync(HttpContext context, StoredStream stream, long position, ReadSnapshot read, long? cursor)
    {
        var request = context.Request;
        var response = context.Response;
        var etag = $"\"{stream.Id}:{StreamOffsets.Format(position)}:{StreamOffsets.Format(read.Next)}{(read.ClosedAtEnd ? ":c" : string.Empty)}\"";
        response.Headers.ETag = etag;
        response.Headers.CacheControl = PublicCache;
        WriteStreamHeaders(response, read.Next, read.ClosedAtEnd);
        if (read.UpToDate)
        {
            response.Headers["Stream-Up-To-Date"] = "true";
        }

        if (cursor is not null)
        {
            response.Headers["Stream-Cursor"] = cursor.Value.ToString(CultureInfo.InvariantCulture);
        }

        if (IfNoneMatch(request.Headers.IfNoneMatch, etag))
        {
            response.StatusCode = 304;
            return;
        }

        response.StatusCode = 200;
        response.ContentType = stream.ContentType;
        if (stream.IsJson)
        {
            var body = JsonMessages.ToArray(read.Parts);
            response.ContentLength = body.Length;
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        long length = 0;
        foreach (var part in read.Parts)
        {
            length += part.Length;
        }

        response.ContentLength = length;
        foreach (var part in read.Parts)
        {
            await response.Body.WriteAsync(part, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static bool IfNoneMatch(StringValues values, string etag)
    {
        foreach (var value in values)
        {
            foreach (var candidate in (value ?? string.Empty).Split(','))
            {
                var trimmed = candidate.Trim();
                if (trimmed == "*" || trimmed == etag || (trimmed.StartsWith("W/", StringComparison.Ordinal) && trimmed[2..] == etag))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private async Task ServeLongPollAsync(HttpContext context, StoredStream stream, long position)
    {
        var response = context.Response;
        var aborted = context.RequestAborted;
        var cursor = _cursors.Next(context.Request.Query["cursor"].ToString());
        using var timeout = new CancellationTokenSource(_options.LongPollTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, timeout.Token);
        while (true)
        {
            // Take the wake-up before reading, so an append between the two is never missed.
            var changed = stream.Changed;
            if (stream.Lifecycle != StreamLifecycle.Active)
            {
                await ErrorAsync(response, stream.Lifecycle == StreamLifecycle.SoftDeleted ? 410 : 404, "The stream is gone.").ConfigureAwait(false);
                return;
            }

            var read = stream.Read(position, _options.MaxReadChunkSize);
            if (read.Parts.Count > 0)
            {
                await WriteDataResponseAsync(context, stream, position, read, cursor).ConfigureAwait(false);
                return;
            }

            // PROTOCOL.md §5.7: at the tail of a closed stream, answer at once.
            if (read.ClosedAtEnd)
            {
                WriteNoContent(response, read.Next, closed: true, cursor: null);
                return;
            }

            try
            {
                await changed.WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
            {
                // Report the position read up to: data that landed just now is for the next poll.
                var (tail, closed) = stream.Snapshot();
                WriteNoContent(response, position, closed && position >= tail, cursor);
                return;
            }
        }
    }

    private static void WriteNoContent(HttpResponse response, long next, bool closed, long? cursor)
    {
        response.StatusCode = 204;
        response.Headers.CacheControl = NoStore;
        WriteStreamHeaders(response, next, closed);
        response.Headers["Stream-Up-To-Date"] = "true";
        if (cursor is not null && !closed)
        {
            response.Headers["Stream-Cursor"] = cursor.Value.ToString(CultureInfo.InvariantCulture);
        }
    }

    private async Task ServeSseAsync(HttpContext context, StoredStream stream, long position)
    {
        var response = context.Response;
        var aborted = context.RequestAborted;
        var base64 = !MediaTypes.IsTextForSse(stream.ContentType);
        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache, no-store";
        if (base64)
        {
            response.Headers["Stream-SSE-Data-Encoding"] = "base64";
        }

        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var cursor = _cursors.Next(context.Request.Query["cursor"].ToString());
        using var lifetime = new CancellationTokenSource(_options.SseConnectionLifetime, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(aborted, lifetime.Token);
        await response.StartAsync(aborted).ConfigureAwait(false);
        var first = true;
        try
        {
            while (!linked.IsCancellationRequested)
            {
                var changed = stream.Changed;
                if (stream.Lifecycle != StreamLifecycle.Active)
                {
                    return; // deleted or expired: end the response; a reconnect gets 404 or 410
                }

                var read = stream.Read(position, _options.MaxReadChunkSize);
                var text = new StringBuilder();
                if (read.Parts.Count > 0)
                {
                    text.Append("event: data\n");
                    AppendData(text, stream, read.Parts, base64);
                    text.Append('\n');
                    position = read.Next;
                }

                if (read.Parts.Count > 0 || first || read.ClosedAtEnd)
                {
                    cursor = Math.Max(cursor, _cursors.Current);
                    text.Append("event: control\ndata:{\"streamNextOffset\":\"").Append(StreamOffsets.Format(read.Next)).Append('"');
                    if (read.ClosedAtEnd)
                    {
                        text.Append(",\"streamClosed\":true,\"upToDate\":true");
                    }
                    else
                    {
                        text.Append(",\"streamCursor\":\"").Append(cursor.ToString(CultureInfo.InvariantCulture)).Append('"');
                        if (read.UpToDate)
                        {
                            text.Append(",\"upToDate\":true");
                        }
                    }

                    text.Append("}\n\n");
                    first = false;
                    await response.WriteAsync(text.ToString(), aborted).ConfigureAwait(false);
                    await response.Body.FlushAsync(aborted).ConfigureAwait(false);
                }

                if (read.ClosedAtEnd)
                {
                    return; // PROTOCOL.md §5.8: close the connection after the final control event
                }

                if (!read.UpToDate)
                {
                    continue;
                }

                await changed.WaitAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The client left or the connection's lifetime ended (PROTOCOL.md §10.2): end the response.
        }
    }

    /// <summary>One data event's <c>data:</c> lines: JSON as an array, text as-is, anything else base64.</summary>
    private static void AppendData(StringBuilder text, StoredStream stream, List<ReadOnlyMemory<byte>> parts, bool base64)
    {
        string payload;
        if (stream.IsJson)
        {
            payload = Encoding.UTF8.GetString(JsonMessages.ToArray(parts));
        }
        else
        {
            var bytes = new byte[parts.Sum(p => p.Length)];
            var at = 0;
            foreach (var part in parts)
            {
                part.Span.CopyTo(bytes.AsSpan(at));
                at += part.Length;
            }

            payload = base64 ? Convert.ToBase64String(bytes) : Encoding.UTF8.GetString(bytes);
        }

        // Every line of the payload becomes a data: line; the reader joins them with \n again. Readers drop
        // one space after "data:", so a line that starts with a space gets one in front to keep its own.
        var start = 0;
        for (var i = 0; i <= payload.Length; i++)
        {
            if (i == payload.Length || payload[i] == '\n' || payload[i] == '\r')
            {
                text.Append(i > start && payload[start] == ' ' ? "data: " : "data:").Append(payload, start, i - start).Append('\n');
                if (i < payload.Length && payload[i] == '\r' && i + 1 < payload.Length && payload[i + 1] == '\n')
                {
                    i++;
                }

                start = i + 1;
            }
        }
    }
}
