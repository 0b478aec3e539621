using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DurableStreams.DependencyInjection;

/// <summary>Builds each named client once, on an HttpClient from IHttpClientFactory.</summary>
internal sealed class DurableStreamClientFactory : IDurableStreamClientFactory, IDisposable
{
    private readonly IHttpClientFactory _httpClientFactory;
    private readonly IOptionsMonitor<DurableStreamClientOptions> _options;
    private readonly IServiceProvider _services;
    private readonly ConcurrentDictionary<string, Lazy<DurableStreamClient>> _clients = new(StringComparer.Ordinal);

    public DurableStreamClientFactory(IHttpClientFactory httpClientFactory, IOptionsMonitor<DurableStreamClientOptions> options, IServiceProvider services)
    {
        _httpClientFactory = httpClientFactory;
        _options = options;
        _services = services;
    }

    public DurableStreamClient CreateClient(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _clients.GetOrAdd(name, n => new Lazy<DurableStreamClient>(() => Create(n))).Value;
    }

    private DurableStreamClient Create(string name)
    {
        if (!IsRegistered(name))
        {
            throw new InvalidOperationException($"No DurableStreamClient is registered under the name '{name}'. Call services.AddDurableStreams(\"{name}\", ...).");
        }

        DurableStreamClientOptions options = _options.Get(name);
        HttpClient http = _httpClientFactory.CreateClient(DurableStreamsServiceCollectionExtensions.HttpClientName(name));
        return new DurableStreamClient(http, options, disposeHttpClient: true);
    }

    private bool IsRegistered(string name) =>
        _services.GetService<IServiceProviderIsKeyedService>()?.IsKeyedService(typeof(DurableStreamClient), name) == true;

    public void Dispose()
    {
        foreach (Lazy<DurableStreamClient> client in _clients.Values)
        {
            if (client.IsValueCreated)
            {
                client.Value.Dispose();
            }
        }
    }
}

/// <summary>Runs <see cref="DurableStreamClientOptions.Validate"/> for ValidateOnStart and first use.</summary>
internal sealed class DurableStreamClientOptionsValidator : IValidateOptions<DurableStreamClientOptions>
{
    public ValidateOptionsResult Validate(string? name, DurableStreamClientOptions options)
    {
        try
        {
            options.Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail($"DurableStreams client '{name}': {ex.Message}");
        }
    }
}
