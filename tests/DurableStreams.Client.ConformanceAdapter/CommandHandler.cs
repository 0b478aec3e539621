using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance.Adapter;

/// <summary>
/// Executes the adapter commands of ADAPTER.md §5-§11 with the public API of DurableStreams.Client.
/// Commands arrive strictly one after another, so the state below needs no locking.
/// </summary>
internal sealed partial class CommandHandler : IAsyncDisposable
{
    private const string OctetStream = "application/octet-stream";

    /// <summary>Every command answers well inside the runner's 30 s command timeout (ADAPTER.md §1.1).</summary>
    private static readonly TimeSpan CommandBudget = TimeSpan.FromSeconds(25);

    private readonly Dictionary<string, string> _contentTypes = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Path, string ProducerId, long Epoch), IdempotentProducer> _producers = [];
    private readonly DynamicValues _dynamic = new();
    private string _serverUrl = "";
    private DurableStreamClient? _client;

    /// <summary>Headers of the command being run, for the requests that take no per-call headers (HEAD, DELETE).</summary>
    private IReadOnlyDictionary<string, string> _commandHeaders = new Dictionary<string, string>();

    private DurableStreamClient Client => _client ?? throw new InvalidOperationException("The adapter received a command before init.");

    public async Task<JsonObject> HandleAsync(string type, JsonObject command)
    {
        using var budget = new CancellationTokenSource(CommandBudget);
        _commandHeaders = new Dictionary<string, string>();
        try
        {
            return type switch
            {
                "init" => await InitAsync(command),
                "create" => await CreateAsync(command, budget.Token),
                "connect" => await ConnectAsync(command, budget.Token),
                "append" => await AppendAsync(command, budget.Token),
                "read" => await ReadAsync(command, budget.Token),
                "head" => await HeadAsync(command, budget.Token),
                "delete" => await DeleteAsync(command, budget.Token),
                "close" => await CloseAsync(command, budget.Token),
                "idempotent-append" => await IdempotentAppendAsync(command, budget.Token),
                "idempotent-append-batch" => await IdempotentAppendBatchAsync(command, budget.Token),
                "idempotent-close" => await IdempotentCloseAsync(command, budget.Token),
                "idempotent-detach" => await IdempotentDetachAsync(command, budget.Token),
                "set-dynamic-header" => SetDynamic(command, isHeader: true),
                "set-dynamic-param" => SetDynamic(command, isHeader: false),
                "clear-dynamic" => ClearDynamic(),
                "validate" => await ValidateAsync(command),
                "benchmark" => await BenchmarkAsync(command),
                "shutdown" => Results.Success("shutdown"),
                _ => Results.Error(type, "NOT_SUPPORTED", $"Unknown command type: {type}"),
            };
        }
        catch (Exception ex)
        {
            // Diagnostics go to stderr only; the runner shows them next to the case.
            await Console.Error.WriteLineAsync($"{type} failed: {ex.GetType().Name}: {ex.Message}");
            return Results.FromException(type, ex);
        }
        finally
        {
            _commandHeaders = new Dictionary<string, string>();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DropProducersAsync();
        _client?.Dispose();
        StopBareClient();
    }

    // ---- init ----------------------------------------------------------------------------------

    private async Task<JsonObject> InitAsync(JsonObject command)
    {
        await DropProducersAsync();
        _client?.Dispose();
        _contentTypes.Clear();
        _dynamic.Clear();
        _serverUrl = Required(command, "serverUrl").TrimEnd('/');
        var options = new DurableStreamClientOptions
        {
            // HEAD and DELETE take no per-call headers in the SDK; a command's headers reach them here.
            HeadersProvider = _ => ValueTask.FromResult(_commandHeaders),
        };
        _client = new DurableStreamClient(options);
        string? bareName = StartBareClient();

        JsonObject result = Results.Success("init");
        result["clientName"] = bareName ?? "DurableStreams.Client";
        result["clientVersion"] = bareName is null ? typeof(DurableStream).Assembly.GetName().Version?.ToString() ?? "0.0.0" : Environment.Version.ToString();
        result["features"] = new JsonObject
        {
            ["batching"] = true,
            ["sse"] = true,
            ["longPoll"] = true,
            ["auto"] = true,
            ["streaming"] = true,
            ["dynamicHeaders"] = true,
            ["retryOptions"] = true,
            ["batchItems"] = true,
            ["strictZeroValidation"] = true,
        };
        return result;
    }

    // ---- stream lifecycle ----------------------------------------------------------------------

    private async Task<JsonObject> CreateAsync(JsonObject command, CancellationToken cancellationToken)
    {
        string path = Required(command, "path");
        string contentType = OptionalString(command, "contentType") ?? OctetStream;
        var options = new CreateOptions
        {
            Url = UrlOf(path),
            ContentType = contentType,
            Closed = OptionalBool(command, "closed") ?? false,
        };
        if (OptionalLong(command, "ttlSeconds") is { } ttl)
        {
            options.Ttl = TimeSpan.FromSeconds(ttl);
        }

        if (OptionalString(command, "expiresAt") is { } expiresAt)
        {
            options.ExpiresAt = DateTimeOffset.Parse(expiresAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        }

        if (OptionalString(command, "data") is { Length: > 0 } data)
        {
            options.InitialData = Encoding.UTF8.GetBytes(data);
        }

        CopyHeaders(command, options.Headers);
        CreateStreamResult created = await Client.CreateStreamAsync(options, cancellationToken);
        _contentTypes[path] = contentType;

        JsonObject result = Results.Success("create");
        result["status"] = created.Created ? 201 : 200;
        result["offset"] = created.NextOffset.Value;
        return result;
    }

    private async Task<JsonObject> ConnectAsync(JsonObject command, CancellationToken cancellationToken) =>
        (await HeadResultAsync("connect", command, cancellationToken)).Result;

    /// <summary>A HEAD of the command's stream (remembering its content type) and the common result fields.</summary>
    private async Task<(JsonObject Result, StreamMetadata Metadata)> HeadResultAsync(string type, JsonObject command, CancellationToken cancellationToken)
    {
        string path = Required(command, "path");
        _commandHeaders = HeadersOf(command);
        StreamMetadata metadata = await Client.GetStream(UrlOf(path)).HeadAsync(cancellationToken);
        Remember(path, metadata.ContentType);
        JsonObject result = Results.Success(type);
        result["status"] = 200;
        result["offset"] = metadata.NextOffset.Value;
        return (result, metadata);
    }

    private async Task<JsonObject> HeadAsync(JsonObject command, CancellationToken cancellationToken)
    {
        (JsonObject result, StreamMetadata metadata) = await HeadResultAsync("head", command, cancellationToken);
        if (metadata.ContentType is { } contentType)
        {
            result["contentType"] = contentType;
        }

        result["streamClosed"] = metadata.StreamClosed;
        if (metadata.Ttl is { } ttl)
        {
            result["ttlSeconds"] = (long)ttl.TotalSeconds;
        }

        if (metadata.ExpiresAt is { } expiresAt)
        {
            result["expiresAt"] = expiresAt.ToString("O", CultureInfo.InvariantCulture);
        }

        return result;
    }

    private async Task<JsonObject> DeleteAsync(JsonObject command, CancellationToken cancellationToken)
    {
        string path = Required(command, "path");
        _commandHeaders = HeadersOf(command);
        await Client.GetStream(UrlOf(path)).DeleteAsync(cancellationToken);
        _contentTypes.Remove(path);
        JsonObject result = Results.Success("delete");
        result["status"] = 200;
        return result;
    }

    // ---- append and close ----------------------------------------------------------------------

    private async Task<JsonObject> AppendAsync(JsonObject command, CancellationToken cancellationToken)
    {
        string path = Required(command, "path");
        string data = OptionalString(command, "data") ?? "";
        byte[] body = OptionalBool(command, "binary") == true ? Convert.FromBase64String(data) : Encoding.UTF8.GetBytes(data);
        (Dictionary<string, string> headersSent, Dictionary<string, string> paramsSent) = _dynamic.Evaluate();

        var options = new AppendOptions();
        if (OptionalLong(command, "seq") is { } seq)
        {
            options.Sequence = seq.ToString(CultureInfo.InvariantCulture);
        }

        foreach (KeyValuePair<string, string> header in headersSent)
        {
            options.Headers[header.Key] = header.Value;
        }

        CopyHeaders(command, options.Headers);
        foreach (KeyValuePair<string, string> parameter in paramsSent)
        {
            options.QueryParameters[parameter.Key] = parameter.Value;
        }

        AppendResult appended = await StreamOf(path).AppendAsync(body, options, cancellationToken);
        JsonObject result = Results.Success("append");
        result["status"] = 200;
        result["offset"] = appended.NextOffset.Value;
        _dynamic.Report(result, headersSent, paramsSent);
        return result;
    }

    private async Task<JsonObject> CloseAsync(JsonObject command, CancellationToken cancellationToken)
    {
        string path = Required(command, "path");
        DurableStream stream = Client.GetStream(UrlOf(path), OptionalString(command, "contentType") ?? ContentTypeOf(path));
        CloseResult closed = OptionalString(command, "data") is { Length: > 0 } data
            ? await stream.CloseAsync(data, options: null, cancellationToken)
            : await stream.CloseAsync(cancellationToken);
        JsonObject result = Results.Success("close");
        result["finalOffset"] = closed.FinalOffset.Value;
        return result;
    }

    // ---- idempotent producer (ADAPTER.md §9) ---------------------------------------------------

    private async Task<JsonObject> IdempotentAppendAsync(JsonObject command, CancellationToken cancellationToken)
    {
        IdempotentProducer producer = CachedProducer(command);
        await producer.AppendAsync(Required(command, "data"), cancellationToken);
        await producer.FlushAsync(cancellationToken);
        JsonObject result = Results.Success("idempotent-append");
        result["status"] = 200;
        if (producer.LastAcknowledgedOffset is { } offset)
        {
            result["offset"] = offset.Value;
        }

        return result;
    }

    private async Task<JsonObject> IdempotentAppendBatchAsync(JsonObject command, CancellationToken cancellationToken)
    {
        string path = Required(command, "path");
        int maxInFlight = (int)(OptionalLong(command, "maxInFlight") ?? 1);
        var options = new ProducerOptions
        {
            Epoch = OptionalLong(command, "epoch") ?? 0,
            AutoClaim = OptionalBool(command, "autoClaim") ?? false,
            MaxInFlight = maxInFlight,
        };
        if (maxInFlight > 1)
        {
            // One item per request, pipelined, as the reference adapter does.
            options.MaxBatchItems = 1;
            options.Linger = TimeSpan.Zero;
        }
        else
        {
            // Everything in one batch: the explicit flush below sends it.
            options.Linger = TimeSpan.FromSeconds(1);
        }

        IdempotentProducer producer = StreamOf(path).CreateProducer(Required(command, "producerId"), options);
        try
        {
            foreach (JsonNode? item in command["items"]?.AsArray() ?? [])
            {
                await producer.AppendAsync(item?.GetValue<string>() ?? "", cancellationToken);
            }

            await producer.FlushAsync(cancellationToken);
        }
        finally
        {
            try
            {
                await producer.DetachAsync(CancellationToken.None);
            }
            catch (DurableStreamException)
            {
                // The failure was already thrown by the flush above.
            }
        }

        JsonObject result = Results.Success("idempotent-append-batch");
        result["status"] = 200;
        return result;
    }

    private async Task<JsonObject> IdempotentCloseAsync(JsonObject command, CancellationToken cancellationToken)
    {
        IdempotentProducer producer = CachedProducer(command);
        CloseResult closed = OptionalString(command, "data") is { Length: > 0 } data
            ? await producer.CloseAsync(data, cancellationToken)
            : await producer.CloseAsync(cancellationToken);
        JsonObject result = Results.Success("idempotent-close");
        result["status"] = 200;
        result["finalOffset"] = closed.FinalOffset.Value;
        return result;
    }

    private async Task<JsonObject> IdempotentDetachAsync(JsonObject command, CancellationToken cancellationToken)
    {
        IdempotentProducer producer = CachedProducer(command);
        _producers.Remove(KeyOf(command));
        await producer.DetachAsync(cancellationToken);
        JsonObject result = Results.Success("idempotent-detach");
        result["status"] = 200;
        return result;
    }

    private IdempotentProducer CachedProducer(JsonObject command)
    {
        (string Path, string ProducerId, long Epoch) key = KeyOf(command);
        if (!_producers.TryGetValue(key, out IdempotentProducer? producer))
        {
            var options = new ProducerOptions
            {
                Epoch = key.Epoch,
                AutoClaim = OptionalBool(command, "autoClaim") ?? false,
                MaxInFlight = 1,
                Linger = TimeSpan.Zero,
            };
            producer = StreamOf(key.Path).CreateProducer(key.ProducerId, options);
            _producers[key] = producer;
        }

        return producer;
    }

    private static (string Path, string ProducerId, long Epoch) KeyOf(JsonObject command) =>
        (Required(command, "path"), Required(command, "producerId"), OptionalLong(command, "epoch") ?? 0);

    private async Task DropProducersAsync()
    {
        foreach (IdempotentProducer producer in _producers.Values)
        {
            try
            {
                using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await producer.DetachAsync(budget.Token);
            }
            catch (Exception ex) when (ex is DurableStreamException or OperationCanceledException or ObjectDisposedException)
            {
                // Leftovers of earlier tests; their outcome was reported then.
            }
        }

        _producers.Clear();
    }

    // ---- dynamic headers and params (ADAPTER.md §8) --------------------------------------------

    private JsonObject SetDynamic(JsonObject command, bool isHeader)
    {
        string name = Required(command, "name");
        string valueType = Required(command, "valueType");
        _dynamic.Set(name, valueType, OptionalString(command, "initialValue"), isHeader);
        return Results.Success(isHeader ? "set-dynamic-header" : "set-dynamic-param");
    }

    private JsonObject ClearDynamic()
    {
        _dynamic.Clear();
        return Results.Success("clear-dynamic");
    }

    // ---- validate (ADAPTER.md §10) -------------------------------------------------------------

    private static async Task<JsonObject> ValidateAsync(JsonObject command)
    {
        JsonObject target = command["target"] as JsonObject ?? throw new ArgumentException("validate needs a target object.");
        string kind = OptionalString(target, "target") ?? "";
        try
        {
            switch (kind)
            {
                case "idempotent-producer":
                    await ValidateProducerAsync(target);
                    break;
                case "retry-options":
                    ValidateRetryOptions(target);
                    break;
                default:
                    return Results.Error("validate", "NOT_SUPPORTED", $"Unknown validate target: {kind}");
            }
        }
        catch (ArgumentException ex)
        {
            return Results.Error("validate", "INVALID_ARGUMENT", $"{CamelCaseOptionName(ex.ParamName)}: {ex.Message}");
        }

        return Results.Success("validate");
    }

    private static async Task ValidateProducerAsync(JsonObject target)
    {
        // The SDK's own checks: each setter rejects its value; Validate() and the producer's
        // constructor check again. Constructing a producer does no I/O.
        var options = new ProducerOptions();
        if (OptionalLong(target, "epoch") is { } epoch)
        {
            options.Epoch = epoch;
        }

        if (OptionalLong(target, "maxBatchBytes") is { } maxBatchBytes)
        {
            options.MaxBatchBytes = checked((int)Math.Clamp(maxBatchBytes, int.MinValue, int.MaxValue));
        }

        if (OptionalLong(target, "maxBatchItems") is { } maxBatchItems)
        {
            options.MaxBatchItems = checked((int)Math.Clamp(maxBatchItems, int.MinValue, int.MaxValue));
        }

        if (OptionalLong(target, "maxInFlight") is { } maxInFlight)
        {
            options.MaxInFlight = checked((int)Math.Clamp(maxInFlight, int.MinValue, int.MaxValue));
        }

        if (OptionalDouble(target, "lingerMs") is { } lingerMs)
        {
            options.Linger = TimeSpan.FromMilliseconds(lingerMs);
        }

        options.Validate();
        using var client = new DurableStreamClient();
        DurableStream stream = client.GetStream("http://127.0.0.1/validate", OctetStream);
        IdempotentProducer producer = stream.CreateProducer(OptionalString(target, "producerId") ?? "test-producer", options);
        await producer.DisposeAsync();
    }

    private static void ValidateRetryOptions(JsonObject target)
    {
        var options = new RetryOptions();
        if (OptionalLong(target, "maxRetries") is { } maxRetries)
        {
            options.MaxRetries = checked((int)Math.Clamp(maxRetries, int.MinValue, int.MaxValue));
        }

        if (OptionalDouble(target, "initialDelayMs") is { } initialDelayMs)
        {
            options.InitialDelay = TimeSpan.FromMilliseconds(initialDelayMs);
        }

        if (OptionalDouble(target, "maxDelayMs") is { } maxDelayMs)
        {
            options.MaxDelay = TimeSpan.FromMilliseconds(maxDelayMs);
        }

        if (OptionalDouble(target, "multiplier") is { } multiplier)
        {
            options.Multiplier = multiplier;
        }

        options.Validate();
    }

    /// <summary>The SDK names options in PascalCase (ParamName); the cases expect the camelCase spelling.</summary>
    private static string CamelCaseOptionName(string? paramName)
    {
        string name = paramName ?? "value";
        int dot = name.LastIndexOf('.');
        if (dot >= 0)
        {
            name = name[(dot + 1)..];
        }

        return name switch
        {
            "InitialDelay" => "initialDelayMs",
            "MaxDelay" => "maxDelayMs",
            "Linger" => "lingerMs",
            _ => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..],
        };
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private string UrlOf(string path) => _serverUrl + path;

    private string ContentTypeOf(string path) => _contentTypes.TryGetValue(path, out string? type) ? type : OctetStream;

    /// <summary>A handle that knows the stream's content type (cached, else octet-stream) so that no HEAD probe is sent (ADAPTER.md §7.8).</summary>
    private DurableStream StreamOf(string path) => Client.GetStream(UrlOf(path), ContentTypeOf(path));

    private void Remember(string path, string? contentType)
    {
        if (contentType is not null)
        {
            _contentTypes[path] = contentType;
        }
    }

    private static Dictionary<string, string> HeadersOf(JsonObject command)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        CopyHeaders(command, headers);
        return headers;
    }

    private static void CopyHeaders(JsonObject command, IDictionary<string, string> target)
    {
        if (command["headers"] is JsonObject headers)
        {
            foreach (KeyValuePair<string, JsonNode?> header in headers)
            {
                target[header.Key] = header.Value is JsonValue value && value.GetValueKind() == JsonValueKind.String
                    ? value.GetValue<string>()
                    : header.Value?.ToJsonString() ?? "";
            }
        }
    }

    private static string Required(JsonObject command, string name) =>
        OptionalString(command, name) ?? throw new ArgumentException($"The command has no '{name}'.", name);

    private static string? OptionalString(JsonObject command, string name) =>
        command[name] is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static bool? OptionalBool(JsonObject command, string name) =>
        command[name] is JsonValue value && value.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? value.GetValue<bool>() : null;

    private static long? OptionalLong(JsonObject command, string name)
    {
        if (command[name] is JsonValue value && value.GetValueKind() == JsonValueKind.Number)
        {
            return value.TryGetValue(out long l) ? l : (long)value.GetValue<double>();
        }

        return null;
    }

    private static double? OptionalDouble(JsonObject command, string name) =>
        command[name] is JsonValue value && value.GetValueKind() == JsonValueKind.Number ? value.GetValue<double>() : null;
}
