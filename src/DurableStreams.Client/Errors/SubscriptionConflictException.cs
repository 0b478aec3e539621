namespace DurableStreams;

/// <summary>
/// A subscription with this id already exists with another configuration (HTTP 409
/// <c>SUBSCRIPTION_ALREADY_EXISTS</c>; PROTOCOL.md §6.2). Creating with the identical configuration
/// again succeeds; to change a subscription, delete it and create it again.
/// </summary>
public sealed class SubscriptionConflictException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="subscriptionId">The subscription the operation addressed.</param>
    /// <param name="url">The URL the operation addressed.</param>
    public SubscriptionConflictException(string message, string subscriptionId, Uri? url)
        : base(message, 409, DurableStreamErrorCodes.SubscriptionAlreadyExists, url)
    {
        SubscriptionId = subscriptionId;
    }

    /// <summary>The subscription the operation addressed.</summary>
    public string SubscriptionId { get; }
}
