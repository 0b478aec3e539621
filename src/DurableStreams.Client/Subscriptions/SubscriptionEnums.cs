namespace DurableStreams;

/// <summary>How a subscription wakes its workers (PROTOCOL.md §6.2).</summary>
public enum SubscriptionType
{
    /// <summary>The server appends wake events to a wake stream; workers race to claim (<c>pull-wake</c>, PROTOCOL.md §7.2).</summary>
    PullWake = 0,

    /// <summary>The server POSTs a signed wake to a webhook URL (<c>webhook</c>, PROTOCOL.md §7.1).</summary>
    Webhook = 1,
}

/// <summary>Why a stream belongs to a subscription (PROTOCOL.md §6.1).</summary>
public enum SubscriptionLinkType
{
    /// <summary>The server sent a link type this SDK does not know.</summary>
    Unknown = 0,

    /// <summary>The stream matches the subscription's glob <c>pattern</c> (<c>glob</c>).</summary>
    Glob = 1,

    /// <summary>The stream was added by name (<c>explicit</c>); wins over <see cref="Glob"/> when both apply.</summary>
    Explicit = 2,
}

/// <summary>The delivery state of a subscription (PROTOCOL.md §6.3).</summary>
public enum SubscriptionStatus
{
    /// <summary>The server sent a status this SDK does not know.</summary>
    Unknown = 0,

    /// <summary>Delivery is operating normally (<c>active</c>).</summary>
    Active = 1,

    /// <summary>A webhook delivery failed and a retry is scheduled (<c>failed</c>).</summary>
    Failed = 2,
}
