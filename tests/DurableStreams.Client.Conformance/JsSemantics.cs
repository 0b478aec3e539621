using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance;

/// <summary>
/// The JavaScript semantics the official runner compares with (RUNNER.md §8): strict equality,
/// <c>String(x)</c>, <c>JSON.stringify</c>. A missing property is "undefined", which equals
/// nothing but another missing property.
/// </summary>
public static class JsSemantics
{
    /// <summary>Looks up a property: <paramref name="value"/> is JSON null when the key holds null.</summary>
    public static bool TryGet(JsonObject? obj, string key, out JsonNode? value)
    {
        value = null;
        return obj is not null && obj.TryGetPropertyValue(key, out value);
    }

    /// <summary><c>a === b</c> where an absent value (<paramref name="aPresent"/> false) is undefined.</summary>
    public static bool StrictEquals(bool aPresent, JsonNode? a, bool bPresent, JsonNode? b)
    {
        if (!aPresent || !bPresent)
        {
            return aPresent == bPresent;
        }

        JsonValueKind ka = KindOf(a);
        JsonValueKind kb = KindOf(b);
        return (ka, kb) switch
        {
            (JsonValueKind.Null, JsonValueKind.Null) => true,
            (JsonValueKind.True, JsonValueKind.True) or (JsonValueKind.False, JsonValueKind.False) => true,
            (JsonValueKind.String, JsonValueKind.String) => string.Equals(a!.GetValue<string>(), b!.GetValue<string>(), StringComparison.Ordinal),
            (JsonValueKind.Number, JsonValueKind.Number) => NumberOf(a!) == NumberOf(b!),
            _ => false, // objects and arrays compare by reference in JS; two parsed values never are the same object
        };
    }

    public static JsonValueKind KindOf(JsonNode? node) => node is null ? JsonValueKind.Null : node.GetValueKind();

    /// <summary>The number a JSON number node holds, whatever CLR type backs it.</summary>
    public static double NumberOf(JsonNode node) =>
        double.Parse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>JavaScript truthiness of a present value.</summary>
    public static bool Truthy(bool present, JsonNode? node)
    {
        if (!present)
        {
            return false;
        }

        return KindOf(node) switch
        {
            JsonValueKind.Null or JsonValueKind.False or JsonValueKind.Undefined => false,
            JsonValueKind.String => node!.GetValue<string>().Length > 0,
            JsonValueKind.Number => NumberOf(node!) is var d && d != 0 && !double.IsNaN(d),
            _ => true,
        };
    }

    /// <summary><c>String(x)</c>, with undefined written as "undefined".</summary>
    public static string ToJsString(bool present, JsonNode? node)
    {
        if (!present)
        {
            return "undefined";
        }

        return KindOf(node) switch
        {
            JsonValueKind.Null => "null",
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.String => node!.GetValue<string>(),
            JsonValueKind.Number => NumberToString(NumberOf(node!)),
            JsonValueKind.Array => string.Join(",", node!.AsArray().Select(n => n is null ? "" : ToJsString(true, n))),
            _ => "[object Object]",
        };
    }

    /// <summary>How JavaScript prints a number (integers without a fraction, others shortest round-trip).</summary>
    public static string NumberToString(double d)
    {
        if (double.IsNaN(d))
        {
            return "NaN";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "Infinity" : "-Infinity";
        }

        if (d == Math.Floor(d) && Math.Abs(d) < 1e21)
        {
            return d.ToString("F0", CultureInfo.InvariantCulture);
        }

        return d.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary><c>JSON.stringify(x)</c>: compact, key order kept, only the characters JSON requires escaped.</summary>
    public static string Stringify(JsonNode? node)
    {
        var builder = new StringBuilder();
        Write(builder, node);
        return builder.ToString();
    }

    private static void Write(StringBuilder builder, JsonNode? node)
    {
        switch (node)
        {
            case null:
                builder.Append("null");
                break;
            case JsonObject obj:
                builder.Append('{');
                bool first = true;
                foreach (KeyValuePair<string, JsonNode?> property in obj)
                {
                    if (!first)
                    {
                        builder.Append(',');
                    }

                    first = false;
                    WriteString(builder, property.Key);
                    builder.Append(':');
                    Write(builder, property.Value);
                }

                builder.Append('}');
                break;
            case JsonArray array:
                builder.Append('[');
                for (int i = 0; i < array.Count; i++)
                {
                    if (i > 0)
                    {
                        builder.Append(',');
                    }

                    Write(builder, array[i]);
                }

                builder.Append(']');
                break;
            default:
                switch (node.GetValueKind())
                {
                    case JsonValueKind.String:
                        WriteString(builder, node.GetValue<string>());
                        break;
                    case JsonValueKind.Number:
                        double d = NumberOf(node);
                        builder.Append(double.IsFinite(d) ? NumberToString(d) : "null");
                        break;
                    case JsonValueKind.True:
                        builder.Append("true");
                        break;
                    case JsonValueKind.False:
                        builder.Append("false");
                        break;
                    default:
                        builder.Append("null");
                        break;
                }

                break;
        }
    }

    private static void WriteString(StringBuilder builder, string value)
    {
        builder.Append('"');
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            switch (c)
            {
                case '"':
                    builder.Append("\\\"");
                    break;
                case '\\':
                    builder.Append("\\\\");
                    break;
                case '\b':
                    builder.Append("\\b");
                    break;
                case '\f':
                    builder.Append("\\f");
                    break;
                case '\n':
                    builder.Append("\\n");
                    break;
                case '\r':
                    builder.Append("\\r");
                    break;
                case '\t':
                    builder.Append("\\t");
                    break;
                default:
                    bool loneSurrogate = char.IsSurrogate(c) &&
                        !(char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) &&
                        !(char.IsLowSurrogate(c) && i > 0 && char.IsHighSurrogate(value[i - 1]));
                    if (c < 0x20 || loneSurrogate)
                    {
                        builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    }
                    else
                    {
                        builder.Append(c);
                    }

                    break;
            }
        }

        builder.Append('"');
    }
}
