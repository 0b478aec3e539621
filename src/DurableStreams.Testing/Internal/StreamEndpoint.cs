using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace DurableStreams.Testing.Internal;

/// <summary>
/// The HTTP side of one <c>MapDurableStreams</c> mapping: turns requests into store operations and store
/// outcomes into the protocol's status codes and headers (PROTOCOL.md §5).
/// </summary>
internal sealed partial class StreamEndpoint
{
    private const string PublicCache = "public, max-age=60, stale-while-revalidate=300";
    private const string NoStore = "no-store";

    private static readonly string ExposedHeaders = string.Join(", ",
        "Stream-Next-Offset", "Stream-Cursor", "Stream-Up-To-Date", "Stream-Closed", "Stream-TTL", "Stream-Expires-At",
        "Stream-SSE-Data-Encoding", "Producer-Epoch", "Producer-Seq", "Producer-Expected-Seq", "Producer-Received-Seq",
        "ETag", "Location", "Content-Type");

    private static readonly string AllowedHeaders = string.Join(", ",
        "Content-Type", "Authorization", "If-None-Match", "Stream-Seq", "Stream-TTL", "Stream-Expires-At", "Stream-Closed",
        "Stream-Forked-From", "Stream-Fork-Offset", "Stream-Fork-Sub-Offset", "Producer-Id", "Producer-Epoch", "Producer-Seq");

    private readonly string _prefix;
    private readonly DurableStreamsServerOptions _options;
    private readonly StreamStore _store;
    private readonly Cursors _cursors;

    public StreamEndpoint(string prefix, DurableStreamsServerOptions options)
    {
        _prefix = "/" + prefix.Trim('/');
        _options = options;
        _store = new StreamStore(options.TimeProvider, options.DataDirectory);
        _cursors = new Cursors(options.TimeProvider);
    }

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;

        // PROTOCOL.md §12.7 on every response, errors included; CORS so browsers can read the protocol headers.
        response.Headers["X-Content-Type-Options"] = "nosniff";
        response.Headers["Cross-Origin-Resource-Policy"] = "cross-origin";
        response.Headers["Access-Control-Allow-Origin"] = "*";
        response.Headers["Access-Control-Expose-Headers"] = ExposedHeaders;

        if (HttpMethods.IsOptions(request.Method))
        {
            Preflight(context);
            return;
        }

        var path = StreamPath(request.Path);
        if (path is null || path.Length == 0)
        {
            await ErrorAsync(response, StatusCodes.Status404NotFound, "No stream at this URL.").ConfigureAwait(false);
            return;
        }

        // PROTOCOL.md §6: the reserved __ds prefix is routed before streams; no control API is implemented.
        if (path == "__ds" || path.StartsWith("__ds/", StringComparison.Ordinal))
        {
            await ErrorAsync(response, StatusCodes.Status404NotFound, "Unknown Durable Streams control route.").ConfigureAwait(false);
            return;
        }

        var method = request.Method;
        if (HttpMethods.IsGet(method))
        {
            await ReadAsync(context, path).ConfigureAwait(false);
        }
        else if (HttpMethods.IsPost(method))
        {
            await AppendAsync(context, path).ConfigureAwait(false);
        }
        else if (HttpMethods.IsPut(method))
        {
            await CreateAsync(context, path).ConfigureAwait(false);
        }
        else if (HttpMethods.IsHead(method))
        {
            Head(context, path);
        }
        else if (HttpMethods.IsDelete(method))
        {
            await DeleteAsync(context, path).ConfigureAwait(false);
        }
        else
        {
            response.Headers.Allow = "GET, HEAD, PUT, POST, DELETE, OPTIONS";
            await ErrorAsync(response, StatusCodes.Status405MethodNotAllowed, "Method not allowed.").ConfigureAwait(false);
        }
    }

    private static void Preflight(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers["Access-Control-Allow-Methods"] = "GET, HEAD, PUT, POST, DELETE, OPTIONS";
        var requested = context.Request.Headers["Access-Control-Request-Headers"].ToString();
        headers["Access-Control-Allow-Headers"] = string.IsNullOrWhiteSpace(requested) ? AllowedHeaders : AllowedHeaders + ", " + requested;
        headers["Access-Control-Max-Age"] = "86400";
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>The stream's key: the request path below the mapping's prefix, without the leading slash.</summary>
    private string? StreamPath(PathString requestPath)
    {
        var value = requestPath.Value ?? string.Empty;
        if (!value.StartsWith(_prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = value[_prefix.Length..];
        return rest.Length == 0 || rest[0] != '/' ? null : rest[1..];
    }

    private StoredStream? FindActive(string path, out int status)
    {
        var stream = _store.Find(path);
        status = stream switch
        {
            null => StatusCodes.Status404NotFound,
            { Lifecycle: StreamLifecycle.SoftDeleted } => StatusCodes.Status410Gone,
            { Lifecycle: StreamLifecycle.Active } => StatusCodes.Status200OK,
            _ => StatusCodes.Status404NotFound,
        };
        return status == StatusCodes.Status200OK ? stream : null;
    }

    private static Task ErrorAsync(HttpResponse response, int status, string message)
    {
        response.StatusCode = status;
        if (HttpMethods.IsHead(response.HttpContext.Request.Method))
        {
            return Task.CompletedTask;
        }

        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(message, response.HttpContext.RequestAborted);
    }

    private static bool IsTrue(HttpRequest request, string header) =>
        string.Equals(request.Headers[header].ToString().Trim(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads the body up to the size limit; null when it is larger (413).</summary>
    private async Task<byte[]?> ReadBodyAsync(HttpRequest request)
    {
        var limit = _options.MaxRequestBodySize;
        if (request.ContentLength > limit)
        {
            return null;
        }

        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = null; // the limit is enforced here, so the answer is the protocol's 413
        }

        var aborted = request.HttpContext.RequestAborted;
        if (request.ContentLength is { } length)
        {
            // Known length (the usual case): read straight into the array that will be stored.
            var exact = new byte[length];
            var filled = 0;
            while (filled < exact.Length)
            {
                var n = await request.Body.ReadAsync(exact.AsMemory(filled), aborted).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new BadHttpRequestException("The request body ended before its Content-Length.");
                }

                filled += n;
            }

            return exact;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, aborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static void WriteStreamHeaders(HttpResponse response, long tail, bool closed)
    {
        response.Headers["Stream-Next-Offset"] = StreamOffsets.Format(tail);
        if (closed)
        {
            response.Headers["Stream-Closed"] = "true";
        }
    }

    private static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    [GeneratedRegex("^(0|[1-9][0-9]{0,15})$")]
    private static partial Regex NonNegativeInteger();
}
