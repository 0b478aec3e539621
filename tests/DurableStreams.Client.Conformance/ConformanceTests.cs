using Xunit.Abstractions;

namespace DurableStreams.Conformance;

/// <summary>
/// The conformance suite: every YAML case is one test, run in file order through one adapter
/// process against one reference server. A case passes here exactly when the official runner
/// would pass it with the same adapter, with two deliberate differences that make it stricter:
/// a case a <c>requires:</c> would skip fails, and a case the YAML marks <c>skip:</c> is run anyway
/// and must pass (the two upstream skips target another client's bug, not a protocol feature).
/// </summary>
[TestCaseOrderer("DurableStreams.Conformance.FileOrderTestCaseOrderer", "DurableStreams.Client.Conformance")]
public sealed class ConformanceTests(ConformanceSession session, ITestOutputHelper output) : IClassFixture<ConformanceSession>
{
#pragma warning disable xUnit1001 // The discoverer supplies the case id.
    [ConformanceCases]
    public async Task Case(string id)
#pragma warning restore xUnit1001
    {
        CaseCatalog catalog = CaseCatalog.Shared;
        if (id == CaseCatalog.MissingCasesId)
        {
            // Reached only in CI (elsewhere the case is skipped): missing cases must not pass silently.
            Assert.Fail($"The conformance case directory {catalog.Directory} does not exist (set {CaseCatalog.CasesVariable}).");
        }

        ConformanceCase conformanceCase = catalog.Find(id) ?? throw new InvalidOperationException($"Unknown case {id}.");
        await session.EnsureStartedAsync();

        // Suite and test requirements: the adapter claims every feature, so a skip would hide a gap.
        List<string> missing = CaseRunner.MissingFeatures(conformanceCase.Suite["requires"], session.Features);
        missing.AddRange(CaseRunner.MissingFeatures(conformanceCase.Test["requires"], session.Features));
        if (missing.Count > 0)
        {
            Assert.Fail($"missing features: {string.Join(", ", missing)} (the official runner would skip this case)");
        }

        if (ConformanceTestCase.UpstreamSkipReasonOf(id) is { } upstreamSkip)
        {
            output.WriteLine($"The official runner skips this case ({upstreamSkip}); it runs here and must pass.");
        }

        var runner = new CaseRunner(session, line => output.WriteLine(line));
        string? failure;
        try
        {
            failure = await runner.RunAsync(conformanceCase);
        }
        finally
        {
            foreach (string line in session.Adapter.DrainStderr())
            {
                output.WriteLine($"[client stderr] {line}");
            }
        }

        if (failure is not null)
        {
            Assert.Fail(failure);
        }
    }
}
