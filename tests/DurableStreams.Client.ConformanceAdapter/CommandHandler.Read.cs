using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance.Adapter;

/// <summary>The <c>read</c> command (ADAPTER.md §7.4-§7.6) on top of <see cref="DurableStream.ReadAsync"/>.</summary>
internal sealed partial class CommandHandler
{
    private async Task<JsonObject> ReadAsync(JsonObject command, CancellationToken budget)
    {
        string path = Required(command, "path");
        string? requestedOffset = OptionalString(command, "offset");
        LiveMode live = LiveModeOf(command["live"]);
        int timeoutMs = (int)(OptionalLong(command, "timeoutMs") ?? 5000);
        long maxChunks = OptionalLong(command, "maxChunks") ?? 100;
        bool waitForUpToDate = OptionalBool(command, "waitForUpToDate") ?? false;

        (Dictionary<string, string> headersSent, Dictionary<string, string> paramsSent) = _dynamic.Evaluate();
        var options = new ReadOptions
        {
            Offset = requestedOffset is null ? Offset.Beginning : new Offset(requestedOffset),
            Live = live,

            // ADAPTER.md §7.6.2: over SSE one chunk is the data events before one control event
            // (maxChunks and waitForUpToDate are judged per group), not the SDK's default of all
            // groups already received.
            OneChunkPerSseGroup = true,
        };
        foreach (KeyValuePair<string, string> header in headersSent)
        {
            options.Headers[header.Key] = header.Value;
        }

        CopyHeaders(command, options.Headers);
        foreach (KeyValuePair<string, string> parameter in paramsSent)
        {
            options.QueryParameters[parameter.Key] = parameter.Value;
        }

        // Reads need no content type up front: the responses carry it.
        DurableStream stream = Client.GetStream(UrlOf(path), _contentTypes.GetValueOrDefault(path));

        // The deadline first covers the first response; live reads then get a fresh timeoutMs
        // (ADAPTER.md §7.6.5). Catch-up reads only keep the command budget after that.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(budget);
        deadline.CancelAfter(timeoutMs);

        var chunks = new JsonArray();
        var catchUpBytes = new MemoryStream();
        var catchUpJsonItems = new List<string>();
        bool isJson = false;
        bool sawResponse = false;
        int status = 0;
        string offset = requestedOffset ?? "-1";
        bool upToDate = false;
        bool streamClosed = false;
        bool timedOut = false;
        long nonEmpty = 0;

        IAsyncEnumerator<StreamChunk> reader = stream.ReadAsync(options, deadline.Token).GetAsyncEnumerator(deadline.Token);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await reader.MoveNextAsync();
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested)
                {
                    timedOut = true;
                    break;
                }

                if (!more)
                {
                    break;
                }

                StreamChunk chunk = reader.Current;
                if (!sawResponse)
                {
                    sawResponse = true;
                    if (live != LiveMode.Off)
                    {
                        deadline.CancelAfter(timeoutMs);
                    }
                    else
                    {
                        deadline.CancelAfter(Timeout.Infinite);
                    }
                }

                status = chunk.Status;
                offset = chunk.NextOffset.Value;
                upToDate = chunk.UpToDate;
                streamClosed |= chunk.StreamClosed;
                isJson |= IsJson(chunk.ContentType ?? ContentTypeOf(path));

                bool hasData = isJson ? !IsEmptyJsonArray(chunk.Data.Span) : !chunk.Data.IsEmpty;
                if (hasData)
                {
                    nonEmpty++;
                    if (live == LiveMode.Off)
                    {
                        if (isJson)
                        {
                            catchUpJsonItems.Add(InnerOfJsonArray(chunk.Data.Span));
                        }
                        else
                        {
                            catchUpBytes.Write(chunk.Data.Span);
                        }
                    }
                    else
                    {
                        chunks.Add(new JsonObject
                        {
                            ["data"] = Encoding.UTF8.GetString(chunk.Data.Span),
                            ["offset"] = chunk.NextOffset.Value,
                        });
                    }
                }

                if (live == LiveMode.Off)
                {
                    // Catch-up ends with the first up-to-date response; the SDK ends the sequence there.
                    continue;
                }

                if ((waitForUpToDate && chunk.UpToDate) || nonEmpty >= maxChunks || chunk.StreamClosed)
                {
                    break;
                }
            }
        }
        finally
        {
            try
            {
                await reader.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
                // Disposing an enumerator whose request was cancelled.
            }
        }

        if (timedOut && !sawResponse && live == LiveMode.Off)
        {
            return Results.Error("read", "TIMEOUT", $"No response from {UrlOf(path)} within {timeoutMs} ms.");
        }

        // A live read whose deadline fires before the first response (a long-poll read starts with a
        // long-poll that waits at the tail, PROTOCOL.md §5.7) saw nothing new: up to date with no
        // chunks, as ADAPTER.md §7.6.5 describes for the reference adapter.

        if (live == LiveMode.Off)
        {
            if (isJson && catchUpJsonItems.Count > 0)
            {
                chunks.Add(new JsonObject { ["data"] = "[" + string.Join(",", catchUpJsonItems.Where(i => i.Length > 0)) + "]", ["offset"] = offset });
            }
            else if (!isJson && catchUpBytes.Length > 0)
            {
                chunks.Add(new JsonObject { ["data"] = Encoding.UTF8.GetString(catchUpBytes.GetBuffer(), 0, (int)catchUpBytes.Length), ["offset"] = offset });
            }
        }

        JsonObject result = Results.Success("read");
        if (sawResponse)
        {
            // The status of the last response the SDK reported (ADAPTER.md §7.6.6).
            result["status"] = status;
        }

        result["chunks"] = chunks;
        result["offset"] = offset;
        result["upToDate"] = timedOut || upToDate;
        result["streamClosed"] = streamClosed;
        _dynamic.Report(result, headersSent, paramsSent);
        return result;
    }

    private static LiveMode LiveModeOf(JsonNode? live) => live?.GetValueKind() switch
    {
        null or JsonValueKind.Null or JsonValueKind.False => LiveMode.Off,
        JsonValueKind.True => LiveMode.Auto,
        JsonValueKind.String => live.GetValue<string>() switch
        {
            "long-poll" => LiveMode.LongPoll,
            "sse" => LiveMode.Sse,
            "auto" => LiveMode.Auto,
            string other => throw new ArgumentException($"Unknown live mode '{other}'.", nameof(live)),
        },
        _ => throw new ArgumentException($"Unknown live mode {live.ToJsonString()}.", nameof(live)),
    };

    private static bool IsJson(string contentType) => contentType.Contains("application/json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a JSON chunk holds no message: empty, or an array with nothing but whitespace inside.</summary>
    private static bool IsEmptyJsonArray(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> trimmed = data.Trim(" \t\r\n"u8);
        return trimmed.IsEmpty || (trimmed.Length >= 2 && trimmed[0] == (byte)'[' && trimmed[^1] == (byte)']' && trimmed[1..^1].Trim(" \t\r\n"u8).IsEmpty);
    }

    /// <summary>The items of a JSON array chunk as the server wrote them (no re-serialization, ADAPTER.md §7.6.2).</summary>
    private static string InnerOfJsonArray(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> trimmed = data.Trim(" \t\r\n"u8);
        if (trimmed.Length >= 2 && trimmed[0] == (byte)'[' && trimmed[^1] == (byte)']')
        {
            trimmed = trimmed[1..^1].Trim(" \t\r\n"u8);
        }

        return Encoding.UTF8.GetString(trimmed);
    }
}
