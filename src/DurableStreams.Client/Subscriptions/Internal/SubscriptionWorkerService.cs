using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace DurableStreams.Subscriptions.Internal;

/// <summary>Runs a <see cref="SubscriptionWorker"/> for the lifetime of the host, resolving the handler per wake.</summary>
internal sealed class SubscriptionWorkerService<THandler> : BackgroundService
    where THandler : class, ISubscriptionHandler
{
    private readonly IServiceProvider _services;
    private readonly string _subscriptionId;
    private readonly SubscriptionWorkerOptions _options;

    public SubscriptionWorkerService(IServiceProvider services, string subscriptionId, SubscriptionWorkerOptions options)
    {
        _services = services;
        _subscriptionId = subscriptionId;
        _options = options;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        DurableStreamClient client = _options.ClientName is { } name
            ? _services.GetRequiredKeyedService<DurableStreamClient>(name)
            : _services.GetRequiredService<DurableStreamClient>();
        ILogger logger = _services.GetService<ILoggerFactory>()?.CreateLogger<SubscriptionWorker>() ?? (ILogger)Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        var worker = new SubscriptionWorker(
            client.Subscriptions,
            _subscriptionId,
            (lease, _) =>
            {
                // One scope per wake: the handler and its scoped dependencies live while the lease does.
                AsyncServiceScope scope = _services.CreateAsyncScope();
                return ValueTask.FromResult<ISubscriptionHandler>(new ScopedHandler(scope, scope.ServiceProvider.GetRequiredService<THandler>()));
            },
            _options,
            logger);
        try
        {
            await worker.RunAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Forwards to the scoped handler; the worker disposes it (and so the scope) when the wake ends.</summary>
    private sealed class ScopedHandler(AsyncServiceScope scope, ISubscriptionHandler inner) : ISubscriptionHandler, IAsyncDisposable
    {
        public Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken) => inner.HandleAsync(batch, cancellationToken);

        public ValueTask DisposeAsync() => scope.DisposeAsync();
    }
}
