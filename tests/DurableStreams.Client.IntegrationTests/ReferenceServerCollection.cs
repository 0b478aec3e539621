namespace DurableStreams.IntegrationTests;

/// <summary>The integration test classes share one reference server.</summary>
[CollectionDefinition(Name)]
public sealed class ReferenceServerCollection : ICollectionFixture<ReferenceServerFixture>
{
    public const string Name = "Reference server";
}

/// <summary>
/// The Node reference server whatever <c>DURABLE_STREAMS_TEST_SERVER</c> selects: subscriptions
/// (PROTOCOL.md §6–7) are served by it, not by the in-process .NET server.
/// </summary>
public sealed class SubscriptionServerFixture : ReferenceServerFixture
{
    protected override bool NeedsReferenceServer => true;
}

/// <summary>The subscription test classes share one Node reference server.</summary>
[CollectionDefinition(Name)]
public sealed class SubscriptionServerCollection : ICollectionFixture<SubscriptionServerFixture>
{
    public const string Name = "Subscription server";
}

/// <summary>
/// The Node reference server whatever <c>DURABLE_STREAMS_TEST_SERVER</c> selects: it compresses
/// read answers when asked (gzip, deflate); the in-process .NET server does not compress.
/// </summary>
public sealed class CompressingServerFixture : ReferenceServerFixture
{
    protected override bool NeedsReferenceServer => true;
}

/// <summary>The compression test classes share one Node reference server.</summary>
[CollectionDefinition(Name)]
public sealed class CompressingServerCollection : ICollectionFixture<CompressingServerFixture>
{
    public const string Name = "Compressing server";
}
