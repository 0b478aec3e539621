namespace DurableStreams;

/// <summary>Handles the pending events a <see cref="SubscriptionWorker"/> reads under a lease.</summary>
/// <remarks>
/// Delivery is at least once: a batch may be handed over again (see <see cref="SubscriptionWorker"/>
/// for exactly when), so make handling idempotent, for example keyed by
/// <see cref="SubscriptionBatch.Stream"/> and <see cref="SubscriptionBatch.EndOffset"/>.
/// </remarks>
public interface ISubscriptionHandler
{
    /// <summary>Handles one batch: the data of one read response of one stream.</summary>
    /// <param name="batch">The events.</param>
    /// <param name="cancellationToken">Canceled when the lease is lost (fenced or expired) or the worker stops; stop promptly.</param>
    /// <returns>A task that completes when the batch is handled; only then may its offset be acked.</returns>
    Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken);
}
