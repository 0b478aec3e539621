namespace DurableStreams.Testing.Internal;

internal static class MediaTypes
{
    public const string OctetStream = "application/octet-stream";

    /// <summary>The media type without parameters, lower-cased: what content types are compared by.</summary>
    public static string Essence(string contentType)
    {
        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var essence = semicolon >= 0 ? contentType[..semicolon] : contentType;
        return essence.Trim().ToLowerInvariant();
    }

    public static bool SameType(string a, string b) => Essence(a) == Essence(b);

    /// <summary>JSON mode applies to <c>application/json</c> (PROTOCOL.md §9.1).</summary>
    public static bool IsJson(string contentType) => Essence(contentType) == "application/json";

    /// <summary>SSE carries <c>text/*</c> and JSON as text and everything else as base64 (PROTOCOL.md §5.8).</summary>
    public static bool IsTextForSse(string contentType)
    {
        var essence = Essence(contentType);
        return essence.StartsWith("text/", StringComparison.Ordinal) || essence == "application/json";
    }
}
