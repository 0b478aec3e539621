using System.Globalization;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance.Adapter;

/// <summary>
/// Dynamic headers and query parameters (ADAPTER.md §8): evaluated once per append or read command;
/// the values are sent on every request of that command and reported with their configured names.
/// </summary>
internal sealed class DynamicValues
{
    private readonly List<Entry> _headers = [];
    private readonly List<Entry> _params = [];

    public void Set(string name, string valueType, string? initialValue, bool isHeader)
    {
        List<Entry> list = isHeader ? _headers : _params;
        list.RemoveAll(e => e.Name == name);
        list.Add(new Entry(name, valueType, isHeader || valueType is "counter" or "timestamp" ? initialValue ?? "" : ""));
    }

    public void Clear()
    {
        _headers.Clear();
        _params.Clear();
    }

    public (Dictionary<string, string> Headers, Dictionary<string, string> Params) Evaluate()
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Entry entry in _headers)
        {
            headers[entry.Name] = entry.Next();
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Entry entry in _params)
        {
            parameters[entry.Name] = entry.Next();
        }

        return (headers, parameters);
    }

    /// <summary>Adds headersSent/paramsSent to a successful result when any dynamic value is configured.</summary>
    public void Report(JsonObject result, Dictionary<string, string> headers, Dictionary<string, string> parameters)
    {
        if (_headers.Count == 0 && _params.Count == 0)
        {
            return;
        }

        var headersSent = new JsonObject();
        foreach (KeyValuePair<string, string> header in headers)
        {
            headersSent[header.Key] = header.Value;
        }

        var paramsSent = new JsonObject();
        foreach (KeyValuePair<string, string> parameter in parameters)
        {
            paramsSent[parameter.Key] = parameter.Value;
        }

        result["headersSent"] = headersSent;
        result["paramsSent"] = paramsSent;
    }

    private sealed class Entry(string name, string valueType, string token)
    {
        private long _counter;

        public string Name { get; } = name;

        public string Next() => valueType switch
        {
            "counter" => (++_counter).ToString(CultureInfo.InvariantCulture),
            "timestamp" => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            _ => token,
        };
    }
}
