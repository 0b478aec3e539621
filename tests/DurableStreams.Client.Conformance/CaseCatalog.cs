using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace DurableStreams.Conformance;

/// <summary>One YAML case: its suite, its own mapping, and its position in the run order.</summary>
public sealed record ConformanceCase(string Id, int Index, JsonObject Suite, JsonObject Test);

/// <summary>
/// The YAML cases (RUNNER.md §3): every *.yaml/*.yml file under the case directory is one suite,
/// walked in ordinal name order with files and folders interleaved; tests run in file order.
/// </summary>
public sealed partial class CaseCatalog
{
    /// <summary>The environment variable that points at the case directory.</summary>
    public const string CasesVariable = "DURABLE_STREAMS_CONFORMANCE_CASES";

    /// <summary>The id of the single test that stands in for a missing case directory.</summary>
    public const string MissingCasesId = "conformance/case-directory-missing";

    private static readonly Lazy<CaseCatalog> SharedCatalog = new(Load);

    private readonly Dictionary<string, ConformanceCase> _byId;

    private CaseCatalog(string directory, bool exists, IReadOnlyList<ConformanceCase> cases)
    {
        Directory = directory;
        Exists = exists;
        Cases = cases;
        _byId = cases.ToDictionary(c => c.Id, StringComparer.Ordinal);
    }

    public static CaseCatalog Shared => SharedCatalog.Value;

    public string Directory { get; }

    public bool Exists { get; }

    public IReadOnlyList<ConformanceCase> Cases { get; }

    public ConformanceCase? Find(string id) => _byId.GetValueOrDefault(id);

    /// <summary>The repository root: the nearest folder above this program holding DurableStreams.Client.sln.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "DurableStreams.Client.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No DurableStreams.Client.sln above {AppContext.BaseDirectory}.");
    }

    private static CaseCatalog Load()
    {
        string? configured = Environment.GetEnvironmentVariable(CasesVariable);
        string directory = Path.GetFullPath(!string.IsNullOrEmpty(configured)
            ? configured
            : Path.Combine(RepositoryRoot(), "..", "shared", "conformance", "test-cases"));
        if (!System.IO.Directory.Exists(directory))
        {
            return new CaseCatalog(directory, exists: false, []);
        }

        var cases = new List<ConformanceCase>();
        foreach (string file in SuiteFiles(directory))
        {
            JsonObject suite = YamlToJson.LoadDocument(File.ReadAllText(file)) as JsonObject
                ?? throw new InvalidDataException($"{file}: a suite must be a mapping.");
            string suiteId = suite["id"]?.ToString() ?? Path.GetFileNameWithoutExtension(file);
            foreach (JsonNode? node in suite["tests"] as JsonArray ?? [])
            {
                if (node is JsonObject test)
                {
                    string id = $"{suiteId}/{test["id"]}";
                    cases.Add(new ConformanceCase(id, cases.Count, suite, test));
                }
            }
        }

        return new CaseCatalog(directory, exists: true, cases);
    }

    /// <summary>Node's readdir order: entries sorted by ordinal name, folders recursed in place.</summary>
    private static IEnumerable<string> SuiteFiles(string directory)
    {
        IEnumerable<string> entries = System.IO.Directory.EnumerateFileSystemEntries(directory)
            .OrderBy(Path.GetFileName, StringComparer.Ordinal);
        foreach (string entry in entries)
        {
            if (System.IO.Directory.Exists(entry))
            {
                foreach (string nested in SuiteFiles(entry))
                {
                    yield return nested;
                }
            }
            else if (entry.EndsWith(".yaml", StringComparison.Ordinal) || entry.EndsWith(".yml", StringComparison.Ordinal))
            {
                yield return entry;
            }
        }
    }
}

/// <summary>
/// Converts YAML to JSON nodes with the YAML 1.2 core schema that the official runner's parser
/// uses (RUNNER.md §3.1): only plain scalars are typed; yes/no/on stay strings; key order is kept.
/// </summary>
public static partial class YamlToJson
{
    public static JsonNode? LoadDocument(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode);
    }

    public static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode mapping => ConvertMapping(mapping),
        YamlSequenceNode sequence => new JsonArray([.. sequence.Children.Select(Convert)]),
        YamlScalarNode scalar => ConvertScalar(scalar),
        _ => throw new InvalidDataException($"Unsupported YAML node {node.NodeType} at {node.Start}."),
    };

    public static JsonNode? ConvertScalar(YamlScalarNode scalar)
    {
        string value = scalar.Value ?? "";
        if (scalar.Style != ScalarStyle.Plain || (!scalar.Tag.IsEmpty && scalar.Tag.Value == "tag:yaml.org,2002:str"))
        {
            return JsonValue.Create(value);
        }

        return ConvertPlain(value);
    }

    /// <summary>The core schema's resolution of a plain scalar (YAML 1.2 §10.3.2).</summary>
    public static JsonNode? ConvertPlain(string value)
    {
        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
            case ".nan" or ".NaN" or ".NAN":
                return JsonValue.Create(double.NaN);
        }

        if (DecimalInteger().IsMatch(value))
        {
            return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)
                ? JsonValue.Create(l)
                : JsonValue.Create(double.Parse(value, CultureInfo.InvariantCulture));
        }

        if (OctalInteger().IsMatch(value))
        {
            return JsonValue.Create(System.Convert.ToInt64(value[2..], 8));
        }

        if (HexInteger().IsMatch(value))
        {
            return JsonValue.Create(long.Parse(value[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
        }

        if (Infinity().IsMatch(value))
        {
            return JsonValue.Create(value.StartsWith('-') ? double.NegativeInfinity : double.PositiveInfinity);
        }

        if (Float().IsMatch(value))
        {
            double d = double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
            return d == Math.Floor(d) && Math.Abs(d) < 9.2e18 ? JsonValue.Create((long)d) : JsonValue.Create(d);
        }

        return JsonValue.Create(value);
    }

    private static JsonObject ConvertMapping(YamlMappingNode mapping)
    {
        var result = new JsonObject();
        foreach (KeyValuePair<YamlNode, YamlNode> entry in mapping.Children)
        {
            string key = entry.Key is YamlScalarNode scalar ? scalar.Value ?? "" : entry.Key.ToString();
            result[key] = Convert(entry.Value);
        }

        return result;
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex DecimalInteger();

    [GeneratedRegex("^0o[0-7]+$")]
    private static partial Regex OctalInteger();

    [GeneratedRegex("^0x[0-9a-fA-F]+$")]
    private static partial Regex HexInteger();

    [GeneratedRegex(@"^[-+]?(\.inf|\.Inf|\.INF)$")]
    private static partial Regex Infinity();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();
}
