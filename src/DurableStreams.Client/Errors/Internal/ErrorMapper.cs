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

    private static ConflictReason ClassifyConflict(StreamRequest request, string serverText, HttpResponseMessage response)
    {
        if (response.Headers.Contains(ProtocolHeaders.ProducerExpectedSeq) ||
            serverText.Contains("sequence", StringComparison.OrdinalIgnoreCase))
        {
            return ConflictReason.SequenceConflict;
        }

        if (serverText.Contains("content-type", StringComparison.OrdinalIgnoreCase) ||
            serverText.Contains("content type", StringComparison.OrdinalIgnoreCase))
        {
            return ConflictReason.ContentTypeMismatch;
        }

        return request.Method == HttpMethod.Put ? ConflictReason.ExistsWithDifferentConfiguration : ConflictReason.Unknown;
    }
}
