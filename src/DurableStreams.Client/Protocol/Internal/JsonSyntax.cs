using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace DurableStreams.Protocol.Internal;

/// <summary>
/// Finds where a JSON value ends, checking its syntax on the way, without tokens, strings or a
/// reader state: what framing the messages of a JSON stream needs (PROTOCOL.md §9.1) and nothing
/// more. It accepts exactly the texts <see cref="Utf8JsonReader"/> accepts with default options (RFC
/// 8259 syntax, no comments, no trailing commas, at most 64 nested arrays and objects, string bytes
/// other than quotes, backslashes and control characters taken as they are), which the differential
/// tests in JsonSyntaxTests hold it to; it is about twice as fast on small values because it keeps
/// no per-token state.
/// </summary>
internal static class JsonSyntax
{
    /// <summary>Returned when the bytes end inside the value: more may complete it.</summary>
    public const int Incomplete = -1;

    /// <summary>The nesting <see cref="Utf8JsonReader"/> allows by default, counting every open array and object.</summary>
    public const int MaxDepth = 64;

    /// <summary>The bytes that end a run of plain string content: the quote, the backslash and the control characters.</summary>
    private static readonly SearchValues<byte> StringStops = SearchValues.Create(
        "\"\\\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F"u8);

    /// <summary>The index of the first byte at or after <paramref name="index"/> that is not JSON white space.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SkipWhitespace(ReadOnlySpan<byte> json, int index)
    {
        while ((uint)index < (uint)json.Length && json[index] <= (byte)' ' && IsWhitespace(json[index]))
        {
            index++;
        }

        return index;
    }

    /// <summary>
    /// The index just after the JSON value that starts at <paramref name="start"/> (its first byte,
    /// not white space), or <see cref="Incomplete"/> when the bytes end first. A number that reaches
    /// the end of the bytes is incomplete too: more digits may follow.
    /// </summary>
    /// <param name="json">The bytes received so far.</param>
    /// <param name="start">Where the value begins.</param>
    /// <param name="outerDepth">The arrays and objects already open around the value.</param>
    /// <param name="final">
    /// Whether <paramref name="json"/> is the whole text: then a number that ends the text is
    /// complete (a value on its own, as a producer's message can be).
    /// </param>
    /// <exception cref="JsonException">The bytes cannot be the start of a JSON value; the message names the byte.</exception>
    public static int SkipValue(ReadOnlySpan<byte> json, int start, int outerDepth, bool final = false)
    {
        // Bit d is set when the container open at local depth d is an object.
        ulong objects = 0;
        int depth = 0;
        int i = start;
        while (true)
        {
            // A value starts at i.
            if ((uint)i >= (uint)json.Length)
            {
                return Incomplete;
            }

            byte b = json[i];
            if (b == (byte)'"')
            {
                i = SkipString(json, i + 1);
            }
            else if (b is (byte)'{' or (byte)'[')
            {
                if (outerDepth + depth >= MaxDepth)
                {
                    throw Invalid($"arrays and objects nested deeper than {MaxDepth}", i);
                }

                bool isObject = b == (byte)'{';
                objects = isObject ? objects | (1UL << depth) : objects & ~(1UL << depth);
                depth++;
                i = SkipWhitespace(json, i + 1);
                if ((uint)i >= (uint)json.Length)
                {
                    return Incomplete;
                }

                if (json[i] != (isObject ? (byte)'}' : (byte)']'))
                {
                    // The container's first member or element starts here.
                    if (isObject && (i = SkipKey(json, i)) < 0)
                    {
                        return Incomplete;
                    }

                    continue;
                }

                // An empty container is a complete value.
                depth--;
                i++;
            }
            else if (b == (byte)'-' || IsDigit(b))
            {
                i = SkipNumber(json, i, final);
            }
            else if (b == (byte)'t')
            {
                i = SkipLiteral(json, i, "true"u8);
            }
            else if (b == (byte)'f')
            {
                i = SkipLiteral(json, i, "false"u8);
            }
            else if (b == (byte)'n')
            {
                i = SkipLiteral(json, i, "null"u8);
            }
            else
            {
                throw Unexpected(b, "a value", i);
            }

            if (i < 0)
            {
                return Incomplete;
            }

            // A value ended at i: close the containers it completes, or go on to the next member.
            while (true)
            {
                if (depth == 0)
                {
                    return i;
                }

                i = SkipWhitespace(json, i);
                if ((uint)i >= (uint)json.Length)
                {
                    return Incomplete;
                }

                b = json[i];
                bool inObject = (objects & (1UL << (depth - 1))) != 0;
                if (b == (byte)',')
                {
                    i = SkipWhitespace(json, i + 1);
                    if ((uint)i < (uint)json.Length && json[i] is (byte)']' or (byte)'}')
                    {
                        throw TrailingComma(i);
                    }

                    if (inObject && (i = SkipKey(json, i)) < 0)
                    {
                        return Incomplete;
                    }

                    break;
                }

                if (b != (inObject ? (byte)'}' : (byte)']'))
                {
                    throw Unexpected(b, inObject ? "',' or '}'" : "',' or ']'", i);
                }

                depth--;
                i++;
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="json"/> is exactly one JSON value, with white space around it
    /// allowed: what <see cref="Utf8JsonReader"/> accepts as a whole text with default options.
    /// </summary>
    public static bool IsOneValue(ReadOnlySpan<byte> json)
    {
        int start = SkipWhitespace(json, 0);
        if (start >= json.Length)
        {
            return false;
        }

        try
        {
            int end = SkipValue(json, start, outerDepth: 0, final: true);
            return end >= 0 && SkipWhitespace(json, end) == json.Length;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Skips a member's name, its colon and the white space after it: the index of the member's value.</summary>
    private static int SkipKey(ReadOnlySpan<byte> json, int i)
    {
        if ((uint)i >= (uint)json.Length)
        {
            return Incomplete;
        }

        if (json[i] != (byte)'"')
        {
            throw Unexpected(json[i], "a property name", i);
        }

        i = SkipString(json, i + 1);
        if (i < 0)
        {
            return Incomplete;
        }

        i = SkipWhitespace(json, i);
        if ((uint)i >= (uint)json.Length)
        {
            return Incomplete;
        }

        if (json[i] != (byte)':')
        {
            throw Unexpected(json[i], "':'", i);
        }

        return SkipWhitespace(json, i + 1);
    }

    /// <summary>Skips a string's content from <paramref name="i"/> (after its opening quote): the index after its closing quote.</summary>
    private static int SkipString(ReadOnlySpan<byte> json, int i)
    {
        while (true)
        {
            int stop = json[i..].IndexOfAny(StringStops);
            if (stop < 0)
            {
                return Incomplete;
            }

            i += stop;
            byte c = json[i];
            if (c == (byte)'"')
            {
                return i + 1;
            }

            if (c != (byte)'\\')
            {
                throw Invalid($"control character 0x{c:X2} in a string", i);
            }

            if (i + 1 >= json.Length)
            {
                return Incomplete;
            }

            byte escaped = json[i + 1];
            if (escaped == (byte)'u')
            {
                for (int h = i + 2; h < i + 6; h++)
                {
                    if (h >= json.Length)
                    {
                        return Incomplete;
                    }

                    if (!char.IsAsciiHexDigit((char)json[h]))
                    {
                        throw Invalid("a \\u escape without four hexadecimal digits", i);
                    }
                }

                i += 6;
            }
            else if (escaped is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
            {
                i += 2;
            }
            else
            {
                throw Invalid($"the escape '\\{Printable(escaped)}'", i);
            }
        }
    }

    /// <summary>
    /// Skips a number (RFC 8259 §6): the index after it, or <see cref="Incomplete"/> when the bytes
    /// end inside it, or right after its digits unless <paramref name="final"/> says no more can come.
    /// </summary>
    private static int SkipNumber(ReadOnlySpan<byte> json, int i, bool final)
    {
        int atEnd = final ? json.Length : Incomplete;
        int start = i;
        if (json[i] == (byte)'-' && ++i >= json.Length)
        {
            return Incomplete;
        }

        if (json[i] == (byte)'0')
        {
            i++;
        }
        else if (IsDigit(json[i]))
        {
            i = SkipDigits(json, i + 1);
        }
        else
        {
            throw Invalid("a number without digits", start);
        }

        if (i >= json.Length)
        {
            return atEnd;
        }

        if (json[i] == (byte)'.')
        {
            if (++i >= json.Length)
            {
                return Incomplete;
            }

            if (!IsDigit(json[i]))
            {
                throw Invalid("a number without digits after its decimal point", start);
            }

            i = SkipDigits(json, i + 1);
            if (i >= json.Length)
            {
                return atEnd;
            }
        }

        if (json[i] is (byte)'e' or (byte)'E')
        {
            if (++i >= json.Length)
            {
                return Incomplete;
            }

            if (json[i] is (byte)'+' or (byte)'-' && ++i >= json.Length)
            {
                return Incomplete;
            }

            if (!IsDigit(json[i]))
            {
                throw Invalid("a number without digits in its exponent", start);
            }

            i = SkipDigits(json, i + 1);
            if (i >= json.Length)
            {
                return atEnd;
            }
        }

        return i;
    }

    private static int SkipDigits(ReadOnlySpan<byte> json, int i)
    {
        while ((uint)i < (uint)json.Length && IsDigit(json[i]))
        {
            i++;
        }

        return i;
    }

    private static int SkipLiteral(ReadOnlySpan<byte> json, int i, ReadOnlySpan<byte> literal)
    {
        ReadOnlySpan<byte> rest = json[i..];
        if (rest.StartsWith(literal))
        {
            return i + literal.Length;
        }

        if (rest.Length < literal.Length && literal.StartsWith(rest))
        {
            return Incomplete;
        }

        throw Invalid($"a value that is not '{System.Text.Encoding.ASCII.GetString(literal)}'", i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    private static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';

    /// <summary>The error for a byte that cannot come where it is.</summary>
    public static JsonException Unexpected(byte found, string expected, int index) =>
        Invalid($"'{Printable(found)}' where {expected} was expected", index);

    /// <summary>The error for a closing bracket or brace right after a comma.</summary>
    public static JsonException TrailingComma(int index) => Invalid("a trailing comma before the closing bracket or brace", index);

    /// <summary>The error for malformed JSON, naming the byte offset in the text.</summary>
    public static JsonException Invalid(string what, int index) => new($"Malformed JSON at byte {index}: {what}.");

    private static string Printable(byte b) => b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"0x{b:X2}";
}
