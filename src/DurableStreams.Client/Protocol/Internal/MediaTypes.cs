namespace DurableStreams.Protocol.Internal;

/// <summary>Content-type helpers: compare by media type only, ignoring case and parameters.</summary>
internal static class MediaTypes
{
    public const string Json = "application/json";
    public const string OctetStream = "application/octet-stream";
    public const string EventStream = "text/event-stream";

    /// <summary>The media type of a content-type value: the part before any ';', trimmed.</summary>
    public static ReadOnlySpan<char> MediaTypeOf(string? contentType)
    {
        if (contentType is null)
        {
            return default;
        }

        ReadOnlySpan<char> span = contentType.AsSpan();
        int semicolon = span.IndexOf(';');
        return (semicolon >= 0 ? span[..semicolon] : span).Trim();
    }

    /// <summary>Whether two content types name the same media type (PROTOCOL.md §9: parameters do not matter).</summary>
    public static bool SameMediaType(string? left, string? right) =>
        left is not null && right is not null &&
        MediaTypeOf(left).Equals(MediaTypeOf(right), StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a stream of this type is in JSON mode (PROTOCOL.md §9.1).</summary>
    public static bool IsJson(string? contentType) =>
        MediaTypeOf(contentType).Equals(Json, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether SSE data of this type travels as text rather than base64 (PROTOCOL.md §5.8).</summary>
    public static bool IsTextual(string? contentType)
    {
        ReadOnlySpan<char> media = MediaTypeOf(contentType);
        return media.StartsWith("text/", StringComparison.OrdinalIgnoreCase) ||
               media.Equals(Json, StringComparison.OrdinalIgnoreCase);
    }
}
