namespace DurableStreams;

/// <summary>The subscription does not exist, or was deleted (HTTP 404 <c>SUBSCRIPTION_NOT_FOUND</c>; PROTOCOL.md §6.3).</summary>
public sealed class SubscriptionNotFoundException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="subscriptionId">The subscription the operation addressed.</param>
    /// <param name="url">The URL the operation addressed.</param>
    public SubscriptionNotFoundException(string message, string subscriptionId, Uri? url)
        : base(message, 404, DurableStreamErrorCodes.SubscriptionNotFound, url)
    {
        SubscriptionId = subscriptionId;
    }

    /// <summary>The subscription the operation addressed.</summary>
    public string SubscriptionId { get; }
}
