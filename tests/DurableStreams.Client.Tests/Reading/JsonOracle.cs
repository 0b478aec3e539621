using System.Text.Json;
using DurableStreams.Reading.Internal;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// The reference the SDK's JSON framing (JsonSyntax, JsonArrayCursor and the scanner and counter
/// built on them) is held to: System.Text.Json's <see cref="Utf8JsonReader"/> with default options,
/// walking one top-level array and skipping each element (<see cref="Elements"/>); and the SDK's
/// side in the same shape (<see cref="ScannerElements"/>), so the two compare as text; and the
/// random edits both JSON test classes make to valid texts (<see cref="MaybeMutate"/>).
/// </summary>
internal static class JsonOracle
{
    /// <summary>The elements' byte ranges, or <see langword="null"/> when the reader rejects the text as one JSON array.</summary>
    public static List<Range>? Elements(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                return null;
            }

            var elements = new List<Range>();
            while (true)
            {
                if (!reader.Read())
                {
                    return null;
                }

                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    return reader.Read() ? null : elements;
                }

                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                elements.Add(new Range(start, (int)reader.BytesConsumed));
            }
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The elements the SDK's <see cref="JsonArrayScanner.MoveNext"/> finds, or <see langword="null"/> when it throws: what is compared with <see cref="Elements"/>.</summary>
    public static List<Range>? ScannerElements(byte[] json)
    {
        try
        {
            var scanner = default(JsonArrayScanner);
            var elements = new List<Range>();
            while (scanner.MoveNext(json, out Range item))
            {
                elements.Add(item);
            }

            return elements;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Element ranges as text, for comparing and for failure messages.</summary>
    public static string Describe(List<Range>? elements) =>
        elements is null ? "rejected" : "[" + string.Join(' ', elements.Select(r => $"{r.Start.Value}..{r.End.Value}")) + "]";

    /// <summary>Half of the time, one to three bytes of <paramref name="text"/> replaced, inserted or removed (bytes from <paramref name="alphabet"/>).</summary>
    public static void MaybeMutate(List<byte> text, Random random, byte[] alphabet)
    {
        int edits = random.Next(2) == 0 ? 0 : random.Next(1, 4);
        for (int e = 0; e < edits; e++)
        {
            int at = random.Next(text.Count + 1);
            switch (random.Next(3))
            {
                case 0 when at < text.Count:
                    text[at] = alphabet[random.Next(alphabet.Length)];
                    break;
                case 1:
                    text.Insert(at, alphabet[random.Next(alphabet.Length)]);
                    break;
                default:
                    if (at < text.Count)
                    {
                        text.RemoveAt(at);
                    }

                    break;
            }
        }
    }
}
