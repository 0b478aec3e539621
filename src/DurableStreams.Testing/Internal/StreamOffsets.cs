using System.Globalization;

namespace DurableStreams.Testing.Internal;

/// <summary>
/// Offsets of this server: <c>{16 digits}_{16 digits}</c>, the second half being the logical position
/// (bytes for byte streams, messages for JSON streams), zero-padded so offsets sort lexicographically
/// (PROTOCOL.md §8) and never equal the sentinels <c>-1</c> and <c>now</c>. The shape matches the
/// reference server's, so offsets written by hand in tests (all zeros: the start) mean the same here.
/// </summary>
internal static class StreamOffsets
{
    private const int Half = 16;
    private const string Zeros = "0000000000000000";

    public static string Format(long position) => Zeros + "_" + position.ToString("D16", CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out long position)
    {
        position = 0;
        if (text is null || text.Length != (2 * Half) + 1 || text[Half] != '_')
        {
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            if (i != Half && text[i] is < '0' or > '9')
            {
                return false;
            }
        }

        return long.TryParse(text.AsSpan(Half + 1), NumberStyles.None, CultureInfo.InvariantCulture, out position);
    }
}
