using System.ComponentModel;
using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace DurableStreams.Conformance;

/// <summary>
/// Marks the method that runs one YAML case; the discoverer turns it into one test per case, named
/// <c>suite-id/test-id</c>, whose only argument is that (serializable) id.
/// </summary>
[XunitTestCaseDiscoverer("DurableStreams.Conformance.ConformanceCaseDiscoverer", "DurableStreams.Client.Conformance")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ConformanceCasesAttribute : FactAttribute
{
}

/// <summary>One xunit test per YAML case, in file order (see <see cref="FileOrderTestCaseOrderer"/>).</summary>
public sealed class ConformanceCaseDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        CaseCatalog catalog = CaseCatalog.Shared;
        IEnumerable<string> ids = catalog.Exists ? catalog.Cases.Select(c => c.Id) : [CaseCatalog.MissingCasesId];
        foreach (string id in ids)
        {
            yield return new ConformanceTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, [id]);
        }
    }
}

/// <summary>A test case whose display name is the case id and whose skip reason comes from the YAML.</summary>
public sealed class ConformanceTestCase : XunitTestCase
{
    [EditorBrowsable(EditorBrowsableState.Never)]
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public ConformanceTestCase()
    {
    }

    public ConformanceTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay defaultMethodDisplay, TestMethodDisplayOptions defaultMethodDisplayOptions, ITestMethod testMethod, object[] testMethodArguments)
        : base(diagnosticMessageSink, defaultMethodDisplay, defaultMethodDisplayOptions, testMethod, testMethodArguments)
    {
    }

    public string CaseId => (string)TestMethodArguments[0];

    protected override string GetDisplayName(IAttributeInfo factAttribute, string displayName) => CaseId;

    protected override string? GetSkipReason(IAttributeInfo factAttribute) => SkipReasonOf(CaseId);

    /// <summary>
    /// Nothing is skipped here except the placeholder for a missing case directory outside CI (in
    /// CI it fails). A case the YAML marks <c>skip:</c> (upstream skips two, for another client's
    /// bug) is still run and must pass: this SDK claims every case (see <see cref="UpstreamSkipReasonOf"/>).
    /// </summary>
    public static string? SkipReasonOf(string caseId)
    {
        CaseCatalog catalog = CaseCatalog.Shared;
        return caseId == CaseCatalog.MissingCasesId && !IsCi()
            ? $"Conformance cases not run: the case directory {catalog.Directory} does not exist (set {CaseCatalog.CasesVariable})."
            : null;
    }

    /// <summary>The reason the official runner would skip this case (its YAML <c>skip:</c>), or <see langword="null"/>.</summary>
    public static string? UpstreamSkipReasonOf(string caseId)
    {
        CaseCatalog catalog = CaseCatalog.Shared;
        if (catalog.Find(caseId) is not { } found)
        {
            return null;
        }

        System.Text.Json.Nodes.JsonNode? skip = found.Test["skip"];
        bool present = found.Test.ContainsKey("skip");
        if (!JsSemantics.Truthy(present, skip))
        {
            return null;
        }

        return JsSemantics.KindOf(skip) == System.Text.Json.JsonValueKind.String ? skip!.GetValue<string>() : "skip: true";
    }

    public static bool IsCi() => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Runs the cases in the order of the YAML files and of the tests inside them (RUNNER.md §3.1).</summary>
public sealed class FileOrderTestCaseOrderer : ITestCaseOrderer
{
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase =>
        testCases.OrderBy(c => c.TestMethodArguments is [string id, ..] && CaseCatalog.Shared.Find(id) is { } found ? found.Index : -1);
}
