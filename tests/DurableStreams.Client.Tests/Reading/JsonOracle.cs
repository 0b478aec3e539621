using System.Text.Json;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// The reference the SDK's JSON framing (JsonSyntax, JsonArrayCursor and the scanner and counter
/// built on them) is held to: System.Text.Json's <see cref="Utf8JsonReader"/> with default options,
/// walking one top-level array and skipping each element.
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
}
