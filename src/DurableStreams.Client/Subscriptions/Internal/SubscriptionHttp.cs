using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams.Subscriptions.Internal;

/// <summary>
/// Sends subscription control requests through the client's <see cref="HttpTransport"/> (so the
/// client's retries, backoff, headers providers and telemetry apply) and turns their answers into
/// results or typed exceptions.
/// </summary>
internal static class SubscriptionHttp
{
    public static StreamRequest Request<T>(HttpMethod method, Uri url, string operation, T? body, JsonTypeInfo<T> typeInfo, string? bearerToken)
    {
        var request = new StreamRequest(method, url, operation, RequestKind.Control);
        if (body is not null)
        {
            byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(body, typeInfo);
            request.ContentType = MediaTypes.Json;
            request.BodyLength = bytes.Length;
            request.Content = () => new ByteArrayContent(bytes);
        }

        if (bearerToken is not null)
        {
            // PROTOCOL.md §12.9: claim and callback tokens travel only in Authorization.
            request.AddHeader("Authorization", "Bearer " + bearerToken);
        }

        return request;
    }

    public static StreamRequest Request(HttpMethod method, Uri url, string operation) =>
        new(method, url, operation, RequestKind.Control);

    public static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, StreamRequest request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            using Stream body = await HttpTransport.ReadBodyAsync(response.Content, cancellationToken).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(body, typeInfo, cancellationToken).ConfigureAwait(false)
                ?? throw new JsonException("The body is the JSON literal null.");
        }
        catch (JsonException ex)
        {
            throw new DurableStreamProtocolException(
                $"{request.Method} {Describe(request)} ({request.Operation}) answered HTTP {(int)response.StatusCode} with a body that is not the expected JSON object: {ex.Message}",
                request.Url,
                ex);
        }
    }

    public static DurableStreamProtocolException Malformed(StreamRequest request, string what) =>
        new($"{request.Method} {Describe(request)} ({request.Operation}) answered without {what} (PROTOCOL.md §6-§7).", request.Url);

    public static async Task<DurableStreamException> ToExceptionAsync(
        HttpResponseMessage response, StreamRequest request, string subscriptionId, long generation, TimeProvider timeProvider)
    {
        string serverText = await HttpTransport.ReadErrorTextAsync(response).ConfigureAwait(false);
        ErrorWire? error = ParseError(serverText);
        return Classify((int)response.StatusCode, response.ReasonPhrase, serverText, error, request, subscriptionId, generation, HttpTransport.RetryAfterOf(response, timeProvider));
    }

    /// <summary>The pure decision: status and error code to exception.</summary>
    internal static DurableStreamException Classify(
        int status, string? reason, string serverText, ErrorWire? error, StreamRequest request, string subscriptionId, long generation, TimeSpan? retryAfter)
    {
        string message = $"{request.Method} {Describe(request)} ({request.Operation}) failed with HTTP {status} {reason}".TrimEnd() +
                         (serverText.Length > 0 ? $": {serverText}" : ".");
        string? code = error?.Code;
        switch (code)
        {
            case DurableStreamErrorCodes.SubscriptionNotFound:
                return new SubscriptionNotFoundException(message, subscriptionId, request.Url);
            case DurableStreamErrorCodes.SubscriptionAlreadyExists:
                return new SubscriptionConflictException(message, subscriptionId, request.Url);
            case DurableStreamErrorCodes.Fenced:
                return new SubscriptionFencedException(message, subscriptionId, generation, request.Url);
            case DurableStreamErrorCodes.AlreadyClaimed:
                return new SubscriptionAlreadyClaimedException(message, subscriptionId, error!.CurrentHolder, error.Generation, request.Url);
            case DurableStreamErrorCodes.NoPendingWork:
            case DurableStreamErrorCodes.TokenInvalid:
            case DurableStreamErrorCodes.TokenExpired:
            case DurableStreamErrorCodes.InvalidOffset:
            case DurableStreamErrorCodes.WebhookUrlRejected:
                return new DurableStreamException(message, status, code, request.Url);
        }

        return status switch
        {
            404 => new SubscriptionNotFoundException(message, subscriptionId, request.Url),
            400 => new StreamBadRequestException(message, DurableStreamErrorCodes.BadRequest, request.Url),
            409 when request.Method == HttpMethod.Put => new SubscriptionConflictException(message, subscriptionId, request.Url),
            409 => new DurableStreamException(message, status, DurableStreamErrorCodes.Conflict, request.Url),
            _ => new DurableStreamException(message, status, DurableStreamErrorCodes.UnexpectedStatus, request.Url, innerException: null, retryAfter),
        };
    }

    internal static ErrorWire? ParseError(string serverText)
    {
        if (serverText.Length == 0 || serverText[0] != '{')
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(serverText, SubscriptionJsonContext.Default.ErrorEnvelopeWire)?.Error;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static bool IsSuccess(HttpResponseMessage response, params HttpStatusCode[] expected) =>
        Array.IndexOf(expected, response.StatusCode) >= 0;

    private static string Describe(StreamRequest request) => DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url);

    public static SubscriptionLinkType LinkType(string? value) => value switch
    {
        "glob" => SubscriptionLinkType.Glob,
        "explicit" => SubscriptionLinkType.Explicit,
        _ => SubscriptionLinkType.Unknown,
    };

    public static Offset ParseOffset(string? value, StreamRequest request, string field)
    {
        if (value is null)
        {
            throw Malformed(request, $"\"{field}\"");
        }

        try
        {
            return new Offset(value);
        }
        catch (ArgumentException ex)
        {
            throw new DurableStreamProtocolException($"{request.Method} {Describe(request)} ({request.Operation}) answered an invalid \"{field}\": {ex.Message}", request.Url, ex);
        }
    }

    public static IReadOnlyList<SubscriptionWakeStream> WakeStreams(List<StreamLinkWire>? streams, StreamRequest request)
    {
        var result = new List<SubscriptionWakeStream>(streams?.Count ?? 0);
        foreach (StreamLinkWire link in streams ?? [])
        {
            Offset acked = ParseOffset(link.AckedOffset, request, "acked_offset");
            Offset tail = ParseOffset(link.TailOffset, request, "tail_offset");
            result.Add(new SubscriptionWakeStream(
                link.Path ?? throw Malformed(request, "a stream \"path\""),
                LinkType(link.LinkType),
                acked,
                tail,
                link.HasPending ?? acked.CompareTo(tail) < 0));
        }

        return result;
    }

    public static SubscriptionInfo ToInfo(SubscriptionWire wire, StreamRequest request, string requestedId)
    {
        var links = new List<SubscriptionStreamLink>(wire.Streams?.Count ?? 0);
        foreach (StreamLinkWire link in wire.Streams ?? [])
        {
            links.Add(new SubscriptionStreamLink(
                link.Path ?? throw Malformed(request, "a stream \"path\""),
                LinkType(link.LinkType),
                ParseOffset(link.AckedOffset, request, "acked_offset")));
        }

        SubscriptionType type = wire.Type switch
        {
            "pull-wake" => SubscriptionType.PullWake,
            "webhook" => SubscriptionType.Webhook,
            _ => throw Malformed(request, "a \"type\" of \"pull-wake\" or \"webhook\""),
        };

        WebhookSigningInfo? signing = wire.Webhook?.Signing is { } s
            ? new WebhookSigningInfo(s.Alg, s.Kid, Uri.TryCreate(s.JwksUrl, UriKind.Absolute, out Uri? jwks) ? jwks : null)
            : null;
        DateTimeOffset? createdAt = DateTimeOffset.TryParse(
            wire.CreatedAt,
            System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal,
            out DateTimeOffset parsed) ? parsed : null;
        return new SubscriptionInfo(
            wire.Id ?? wire.SubscriptionId ?? requestedId,
            type,
            wire.Pattern,
            links,
            Uri.TryCreate(wire.Webhook?.Url, UriKind.Absolute, out Uri? hook) ? hook : null,
            signing,
            wire.WakeStream,
            TimeSpan.FromMilliseconds(wire.LeaseTtlMs ?? 30_000),
            createdAt,
            wire.Status switch
            {
                "active" => SubscriptionStatus.Active,
                "failed" => SubscriptionStatus.Failed,
                _ => SubscriptionStatus.Unknown,
            },
            wire.Description);
    }
}
