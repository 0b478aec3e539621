using System.Globalization;
using System.Text;

namespace DurableStreams.Benchmarks.InProcess;

/// <summary>Builds the canned response bodies of the in-process read benchmarks.</summary>
internal static class CannedBodies
{
    /// <summary>The size of one JSON message: <c>{"id":n,"pad":"xxx…"}</c>.</summary>
    public const int MessageBytes = 100;

    /// <summary>Exactly <see cref="MessageBytes"/> bytes of JSON for message <paramref name="id"/>.</summary>
    public static string Message(int id)
    {
        string head = $"{{\"id\":{id.ToString(CultureInfo.InvariantCulture)},\"pad\":\"";
        return head + new string('x', MessageBytes - head.Length - 2) + "\"}";
    }

    /// <summary>A JSON array of <paramref name="count"/> messages, as a catch-up read returns it.</summary>
    public static byte[] JsonArray(int count)
    {
        var text = new StringBuilder((count * (MessageBytes + 1)) + 2);
        text.Append('[');
        for (int i = 0; i < count; i++)
        {
            text.Append(i == 0 ? "" : ",").Append(Message(i));
        }

        return Encoding.UTF8.GetBytes(text.Append(']').ToString());
    }

    /// <summary>
    /// An SSE body as the reference server writes it (PROTOCOL.md §5.8): <paramref name="events"/> data
    /// events of about <paramref name="eventBytes"/> payload bytes each, every one followed by a control
    /// event (as when each event is one live append), the last control event carrying
    /// <c>streamClosed:true</c>. Text events are ASCII; JSON events are arrays of 100-byte messages,
    /// one per <c>data:</c> line; binary events are base64 of pseudo-random bytes.
    /// </summary>
    /// <returns>The body and the number of payload bytes (or JSON messages) it carries.</returns>
    public static (byte[] Body, long Payload) Sse(string kind, int eventBytes, int events)
    {
        var body = new StringBuilder();
        var random = new Random(42);
        long payload = 0;
        int message = 0;
        for (int e = 0; e < events; e++)
        {
            body.Append("event: data\n");
            switch (kind)
            {
                case "text":
                    body.Append("data:").Append('t', eventBytes).Append('\n');
                    payload += eventBytes;
                    break;
                case "json":
                    int perEvent = Math.Max(1, eventBytes / (MessageBytes + 1));
                    if (perEvent == 1)
                    {
                        body.Append("data:[").Append(Message(message++)).Append("]\n");
                    }
                    else
                    {
                        body.Append("data:[\n");
                        for (int i = 0; i < perEvent; i++)
                        {
                            body.Append("data:").Append(Message(message++)).Append(i < perEvent - 1 ? ",\n" : "\n");
                        }

                        body.Append("data:]\n");
                    }

                    payload += perEvent;
                    break;
                case "binary":
                    byte[] bytes = new byte[eventBytes];
                    random.NextBytes(bytes);
                    body.Append("data:").Append(Convert.ToBase64String(bytes)).Append('\n');
                    payload += eventBytes;
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown kind.");
            }

            body.Append('\n');
            string next = $"0000000000000001_{e + 1:D16}";
            body.Append("event: control\n");
            body.Append(e == events - 1
                ? $"data:{{\"streamNextOffset\":\"{next}\",\"streamClosed\":true}}\n\n"
                : $"data:{{\"streamNextOffset\":\"{next}\",\"streamCursor\":\"1\",\"upToDate\":true}}\n\n");
        }

        return (Encoding.UTF8.GetBytes(body.ToString()), payload);
    }
}
