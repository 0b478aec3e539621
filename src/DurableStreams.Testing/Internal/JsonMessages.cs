using System.Text;
using System.Text.Json;

namespace DurableStreams.Testing.Internal;

/// <summary>JSON mode bodies (PROTOCOL.md §9.1): validation, one level of array flattening, response arrays.</summary>
internal static class JsonMessages
{
    private static readonly JsonDocumentOptions Strict = new() { MaxDepth = 256 };

    /// <summary>Splits a body into messages; false with a reason when it is not valid JSON.</summary>
    public static bool TryFlatten(byte[] body, out List<byte[]> messages, out string? error)
    {
        messages = [];
        error = null;
        try
        {
            using var document = JsonDocument.Parse(body, Strict);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                foreach (var element in root.EnumerateArray())
                {
                    messages.Add(Encoding.UTF8.GetBytes(element.GetRawText()));
                }
            }
            else
            {
                messages.Add(Encoding.UTF8.GetBytes(root.GetRawText()));
            }

            return true;
        }
        catch (JsonException e)
        {
            error = $"The body is not valid JSON: {e.Message}";
            return false;
        }
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
