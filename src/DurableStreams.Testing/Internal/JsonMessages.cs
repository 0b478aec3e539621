using System.Text.Json;

namespace DurableStreams.Testing.Internal;

/// <summary>JSON mode bodies (PROTOCOL.md §9.1): validation, one level of array flattening, response arrays.</summary>
internal static class JsonMessages
{
    private static readonly JsonReaderOptions Strict = new() { MaxDepth = 256 };

    /// <summary>
    /// Splits a body into messages; false with a reason when it is not exactly one valid JSON value.
    /// Messages are slices of the body as sent (the reader only finds their boundaries; they share the
    /// body's array, which is never written again), so a reader gets back byte for byte what was appended.
    /// </summary>
    public static bool TryFlatten(byte[] body, out List<ReadOnlyMemory<byte>> messages, out string? error)
    {
        messages = [];
        error = null;
        try
        {
            var reader = new Utf8JsonReader(body, Strict);
            if (!reader.Read())
            {
                error = "The body is not valid JSON: it is empty.";
                return false;
            }

            if (reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    messages.Add(Slice(body, ref reader));
                }
            }
            else
            {
                messages.Add(Slice(body, ref reader));
            }

            if (reader.Read())
            {
                error = "The body is not valid JSON: more than one value.";
                return false;
            }

            return true;
        }
        catch (JsonException e)
        {
            error = $"The body is not valid JSON: {e.Message}";
            return false;
        }
    }

    /// <summary>The bytes of the value starting at the reader's current token; leaves the reader on its last token.</summary>
    private static ReadOnlyMemory<byte> Slice(byte[] body, ref Utf8JsonReader reader)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return body.AsMemory(start, (int)reader.BytesConsumed - start);
    }

    /// <summary>Writes messages as one JSON array.</summary>
    public static byte[] ToArray(IReadOnlyList<ReadOnlyMemory<byte>> messages)
    {
        var length = 2 + Math.Max(0, messages.Count - 1);
        foreach (var message in messages)
        {
            length += message.Length;
        }

        var result = new byte[length];
        result[0] = (byte)'[';
        var position = 1;
        for (var i = 0; i < messages.Count; i++)
        {
            if (i > 0)
            {
                result[position++] = (byte)',';
            }

            messages[i].Span.CopyTo(result.AsSpan(position));
            position += messages[i].Length;
        }

        result[position] = (byte)']';
        return result;
    }
}
