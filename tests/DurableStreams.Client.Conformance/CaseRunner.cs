using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace DurableStreams.Conformance;

/// <summary>What an operation produced (RUNNER.md §5): an adapter or HTTP result, or a runner-level error.</summary>
public readonly record struct OperationOutcome(JsonObject? Result, string? Error)
{
    public static OperationOutcome None => default;

    public static OperationOutcome Of(JsonObject result) => new(result, null);

    public static OperationOutcome Failed(string error) => new(null, error);
}

/// <summary>Thrown for a runner-level exception of a case ("Undefined variable …", command timeouts).</summary>
public sealed class CaseException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Executes one YAML case the way the official runner does (RUNNER.md §4-§7).</summary>
public sealed partial class CaseRunner
{
    private static readonly Dictionary<string, string> FeatureNames = new(StringComparer.Ordinal)
    {
        ["batching"] = "batching",
        ["sse"] = "sse",
        ["long-poll"] = "longPoll",
        ["longPoll"] = "longPoll",
        ["auto"] = "auto",
        ["streaming"] = "streaming",
        ["dynamicHeaders"] = "dynamicHeaders",
        ["dynamic-headers"] = "dynamicHeaders",
        ["retryOptions"] = "retryOptions",
        ["retry-options"] = "retryOptions",
        ["batchItems"] = "batchItems",
        ["batch-items"] = "batchItems",
        ["strictZeroValidation"] = "strictZeroValidation",
        ["strict-zero-validation"] = "strictZeroValidation",
    };

    private readonly ConformanceSession _session;
    private readonly Action<string> _log;
    private readonly Dictionary<string, (bool Defined, JsonNode? Value)> _variables = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Task<JsonObject>> _background = new(StringComparer.Ordinal);

    public CaseRunner(ConformanceSession session, Action<string> log)
    {
        _session = session;
        _log = log;
    }

    /// <summary>The features a suite or test requires that the adapter lacks (RUNNER.md §7).</summary>
    public static List<string> MissingFeatures(JsonNode? requires, JsonObject features)
    {
        var missing = new List<string>();
        foreach (JsonNode? entry in requires as JsonArray ?? [])
        {
            string name = JsSemantics.ToJsString(true, entry);
            bool present = FeatureNames.TryGetValue(name, out string? property) &&
                JsSemantics.Truthy(JsSemantics.TryGet(features, property, out JsonNode? value), value);
            if (!present)
            {
                missing.Add(name);
            }
        }

        return missing;
    }

    /// <summary>Runs the case; returns null when it passes, else the failure message.</summary>
    public async Task<string?> RunAsync(ConformanceCase conformanceCase)
    {
        JsonObject test = conformanceCase.Test;
        _variables.Clear();
        _background.Clear();
        try
        {
            foreach (JsonObject op in Operations(test, "setup"))
            {
                OperationOutcome outcome = await ExecuteAsync(op);
                if (outcome.Error is not null)
                {
                    return $"Setup failed: {outcome.Error}";
                }
            }

            foreach (JsonObject op in Operations(test, "operations"))
            {
                OperationOutcome outcome = await ExecuteAsync(op);
                if (outcome.Error is not null)
                {
                    return outcome.Error;
                }

                if (outcome.Result is not null && op["expect"] is JsonObject expect)
                {
                    string? mismatch = Expectations.Check(outcome.Result, expect);
                    if (mismatch is not null)
                    {
                        return mismatch;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is CaseException or TimeoutException or InvalidOperationException or InvalidDataException or HttpRequestException)
        {
            return ex.Message;
        }

        foreach (JsonObject op in Operations(test, "cleanup"))
        {
            try
            {
                await ExecuteAsync(op);
            }
            catch (Exception ex) when (ex is CaseException or TimeoutException or InvalidOperationException or InvalidDataException or HttpRequestException)
            {
                _log($"cleanup: {ex.Message}");
            }
        }

        return null;
    }

    private static IEnumerable<JsonObject> Operations(JsonObject test, string phase) =>
        (test[phase] as JsonArray ?? []).OfType<JsonObject>();

    // ---- actions (RUNNER.md §6) ----------------------------------------------------------------

    private async Task<OperationOutcome> ExecuteAsync(JsonObject op)
    {
        string action = JsSemantics.ToJsString(Has(op, "action"), op["action"]);
        _log($"> {action} {JsSemantics.Stringify(op)}");
        OperationOutcome outcome = action switch
        {
            "create" => await CreateAsync(op),
            "connect" => await SendAsync(Command("connect", ("path", ResolvedPath(op)), ("headers", Opt(op, "headers")))),
            "append" => await AppendAsync(op),
            "append-batch" => await AppendBatchAsync(op),
            "idempotent-append" => await IdempotentAppendAsync(op),
            "idempotent-append-batch" => await SendAsync(Command(
                "idempotent-append-batch",
                ("path", ResolvedPath(op)),
                ("items", new JsonArray([.. (op["items"] as JsonArray ?? []).Select(i => (JsonNode?)Resolve(JsSemantics.ToJsString(Has(i as JsonObject, "data"), (i as JsonObject)?["data"])))])),
                ("producerId", Opt(op, "producerId")),
                ("epoch", OrDefault(op, "epoch", 0)),
                ("autoClaim", OrDefault(op, "autoClaim", false)),
                ("maxInFlight", Opt(op, "maxInFlight")),
                ("headers", Opt(op, "headers")))),
            "idempotent-close" => await SendAsync(Command(
                "idempotent-close",
                ("path", ResolvedPath(op)),
                ("producerId", Opt(op, "producerId")),
                ("epoch", OrDefault(op, "epoch", 0)),
                ("data", ResolvedIfNonEmpty(op, "data")),
                ("autoClaim", OrDefault(op, "autoClaim", false)),
                ("headers", Opt(op, "headers")))),
            "idempotent-detach" => await SendAsync(Command(
                "idempotent-detach",
                ("path", ResolvedPath(op)),
                ("producerId", Opt(op, "producerId")),
                ("epoch", OrDefault(op, "epoch", 0)),
                ("headers", Opt(op, "headers")))),
            "read" => await ReadAsync(op),
            "await" => await AwaitAsync(op),
            "head" => await HeadAsync(op),
            "delete" => await SendAsync(Command("delete", ("path", ResolvedPath(op)), ("headers", Opt(op, "headers")))),
            "close" => await SendAsync(Command("close", ("path", ResolvedPath(op)), ("data", Opt(op, "data")), ("contentType", Opt(op, "contentType")))),
            "server-close" => await ServerCloseAsync(op),
            "server-append" => await ServerAppendAsync(op),
            "inject-error" => await InjectErrorAsync(op),
            "clear-errors" => await ClearErrorsAsync(),
            "wait" => await WaitAsync(op),
            "set" => Set(op),
            "assert" => Assert(op),
            "set-dynamic-header" => await SendAsync(Command("set-dynamic-header", ("name", Opt(op, "name")), ("valueType", Opt(op, "valueType")), ("initialValue", Opt(op, "initialValue")))),
            "set-dynamic-param" => await SendAsync(Command("set-dynamic-param", ("name", Opt(op, "name")), ("valueType", Opt(op, "valueType")))),
            "clear-dynamic" => await SendAsync(Command("clear-dynamic")),
            "validate" => await SendAsync(Command("validate", ("target", Opt(op, "target")))),
            _ => OperationOutcome.Failed($"Unknown operation: {action}"),
        };
        if (outcome.Result is not null)
        {
            _log($"< {outcome.Result.ToJsonString()}");
        }
        else if (outcome.Error is not null)
        {
            _log($"< error: {outcome.Error}");
        }

        return outcome;
    }

    private async Task<OperationOutcome> CreateAsync(JsonObject op)
    {
        string path = Has(op, "path") ? ResolvedPath(op).GetValue<string>() : $"/test-stream-{Guid.NewGuid():D}";
        if (Has(op, "as"))
        {
            _variables[JsSemantics.ToJsString(true, op["as"])] = (true, JsonValue.Create(path));
        }

        return await SendAsync(Command(
            "create",
            ("path", JsonValue.Create(path)),
            ("contentType", Opt(op, "contentType")),
            ("ttlSeconds", Opt(op, "ttlSeconds")),
            ("expiresAt", Opt(op, "expiresAt")),
            ("headers", Opt(op, "headers")),
            ("closed", Opt(op, "closed")),
            ("data", Opt(op, "data"))));
    }

    private async Task<OperationOutcome> AppendAsync(JsonObject op)
    {
        string payload = Has(op, "json")
            ? JsSemantics.Stringify(op["json"])
            : ResolvedIfNonEmpty(op, "data") is JsonNode data && data.GetValueKind() == JsonValueKind.String ? data.GetValue<string>() : "";
        bool hasBinary = Has(op, "binaryData");
        string sent = hasBinary ? JsSemantics.ToJsString(true, op["binaryData"]) : payload;
        bool binary = hasBinary && JsSemantics.KindOf(op["binaryData"]) == JsonValueKind.String && sent.Length > 0;
        OperationOutcome outcome = await SendAsync(Command(
            "append",
            ("path", ResolvedPath(op)),
            ("data", JsonValue.Create(sent)),
            ("binary", JsonValue.Create(binary)),
            ("seq", Opt(op, "seq")),
            ("headers", Opt(op, "headers"))));
        StoreOffset(op, outcome.Result, "append", emptyIfMissing: false);
        return outcome;
    }

    private async Task<OperationOutcome> AppendBatchAsync(JsonObject op)
    {
        JsonNode path = ResolvedPath(op);
        bool allSucceeded = true;
        foreach (JsonObject item in (op["items"] as JsonArray ?? []).OfType<JsonObject>())
        {
            bool hasBinary = Has(item, "binaryData") && item["binaryData"] is not null;
            string data = hasBinary ? JsSemantics.ToJsString(true, item["binaryData"])
                : Has(item, "data") && item["data"] is not null ? JsSemantics.ToJsString(true, item["data"]) : "";
            OperationOutcome outcome = await SendAsync(Command(
                "append",
                ("path", path.DeepClone()),
                ("data", JsonValue.Create(data)),
                ("binary", JsonValue.Create(hasBinary && data.Length > 0)),
                ("seq", Opt(item, "seq")),
                ("headers", Opt(op, "headers"))));
            allSucceeded &= IsSuccess(outcome.Result);
        }

        return OperationOutcome.Of(new JsonObject
        {
            ["type"] = "append",
            ["success"] = allSucceeded,
            ["status"] = allSucceeded ? 200 : 207,
        });
    }

    private async Task<OperationOutcome> IdempotentAppendAsync(JsonObject op)
    {
        OperationOutcome outcome = await SendAsync(Command(
            "idempotent-append",
            ("path", ResolvedPath(op)),
            ("data", Has(op, "data") ? JsonValue.Create(Resolve(JsSemantics.ToJsString(true, op["data"]))) : null),
            ("producerId", Opt(op, "producerId")),
            ("epoch", OrDefault(op, "epoch", 0)),
            ("autoClaim", OrDefault(op, "autoClaim", false)),
            ("headers", Opt(op, "headers"))));
        StoreOffset(op, outcome.Result, "idempotent-append", emptyIfMissing: true);
        return outcome;
    }

    private async Task<OperationOutcome> ReadAsync(JsonObject op)
    {
        object? offset = ResolvedIfNonEmpty(op, "offset");
        if (offset is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Length == 0)
        {
            offset = null;
        }

        JsonObject command = Command(
            "read",
            ("path", ResolvedPath(op)),
            ("offset", offset),
            ("live", Opt(op, "live")),
            ("timeoutMs", Opt(op, "timeoutMs")),
            ("maxChunks", Opt(op, "maxChunks")),
            ("waitForUpToDate", Opt(op, "waitForUpToDate")),
            ("headers", Opt(op, "headers")));

        if (JsSemantics.Truthy(Has(op, "background"), op["background"]) && JsSemantics.Truthy(Has(op, "as"), op["as"]))
        {
            _background[JsSemantics.ToJsString(true, op["as"])] = _session.Adapter.SendAsync(command, ConformanceSession.CommandTimeout);
            return OperationOutcome.None;
        }

        OperationOutcome outcome = await SendAsync(command);
        if (outcome.Result is { } result && IsSuccess(result) && TypeOf(result) == "read" && op["expect"] is JsonObject expect)
        {
            if (Has(expect, "storeOffsetAs"))
            {
                bool defined = JsSemantics.TryGet(result, "offset", out JsonNode? value);
                _variables[JsSemantics.ToJsString(true, expect["storeOffsetAs"])] = (defined, value?.DeepClone());
            }

            if (Has(expect, "storeDataAs"))
            {
                _variables[JsSemantics.ToJsString(true, expect["storeDataAs"])] = (true, JsonValue.Create(Expectations.JoinedData(result)));
            }
        }

        return outcome;
    }

    private async Task<OperationOutcome> AwaitAsync(JsonObject op)
    {
        string reference = JsSemantics.ToJsString(Has(op, "ref"), op["ref"]);
        if (!_background.Remove(reference, out Task<JsonObject>? pending))
        {
            return OperationOutcome.Failed($"No background operation found with ref: {reference}");
        }

        return OperationOutcome.Of(await pending);
    }

    private async Task<OperationOutcome> HeadAsync(JsonObject op)
    {
        OperationOutcome outcome = await SendAsync(Command("head", ("path", ResolvedPath(op)), ("headers", Opt(op, "headers"))));
        if (outcome.Result is { } result && IsSuccess(result) && op["expect"] is JsonObject expect && Has(expect, "storeAs"))
        {
            _variables[JsSemantics.ToJsString(true, expect["storeAs"])] = (true, result.DeepClone());
        }

        return outcome;
    }

    private void StoreOffset(JsonObject op, JsonObject? result, string type, bool emptyIfMissing)
    {
        if (result is not null && IsSuccess(result) && TypeOf(result) == type && op["expect"] is JsonObject expect && Has(expect, "storeOffsetAs"))
        {
            bool defined = JsSemantics.TryGet(result, "offset", out JsonNode? value);
            if (emptyIfMissing && (!defined || value is null))
            {
                _variables[JsSemantics.ToJsString(true, expect["storeOffsetAs"])] = (true, JsonValue.Create(""));
            }
            else
            {
                _variables[JsSemantics.ToJsString(true, expect["storeOffsetAs"])] = (defined, value?.DeepClone());
            }
        }
    }

    private static async Task<OperationOutcome> WaitAsync(JsonObject op)
    {
        double ms = Has(op, "ms") && JsSemantics.KindOf(op["ms"]) == JsonValueKind.Number ? JsSemantics.NumberOf(op["ms"]!) : 0;
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(0, ms)));
        return OperationOutcome.None;
    }

    private OperationOutcome Set(JsonObject op)
    {
        _variables[JsSemantics.ToJsString(Has(op, "name"), op["name"])] = (true, JsonValue.Create(Resolve(JsSemantics.ToJsString(Has(op, "value"), op["value"]))));
        return OperationOutcome.None;
    }

    private OperationOutcome Assert(JsonObject op)
    {
        string? message = Has(op, "message") && op["message"] is not null ? JsSemantics.ToJsString(true, op["message"]) : null;
        if (op["equals"] is JsonObject equals)
        {
            string left = ResolveField(equals, "left");
            string right = ResolveField(equals, "right");
            if (left != right)
            {
                return OperationOutcome.Failed(message ?? $"Assertion failed: expected \"{left}\" to equal \"{right}\"");
            }
        }

        if (op["notEquals"] is JsonObject notEquals)
        {
            string left = ResolveField(notEquals, "left");
            string right = ResolveField(notEquals, "right");
            if (left == right)
            {
                return OperationOutcome.Failed(message ?? $"Assertion failed: expected \"{left}\" to not equal \"{right}\"");
            }
        }

        if (op["contains"] is JsonObject contains)
        {
            string value = ResolveField(contains, "value");
            string substring = ResolveField(contains, "substring");
            if (!value.Contains(substring, StringComparison.Ordinal))
            {
                return OperationOutcome.Failed(message ?? $"Assertion failed: expected \"{value}\" to contain \"{substring}\"");
            }
        }

        if (op["matches"] is JsonObject matches)
        {
            string value = ResolveField(matches, "value");
            string pattern = JsSemantics.ToJsString(Has(matches, "pattern"), matches["pattern"]);
            Regex regex;
            try
            {
                regex = new Regex(pattern, RegexOptions.ECMAScript, TimeSpan.FromSeconds(5));
            }
            catch (ArgumentException)
            {
                return OperationOutcome.Failed($"Invalid regex pattern: {pattern}");
            }

            if (!regex.IsMatch(value))
            {
                return OperationOutcome.Failed(message ?? $"Assertion failed: expected \"{value}\" to match /{pattern}/");
            }
        }

        return OperationOutcome.None;
    }

    private string ResolveField(JsonObject obj, string key) => Resolve(JsSemantics.ToJsString(Has(obj, key), obj[key]));

    // ---- direct HTTP actions -------------------------------------------------------------------

    private async Task<OperationOutcome> ServerAppendAsync(JsonObject op)
    {
        string url = _session.ServerUrl + ResolvedPath(op).GetValue<string>();
        string data = Has(op, "data") ? Resolve(JsSemantics.ToJsString(true, op["data"])) : "";
        try
        {
            string contentType;
            using (var head = new HttpRequestMessage(HttpMethod.Head, url))
            using (HttpResponseMessage headResponse = await _session.Http.SendAsync(head))
            {
                contentType = headResponse.Content.Headers.TryGetValues("Content-Type", out IEnumerable<string>? types)
                    ? string.Join(", ", types)
                    : "application/octet-stream";
            }

            var headers = new List<KeyValuePair<string, string>> { new("content-type", contentType) };
            Merge(headers, op["headers"] as JsonObject);
            if (Has(op, "producerId") && op["producerId"] is not null)
            {
                Merge(headers, "Producer-Id", JsSemantics.ToJsString(true, op["producerId"]));
            }

            if (Has(op, "producerEpoch") && op["producerEpoch"] is not null)
            {
                Merge(headers, "Producer-Epoch", JsSemantics.ToJsString(true, op["producerEpoch"]));
            }

            if (Has(op, "producerSeq") && op["producerSeq"] is not null)
            {
                Merge(headers, "Producer-Seq", JsSemantics.ToJsString(true, op["producerSeq"]));
            }

            using var post = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(data)) };
            Apply(post, headers);
            using HttpResponseMessage response = await _session.Http.SendAsync(post);
            int status = (int)response.StatusCode;
            var result = new JsonObject
            {
                ["type"] = "append",
                ["success"] = true,
                ["status"] = status,
            };
            if (Header(response, "Stream-Next-Offset") is { Length: > 0 } offset)
            {
                result["offset"] = offset;
            }

            result["duplicate"] = status == 204;
            AddInt(result, "producerEpoch", Header(response, "Producer-Epoch"));
            AddInt(result, "producerSeq", Header(response, "Producer-Seq"));
            AddInt(result, "producerExpectedSeq", Header(response, "Producer-Expected-Seq"));
            AddInt(result, "producerReceivedSeq", Header(response, "Producer-Received-Seq"));
            if (op["expect"] is JsonObject expect && Has(expect, "storeOffsetAs") && result["offset"] is { } stored)
            {
                _variables[JsSemantics.ToJsString(true, expect["storeOffsetAs"])] = (true, stored.DeepClone());
            }

            return OperationOutcome.Of(result);
        }
        catch (HttpRequestException ex)
        {
            return OperationOutcome.Failed($"Server append failed: {ex.Message}");
        }
    }

    private async Task<OperationOutcome> ServerCloseAsync(JsonObject op)
    {
        string url = _session.ServerUrl + ResolvedPath(op).GetValue<string>();
        var headers = new List<KeyValuePair<string, string>> { new("Stream-Closed", "true") };
        Merge(headers, op["headers"] as JsonObject);
        bool hasData = JsSemantics.Truthy(Has(op, "data"), op["data"]);
        if (hasData && JsSemantics.Truthy(Has(op, "contentType"), op["contentType"]))
        {
            Merge(headers, "content-type", JsSemantics.ToJsString(true, op["contentType"]));
        }

        try
        {
            using var post = new HttpRequestMessage(HttpMethod.Post, url);
            if (hasData)
            {
                post.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(JsSemantics.ToJsString(true, op["data"])));
            }

            Apply(post, headers);
            using HttpResponseMessage response = await _session.Http.SendAsync(post);
            return OperationOutcome.Of(new JsonObject
            {
                ["type"] = "close",
                ["success"] = true,
                ["finalOffset"] = Header(response, "Stream-Next-Offset") ?? "",
            });
        }
        catch (HttpRequestException ex)
        {
            return OperationOutcome.Failed($"Server close failed: {ex.Message}");
        }
    }

    private async Task<OperationOutcome> InjectErrorAsync(JsonObject op)
    {
        var body = new JsonObject { ["path"] = ResolvedPath(op) };
        foreach (string key in new[] { "status", "count", "retryAfter", "delayMs", "dropConnection", "truncateBodyBytes", "probability", "method", "corruptBody", "jitterMs", "injectSseEvent" })
        {
            if (key == "count")
            {
                body["count"] = Has(op, "count") && op["count"] is not null ? op["count"]!.DeepClone() : 1;
            }
            else if (Has(op, key))
            {
                body[key] = op[key]?.DeepClone();
            }
        }

        try
        {
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using HttpResponseMessage response = await _session.Http.PostAsync(new Uri(_session.ServerUrl + "/_test/inject-error"), content);
            return response.IsSuccessStatusCode
                ? OperationOutcome.None
                : OperationOutcome.Failed($"Failed to inject fault: {(int)response.StatusCode}");
        }
        catch (HttpRequestException ex)
        {
            return OperationOutcome.Failed($"Failed to inject fault: {ex.Message}");
        }
    }

    private async Task<OperationOutcome> ClearErrorsAsync()
    {
        try
        {
            using HttpResponseMessage response = await _session.Http.DeleteAsync(new Uri(_session.ServerUrl + "/_test/inject-error"));
            return OperationOutcome.None;
        }
        catch (HttpRequestException ex)
        {
            return OperationOutcome.Failed($"Failed to clear errors: {ex.Message}");
        }
    }

    private static void Merge(List<KeyValuePair<string, string>> headers, JsonObject? extra)
    {
        foreach (KeyValuePair<string, JsonNode?> header in extra ?? [])
        {
            Merge(headers, header.Key, JsSemantics.ToJsString(true, header.Value));
        }
    }

    private static void Merge(List<KeyValuePair<string, string>> headers, string name, string value)
    {
        headers.RemoveAll(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase));
        headers.Add(new(name, value));
    }

    private static void Apply(HttpRequestMessage request, List<KeyValuePair<string, string>> headers)
    {
        foreach ((string name, string value) in headers)
        {
            if (string.Equals(name, "content-type", StringComparison.OrdinalIgnoreCase) || name.StartsWith("content-", StringComparison.OrdinalIgnoreCase))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.Remove(name);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
            else
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (request.Content is not null && !headers.Exists(h => string.Equals(h.Key, "content-type", StringComparison.OrdinalIgnoreCase)))
        {
            // Node's fetch sends a string body as text/plain;charset=UTF-8 when no type is given.
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("text/plain;charset=UTF-8");
        }
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? string.Join(", ", values)
        : response.Content.Headers.TryGetValues(name, out values) ? string.Join(", ", values)
        : null;

    private static void AddInt(JsonObject result, string key, string? header)
    {
        if (string.IsNullOrEmpty(header))
        {
            return;
        }

        // parseInt: leading integer digits.
        Match match = LeadingInteger().Match(header);
        if (match.Success && long.TryParse(match.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
        {
            result[key] = value;
        }
    }

    [GeneratedRegex(@"^\s*[-+]?[0-9]+")]
    private static partial Regex LeadingInteger();

    // ---- adapter commands ------------------------------------------------------------------------

    private async Task<OperationOutcome> SendAsync(JsonObject command)
    {
        try
        {
            return OperationOutcome.Of(await _session.Adapter.SendAsync(command, ConformanceSession.CommandTimeout));
        }
        catch (TimeoutException ex)
        {
            throw new CaseException(ex.Message, ex);
        }
    }

    /// <summary>A command with the given fields; fields whose value is absent (<see cref="Absent"/>) are omitted.</summary>
    private static JsonObject Command(string type, params (string Key, object? Value)[] fields)
    {
        var command = new JsonObject { ["type"] = type };
        foreach ((string key, object? value) in fields)
        {
            switch (value)
            {
                case AbsentMarker:
                    break;
                case null:
                    command[key] = null;
                    break;
                case JsonNode node:
                    command[key] = node.Parent is null ? node : node.DeepClone();
                    break;
                default:
                    throw new ArgumentException($"Unsupported command value {value.GetType()}.", nameof(fields));
            }
        }

        return command;
    }

    private sealed class AbsentMarker
    {
        public static readonly AbsentMarker Instance = new();
    }

    private static object Absent => AbsentMarker.Instance;

    /// <summary>The YAML value verbatim, or absent when the key is missing.</summary>
    private static object? Opt(JsonObject op, string key) => Has(op, key) ? op[key] : Absent;

    private static object? OrDefault(JsonObject op, string key, object fallback)
    {
        if (Has(op, key) && op[key] is not null)
        {
            return op[key];
        }

        return fallback switch
        {
            int i => JsonValue.Create(i),
            bool b => JsonValue.Create(b),
            _ => throw new ArgumentException("Unsupported default.", nameof(fallback)),
        };
    }

    private JsonValue ResolvedPath(JsonObject op) => JsonValue.Create(Resolve(JsSemantics.ToJsString(Has(op, "path"), op["path"])));

    /// <summary>A string field, variable-resolved when it is a non-empty string; other values verbatim; absent when missing.</summary>
    private object? ResolvedIfNonEmpty(JsonObject op, string key)
    {
        if (!Has(op, key))
        {
            return Absent;
        }

        JsonNode? value = op[key];
        if (value is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Length > 0)
        {
            return JsonValue.Create(Resolve(v.GetValue<string>()));
        }

        return value;
    }

    private static bool Has(JsonObject? obj, string key) => obj is not null && obj.ContainsKey(key);

    private static bool IsSuccess(JsonObject? result) => result is not null && JsSemantics.Truthy(JsSemantics.TryGet(result, "success", out JsonNode? s), s);

    private static string? TypeOf(JsonObject result) => result["type"] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    // ---- variables (RUNNER.md §4) --------------------------------------------------------------

    /// <summary>Replaces every <c>${…}</c>: <c>${randomUUID}</c> or a stored variable with optional property path.</summary>
    public string Resolve(string text) => Placeholder().Replace(text, match =>
    {
        string expression = match.Groups[1].Value;
        if (expression == "randomUUID")
        {
            return Guid.NewGuid().ToString("D");
        }

        string[] parts = expression.Split('.');
        if (!_variables.TryGetValue(parts[0], out (bool Defined, JsonNode? Value) variable) || !variable.Defined)
        {
            throw new CaseException($"Undefined variable: {parts[0]} (in ${{{expression}}})");
        }

        bool present = true;
        JsonNode? current = variable.Value;
        foreach (string property in parts.Skip(1))
        {
            if (!present || current is null)
            {
                break;
            }

            present = JsSemantics.TryGet(current as JsonObject, property, out current);
        }

        return !present || current is null ? "" : JsSemantics.ToJsString(true, current);
    });

    [GeneratedRegex(@"\$\{([^}]+)\}")]
    private static partial Regex Placeholder();
}
