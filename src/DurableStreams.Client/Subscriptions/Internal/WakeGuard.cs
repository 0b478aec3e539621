namespace DurableStreams.Subscriptions.Internal;

/// <summary>
/// The one rule a lease and a webhook callback share before sending: only an active wake may send.
/// Once the server fenced it or its token expired, nothing is ever sent again (PROTOCOL.md §7.3);
/// the caller gets a fresh copy of the failure that ended it.
/// </summary>
internal static class WakeGuard
{
    public static void ThrowIfNotActive(SubscriptionLeaseState state, DurableStreamException? failure, string subscriptionId, long generation, Func<string> inactiveMessage)
    {
        switch (state)
        {
            case SubscriptionLeaseState.Active:
                return;
            case SubscriptionLeaseState.Fenced or SubscriptionLeaseState.Expired when failure is not null:
                throw failure is SubscriptionFencedException fenced
                    ? new SubscriptionFencedException(fenced.Message, subscriptionId, generation, fenced.StreamUrl)
                    : new DurableStreamException(failure.Message, failure.Status, failure.ErrorCode, failure.StreamUrl, failure);
            default:
                throw new InvalidOperationException(inactiveMessage());
        }
    }
}
