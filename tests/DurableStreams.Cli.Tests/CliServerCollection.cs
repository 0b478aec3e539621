namespace DurableStreams.Cli.Tests;

/// <summary>The CLI test classes share one reference server.</summary>
[CollectionDefinition(Name)]
public sealed class CliServerCollection : ICollectionFixture<ReferenceServerFixture>
{
    public const string Name = "CLI reference server";
}
