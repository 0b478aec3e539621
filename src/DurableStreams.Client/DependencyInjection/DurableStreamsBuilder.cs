using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace DurableStreams.DependencyInjection;

/// <summary>Configures one registered <see cref="DurableStreamClient"/> further.</summary>
public sealed class DurableStreamsBuilder
{
    internal DurableStreamsBuilder(string name, IServiceCollection services, IHttpClientBuilder httpClientBuilder, OptionsBuilder<DurableStreamClientOptions> optionsBuilder)
    {
        Name = name;
        Services = services;
        HttpClientBuilder = httpClientBuilder;
        OptionsBuilder = optionsBuilder;
    }

    /// <summary>The client's name (<see cref="Options.DefaultName"/> for the default client).</summary>
    public string Name { get; }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// The <see cref="IHttpClientBuilder"/> of the client's <see cref="HttpClient"/>: add delegating
    /// handlers here. The SDK retries by itself; do not add a second retry handler. Its primary handler
    /// does not follow redirects (keep <c>AllowAutoRedirect = false</c> if you replace it), and its
    /// per-request Information logs are off: call <c>AddDefaultLogger()</c> here to turn them on.
    /// </summary>
    public IHttpClientBuilder HttpClientBuilder { get; }

    /// <summary>The options builder of the client, to configure or validate further.</summary>
    public OptionsBuilder<DurableStreamClientOptions> OptionsBuilder { get; }

    /// <summary>
    /// Uses <typeparamref name="TProvider"/>, resolved from the container, to supply headers for
    /// every request (for example a bearer token that a token service refreshes).
    /// </summary>
    /// <typeparam name="TProvider">A registered <see cref="IDurableStreamHeadersProvider"/>.</typeparam>
    /// <returns>This builder.</returns>
    public DurableStreamsBuilder AddHeadersProvider<TProvider>()
        where TProvider : class, IDurableStreamHeadersProvider
    {
        Services.AddOptions<DurableStreamClientOptions>(Name)
            .Configure<IServiceProvider>((options, sp) =>
            {
                var provider = sp.GetRequiredService<TProvider>();
                options.HeadersProvider = provider.GetHeadersAsync;
            });
        return this;
    }
}

/// <summary>Supplies request headers whose values change, such as access tokens. Called before every request.</summary>
public interface IDurableStreamHeadersProvider
{
    /// <summary>Returns the headers to add to the next request.</summary>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>Header names and values.</returns>
    ValueTask<IReadOnlyDictionary<string, string>> GetHeadersAsync(CancellationToken cancellationToken);
}

/// <summary>Creates the <see cref="DurableStreamClient"/>s registered with <c>AddDurableStreams</c>.</summary>
public interface IDurableStreamClientFactory
{
    /// <summary>Returns the client registered under <paramref name="name"/>; the same instance on every call.</summary>
    /// <param name="name">The registration name; <see cref="Options.DefaultName"/> (empty) for the default client.</param>
    /// <returns>The client.</returns>
    /// <exception cref="InvalidOperationException">No client is registered under that name.</exception>
    /// <exception cref="OptionsValidationException">The client's options are invalid.</exception>
    DurableStreamClient CreateClient(string name);
}
