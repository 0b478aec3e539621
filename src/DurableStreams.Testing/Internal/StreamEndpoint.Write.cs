using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace DurableStreams.Testing.Internal;

internal sealed partial class StreamEndpoint
{
    private const long MaxSafeInteger = 9007199254740991; // 2^53-1, PROTOCOL.md §5.2.1

    private async Task CreateAsync(HttpContext context, string path)
    {
        var request = context.Request;
        var response = context.Response;
        var headers = request.Headers;

        long? ttl = null;
        var ttlText = headers["Stream-TTL"].ToString();
        if (ttlText.Length > 0)
        {
            if (!NonNegativeInteger().IsMatch(ttlText))
            {
                await ErrorAsync(response, 400, "Stream-TTL must be a non-negative integer without sign, leading zeros or fraction.").ConfigureAwait(false);
                return;
            }

            ttl = long.Parse(ttlText, CultureInfo.InvariantCulture);
        }

        DateTimeOffset? expiresAt = null;
        var expiresText = headers["Stream-Expires-At"].ToString();
        if (expiresText.Length > 0)
        {
            if (!DateTimeOffset.TryParse(expiresText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
                || !expiresText.Contains('T', StringComparison.OrdinalIgnoreCase))
            {
                await ErrorAsync(response, 400, "Stream-Expires-At must be an RFC 3339 timestamp.").ConfigureAwait(false);
                return;
            }

            expiresAt = parsed;
        }

        if (ttl is not null && expiresAt is not null)
        {
            await ErrorAsync(response, 400, "Send Stream-TTL or Stream-Expires-At, not both.").ConfigureAwait(false);
            return;
        }

        var forkedFrom = headers["Stream-Forked-From"].ToString();
        var forkOffset = headers["Stream-Fork-Offset"].ToString();
        var subOffsetText = headers["Stream-Fork-Sub-Offset"].ToString();
        string? sourcePath = null;
        long subOffset = 0;
        if (forkedFrom.Length == 0 && (forkOffset.Length > 0 || subOffsetText.Length > 0))
        {
            await ErrorAsync(response, 400, "Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From.").ConfigureAwait(false);
            return;
        }

        if (forkedFrom.Length > 0)
        {
            sourcePath = SourcePath(forkedFrom);
            if (subOffsetText.Length > 0)
            {
                if (!NonNegativeInteger().IsMatch(subOffsetText))
                {
                    await ErrorAsync(response, 400, "Stream-Fork-Sub-Offset must be a non-negative integer.").ConfigureAwait(false);
                    return;
                }

                subOffset = long.Parse(subOffsetText, CultureInfo.InvariantCulture);
            }
        }

        var body = await ReadBodyAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            await ErrorAsync(response, 413, "The request body is larger than the server accepts.").ConfigureAwait(false);
            return;
        }

        var contentType = string.IsNullOrWhiteSpace(request.ContentType) ? null : request.ContentType.Trim();
        var effectiveType = contentType ?? (sourcePath is not null ? _store.Find(sourcePath)?.ContentType : null) ?? MediaTypes.OctetStream;
        IReadOnlyList<ReadOnlyMemory<byte>> units = [];
        if (body.Length > 0)
        {
            if (MediaTypes.IsJson(effectiveType))
            {
                // PROTOCOL.md §9.1.3: an empty array on PUT creates an empty stream.
                if (!JsonMessages.TryFlatten(body, out var messages, out var error))
                {
                    await ErrorAsync(response, 400, error!).ConfigureAwait(false);
                    return;
                }

                units = messages;
            }
            else
            {
                units = [body];
            }
        }

        var outcome = _store.Create(new CreateCommand
        {
            Path = path,
            ContentType = contentType,
            TtlSeconds = ttl,
            ExpiresAt = expiresAt,
            Close = IsTrue(request, "Stream-Closed"),
            Units = units,
            ForkedFrom = forkedFrom.Length > 0 ? forkedFrom : null,
            SourcePath = sourcePath,
            ForkOffset = forkOffset.Length > 0 ? forkOffset : null,
            ForkSubOffset = subOffset,
        });

        switch (outcome.Status)
        {
            case CreateStatus.Created or CreateStatus.Exists:
                var stream = outcome.Stream!;
                var (tail, closed) = stream.Snapshot();
                response.StatusCode = outcome.Status == CreateStatus.Created ? 201 : 200;
                if (outcome.Status == CreateStatus.Created)
                {
                    response.Headers.Location = $"{request.Scheme}://{request.Host}{request.PathBase}{request.Path}";
                }

                response.ContentType = stream.ContentType;
                WriteStreamHeaders(response, tail, closed);
                break;
            case CreateStatus.SourceNotFound:
                await ErrorAsync(response, 404, outcome.Message!).ConfigureAwait(false);
                break;
            case CreateStatus.BadForkOffset or CreateStatus.BadSubOffset:
                await ErrorAsync(response, 400, outcome.Message!).ConfigureAwait(false);
                break;
            default:
                await ErrorAsync(response, 409, outcome.Message!).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>The store key of a <c>Stream-Forked-From</c> value: a path under this mapping, or a bare stream name.</summary>
    private string SourcePath(string forkedFrom)
    {
        var value = forkedFrom.Trim();
        if (Uri.TryCreate(value, UriKind.Absolute, out var absolute) && absolute.Scheme is "http" or "https")
        {
            value = Uri.UnescapeDataString(absolute.AbsolutePath);
        }

        return StreamPath(new PathString(value.StartsWith('/') ? value : "/" + value)) ?? value.TrimStart('/');
    }

    private async Task AppendAsync(HttpContext context, string path)
    {
        var request = context.Request;
        var response = context.Response;

        // PROTOCOL.md §5.2.1: all three producer headers or none, each well formed.
        var producerId = request.Headers["Producer-Id"];
        var epochText = request.Headers["Producer-Epoch"];
        var seqText = request.Headers["Producer-Seq"];
        var producerHeaders = (producerId.Count > 0 ? 1 : 0) + (epochText.Count > 0 ? 1 : 0) + (seqText.Count > 0 ? 1 : 0);
        ProducerTuple? producer = null;
        if (producerHeaders is > 0 and < 3)
        {
            await ErrorAsync(response, 400, "Producer-Id, Producer-Epoch and Producer-Seq go together.").ConfigureAwait(false);
            return;
        }

        if (producerHeaders == 3)
        {
            var id = producerId.ToString();
            if (id.Trim().Length == 0)
            {
                await ErrorAsync(response, 400, "Producer-Id must not be empty.").ConfigureAwait(false);
                return;
            }

            if (!TryParseProducerNumber(epochText.ToString(), out var epoch) || !TryParseProducerNumber(seqText.ToString(), out var seq))
            {
                await ErrorAsync(response, 400, "Producer-Epoch and Producer-Seq must be integers from 0 to 2^53-1.").ConfigureAwait(false);
                return;
            }

            producer = new ProducerTuple(id, epoch, seq);
        }

        var stream = FindActive(path, out var status);
        if (stream is null)
        {
            await ErrorAsync(response, status, status == 410 ? "The stream was deleted." : "No stream at this URL.").ConfigureAwait(false);
            return;
        }

        var body = await ReadBodyAsync(request).ConfigureAwait(false);
        if (body is null)
        {
            await ErrorAsync(response, 413, "The request body is larger than the server accepts.").ConfigureAwait(false);
            return;
        }

        var close = IsTrue(request, "Stream-Closed");
        if (body.Length == 0 && !close)
        {
            await ErrorAsync(response, 400, "An append needs a body (or Stream-Closed: true to close).").ConfigureAwait(false);
            return;
        }

        var contentType = string.IsNullOrWhiteSpace(request.ContentType) ? null : request.ContentType;
        if (body.Length > 0 && contentType is null)
        {
            await ErrorAsync(response, 400, "An append with a body needs a Content-Type.").ConfigureAwait(false);
            return;
        }

        List<ReadOnlyMemory<byte>> units = [];
        string? jsonError = null;
        if (body.Length > 0)
        {
            if (stream.IsJson && MediaTypes.IsJson(contentType!))
            {
                if (!JsonMessages.TryFlatten(body, out var messages, out jsonError))
                {
                    units = [];
                }
                else if (messages.Count == 0)
                {
                    jsonError = "An empty JSON array appends nothing (PROTOCOL.md §9.1.3).";
                }
                else
                {
                    units = messages;
                }
            }
            else
            {
                units = [body];
            }
        }

        var streamSeq = request.Headers["Stream-Seq"].ToString();
        stream.Touch(_store.Now);
        var outcome = _store.Append(stream, new AppendCommand
        {
            Units = units,
            HasBody = body.Length > 0,
            ContentType = contentType,
            Close = close,
            StreamSeq = streamSeq.Length > 0 ? streamSeq : null,
            Producer = producer,
            JsonError = jsonError,
        });

        WriteStreamHeaders(response, outcome.Tail, outcome.Closed);
        if (outcome.ProducerEpoch is { } echoedEpoch)
        {
            response.Headers["Producer-Epoch"] = echoedEpoch.ToString(CultureInfo.InvariantCulture);
        }

        if (outcome.ProducerSeq is { } echoedSeq)
        {
            response.Headers["Producer-Seq"] = echoedSeq.ToString(CultureInfo.InvariantCulture);
        }

        switch (outcome.Status)
        {
            case AppendStatus.Appended:
                response.StatusCode = producer is not null && units.Count > 0 ? 200 : 204;
                break;
            case AppendStatus.Duplicate:
                response.StatusCode = 204;
                break;
            case AppendStatus.NotFound:
                await ErrorAsync(response, 404, "No stream at this URL.").ConfigureAwait(false);
                break;
            case AppendStatus.Gone:
                await ErrorAsync(response, 410, "The stream was deleted.").ConfigureAwait(false);
                break;
            case AppendStatus.InvalidBody or AppendStatus.InvalidEpochSeq:
                await ErrorAsync(response, 400, outcome.Message!).ConfigureAwait(false);
                break;
            case AppendStatus.StaleEpoch:
                await ErrorAsync(response, 403, outcome.Message!).ConfigureAwait(false);
                break;
            case AppendStatus.SequenceGap:
                response.Headers["Producer-Expected-Seq"] = outcome.ExpectedSeq!.Value.ToString(CultureInfo.InvariantCulture);
                response.Headers["Producer-Received-Seq"] = outcome.ReceivedSeq!.Value.ToString(CultureInfo.InvariantCulture);
                await ErrorAsync(response, 409, outcome.Message!).ConfigureAwait(false);
                break;
            default:
                await ErrorAsync(response, 409, outcome.Message!).ConfigureAwait(false);
                break;
        }
    }

    private static bool TryParseProducerNumber(string text, out long value)
    {
        value = 0;
        return NonNegativeInteger().IsMatch(text)
            && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value)
            && value <= MaxSafeInteger;
    }

    private void Head(HttpContext context, string path)
    {
        var response = context.Response;
        response.Headers.CacheControl = NoStore;
        var stream = FindActive(path, out var status);
        if (stream is null)
        {
            response.StatusCode = status;
            return;
        }

        var (tail, closed) = stream.Snapshot();
        response.StatusCode = 200;
        response.ContentType = stream.ContentType;
        WriteStreamHeaders(response, tail, closed);
        if (stream.TtlSeconds is { } ttl)
        {
            response.Headers["Stream-TTL"] = ttl.ToString(CultureInfo.InvariantCulture);
        }

        if (stream.ExpiresAt is { } expiresAt)
        {
            response.Headers["Stream-Expires-At"] = FormatTime(expiresAt);
        }
    }

    private async Task DeleteAsync(HttpContext context, string path)
    {
        var response = context.Response;
        switch (_store.Delete(path))
        {
            case null:
                await ErrorAsync(response, 404, "No stream at this URL.").ConfigureAwait(false);
                break;
            case StreamLifecycle.SoftDeleted:
                await ErrorAsync(response, 410, "The stream was already deleted.").ConfigureAwait(false);
                break;
            default:
                response.StatusCode = 204;
                break;
        }
    }
}
