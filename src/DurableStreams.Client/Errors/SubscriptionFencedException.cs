namespace DurableStreams;

/// <summary>
/// The wake this lease belonged to is no longer current (HTTP 409 <c>FENCED</c>; PROTOCOL.md §7.3):
/// the lease expired and the subscription was woken again, possibly for another worker. Nothing of
/// the refused request was applied; stop processing and do not ack again with this lease.
/// </summary>
public sealed class SubscriptionFencedException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="subscriptionId">The subscription the operation addressed.</param>
    /// <param name="generation">The generation of the lease that was fenced.</param>
    /// <param name="url">The URL the operation addressed.</param>
    public SubscriptionFencedException(string message, string subscriptionId, long generation, Uri? url)
        : base(message, 409, DurableStreamErrorCodes.Fenced, url)
    {
        SubscriptionId = subscriptionId;
        Generation = generation;
    }

    /// <summary>The subscription the operation addressed.</summary>
    public string SubscriptionId { get; }

    /// <summary>The generation of the lease that was fenced (not the server's current one).</summary>
    public long Generation { get; }
}
