namespace DurableStreams;

/// <summary>
/// Another worker holds the subscription's lease (HTTP 409 <c>ALREADY_CLAIMED</c>; PROTOCOL.md §7.2).
/// Wait for the next wake event: the server writes one when the holder finishes or its lease expires
/// with work still pending.
/// </summary>
public sealed class SubscriptionAlreadyClaimedException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="subscriptionId">The subscription the operation addressed.</param>
    /// <param name="currentHolder">The worker name of the lease holder, when the server said.</param>
    /// <param name="generation">The generation of the holder's wake, when the server said.</param>
    /// <param name="url">The URL the operation addressed.</param>
    public SubscriptionAlreadyClaimedException(string message, string subscriptionId, string? currentHolder, long? generation, Uri? url)
        : base(message, 409, DurableStreamErrorCodes.AlreadyClaimed, url)
    {
        SubscriptionId = subscriptionId;
        CurrentHolder = currentHolder;
        Generation = generation;
    }

    /// <summary>The subscription the operation addressed.</summary>
    public string SubscriptionId { get; }

    /// <summary>The worker name of the current lease holder, when the server said.</summary>
    public string? CurrentHolder { get; }

    /// <summary>The generation of the holder's wake, when the server said.</summary>
    public long? Generation { get; }
}
