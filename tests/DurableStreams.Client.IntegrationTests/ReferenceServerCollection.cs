namespace DurableStreams.IntegrationTests;

/// <summary>The integration test classes share one reference server.</summary>
[CollectionDefinition(Name)]
public sealed class ReferenceServerCollection : ICollectionFixture<ReferenceServerFixture>
{
    public const string Name = "Reference server";
}
