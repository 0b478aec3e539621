using System.Net;
using System.Text;

namespace DurableStreams.Tests.Reading;

/// <summary>Builds the responses a reference server would send to reads, for scripted read tests.</summary>
internal static class ReadScript
{
    public const string Text = "text/plain";
    public const string Json = "application/json";
    public const string Binary = "application/octet-stream";

    public static HttpResponseMessage CatchUp(
        string body,
        string next,
        string contentType = Text,
        bool upToDate = true,
        bool closed = false,
        string? cursor = null,
        int[]? reads = null,
        Func<Exception>? failAtEnd = null) =>
        CatchUp(Encoding.UTF8.GetBytes(body), next, contentType, upToDate, closed, cursor, reads, failAtEnd);

    public static HttpResponseMessage CatchUp(
        byte[] body,
        string next,
        string contentType = Text,
        bool upToDate = true,
        bool closed = false,
        string? cursor = null,
        int[]? reads = null,
        Func<Exception>? failAtEnd = null) =>
        CatchUp(new TrickleContent(body, reads, contentType, failAtEnd), next, upToDate, closed, cursor);

    /// <summary>A catch-up answer with content the test keeps a handle on (to see what was read of it, or whether it was disposed).</summary>
    public static HttpResponseMessage CatchUp(TrickleContent content, string next, bool upToDate = true, bool closed = false, string? cursor = null)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
        AddState(response, next, upToDate, closed, cursor);
        return response;
    }

    public static HttpResponseMessage NoContent(string next, string? cursor = "c", bool closed = false)
    {
        var response = new HttpResponseMessage(HttpStatusCode.NoContent) { Content = new ByteArrayContent([]) };
        AddState(response, next, upToDate: true, closed, cursor);
        return response;
    }

    public static HttpResponseMessage Sse(string events, int[]? reads = null, bool base64 = false, Func<Exception>? failAtEnd = null, bool hangAtEnd = false) =>
        Sse(new TrickleContent(Encoding.UTF8.GetBytes(events), reads, "text/event-stream", failAtEnd, hangAtEnd), base64);

    public static HttpResponseMessage Sse(TrickleContent content, bool base64 = false)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
        if (base64)
        {
            response.Headers.TryAddWithoutValidation("stream-sse-data-encoding", "base64");
        }

        return response;
    }

    public static HttpResponseMessage Status(HttpStatusCode status, string body = "", string? retryAfter = null)
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent(body) };
        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }

        return response;
    }

    /// <summary>An SSE control event with the given fields (newline style selectable).</summary>
    public static string Control(string next, string? cursor = "c", bool upToDate = true, bool closed = false, string newline = "\n")
    {
        var json = new StringBuilder("{\"streamNextOffset\":\"").Append(next).Append('"');
        if (cursor is not null)
        {
            json.Append(",\"streamCursor\":\"").Append(cursor).Append('"');
        }

        if (upToDate)
        {
            json.Append(",\"upToDate\":true");
        }

        if (closed)
        {
            json.Append(",\"streamClosed\":true");
        }

        json.Append('}');
        return $"event: control{newline}data:{json}{newline}{newline}";
    }

    /// <summary>An SSE data event; each element of <paramref name="lines"/> becomes one <c>data:</c> line.</summary>
    public static string Data(string newline = "\n", params string[] lines)
    {
        var text = new StringBuilder("event: data").Append(newline);
        foreach (string line in lines)
        {
            text.Append("data:").Append(line).Append(newline);
        }

        return text.Append(newline).ToString();
    }

    private static void AddState(HttpResponseMessage response, string next, bool upToDate, bool closed, string? cursor)
    {
        response.Headers.TryAddWithoutValidation("Stream-Next-Offset", next);
        if (upToDate)
        {
            response.Headers.TryAddWithoutValidation("Stream-Up-To-Date", "true");
        }

        if (closed)
        {
            response.Headers.TryAddWithoutValidation("Stream-Closed", "true");
        }

        if (cursor is not null)
        {
            response.Headers.TryAddWithoutValidation("Stream-Cursor", cursor);
        }
    }

    /// <summary>The query string of a request, without the leading '?'.</summary>
    public static string Query(this SentRequest request) => request.Url.Query.TrimStart('?');

    /// <summary>Collects every chunk of a read (bounded by the token).</summary>
    public static async Task<List<StreamChunk>> CollectAsync(this IAsyncEnumerable<StreamChunk> chunks, CancellationToken cancellationToken, int max = int.MaxValue)
    {
        var list = new List<StreamChunk>();
        await foreach (StreamChunk chunk in chunks.WithCancellation(cancellationToken))
        {
            list.Add(chunk);
            if (list.Count >= max)
            {
                break;
            }
        }

        return list;
    }

    public static string Utf8(this StreamChunk chunk) => Encoding.UTF8.GetString(chunk.Data.Span);
}
