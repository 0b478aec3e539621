using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance.Adapter;

/// <summary>Builds result lines (ADAPTER.md §3): absent fields are omitted, never null.</summary>
internal static class Results
{
    private static readonly JsonSerializerOptions LineOptions = new()
    {
        // The default encoder escapes every non-ASCII character, U+2028/U+2029 included, so a line
        // never contains a raw line separator.
        Encoder = JavaScriptEncoder.Default,
        WriteIndented = false,
    };

    public static string Serialize(JsonObject result) => result.ToJsonString(LineOptions);

    public static JsonObject Success(string type) => new() { ["type"] = type, ["success"] = true };

    public static JsonObject Error(string commandType, string errorCode, string message, int? status = null)
    {
        var error = new JsonObject
        {
            ["type"] = "error",
            ["success"] = false,
            ["commandType"] = commandType,
        };
        if (status is { } s)
        {
            error["status"] = s;
        }

        error["errorCode"] = errorCode;
        error["message"] = message;
        return error;
    }

    /// <summary>Maps what the SDK threw to the error codes of ADAPTER.md §4.</summary>
    public static JsonObject FromException(string commandType, Exception exception) => exception switch
    {
        StreamNotFoundException e => Error(commandType, "NOT_FOUND", e.Message, 404),
        StreamClosedException e => Error(commandType, "STREAM_CLOSED", e.Message, 409),
        StreamConflictException e when e.Reason == ConflictReason.SequenceConflict => Error(commandType, "SEQUENCE_CONFLICT", e.Message, 409),
        StreamConflictException e => Error(commandType, "CONFLICT", e.Message, 409),
        StreamBadRequestException e when e.ErrorCode == DurableStreamErrorCodes.InvalidOffset => Error(commandType, "INVALID_OFFSET", e.Message, 400),
        DurableStreamProtocolException e => Error(commandType, "PARSE_ERROR", e.Message),
        AppendOutcomeUnknownException e => Error(commandType, "NETWORK_ERROR", e.Message),
        DurableStreamException { Status: 0 } e => Error(commandType, e.ErrorCode == DurableStreamErrorCodes.Timeout ? "TIMEOUT" : "NETWORK_ERROR", e.Message),
        DurableStreamException e => Error(commandType, "UNEXPECTED_STATUS", e.Message, e.Status),
        ArgumentException e => Error(commandType, "INVALID_ARGUMENT", e.Message),
        OperationCanceledException e => Error(commandType, "TIMEOUT", $"The operation did not complete in time: {e.Message}"),
        HttpRequestException e => Error(commandType, "NETWORK_ERROR", e.Message),
        _ => Error(commandType, "INTERNAL_ERROR", $"{exception.GetType().Name}: {exception.Message}"),
    };
}
