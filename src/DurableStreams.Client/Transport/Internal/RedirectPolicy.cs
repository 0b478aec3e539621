using System.Net;

namespace DurableStreams.Transport.Internal;

/// <summary>
/// Which redirects the SDK follows: 301, 302, 303, 307 and 308 to the same origin (scheme, host
/// and port) only, at most <see cref="MaxRedirects"/> in a row. A pure decision: the transport sends.
/// </summary>
/// <remarks>
/// The SDK's own <see cref="HttpClient"/>s do not follow redirects (<c>AllowAutoRedirect = false</c>):
/// .NET's handler would resend every header but <c>Authorization</c> to any host, so an API key in
/// <see cref="DurableStreamClientOptions.DefaultHeaders"/> would go wherever a server points, and a
/// write would be acknowledged by that other host. Following them here keeps headers and bodies on
/// the origin the caller chose.
/// </remarks>
internal static class RedirectPolicy
{
    /// <summary>The most redirects followed for one attempt; the next one fails.</summary>
    public const int MaxRedirects = 5;

    /// <summary>Whether the status is a redirect the policy decides about (others are answers).</summary>
    public static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>Whether two absolute URLs share scheme, host and port.</summary>
    public static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) &&
        a.Port == b.Port;

    /// <summary>
    /// Decides about one redirect answer.
    /// </summary>
    /// <param name="method">The method of the redirected request.</param>
    /// <param name="hasBody">Whether the request carries a body.</param>
    /// <param name="bodyRepeatable">Whether that body can be built and sent again.</param>
    /// <param name="from">The URL the redirect answered.</param>
    /// <param name="status">The redirect status.</param>
    /// <param name="location">The raw <c>Location</c> header, if any.</param>
    /// <param name="followed">How many redirects this attempt has already followed.</param>
    /// <returns>The URL to request next, or why the redirect is refused (exactly one is set).</returns>
    public static (Uri? Next, string? Refusal) Decide(
        HttpMethod method,
        bool hasBody,
        bool bodyRepeatable,
        Uri from,
        HttpStatusCode status,
        string? location,
        int followed)
    {
        if (string.IsNullOrWhiteSpace(location))
        {
            return (null, "without a Location header");
        }

        string shown = Shorten(location.Trim());
        if (!Uri.TryCreate(from, location.Trim(), out Uri? target) || !target.IsAbsoluteUri)
        {
            return (null, $"to '{shown}', which is not a valid URL");
        }

        if (target.Scheme != Uri.UriSchemeHttp && target.Scheme != Uri.UriSchemeHttps)
        {
            return (null, $"to '{shown}', which is not an http or https URL");
        }

        string named = DurableStreams.Internal.UrlUtilities.WithoutQuery(target);
        if (!SameOrigin(from, target))
        {
            return (null, $"to '{named}', another origin: the SDK follows redirects only to the same scheme, host and port, so that headers and data never reach another server");
        }

        if (followed >= MaxRedirects)
        {
            return (null, $"to '{named}' after {followed} redirects already (at most {MaxRedirects} are followed)");
        }

        // 301, 302 and 303 turn a write into a GET in browsers and in .NET's own handler; a write
        // that silently became a read would look acknowledged, so only GET and HEAD follow them.
        bool keepsMethod = status is HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;
        if (!keepsMethod && method != HttpMethod.Get && method != HttpMethod.Head)
        {
            return (null, $"to '{named}' with HTTP {(int)status}, which would turn the {method} into a GET; the SDK follows only 307 and 308 for writes");
        }

        if (hasBody && !bodyRepeatable)
        {
            return (null, $"to '{named}', but the request's body came from a non-seekable stream and cannot be sent again");
        }

        return (target, null);
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : string.Concat(text.AsSpan(0, 200), "…");
}
