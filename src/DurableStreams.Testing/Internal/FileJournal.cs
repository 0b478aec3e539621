using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DurableStreams.Testing.Internal;

/// <summary>
/// The file store: one JSON-lines journal per stream (<c>{id}.jsonl</c>) holding its creation, then one line
/// per append carrying the data, the <c>Stream-Seq</c>, the producer tuple and the close flag together, so
/// data and producer state are written in one step (PROTOCOL.md §5.2.1 atomicity). A torn last line from
/// a crash is ignored on load. The journal of a removed stream is deleted.
/// </summary>
internal sealed class FileJournal
{
    private readonly string _directory;

    public FileJournal(string directory)
    {
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
    }

    public void Created(StoredStream stream, IReadOnlyList<ReadOnlyMemory<byte>> units, bool close) => Write(stream, writer =>
    {
        writer.WriteString("t", "create");
        writer.WriteNumber("id", stream.Id);
        writer.WriteString("path", stream.Path);
        writer.WriteString("contentType", stream.ContentType);
        if (stream.TtlSeconds is { } ttl)
        {
            writer.WriteNumber("ttl", ttl);
        }

        if (stream.ExpiresAt is { } expiresAt)
        {
            writer.WriteString("expiresAt", expiresAt);
        }

        if (stream.Source is { } source)
        {
            writer.WriteNumber("sourceId", source.Id);
            writer.WriteNumber("forkPosition", stream.ForkPosition);
            writer.WriteString("forkedFrom", stream.ForkedFrom);
        }

        WriteUnits(writer, units);
        writer.WriteBoolean("close", close);
    }, create: true);

    public void Appended(StoredStream stream, IReadOnlyList<ReadOnlyMemory<byte>> units, string? streamSeq, ProducerTuple? producer, bool close) => Write(stream, writer =>
    {
        writer.WriteString("t", "append");
        WriteUnits(writer, units);
        if (streamSeq is not null)
        {
            writer.WriteString("streamSeq", streamSeq);
        }

        if (producer is not null)
        {
            writer.WriteString("producerId", producer.Id);
            writer.WriteNumber("epoch", producer.Epoch);
            writer.WriteNumber("seq", producer.Seq);
        }

        writer.WriteBoolean("close", close);
    });

    public void SoftDeleted(StoredStream stream) => Write(stream, writer => writer.WriteString("t", "softDelete"));

    public void Removed(StoredStream stream) => File.Delete(FileOf(stream.Id));

    /// <summary>Rebuilds every stored stream, sources before their forks.</summary>
    public List<StoredStream> Load(DateTimeOffset now, out long lastId)
    {
        lastId = 0;
        var byId = new SortedDictionary<long, string[]>();
        foreach (var file in Directory.EnumerateFiles(_directory, "*.jsonl"))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(file), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                byId[id] = File.ReadAllLines(file, Encoding.UTF8);
            }
        }

        var loaded = new Dictionary<long, StoredStream>();
        var result = new List<StoredStream>();
        foreach (var (id, lines) in byId)
        {
            lastId = Math.Max(lastId, id);
            StoredStream? stream = null;
            foreach (var line in lines)
            {
                JsonDocument document;
                try
                {
                    document = JsonDocument.Parse(line);
                }
                catch (JsonException)
                {
                    break; // a torn write at the end of the journal
                }

                using (document)
                {
                    var record = document.RootElement;
                    switch (record.GetProperty("t").GetString())
                    {
                        case "create":
                            stream = CreateFrom(record, loaded, now);
                            break;
                        case "append" when stream is not null:
                            lock (stream.Gate)
                            {
                                ProducerTuple? producer = record.TryGetProperty("producerId", out var pid)
                                    ? new ProducerTuple(pid.GetString()!, record.GetProperty("epoch").GetInt64(), record.GetProperty("seq").GetInt64())
                                    : null;
                                var streamSeq = record.TryGetProperty("streamSeq", out var seq) ? seq.GetString() : null;
                                stream.ApplyLocked(ReadUnits(record), streamSeq, producer, record.GetProperty("close").GetBoolean());
                            }

                            break;
                        case "softDelete" when stream is not null:
                            stream.Lifecycle = StreamLifecycle.SoftDeleted;
                            break;
                    }
                }
            }

            if (stream is not null)
            {
                loaded[id] = stream;
                result.Add(stream);
            }
        }

        // A newer stream on a path wins it; an older one stays only as a fork source.
        var latestByPath = new Dictionary<string, StoredStream>(StringComparer.Ordinal);
        foreach (var stream in result)
        {
            latestByPath[stream.Path] = stream;
        }

        foreach (var stream in result)
        {
            if (latestByPath[stream.Path] != stream && stream.Lifecycle == StreamLifecycle.Active)
            {
                stream.Lifecycle = StreamLifecycle.Expired;
            }
        }

        return result.Where(s => latestByPath[s.Path] == s).ToList();
    }

    private static StoredStream CreateFrom(JsonElement record, Dictionary<long, StoredStream> loaded, DateTimeOffset now)
    {
        StoredStream? source = null;
        long forkPosition = 0;
        if (record.TryGetProperty("sourceId", out var sourceId) && loaded.TryGetValue(sourceId.GetInt64(), out source))
        {
            forkPosition = record.GetProperty("forkPosition").GetInt64();
            source.ForkCount++;
        }

        var stream = new StoredStream(record.GetProperty("id").GetInt64(), record.GetProperty("path").GetString()!,
            record.GetProperty("contentType").GetString()!, source, forkPosition)
        {
            TtlSeconds = record.TryGetProperty("ttl", out var ttl) ? ttl.GetInt64() : null,
            ExpiresAt = record.TryGetProperty("expiresAt", out var expiresAt) ? expiresAt.GetDateTimeOffset() : null,
            ForkedFrom = record.TryGetProperty("forkedFrom", out var forkedFrom) ? forkedFrom.GetString() : null,
            LastAccess = now,
        };
        lock (stream.Gate)
        {
            stream.ApplyLocked(ReadUnits(record), null, null, record.GetProperty("close").GetBoolean());
        }

        return stream;
    }

    private static void WriteUnits(Utf8JsonWriter writer, IReadOnlyList<ReadOnlyMemory<byte>> units)
    {
        writer.WriteStartArray("units");
        foreach (var unit in units)
        {
            writer.WriteBase64StringValue(unit.Span);
        }

        writer.WriteEndArray();
    }

    private static List<ReadOnlyMemory<byte>> ReadUnits(JsonElement record) =>
        record.GetProperty("units").EnumerateArray().Select(u => (ReadOnlyMemory<byte>)u.GetBytesFromBase64()).ToList();

    private string FileOf(long id) => Path.Combine(_directory, id.ToString("D16", CultureInfo.InvariantCulture) + ".jsonl");

    private void Write(StoredStream stream, Action<Utf8JsonWriter> write, bool create = false)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        using var file = new FileStream(FileOf(stream.Id), create ? FileMode.Create : FileMode.Append, FileAccess.Write, FileShare.Read);
        buffer.WriteTo(file);
        file.Flush(flushToDisk: false);
    }
}
