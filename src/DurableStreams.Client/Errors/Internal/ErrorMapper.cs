using System.Net;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams.Errors.Internal;

/// <summary>Turns an unsuccessful response into the exception a caller can branch on.</summary>
internal static class ErrorMapper
{
    public static async Task<DurableStreamException> ToExceptionAsync(HttpResponseMessage response, StreamRequest request, TimeProvider timeProvider)
    {
        string serverText = await HttpTransport.ReadErrorTextAsync(response).ConfigureAwait(false);
        int status = (int)response.StatusCode;
        string url = DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url);
        string message = $"{request.Method} {url} ({request.Operation}) failed with HTTP {status} {response.ReasonPhrase}".TrimEnd() +
                         (serverText.Length > 0 ? $": {serverText}" : ".");
        bool closed = ResponseHeaders.IsClosed(response);

        switch (response.StatusCode)
        {
            case HttpStatusCode.NotFound:
                return new StreamNotFoundException(message, request.Url);
            case HttpStatusCode.Gone:
                return new StreamGoneException(message, request.Url);
            case HttpStatusCode.BadRequest:
                return new StreamBadRequestException(
                    message,
                    request.Method == HttpMethod.Get ? DurableStreamErrorCodes.InvalidOffset : DurableStreamErrorCodes.BadRequest,
                    request.Url);
            case HttpStatusCode.Conflict when closed:
                return new StreamClosedException(message, ResponseHeaders.TryGetOffset(response, ProtocolHeaders.NextOffset), request.Url);
            case HttpStatusCode.Conflict:
                ConflictReason reason = ClassifyConflict(request, serverText, response);
                return new StreamConflictException(
                    message,
                    reason,
                    reason == ConflictReason.SequenceConflict ? DurableStreamErrorCodes.SequenceConflict : DurableStreamErrorCodes.Conflict,
                    request.Url);
            default:
                return new DurableStreamException(
                    message,
                    status,
                    DurableStreamErrorCodes.UnexpectedStatus,
                    request.Url,
                    innerException: null,
                    retryAfter: HttpTransport.RetryAfterOf(response, timeProvider));
        }
    }

    /// <summary>
    /// Why a 409 (not a closed stream) happened. The request decides where it can (PROTOCOL.md §5.1:
    /// a PUT conflicts only with an existing configuration; §5.2: a POST that sent neither
    /// <c>Stream-Seq</c> nor producer headers can only mismatch the content type; §5.2.1: a producer
    /// gap carries <c>Producer-Expected-Seq</c>); the server's wording decides only the remaining case,
    /// an append that sent <c>Stream-Seq</c>, where both a regression and a content-type mismatch are possible.
    /// </summary>
    internal static ConflictReason ClassifyConflict(StreamRequest request, string serverText, HttpResponseMessage response)
    {
        if (request.Method == HttpMethod.Put)
        {
            return ConflictReason.ExistsWithDifferentConfiguration;
        }

        if (response.Headers.Contains(ProtocolHeaders.ProducerExpectedSeq))
        {
            return ConflictReason.SequenceConflict;
        }

        if (request.Method != HttpMethod.Post)
        {
            return ConflictReason.Unknown;
        }

        bool sentSequence = request.Headers.Exists(h =>
            string.Equals(h.Key, ProtocolHeaders.Seq, StringComparison.OrdinalIgnoreCase) ||
            string.Equals(h.Key, ProtocolHeaders.ProducerSeq, StringComparison.OrdinalIgnoreCase));
        if (!sentSequence)
        {
            return ConflictReason.ContentTypeMismatch;
        }

        if (serverText.Contains("content-type", StringComparison.OrdinalIgnoreCase) ||
            serverText.Contains("content type", StringComparison.OrdinalIgnoreCase))
        {
            return ConflictReason.ContentTypeMismatch;
        }

        return serverText.Contains("seq", StringComparison.OrdinalIgnoreCase) ? ConflictReason.SequenceConflict : ConflictReason.Unknown;
    }
}
