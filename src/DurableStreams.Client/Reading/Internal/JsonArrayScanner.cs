using System.Text.Json;

namespace DurableStreams.Reading.Internal;

/// <summary>Finds the elements of a JSON array without materializing them (PROTOCOL.md §9.1 framing).</summary>
internal static class JsonArrayScanner
{
    /// <summary>Adds the byte range of each top-level element of <paramref name="json"/> to <paramref name="items"/>.</summary>
    /// <exception cref="JsonException">The text is not one well-formed JSON array.</exception>
    public static void GetItems(ReadOnlySpan<byte> json, List<Range> items)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("Expected a JSON array.");
        }

        while (true)
        {
            if (!reader.Read())
            {
                throw new JsonException("The JSON array is not terminated.");
            }

            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }

            int start = (int)reader.TokenStartIndex;
            reader.Skip();
            items.Add(new Range(start, (int)reader.BytesConsumed));
        }

        if (reader.Read())
        {
            throw new JsonException("Unexpected data after the JSON array.");
        }
    }

    /// <summary>Builds <c>[a,b,...]</c> from the given elements of <paramref name="json"/>; empty when there are none.</summary>
    public static byte[] Join(ReadOnlySpan<byte> json, List<Range> items, int from)
    {
        if (from >= items.Count)
        {
            return [];
        }

        int length = 2 + (items.Count - from - 1);
        for (int i = from; i < items.Count; i++)
        {
            length += items[i].GetOffsetAndLength(json.Length).Length;
        }

        byte[] result = new byte[length];
        int position = 0;
        result[position++] = (byte)'[';
        for (int i = from; i < items.Count; i++)
        {
            if (i > from)
            {
                result[position++] = (byte)',';
            }

            ReadOnlySpan<byte> item = json[items[i]];
            item.CopyTo(result.AsSpan(position));
            position += item.Length;
        }

        result[position] = (byte)']';
        return result;
    }
}
