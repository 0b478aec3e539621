using System.Text.Json;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance;

/// <summary>
/// The official runner's <c>validateExpectation</c> (RUNNER.md §8): the keys in its fixed order,
/// the first mismatch wins, and its leniencies are kept (read-only keys are skipped on results that
/// are not successful reads, <c>status</c> only when the result has one, unknown keys ignored).
/// </summary>
public static class Expectations
{
    public static string? Check(JsonObject result, JsonObject expect)
    {
        bool success = JsSemantics.Truthy(JsSemantics.TryGet(result, "success", out JsonNode? s), s);
        string? type = result["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null;
        bool isRead = success && type == "read";
        bool isAppend = success && type == "append";
        bool isHead = success && type == "head";
        bool isClose = success && type == "close";
        bool isError = !success && type == "error";

        // 1. status, only when the result has a status key.
        if (Has(expect, "status") && JsSemantics.TryGet(result, "status", out JsonNode? status) &&
            !JsSemantics.StrictEquals(true, status, true, expect["status"]))
        {
            return $"Expected status {Show(expect, "status")}, got {Show(result, "status")}";
        }

        // 2. errorCode
        if (Has(expect, "errorCode"))
        {
            if (success)
            {
                return $"Expected error {Show(expect, "errorCode")}, but operation succeeded";
            }

            if (isError && !SameAs(result, expect, "errorCode"))
            {
                return $"Expected error code {Show(expect, "errorCode")}, got {Show(result, "errorCode")}";
            }
        }

        // 3. messageContains (case-insensitive)
        if (Has(expect, "messageContains"))
        {
            List<string> wanted = Strings(expect["messageContains"]);
            if (success)
            {
                return $"Expected error with message containing {ShowList(wanted)}, but operation succeeded";
            }

            if (isError)
            {
                string message = JsSemantics.TryGet(result, "message", out JsonNode? m) && m is not null ? JsSemantics.ToJsString(true, m) : "";
                List<string> missing = [.. wanted.Where(w => !message.Contains(w, StringComparison.OrdinalIgnoreCase))];
                if (missing.Count > 0)
                {
                    return $"Expected error message to contain {ShowList(wanted)}, missing: {ShowList(missing)}. Actual message: \"{message}\"";
                }
            }
        }

        if (isRead)
        {
            string data = JoinedData(result);
            JsonArray chunks = result["chunks"] as JsonArray ?? [];

            // 4. data
            if (Has(expect, "data") && !JsSemantics.StrictEquals(true, JsonValue.Create(data), true, expect["data"]))
            {
                return $"Expected data \"{Show(expect, "data")}\", got \"{data}\"";
            }

            // 5. dataContains
            if (Has(expect, "dataContains") && !data.Contains(Show(expect, "dataContains"), StringComparison.Ordinal))
            {
                return $"Expected data to contain \"{Show(expect, "dataContains")}\", got \"{data}\"";
            }

            // 6. dataContainsAll
            if (Has(expect, "dataContainsAll"))
            {
                List<string> missing = [.. Strings(expect["dataContainsAll"]).Where(w => !data.Contains(w, StringComparison.Ordinal))];
                if (missing.Count > 0)
                {
                    return $"Expected data to contain all of {ShowList(Strings(expect["dataContainsAll"]))}, missing: {ShowList(missing)}";
                }
            }

            // 7. dataExact
            if (Has(expect, "dataExact"))
            {
                List<string> exact = Strings(expect["dataExact"]);
                if (chunks.Count != exact.Count)
                {
                    return $"Expected {exact.Count} messages, got {chunks.Count}";
                }

                for (int i = 0; i < exact.Count; i++)
                {
                    bool present = JsSemantics.TryGet(chunks[i] as JsonObject, "data", out JsonNode? chunkData);
                    if (!JsSemantics.StrictEquals(present, chunkData, true, JsonValue.Create(exact[i])))
                    {
                        return $"Message {i} mismatch: expected \"{exact[i]}\", got \"{JsSemantics.ToJsString(present, chunkData)}\"";
                    }
                }
            }

            // 8. upToDate, 9. streamClosed
            if (Has(expect, "upToDate") && !SameAs(result, expect, "upToDate"))
            {
                return $"Expected upToDate={Show(expect, "upToDate")}, got {Show(result, "upToDate")}";
            }

            if (Has(expect, "streamClosed") && !SameAs(result, expect, "streamClosed"))
            {
                return $"Expected streamClosed={Show(expect, "streamClosed")}, got {Show(result, "streamClosed")}";
            }
        }

        // 10. streamClosed on a head result
        if (isHead && Has(expect, "streamClosed") && !SameAs(result, expect, "streamClosed"))
        {
            return $"Expected streamClosed={Show(expect, "streamClosed")}, got {Show(result, "streamClosed")}";
        }

        // 11. finalOffset on a close result
        if (isClose && Has(expect, "finalOffset") && !SameAs(result, expect, "finalOffset"))
        {
            return $"Expected finalOffset={Show(expect, "finalOffset")}, got {Show(result, "finalOffset")}";
        }

        if (isRead)
        {
            int count = (result["chunks"] as JsonArray ?? []).Count;

            // 12. chunkCount, 13. minChunks
            if (Has(expect, "chunkCount") && !JsSemantics.StrictEquals(true, JsonValue.Create(count), true, expect["chunkCount"]))
            {
                return $"Expected {Show(expect, "chunkCount")} chunks, got {count}";
            }

            if (Has(expect, "minChunks") && !(count >= NumberOrNaN(expect["minChunks"])))
            {
                return $"Expected at least {Show(expect, "minChunks")} chunks, got {count}";
            }
        }

        if (isHead)
        {
            // 14. contentType, 15. hasOffset
            if (Has(expect, "contentType") && !SameAs(result, expect, "contentType"))
            {
                return $"Expected contentType \"{Show(expect, "contentType")}\", got \"{Show(result, "contentType")}\"";
            }

            if (Has(expect, "hasOffset"))
            {
                bool present = JsSemantics.TryGet(result, "offset", out JsonNode? offset);
                bool hasOffset = present && !(JsSemantics.KindOf(offset) == JsonValueKind.String && offset!.GetValue<string>().Length == 0);
                if (!JsSemantics.StrictEquals(true, JsonValue.Create(hasOffset), true, expect["hasOffset"]))
                {
                    return $"Expected hasOffset={Show(expect, "hasOffset")}, got {(hasOffset ? "true" : "false")}";
                }
            }
        }

        // 16. headersSent, 17. paramsSent
        foreach (string key in new[] { "headersSent", "paramsSent" })
        {
            if (Has(expect, key) && expect[key] is JsonObject wanted)
            {
                if (!(isAppend || isRead) || result[key] is not JsonObject sent)
                {
                    return $"Expected {key} but result does not contain {key}";
                }

                foreach (KeyValuePair<string, JsonNode?> entry in wanted)
                {
                    bool present = JsSemantics.TryGet(sent, entry.Key, out JsonNode? actual);
                    if (!JsSemantics.StrictEquals(present, actual, true, entry.Value))
                    {
                        return $"Expected {key}[{entry.Key}]=\"{JsSemantics.ToJsString(true, entry.Value)}\", got \"{JsSemantics.ToJsString(present, actual)}\"";
                    }
                }
            }
        }

        // 18-22. producer fields of an append result
        if (isAppend)
        {
            foreach (string key in new[] { "duplicate", "producerEpoch", "producerSeq", "producerExpectedSeq", "producerReceivedSeq" })
            {
                if (Has(expect, key) && !SameAs(result, expect, key))
                {
                    return $"Expected {key}={Show(expect, key)}, got {Show(result, key)}";
                }
            }
        }

        // 23. valid
        if (Has(expect, "valid"))
        {
            bool wantValid = JsSemantics.Truthy(true, expect["valid"]);
            if (wantValid && !success)
            {
                return "Expected validation to pass, but it failed";
            }

            if (!wantValid && success)
            {
                return "Expected validation to fail, but it passed";
            }
        }

        // 24. errorContains (case-sensitive)
        if (isError && Has(expect, "errorContains"))
        {
            string message = JsSemantics.TryGet(result, "message", out JsonNode? m) && m is not null ? JsSemantics.ToJsString(true, m) : "";
            string wanted = Show(expect, "errorContains");
            if (!message.Contains(wanted, StringComparison.Ordinal))
            {
                return $"Expected error message to contain \"{wanted}\", got \"{message}\"";
            }
        }

        return null;
    }

    /// <summary><c>chunks.map(c => c.data).join("")</c>.</summary>
    public static string JoinedData(JsonObject result) =>
        string.Concat((result["chunks"] as JsonArray ?? []).Select(chunk =>
            JsSemantics.TryGet(chunk as JsonObject, "data", out JsonNode? data) && data is not null ? JsSemantics.ToJsString(true, data) : ""));

    private static bool Has(JsonObject obj, string key) => obj.ContainsKey(key);

    private static bool SameAs(JsonObject result, JsonObject expect, string key)
    {
        bool present = JsSemantics.TryGet(result, key, out JsonNode? actual);
        return JsSemantics.StrictEquals(present, actual, true, expect[key]);
    }

    private static string Show(JsonObject obj, string key) =>
        JsSemantics.ToJsString(JsSemantics.TryGet(obj, key, out JsonNode? value), value);

    private static double NumberOrNaN(JsonNode? node) =>
        JsSemantics.KindOf(node) == JsonValueKind.Number ? JsSemantics.NumberOf(node!) : double.NaN;

    private static List<string> Strings(JsonNode? node) =>
        node is JsonArray array ? [.. array.Select(n => JsSemantics.ToJsString(true, n))] : [JsSemantics.ToJsString(true, node)];

    private static string ShowList(IEnumerable<string> values) => "[" + string.Join(", ", values.Select(v => $"\"{v}\"")) + "]";
}
