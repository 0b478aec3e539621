using System.Net;
using DurableStreams.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace DurableStreams.Tests;

public sealed class DependencyInjectionTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public void AddDurableStreams_Action_RegistersOneSingletonClientWithTheOptions()
    {
        var services = new ServiceCollection();
        services.AddDurableStreams(o => o.BaseAddress = new Uri("http://streams.test/"));
        using ServiceProvider provider = services.BuildServiceProvider(validateScopes: true);

        var client = provider.GetRequiredService<DurableStreamClient>();

        Assert.Same(client, provider.GetRequiredService<DurableStreamClient>());
        Assert.Same(client, provider.GetRequiredService<IDurableStreamClientFactory>().CreateClient(Options.DefaultName));
        Assert.Equal(new Uri("http://streams.test/"), client.BaseAddress);
        Assert.Equal(ServiceLifetime.Singleton, services.Single(d => d.ServiceType == typeof(DurableStreamClient) && !d.IsKeyedService).Lifetime);
    }

    [Fact]
    public void AddDurableStreams_Configuration_BindsEverySetting()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DurableStreams:BaseAddress"] = "http://streams.test/",
            ["DurableStreams:RequestTimeout"] = "00:00:30",
            ["DurableStreams:Retry:MaxRetries"] = "2",
            ["DurableStreams:Retry:InitialDelay"] = "00:00:00.050",
            ["DurableStreams:Retry:MaxDelay"] = "00:00:02",
            ["DurableStreams:Retry:Multiplier"] = "3",
            ["DurableStreams:Retry:Jitter"] = "false",
            ["DurableStreams:DefaultHeaders:X-Tenant"] = "tenant-a",
            ["DurableStreams:DefaultQueryParameters:region"] = "eu",
        }).Build();
        var services = new ServiceCollection();
        services.AddDurableStreams(configuration.GetSection("DurableStreams"));
        using ServiceProvider provider = services.BuildServiceProvider();

        DurableStreamClientOptions options = provider.GetRequiredService<IOptionsMonitor<DurableStreamClientOptions>>().Get(Options.DefaultName);

        Assert.Equal(new Uri("http://streams.test/"), options.BaseAddress);
        Assert.Equal(TimeSpan.FromSeconds(30), options.RequestTimeout);
        Assert.Equal(2, options.Retry.MaxRetries);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.Retry.InitialDelay);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Retry.MaxDelay);
        Assert.Equal(3, options.Retry.Multiplier);
        Assert.False(options.Retry.Jitter);
        Assert.Equal("tenant-a", options.DefaultHeaders["X-Tenant"]);
        Assert.Equal("eu", options.DefaultQueryParameters["region"]);
        Assert.Equal(new Uri("http://streams.test/"), provider.GetRequiredService<DurableStreamClient>().BaseAddress);
    }

    [Fact]
    public void AddDurableStreams_InvalidConfiguration_FailsAtStartupNamingTheSetting()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DurableStreams:Retry:InitialDelay"] = "00:00:05",
            ["DurableStreams:Retry:MaxDelay"] = "00:00:01",
        }).Build();
        var services = new ServiceCollection();
        services.AddDurableStreams(configuration.GetSection("DurableStreams"));
        using ServiceProvider provider = services.BuildServiceProvider();

        var startup = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        var firstUse = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<DurableStreamClient>());

        Assert.Contains("MaxDelay", startup.Message, StringComparison.Ordinal);
        Assert.Contains("MaxDelay", firstUse.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddDurableStreams_NamedClients_AreSeparateKeyedSingletons()
    {
        var services = new ServiceCollection();
        services.AddDurableStreams("primary", o => o.BaseAddress = new Uri("http://primary.test/"));
        services.AddDurableStreams("archive", o => o.BaseAddress = new Uri("http://archive.test/"));
        using ServiceProvider provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IDurableStreamClientFactory>();

        DurableStreamClient primary = provider.GetRequiredKeyedService<DurableStreamClient>("primary");
        DurableStreamClient archive = provider.GetRequiredKeyedService<DurableStreamClient>("archive");

        Assert.Equal(new Uri("http://primary.test/"), primary.BaseAddress);
        Assert.Equal(new Uri("http://archive.test/"), archive.BaseAddress);
        Assert.Same(primary, factory.CreateClient("primary"));
        Assert.Null(provider.GetService<DurableStreamClient>());
        Assert.Throws<InvalidOperationException>(() => factory.CreateClient("missing"));
    }

    [Fact]
    public async Task AddDurableStreams_HttpClientBuilderHandlersAndHeaderProvider_SeeEveryRequest()
    {
        var recording = new RecordingHandler().Then(_ => RecordingHandler.Ok(HttpStatusCode.OK));
        var services = new ServiceCollection();
        services.AddSingleton<TokenService>();
        DurableStreamsBuilder builder = services
            .AddDurableStreams(o => o.BaseAddress = new Uri("http://streams.test/v1/stream/"))
            .AddHeadersProvider<TokenService>();
        builder.HttpClientBuilder
            .AddHttpMessageHandler(() => new StampHandler())
            .ConfigurePrimaryHttpMessageHandler(() => recording);
        using ServiceProvider provider = services.BuildServiceProvider();

        await provider.GetRequiredService<DurableStreamClient>().GetStream("orders").HeadAsync(Ct);
        await provider.GetRequiredService<DurableStreamClient>().GetStream("orders").HeadAsync(Ct);

        Assert.Equal(["Bearer token-1", "Bearer token-2"], recording.Requests.Select(r => r.Header("Authorization")));
        Assert.All(recording.Requests, r => Assert.Equal("yes", r.Header("X-Stamped")));
        Assert.Equal("http://streams.test/v1/stream/orders", recording.Requests[0].Url.ToString());
    }

    [Fact]
    public async Task AddDurableStreams_UsesTheContainersLoggerFactory()
    {
        var collector = new FakeLogCollector();
        var recording = new RecordingHandler().ThenRespond(HttpStatusCode.ServiceUnavailable).Then(_ => RecordingHandler.Ok(HttpStatusCode.OK));
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(collector)));
        services
            .AddDurableStreams(o =>
            {
                o.BaseAddress = new Uri("http://streams.test/v1/stream/");
                o.Retry = TestClients.FastRetry(maxRetries: 2);
            })
            .HttpClientBuilder.ConfigurePrimaryHttpMessageHandler(() => recording);
        using ServiceProvider provider = services.BuildServiceProvider();

        await provider.GetRequiredService<DurableStreamClient>().GetStream("orders").HeadAsync(Ct);

        FakeLogRecord retry = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 1);
        Assert.Equal(LogLevel.Warning, retry.Level);
        Assert.Contains("503", retry.Message, StringComparison.Ordinal);
        Assert.StartsWith("DurableStreams", retry.Category, StringComparison.Ordinal);
    }

    private sealed class TokenService : IDurableStreamHeadersProvider
    {
        private int _issued;

        public ValueTask<IReadOnlyDictionary<string, string>> GetHeadersAsync(CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["Authorization"] = $"Bearer token-{Interlocked.Increment(ref _issued)}" });
    }

    private sealed class StampHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Add("X-Stamped", "yes");
            return base.SendAsync(request, cancellationToken);
        }
    }
}
