using System.Buffers;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace DurableStreams.Cli;

/// <summary>
/// What each command does once parsed. Data goes to standard output; diagnostics, progress and
/// resume offsets go to standard error. Every handler maps failures to exit codes in one place
/// (<see cref="RunAsync"/>).
/// </summary>
internal sealed partial class CliCommands
{
    private const string JsonContentType = "application/json";
    private static readonly UTF8Encoding Utf8 = new(false);
    private readonly CliConsole _console;
    private readonly Option<string?> _url;
    private readonly Option<string?> _auth;
    private ParseResult? _parse;

    public CliCommands(CliConsole console, Option<string?> url, Option<string?> auth)
    {
        _console = console;
        _url = url;
        _auth = auth;
    }

    private TextWriter Error => _console.Error;

    /// <summary>Records the parse result the global options are read from (set before a handler runs).</summary>
    public CliCommands With(ParseResult parse)
    {
        _parse = parse;
        return this;
    }

    public Task<int> CreateAsync(string name, string? contentType, long? ttlSeconds, DateTimeOffset? expiresAt, CancellationToken cancellationToken) =>
        RunAsync("create", name, async (client, ct) =>
        {
            DurableStream stream = client.GetStream(Resolve(name));
            var options = new CreateOptions
            {
                ContentType = contentType,
                Ttl = ttlSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
                ExpiresAt = expiresAt,
            };
            CreateStreamResult result = await stream.CreateStreamAsync(options, ct).ConfigureAwait(false);
            await WriteOutputLineAsync(stream.Url.AbsoluteUri, ct).ConfigureAwait(false);
            await Error.WriteLineAsync(result.Created
                ? $"durable-stream: created {name} ({result.ContentType})."
                : $"durable-stream: {name} already exists with this configuration.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> WriteAsync(string name, string? data, string? contentType, bool json, CancellationToken cancellationToken) =>
        RunAsync("write", name, async (client, ct) =>
        {
            if (data is null && _console.InputIsTerminal)
            {
                throw new UsageException("Nothing to write: give DATA, or pipe the data into standard input.");
            }

            DurableStream stream = client.GetStream(Resolve(name), json ? JsonContentType : contentType);
            if (data is not null)
            {
                return await WriteArgumentAsync(stream, data, json, ct).ConfigureAwait(false);
            }

            return json
                ? await WriteJsonInputAsync(name, stream, ct).ConfigureAwait(false)
                : await WriteRawInputAsync(stream, ct).ConfigureAwait(false);
        }, cancellationToken);

    public Task<int> ReadAsync(string name, string? offset, LiveMode live, bool json, CancellationToken cancellationToken) =>
        RunAsync("read", name, async (client, ct) =>
        {
            DurableStream stream = client.GetStream(Resolve(name));
            var options = new ReadOptions { Live = live };
            ReadCheckpoint start = offset is null ? new ReadCheckpoint(Offset.Beginning) : ReadCheckpoint.Parse(offset);
            if (start.Skip == 0 && start.Cursor is null)
            {
                options.Offset = start.Offset;
            }
            else
            {
                options.Checkpoint = start;
            }

            Offset resume = start.Offset;
            bool closed = false;
            bool stopped = false;
            try
            {
                await foreach (StreamChunk chunk in stream.ReadAsync(options, ct).ConfigureAwait(false))
                {
                    if (!chunk.Data.IsEmpty && !await TryWriteChunkAsync(chunk, json, ct).ConfigureAwait(false))
                    {
                        // Standard output was closed (e.g. piped into `head`): the reader is done.
                        stopped = true;
                        break;
                    }

                    resume = chunk.NextOffset;
                    closed = chunk.StreamClosed;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested && live != LiveMode.Off)
            {
                // Ctrl-C ends a live read normally: say where to resume.
                stopped = true;
            }

            string where = resume.Value;
            await Error.WriteLineAsync(
                closed ? $"durable-stream: end of stream {name} (closed) at offset {where}."
                : stopped ? $"durable-stream: stopped reading {name}; resume with --offset {where}"
                : $"durable-stream: {name} is up to date; resume with --offset {where}").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> HeadAsync(string name, CancellationToken cancellationToken) =>
        RunAsync("head", name, async (client, ct) =>
        {
            DurableStream stream = client.GetStream(Resolve(name));
            StreamMetadata metadata = await stream.HeadAsync(ct).ConfigureAwait(false);
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"url: {stream.Url.AbsoluteUri}\n");
            text.Append(CultureInfo.InvariantCulture, $"content-type: {metadata.ContentType}\n");
            text.Append(CultureInfo.InvariantCulture, $"next-offset: {metadata.NextOffset}\n");
            text.Append(CultureInfo.InvariantCulture, $"closed: {(metadata.StreamClosed ? "true" : "false")}\n");
            if (metadata.Ttl is { } ttl)
            {
                text.Append(CultureInfo.InvariantCulture, $"ttl: {(long)ttl.TotalSeconds}\n");
            }

            if (metadata.ExpiresAt is { } expiresAt)
            {
                text.Append(CultureInfo.InvariantCulture, $"expires-at: {expiresAt.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}\n");
            }

            if (metadata.ETag is { } etag)
            {
                text.Append(CultureInfo.InvariantCulture, $"etag: {etag}\n");
            }

            await WriteOutputAsync(text.ToString(), ct).ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> CloseAsync(string name, string? data, CancellationToken cancellationToken) =>
        RunAsync("close", name, async (client, ct) =>
        {
            DurableStream stream = client.GetStream(Resolve(name));
            CloseResult result = data is null
                ? await stream.CloseAsync(ct).ConfigureAwait(false)
                : await stream.CloseAsync(data, options: null, ct).ConfigureAwait(false);
            await Error.WriteLineAsync($"durable-stream: closed {name}; final offset {result.FinalOffset}.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> DeleteAsync(string name, CancellationToken cancellationToken) =>
        RunAsync("delete", name, async (client, ct) =>
        {
            await client.GetStream(Resolve(name)).DeleteAsync(ct).ConfigureAwait(false);
            await Error.WriteLineAsync($"durable-stream: deleted {name}.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> ForkAsync(string sourceName, string targetName, Offset? offset, CancellationToken cancellationToken) =>
        RunAsync("fork", sourceName, async (client, ct) =>
        {
            DurableStream source = client.GetStream(Resolve(sourceName));
            Uri target = Resolve(targetName);
            CreateStreamResult result = await source.ForkAsync(new ForkOptions { Url = target.AbsoluteUri, Offset = offset }, ct).ConfigureAwait(false);
            await WriteOutputLineAsync(result.Stream.Url.AbsoluteUri, ct).ConfigureAwait(false);
            await Error.WriteLineAsync(result.Created
                ? $"durable-stream: forked {sourceName} into {targetName}; its tail is {result.NextOffset}."
                : $"durable-stream: {targetName} already exists as this fork.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    // ---- write ----------------------------------------------------------------------------------

    private async Task<int> WriteArgumentAsync(DurableStream stream, string data, bool json, CancellationToken ct)
    {
        byte[] bytes = Utf8.GetBytes(data);
        if (bytes.Length == 0)
        {
            throw new UsageException("DATA is empty: the protocol has no empty appends.");
        }

        if (json)
        {
            RequireOneJsonValue(bytes);
        }

        AppendResult result = await stream.AppendAsync(bytes, options: null, ct).ConfigureAwait(false);
        await Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"durable-stream: wrote {bytes.Length} bytes; next offset {result.NextOffset}.")).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    private async Task<int> WriteRawInputAsync(DurableStream stream, CancellationToken ct)
    {
        // Take the first bytes before sending: an empty input is a usage error, not an empty request.
        byte[] first = new byte[16 * 1024];
        int read = await _console.Input.ReadAsync(first, ct).ConfigureAwait(false);
        if (read == 0)
        {
            throw new UsageException("Standard input is empty: nothing to write.");
        }

        using var progress = new Progress(_console);
        using var body = new CountingStream(first.AsMemory(0, read), _console.Input, progress.AddBytes);
        AppendResult result = await stream.AppendAsync(body, options: null, ct).ConfigureAwait(false);
        progress.Complete();
        await Error.WriteLineAsync($"durable-stream: wrote {progress.Describe().Replace(" sent", string.Empty, StringComparison.Ordinal)}; next offset {result.NextOffset}.").ConfigureAwait(false);
        return ExitCodes.Success;
    }

    private async Task<int> WriteJsonInputAsync(string name, DurableStream stream, CancellationToken ct)
    {
        // Standard input that is a file is known whole: check all of it first, so a bad line sends
        // nothing (exit 2). A pipe may never end (`tail -f app.ndjson | durable-stream write`), so its
        // messages go out as they are read; a bad line stops the write after the lines before it
        // are stored (exit 1, with the line number).
        if (_console.InputFile is { } file)
        {
            await CheckJsonInputAsync(file, ct).ConfigureAwait(false);
        }

        var reader = new JsonValueReader(_console.Input);
        using var progress = new Progress(_console);

        // A fresh producer id per run: each invocation is its own producer, deduplicated by the server
        // across the retries of its batches (PROTOCOL.md §5.2.1).
        IdempotentProducer producer = stream.CreateProducer(
            "durable-stream-cli-" + Guid.NewGuid().ToString("N"),
            new ProducerOptions { AutoClaim = true });
        await using (producer.ConfigureAwait(false))
        {
            try
            {
                while (await reader.ReadNextAsync(ct).ConfigureAwait(false) is { } message)
                {
                    await producer.AppendAsync(message, ct).ConfigureAwait(false);
                    progress.AddMessage(message.Length);
                }
            }
            catch (JsonInputException ex) when (progress.Messages == 0)
            {
                throw new UsageException($"{ex.Message} Nothing was sent.", ex);
            }
            catch (JsonInputException ex)
            {
                // Messages before the bad line were read and handed to the producer: store them, so
                // what the stream holds is exactly the input up to that line.
                await producer.FlushAsync(ct).ConfigureAwait(false);
                progress.Complete();
                string messages = progress.Messages == 1 ? "message" : "messages";
                await Error.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"durable-stream: write {name} stopped: {ex.Message} Stored the {progress.Messages} {messages} before it (next offset {producer.LastAcknowledgedOffset}); nothing after them was sent.")).ConfigureAwait(false);
                return ExitCodes.Failure;
            }

            if (progress.Messages == 0)
            {
                throw new UsageException("Standard input holds no JSON value: nothing to write.");
            }

            await producer.FlushAsync(ct).ConfigureAwait(false);
            progress.Complete();
            await Error.WriteLineAsync($"durable-stream: wrote {progress.Describe().Replace(" sent", string.Empty, StringComparison.Ordinal)}; next offset {producer.LastAcknowledgedOffset}.").ConfigureAwait(false);
        }

        return ExitCodes.Success;
    }

    /// <summary>Reads a whole input file once, holding one value at a time; a bad value is a usage error (nothing sent).</summary>
    private static async Task CheckJsonInputAsync(Stream file, CancellationToken ct)
    {
        var reader = new JsonValueReader(file);
        try
        {
            while (await reader.ReadNextAsync(ct).ConfigureAwait(false) is not null)
            {
            }
        }
        catch (JsonInputException ex)
        {
            throw new UsageException($"{ex.Message} Nothing was sent.", ex);
        }
    }

    private static void RequireOneJsonValue(byte[] bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw new UsageException($"DATA is not one JSON value: {ex.Message}", ex);
        }
    }

    // ---- read -----------------------------------------------------------------------------------

    /// <summary>Writes a chunk to standard output; <see langword="false"/> when standard output is gone.</summary>
    private async Task<bool> TryWriteChunkAsync(StreamChunk chunk, bool json, CancellationToken ct)
    {
        ReadOnlyMemory<byte> bytes = chunk.Data;
        if (json)
        {
            if (chunk.ContentType is null || !IsJson(chunk.ContentType))
            {
                throw new UsageException($"--json needs a JSON stream; this one is {chunk.ContentType ?? "of unknown type"}. Read it without --json.");
            }

            bytes = ToJsonLines(chunk.Data);
        }

        try
        {
            await _console.Output.WriteAsync(bytes, ct).ConfigureAwait(false);
            await _console.Output.FlushAsync(ct).ConfigureAwait(false);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>A JSON stream's chunk is one array of messages (PROTOCOL.md §9.1): one line per message.</summary>
    private static ReadOnlyMemory<byte> ToJsonLines(ReadOnlyMemory<byte> array)
    {
        using JsonDocument document = JsonDocument.Parse(array);
        var buffer = new ArrayBufferWriter<byte>(array.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            IEnumerable<JsonElement> messages = document.RootElement.ValueKind == JsonValueKind.Array
                ? document.RootElement.EnumerateArray()
                : [document.RootElement];
            foreach (JsonElement message in messages)
            {
                message.WriteTo(writer);
                writer.Flush();
                buffer.Write("\n"u8);
                writer.Reset();
            }
        }

        return buffer.WrittenMemory;
    }

    private static bool IsJson(string contentType)
    {
        string mediaType = contentType.Split(';')[0].Trim();
        return mediaType.Equals(JsonContentType, StringComparison.OrdinalIgnoreCase) ||
               mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    // ---- shared ---------------------------------------------------------------------------------

    private Uri Resolve(string stream) =>
        StreamLocator.Resolve(stream, Global(_url, DurableStreamCli.ServerVariable));

    private string? Global(Option<string?> option, string variable)
    {
        string? value = _parse?.GetValue(option);
        return string.IsNullOrEmpty(value) ? _console.GetEnvironmentVariable(variable) : value;
    }

    private async Task WriteOutputAsync(string text, CancellationToken ct)
    {
        await _console.Output.WriteAsync(Utf8.GetBytes(text), ct).ConfigureAwait(false);
        await _console.Output.FlushAsync(ct).ConfigureAwait(false);
    }

    private Task WriteOutputLineAsync(string line, CancellationToken ct) => WriteOutputAsync(line + "\n", ct);

    /// <summary>Runs one command with a client built from the global options, and maps failures to exit codes.</summary>
    private async Task<int> RunAsync(string verb, string name, Func<DurableStreamClient, CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            var options = new DurableStreamClientOptions
            {
                // A read retries transient failures a few times, then reports them (exit 1) instead of
                // retrying forever as a long-running service would.
                ReadRetry = new RetryOptions(),
            };
            string? auth = Global(_auth, DurableStreamCli.AuthVariable);
            if (!string.IsNullOrEmpty(auth))
            {
                options.DefaultHeaders["Authorization"] = auth;
            }

            using var client = new DurableStreamClient(options);
            return await body(client, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException ex)
        {
            await Error.WriteLineAsync($"durable-stream: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (DurableStreamException ex)
        {
            string status = ex.Status == 0 ? "network error" : string.Create(CultureInfo.InvariantCulture, $"HTTP {ex.Status}");
            await Error.WriteLineAsync($"durable-stream: {verb} {name} failed ({status}, {ex.ErrorCode}): {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
        catch (IOException ex)
        {
            await Error.WriteLineAsync($"durable-stream: {verb} {name} failed (I/O error): {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
        catch (HttpRequestException ex)
        {
            await Error.WriteLineAsync($"durable-stream: {verb} {name} failed (network error): {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Error.WriteLineAsync($"durable-stream: {verb} {name} was interrupted.").ConfigureAwait(false);
            return 130;
        }
        catch (OperationCanceledException ex)
        {
            await Error.WriteLineAsync($"durable-stream: {verb} {name} failed (timed out): {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }
        catch (ArgumentException ex)
        {
            // The SDK checks its arguments before any I/O: a bad value from the command line.
            await Error.WriteLineAsync($"durable-stream: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
    }
}
