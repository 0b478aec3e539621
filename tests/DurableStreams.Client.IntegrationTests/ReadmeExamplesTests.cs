using Microsoft.Extensions.DependencyInjection;

namespace DurableStreams.IntegrationTests;

/// <summary>The README's code blocks, kept compiling and running against the reference server.
/// Only the server address differs from the README.</summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class ReadmeExamplesTests(ReferenceServerFixture server)
{
    private string StreamBase => server.BaseUrl.AbsoluteUri + $"v1/stream/readme-{Guid.NewGuid():N}/";

    [Fact]
    public async Task Readme_Writing_RunsAsWritten()
    {
        string baseAddress = StreamBase;

        // README "Writing" block.
        using var client = new DurableStreamClient(new DurableStreamClientOptions {
            BaseAddress = new Uri(baseAddress) });

        CreateStreamResult created = await client.CreateStreamAsync(new CreateOptions {
            Url = "orders", ContentType = "application/json", Ttl = TimeSpan.FromDays(7) });
        DurableStream orders = created.Stream;

        AppendResult appended = await orders.AppendAsync(new { Id = 1, Total = 9.5 });
        StreamMetadata metadata = await orders.HeadAsync();

        CreateStreamResult fork = await orders.ForkAsync(new ForkOptions {
            Url = "orders-what-if", Offset = appended.NextOffset });

        CloseResult closed = await orders.CloseAsync(new { Done = true });
        await fork.Stream.DeleteAsync();

        Assert.True(created.Created);
        Assert.Equal(appended.NextOffset, metadata.NextOffset);
        Assert.True(closed.FinalOffset > appended.NextOffset);
        await Assert.ThrowsAsync<StreamNotFoundException>(() => fork.Stream.HeadAsync());
    }

    [Fact]
    public async Task Readme_DependencyInjection_RunsAsWritten()
    {
        string baseAddress = StreamBase;

        // README "Dependency injection" block.
        var services = new ServiceCollection();
        services.AddDurableStreams(options => options.BaseAddress = new Uri(baseAddress));
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<DurableStreamClient>();

        CreateStreamResult result = await client.CreateStreamAsync(new CreateOptions { Url = "events" });
        Assert.Equal(new Uri(baseAddress + "events"), result.Stream.Url);
    }
}
