using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DurableStreams.IntegrationTests;

[Collection(ReferenceServerCollection.Name)]
public sealed class DependencyInjectionIntegrationTests(ReferenceServerFixture server)
{
    [Fact]
    public async Task AddDurableStreams_ResolvedClient_TalksToTheReferenceServer()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DurableStreams:BaseAddress"] = server.BaseUrl.AbsoluteUri + "v1/stream/",
            ["DurableStreams:Retry:MaxRetries"] = "2",
        }).Build();
        var services = new ServiceCollection();
        services.AddDurableStreams(configuration.GetSection("DurableStreams"));
        await using ServiceProvider provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<DurableStreamClient>();
        string name = $"di-{Guid.NewGuid():N}";

        CreateStreamResult created = await client.CreateStreamAsync(new CreateOptions { Url = name, ContentType = "text/plain" }, timeout.Token);
        AppendResult appended = await created.Stream.AppendAsync("hello from DI", cancellationToken: timeout.Token);
        StreamMetadata metadata = await client.GetStream(name).HeadAsync(timeout.Token);

        Assert.True(created.Created);
        Assert.Equal(appended.NextOffset, metadata.NextOffset);
        Assert.Equal($"{server.BaseUrl.AbsoluteUri}v1/stream/{name}", created.Stream.Url.AbsoluteUri);
    }
}
