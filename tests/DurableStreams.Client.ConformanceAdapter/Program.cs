using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance.Adapter;

/// <summary>
/// The stdin/stdout loop (ADAPTER.md §1-§2): one JSON command per line in, exactly one JSON result
/// per line out, strictly in order. Nothing but results reaches stdout; everything else goes to stderr.
/// </summary>
internal static class Program
{
    public static async Task<int> Main()
    {
        // No BOM, LF line ends, flushed per line; Console.Out is redirected so that nothing a
        // library might print can corrupt the protocol stream.
        using var input = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
        using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        Console.SetOut(Console.Error);

        await using var adapter = new CommandHandler();
        while (await input.ReadLineAsync() is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonObject result;
            string type = "";
            JsonObject? command = null;
            try
            {
                command = JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException ex)
            {
                command = null;
                result = Results.Error("init", "PARSE_ERROR", $"Failed to parse command: {ex.Message}");
                await output.WriteLineAsync(Results.Serialize(result));
                continue;
            }

            if (command is null)
            {
                result = Results.Error("init", "PARSE_ERROR", "Failed to parse command: not a JSON object");
            }
            else
            {
                type = command["type"]?.GetValueKind() == JsonValueKind.String ? command["type"]!.GetValue<string>() : "";
                result = await adapter.HandleAsync(type, command);
            }

            await output.WriteLineAsync(Results.Serialize(result));
            if (type == "shutdown")
            {
                break;
            }
        }

        return 0;
    }
}
