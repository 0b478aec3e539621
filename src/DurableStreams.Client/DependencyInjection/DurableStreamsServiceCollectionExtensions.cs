using System.Diagnostics.CodeAnalysis;
using System.Net;
using DurableStreams;
using DurableStreams.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="DurableStreamClient"/>s with a service collection.</summary>
public static class DurableStreamsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the default <see cref="DurableStreamClient"/> (a singleton) whose
    /// <see cref="HttpClient"/> comes from <see cref="System.Net.Http.IHttpClientFactory"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options, e.g. <c>o =&gt; o.BaseAddress = new Uri("http://localhost:4437/v1/stream/")</c>, so that <c>GetStream("orders")</c> is <c>/v1/stream/orders</c>.</param>
    /// <returns>A builder to add HTTP handlers or a header provider.</returns>
    /// <remarks>
    /// The options are validated when the host starts (<c>ValidateOnStart</c>) and when the client
    /// is first resolved. The SDK already retries through Polly (see <see cref="DurableStreamClientOptions.Retry"/>),
    /// so adding a second resilience handler to <see cref="DurableStreamsBuilder.HttpClientBuilder"/> is not needed
    /// and would multiply retries. The registered <see cref="HttpClient"/> does not follow redirects
    /// (the SDK follows same-origin ones itself) and has IHttpClientFactory's per-request loggers
    /// removed; <c>HttpClientBuilder.AddDefaultLogger()</c> brings them back.
    /// </remarks>
    public static DurableStreamsBuilder AddDurableStreams(this IServiceCollection services, Action<DurableStreamClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddDurableStreams(services, Options.Options.DefaultName, configure);
    }

    /// <summary>
    /// Registers the default <see cref="DurableStreamClient"/>, binding its options from a configuration
    /// section such as <c>"DurableStreams": { "BaseAddress": "http://localhost:4437/v1/stream/", "Retry": { "MaxRetries": 3 },
    /// "DefaultHeaders": { "X-Tenant": "a" } }</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <param name="configure">Further settings applied after binding. Default: none.</param>
    /// <returns>A builder to add HTTP handlers or a header provider.</returns>
    [RequiresUnreferencedCode("Binding configuration uses reflection; use the overload taking an Action for trimmed apps.")]
    [RequiresDynamicCode("Binding configuration may need runtime code generation; use the overload taking an Action for AOT apps.")]
    public static DurableStreamsBuilder AddDurableStreams(this IServiceCollection services, IConfiguration configuration, Action<DurableStreamClientOptions>? configure = null) =>
        AddDurableStreams(services, Options.Options.DefaultName, configuration, configure);

    /// <summary>
    /// Registers a named <see cref="DurableStreamClient"/>, for apps that talk to several servers.
    /// Resolve it with <see cref="IDurableStreamClientFactory.CreateClient(string)"/> or as a keyed
    /// service (<c>[FromKeyedServices("name")] DurableStreamClient client</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The client's name.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns>A builder to add HTTP handlers or a header provider.</returns>
    public static DurableStreamsBuilder AddDurableStreams(this IServiceCollection services, string name, Action<DurableStreamClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        DurableStreamsBuilder builder = AddCore(services, name);
        builder.OptionsBuilder.Configure(configure);
        return builder;
    }

    /// <summary>Registers a named <see cref="DurableStreamClient"/> whose options bind from a configuration section.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The client's name.</param>
    /// <param name="configuration">The section to bind.</param>
    /// <param name="configure">Further settings applied after binding. Default: none.</param>
    /// <returns>A builder to add HTTP handlers or a header provider.</returns>
    [RequiresUnreferencedCode("Binding configuration uses reflection; use the overload taking an Action for trimmed apps.")]
    [RequiresDynamicCode("Binding configuration may need runtime code generation; use the overload taking an Action for AOT apps.")]
    public static DurableStreamsBuilder AddDurableStreams(this IServiceCollection services, string name, IConfiguration configuration, Action<DurableStreamClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        DurableStreamsBuilder builder = AddCore(services, name);
        builder.OptionsBuilder.Bind(configuration);
        if (configure is not null)
        {
            builder.OptionsBuilder.Configure(configure);
        }

        return builder;
    }

    private static DurableStreamsBuilder AddCore(IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        string httpClientName = HttpClientName(name);

        OptionsBuilder<DurableStreamClientOptions> options = services.AddOptions<DurableStreamClientOptions>(name)
            .PostConfigure<IServiceProvider>(static (o, sp) => o.LoggerFactory ??= sp.GetService<ILoggerFactory>())
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DurableStreamClientOptions>, DurableStreamClientOptionsValidator>());

        IHttpClientBuilder http = services.AddHttpClient(httpClientName)
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                // The client is a long-lived singleton: recycle connections so DNS changes are seen,
                // instead of relying on the factory's handler rotation.
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                // Reads ask for compression themselves (not on loopback) and decode it; no other request needs it.
                AutomaticDecompression = DecompressionMethods.None,

                // The transport follows same-origin redirects itself; the handler would resend
                // every header but Authorization to any host.
                AllowAutoRedirect = false,
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)

            // IHttpClientFactory's default loggers write four Information lines per request, and a
            // live read makes a request per long-poll and per reconnect. The SDK logs its own
            // retries and reconnects; AddDefaultLogger() on HttpClientBuilder brings these back.
            .RemoveAllLoggers();

        services.TryAddSingleton<IDurableStreamClientFactory, DurableStreamClientFactory>();
        services.AddKeyedSingleton(name, static (sp, key) => sp.GetRequiredService<IDurableStreamClientFactory>().CreateClient((string)key!));
        if (name == Options.Options.DefaultName)
        {
            services.TryAddSingleton(static sp => sp.GetRequiredService<IDurableStreamClientFactory>().CreateClient(Options.Options.DefaultName));
        }

        return new DurableStreamsBuilder(name, services, http, options);
    }

    internal static string HttpClientName(string name) => "DurableStreams:" + name;
}
