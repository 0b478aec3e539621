using System.Net;
using System.Net.Sockets;

namespace DurableStreams.Transport.Internal;

/// <summary>Decides which failures are transient and which requests provably never left.</summary>
internal static class FailureClassifier
{
    /// <summary>429 and 5xx, except the 5xx codes that will not change on retry.</summary>
    public static bool IsTransientStatus(HttpStatusCode status) =>
        status == HttpStatusCode.TooManyRequests ||
        ((int)status >= 500 && status != HttpStatusCode.NotImplemented && status != HttpStatusCode.HttpVersionNotSupported);

    /// <summary>
    /// A failure of the network or of the per-attempt timeout (not the caller's cancellation), which
    /// a retry may overcome. <see cref="IsPermanentFailure"/> failures are not among them.
    /// </summary>
    public static bool IsNetworkFailure(Exception exception) =>
        exception is HttpRequestException or IOException or TimeoutException or SocketException &&
        !IsPermanentFailure(exception);

    /// <summary>
    /// An HTTP-level failure the same request would meet again: a response beyond the handler's
    /// limits (headers larger than <c>MaxResponseHeadersLength</c>), a response that is not valid
    /// HTTP, a rejected proxy or server authentication, or a server certificate that does not
    /// validate. Retrying these only delays the error (and hammers the server).
    /// </summary>
    public static bool IsPermanentFailure(Exception exception)
    {
        if (exception is not HttpRequestException http)
        {
            return false;
        }

        switch (http.HttpRequestError)
        {
            case HttpRequestError.ConfigurationLimitExceeded:
            case HttpRequestError.InvalidResponse:
            case HttpRequestError.UserAuthenticationError:
                return true;
            case HttpRequestError.SecureConnectionError:
                // A certificate that does not validate is an AuthenticationException; a handshake cut
                // by the network is an IOException and stays retryable.
                for (Exception? inner = http.InnerException; inner is not null; inner = inner.InnerException)
                {
                    if (inner is System.Security.Authentication.AuthenticationException)
                    {
                        return true;
                    }

                    if (inner is IOException)
                    {
                        return false;
                    }
                }

                return false;
            default:
                return false;
        }
    }

    /// <summary>Whether a permanent failure came with a response (so the request reached the server).</summary>
    public static bool ResponseArrived(HttpRequestException exception) =>
        exception.HttpRequestError is HttpRequestError.ConfigurationLimitExceeded or HttpRequestError.InvalidResponse;

    /// <summary>
    /// Whether the request certainly did not reach the server: the name did not resolve or the
    /// connection could not be opened. A failure on an open connection (reset, closed, timed out)
    /// may have happened after the server received the body, so it does not qualify.
    /// </summary>
    public static bool ProvablyNotSent(Exception exception)
    {
        if (exception is not HttpRequestException http)
        {
            return false;
        }

#if NET8_0_OR_GREATER
        if (http.HttpRequestError is not (HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError))
        {
            return false;
        }
#endif

        // The connect path reports a SocketException directly; a failure while sending on an open
        // connection arrives wrapped in an IOException, and is ambiguous.
        for (Exception? inner = http.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is IOException)
            {
                return false;
            }

            if (inner is SocketException socket)
            {
                return socket.SocketErrorCode is SocketError.ConnectionRefused or SocketError.HostNotFound
                    or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.TryAgain
                    or SocketError.NoData or SocketError.AddressNotAvailable;
            }
        }

        return false;
    }
}
