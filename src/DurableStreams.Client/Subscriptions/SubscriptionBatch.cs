using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Protocol.Internal;

namespace DurableStreams;

/// <summary>
/// Events of one stream handed to an <see cref="ISubscriptionHandler"/>: the data of one read response
/// (a JSON array of messages on a JSON stream), with the offsets around it.
/// </summary>
public sealed class SubscriptionBatch
{
    /// <summary>Creates a batch (for tests of handlers).</summary>
    /// <param name="subscriptionId">The subscription id.</param>
    /// <param name="generation">The generation of the lease it was read under.</param>
    /// <param name="stream">The stream path, relative to the stream root.</param>
    /// <param name="data">The bytes.</param>
    /// <param name="contentType">The stream's content type.</param>
    /// <param name="startOffset">Where the data starts.</param>
    /// <param name="endOffset">The offset after the data, acked once the batch is handled.</param>
    public SubscriptionBatch(string subscriptionId, long generation, string stream, ReadOnlyMemory<byte> data, string? contentType, Offset startOffset, Offset endOffset)
    {
        SubscriptionId = subscriptionId;
        Generation = generation;
        Stream = stream;
        Data = data;
        ContentType = contentType;
        StartOffset = startOffset;
        EndOffset = endOffset;
    }

    /// <summary>The subscription id.</summary>
    public string SubscriptionId { get; }

    /// <summary>The generation of the lease the batch was read under; a redelivery comes with a higher one.</summary>
    public long Generation { get; }

    /// <summary>The stream path, relative to the stream root.</summary>
    public string Stream { get; }

    /// <summary>The bytes; for a JSON stream one JSON array of the batch's messages (PROTOCOL.md §9.1).</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The stream's content type, when the server said.</summary>
    public string? ContentType { get; }

    /// <summary>The offset the data starts after.</summary>
    public Offset StartOffset { get; }

    /// <summary>The offset after the data: what the worker acks once the batch is handled.</summary>
    public Offset EndOffset { get; }

    /// <summary>The messages of a JSON stream's batch, deserialized.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="jsonTypeInfo">Source-generated metadata for <typeparamref name="T"/>.</param>
    /// <returns>The messages in stream order.</returns>
    /// <exception cref="InvalidOperationException">The stream is not a JSON stream.</exception>
    /// <exception cref="JsonException">A message does not match <typeparamref name="T"/>.</exception>
    public IReadOnlyList<T> ReadJson<T>(JsonTypeInfo<T> jsonTypeInfo)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        if (ContentType is not null && !MediaTypes.IsJson(ContentType))
        {
            throw new InvalidOperationException($"The stream '{Stream}' has the content type '{ContentType}', not application/json.");
        }

        var items = new List<T>();
        if (Data.IsEmpty)
        {
            return items;
        }

        var reader = new Utf8JsonReader(Data.Span);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException($"A batch of the JSON stream '{Stream}' is not a JSON array.");
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            items.Add(JsonSerializer.Deserialize(ref reader, jsonTypeInfo)!);
        }

        return items;
    }
}
