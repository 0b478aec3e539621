using System.Diagnostics.CodeAnalysis;
using DurableStreams;
using DurableStreams.Subscriptions.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

// Like AddDurableStreams (and AddHttpClient), in the DI namespace so that it is found without a using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers pull-wake subscription workers as hosted services of the Generic Host.</summary>
public static class SubscriptionWorkerServiceCollectionExtensions
{
    /// <summary>
    /// Adds a hosted <see cref="SubscriptionWorker"/> on the pull-wake subscription
    /// <paramref name="subscriptionId"/>, using the client registered with <c>AddDurableStreams</c>
    /// (its base address is the stream root, see <see cref="DurableStreamSubscriptions"/>). A new DI
    /// scope is created for every claimed wake, and <typeparamref name="THandler"/> is resolved from it.
    /// </summary>
    /// <typeparam name="THandler">The handler type; registered as scoped unless already registered.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="subscriptionId">The subscription to work on; it must exist when the host starts.</param>
    /// <param name="configure">Adjusts the worker's settings. Default: none.</param>
    /// <returns>The service collection.</returns>
    /// <exception cref="ArgumentException"><paramref name="subscriptionId"/> is empty.</exception>
    public static IServiceCollection AddDurableStreamsSubscriptionWorker<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(this IServiceCollection services, string subscriptionId, Action<SubscriptionWorkerOptions>? configure = null)
        where THandler : class, ISubscriptionHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(subscriptionId);
        var options = new SubscriptionWorkerOptions();
        configure?.Invoke(options);
        options.Validate(nameof(configure));
        services.TryAddScoped<THandler>();
        services.AddSingleton<IHostedService>(sp => new SubscriptionWorkerService<THandler>(sp, subscriptionId, options));
        return services;
    }
}
