using System.Globalization;
using System.Text;
using System.Text.Json;
using DurableStreams.Protocol.Internal;
using DurableStreams.Reading.Internal;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// The SDK's own JSON framing (<see cref="JsonSyntax"/> under <see cref="JsonArrayCursor"/>) against
/// System.Text.Json's <see cref="Utf8JsonReader"/> (<see cref="JsonOracle"/>): the same texts
/// accepted, the same element boundaries, the same texts rejected, over a wide alphabet (escapes,
/// control and non-ASCII bytes, number forms, white space the reader refuses, nesting around its
/// limit of 64), whole and arriving in pieces.
/// </summary>
public sealed class JsonSyntaxTests
{
    private static readonly byte[] MutationAlphabet =
        [.. "[]{},:\"\\ \t\r\n0123456789-+.eEtrufalsnux/*"u8, 0x00, 0x0B, 0x0C, 0x1F, 0x7F, 0x80, 0xC3, 0xFF];

    [Fact]
    public void RandomTexts_SameElementsOrRejectionAsUtf8JsonReader()
    {
        var random = new Random(20261205);
        int accepted = 0, rejected = 0;
        for (int i = 0; i < 30_000; i++)
        {
            byte[] json = RandomText(random);
            List<Range>? expected = JsonOracle.Elements(json);
            Assert.True(
                JsonOracle.Describe(expected) == JsonOracle.Describe(JsonOracle.ScannerElements(json)),
                $"Case {i}: {Show(json)}: expected {JsonOracle.Describe(expected)}, got {JsonOracle.Describe(JsonOracle.ScannerElements(json))}");
            if (expected is null)
            {
                rejected++;
            }
            else
            {
                accepted++;
            }
        }

        // Both outcomes occur in quantity, so the agreement covers accepting and rejecting.
        Assert.True(accepted > 5_000 && rejected > 5_000, $"accepted {accepted}, rejected {rejected}");
    }

    [Fact]
    public void RandomTextsArrivingInRandomPieces_SameCountOrRejectionAsUtf8JsonReader()
    {
        var random = new Random(20261206);
        for (int i = 0; i < 10_000; i++)
        {
            byte[] json = RandomText(random);
            int? expected = JsonOracle.Elements(json)?.Count;
            var counter = default(JsonArrayCounter);
            int? actual;
            try
            {
                for (int length = random.Next(1, 16); length < json.Length; length += random.Next(1, 16))
                {
                    counter.Advance(json.AsSpan(0, length), CancellationToken.None);
                }

                actual = counter.Finish(json, CancellationToken.None);
            }
            catch (JsonException)
            {
                actual = null;
            }

            Assert.True(expected == actual, $"Case {i}: {Show(json)}: expected {expected?.ToString(CultureInfo.InvariantCulture) ?? "rejected"}, got {actual?.ToString(CultureInfo.InvariantCulture) ?? "rejected"}");
        }
    }

    [Fact]
    public void IsOneValue_RandomValuesAlone_SameVerdictAsUtf8JsonReader()
    {
        // The producer's check of each JSON message: a whole text that is one value, scalars included.
        var random = new Random(20261207);
        int accepted = 0, rejected = 0;
        for (int i = 0; i < 30_000; i++)
        {
            var text = new List<byte>();
            Space(random, text);
            Value(random, text, depth: 0);
            Space(random, text);
            MaybeMutate(random, text);
            byte[] json = [.. text];
            bool expected = IsOneValueOracle(json);
            Assert.True(expected == JsonSyntax.IsOneValue(json), $"Case {i}: {Show(json)}: expected {expected}");
            if (expected)
            {
                accepted++;
            }
            else
            {
                rejected++;
            }
        }

        Assert.True(accepted > 5_000 && rejected > 5_000, $"accepted {accepted}, rejected {rejected}");
    }

    [Theory]
    [InlineData("0")]
    [InlineData("12")]
    [InlineData(" 12 ")]
    [InlineData("-3.5e+7")]
    [InlineData("-")]
    [InlineData("1.")]
    [InlineData("1e")]
    [InlineData("1e-")]
    [InlineData("01")]
    [InlineData("true")]
    [InlineData("tru")]
    [InlineData("\"s\"")]
    [InlineData("\"s")]
    [InlineData("1 2")]
    [InlineData("[1] 2")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("{\"a\":1}x")]
    public void IsOneValue_NamedTexts_SameVerdictAsUtf8JsonReader(string text)
    {
        byte[] json = Encoding.UTF8.GetBytes(text);
        Assert.Equal(IsOneValueOracle(json), JsonSyntax.IsOneValue(json));
    }

    [Theory]
    [InlineData(64, true)]
    [InlineData(65, false)]
    public void IsOneValue_Nesting_AllowedUpToSixtyFourLevels(int depth, bool accepted)
    {
        byte[] json = Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth));
        Assert.Equal(accepted, IsOneValueOracle(json));
        Assert.Equal(accepted, JsonSyntax.IsOneValue(json));
    }

    /// <summary>Whether <see cref="Utf8JsonReader"/> reads the whole text as one value (what the producer checked with before).</summary>
    private static bool IsOneValueOracle(byte[] json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read())
            {
                return false;
            }

            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Fact]
    public void EveryProperPrefixOfAnArray_IsIncompleteWhileArrivingAndRejectedWhenFinal()
    {
        byte[] json = "[{\"a\":[1,-2.5e+3,\"x\\u00e9\\\"\"],\"b\":{}},true,false,null,0,\"\",[]]"u8.ToArray();
        Assert.Equal(7, JsonOracle.Elements(json)!.Count);
        for (int length = 0; length < json.Length; length++)
        {
            byte[] prefix = json[..length];
            var counter = default(JsonArrayCounter);
            counter.Advance(prefix, CancellationToken.None);
            Assert.Throws<JsonException>(() => JsonArrayScanner.Count(prefix, CancellationToken.None));
            Assert.Equal(7, counter.Finish(json, CancellationToken.None));
        }
    }

    [Theory]
    [InlineData(63, true)]
    [InlineData(64, true)]
    [InlineData(65, false)]
    public void Nesting_AllowedUpToSixtyFourLevelsCountingTheOuterArray(int depth, bool accepted)
    {
        foreach (string open in new[] { "[", "{\"k\":" })
        {
            string close = open == "[" ? "]" : "}";
            string text = "[" + string.Concat(Enumerable.Repeat(open, depth - 1)) + "1" + string.Concat(Enumerable.Repeat(close, depth - 1)) + "]";
            byte[] json = Encoding.ASCII.GetBytes(text);
            Assert.Equal(accepted, JsonOracle.Elements(json) is not null);
            Assert.Equal(JsonOracle.Describe(JsonOracle.Elements(json)), JsonOracle.Describe(JsonOracle.ScannerElements(json)));
        }
    }

    [Fact]
    public void StringBytes_ControlCharactersRejectedEverythingElseTakenAsItIs()
    {
        // Followed by 'q', so that a backslash makes an escape that does not exist.
        for (int b = 0; b < 256; b++)
        {
            byte[] json = [(byte)'[', (byte)'"', (byte)'a', (byte)b, (byte)'q', (byte)'"', (byte)']'];
            bool expected = b >= 0x20 && b != '"' && b != '\\';
            Assert.Equal(expected, JsonOracle.Elements(json) is not null);
            Assert.True(JsonOracle.Describe(JsonOracle.Elements(json)) == JsonOracle.Describe(JsonOracle.ScannerElements(json)), $"byte 0x{b:X2}");
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0")]
    [InlineData("10")]
    [InlineData("-1.25")]
    [InlineData("1e5")]
    [InlineData("1E+05")]
    [InlineData("2.5e-3")]
    [InlineData("00")]
    [InlineData("01")]
    [InlineData("-")]
    [InlineData("+1")]
    [InlineData("1.")]
    [InlineData(".5")]
    [InlineData("1e")]
    [InlineData("1e+")]
    [InlineData("1.e5")]
    [InlineData("0x10")]
    [InlineData("1_000")]
    [InlineData("Infinity")]
    [InlineData("NaN")]
    [InlineData("\"\\u00e9\"")]
    [InlineData("\"\\u00G9\"")]
    [InlineData("\"\\U00e9\"")]
    [InlineData("\"\\x41\"")]
    [InlineData("\"\\/\\b\\f\\n\\r\\t\"")]
    [InlineData("tru")]
    [InlineData("True")]
    [InlineData("nul")]
    [InlineData("nulll")]
    public void Values_SameVerdictAsUtf8JsonReaderAloneAndInAnObject(string value)
    {
        foreach (string text in new[] { $"[{value}]", $"[{{\"k\":{value}}}]", $"[[{value}],{value}]" })
        {
            byte[] json = Encoding.UTF8.GetBytes(text);
            Assert.Equal(JsonOracle.Describe(JsonOracle.Elements(json)), JsonOracle.Describe(JsonOracle.ScannerElements(json)));
        }
    }

    [Fact]
    public void MalformedText_TheErrorNamesTheByte()
    {
        var ex = Assert.Throws<JsonException>(() => JsonArrayScanner.Count("[{\"a\":1;}]"u8, CancellationToken.None));
        Assert.Equal("Malformed JSON at byte 7: ';' where ',' or '}' was expected.", ex.Message);
    }

    [Theory]
    [InlineData("[1,]", 3)]
    [InlineData("[1, ]", 4)]
    [InlineData("[[1,]]", 4)]
    [InlineData("[{\"a\":1,}]", 8)]
    public void TrailingComma_TheErrorSaysSo(string text, int at)
    {
        var ex = Assert.Throws<JsonException>(() => JsonArrayScanner.Count(Encoding.UTF8.GetBytes(text), CancellationToken.None));
        Assert.Equal($"Malformed JSON at byte {at}: a trailing comma before the closing bracket or brace.", ex.Message);
    }

    private static string Show(byte[] json) => Convert.ToHexString(json.AsSpan(0, Math.Min(json.Length, 200)));

    /// <summary>A random array: well formed about half of the time, otherwise with one to three bytes replaced, inserted or removed.</summary>
    private static byte[] RandomText(Random random)
    {
        var text = new List<byte>();
        Space(random, text);
        if (random.Next(20) == 0)
        {
            // Nesting around the reader's limit.
            int depth = random.Next(60, 67);
            text.AddRange(Enumerable.Repeat((byte)'[', depth));
            Value(random, text, depth: 3);
            text.AddRange(Enumerable.Repeat((byte)']', depth));
        }
        else
        {
            text.Add((byte)'[');
            int count = random.Next(0, 5);
            for (int e = 0; e < count; e++)
            {
                if (e > 0)
                {
                    text.Add((byte)',');
                }

                Space(random, text);
                Value(random, text, depth: 0);
                Space(random, text);
            }

            text.Add((byte)']');
        }

        Space(random, text);
        MaybeMutate(random, text);
        return [.. text];
    }

    /// <summary>Half of the time, one to three bytes replaced, inserted or removed.</summary>
    private static void MaybeMutate(Random random, List<byte> text) => JsonOracle.MaybeMutate(text, random, MutationAlphabet);

    private static readonly string[] Numbers = ["0", "-0", "7", "42", "-15", "3.25", "-0.5", "1e9", "2E-3", "6.02e+23", "123456789012345678901234567890"];

    private static readonly string[] StringPieces =
    [
        "a", "id", "pad", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", " ", "]", "}", ",", ":", "[", "{",
        "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\uD83D\\uDE00", "\\uDC00", "é", "😀",
    ];

    private static void Value(Random random, List<byte> text, int depth)
    {
        switch (random.Next(depth > 3 ? 4 : 6))
        {
            case 0:
                text.AddRange(Encoding.ASCII.GetBytes(Numbers[random.Next(Numbers.Length)]));
                break;
            case 1:
                text.Add((byte)'"');
                int pieces = random.Next(0, 6);
                for (int p = 0; p < pieces; p++)
                {
                    text.AddRange(Encoding.UTF8.GetBytes(StringPieces[random.Next(StringPieces.Length)]));
                }

                if (random.Next(30) == 0)
                {
                    // A long run, so the vectorized search crosses whole blocks before its stop.
                    text.AddRange(Enumerable.Repeat((byte)'y', random.Next(16, 200)));
                }

                text.Add((byte)'"');
                break;
            case 2:
                text.AddRange(random.Next(3) switch { 0 => "true"u8.ToArray(), 1 => "false"u8.ToArray(), _ => "null"u8.ToArray() });
                break;
            case 3:
                text.AddRange("\"s\""u8.ToArray());
                break;
            case 4:
                text.Add((byte)'[');
                int elements = random.Next(0, 4);
                for (int e = 0; e < elements; e++)
                {
                    if (e > 0)
                    {
                        text.Add((byte)',');
                        Space(random, text);
                    }

                    Value(random, text, depth + 1);
                }

                Space(random, text);
                text.Add((byte)']');
                break;
            default:
                text.Add((byte)'{');
                int members = random.Next(0, 4);
                for (int m = 0; m < members; m++)
                {
                    if (m > 0)
                    {
                        text.Add((byte)',');
                    }

                    Space(random, text);
                    text.AddRange(Encoding.ASCII.GetBytes($"\"k{m}\""));
                    Space(random, text);
                    text.Add((byte)':');
                    Space(random, text);
                    Value(random, text, depth + 1);
                }

                Space(random, text);
                text.Add((byte)'}');
                break;
        }
    }

    private static void Space(Random random, List<byte> text)
    {
        if (random.Next(3) == 0)
        {
            int count = random.Next(1, 3);
            for (int s = 0; s < count; s++)
            {
                text.Add(" \t\r\n"u8[random.Next(4)]);
            }
        }
    }
}
