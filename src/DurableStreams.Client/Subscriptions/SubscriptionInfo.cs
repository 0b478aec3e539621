namespace DurableStreams;

/// <summary>A subscription as the server reports it (PROTOCOL.md §6.3).</summary>
public sealed class SubscriptionInfo
{
    internal SubscriptionInfo(
        string id,
        SubscriptionType type,
        string? pattern,
        IReadOnlyList<SubscriptionStreamLink> streams,
        Uri? webhookUrl,
        WebhookSigningInfo? webhookSigning,
        string? wakeStream,
        TimeSpan leaseTtl,
        DateTimeOffset? createdAt,
        SubscriptionStatus status,
        string? description)
    {
        Id = id;
        Type = type;
        Pattern = pattern;
        Streams = streams;
        WebhookUrl = webhookUrl;
        WebhookSigning = webhookSigning;
        WakeStream = wakeStream;
        LeaseTtl = leaseTtl;
        CreatedAt = createdAt;
        Status = status;
        Description = description;
    }

    /// <summary>The subscription id.</summary>
    public string Id { get; }

    /// <summary>How workers are woken.</summary>
    public SubscriptionType Type { get; }

    /// <summary>The glob over stream paths, if any.</summary>
    public string? Pattern { get; }

    /// <summary>Every linked stream with its cursor; a stream linked both ways shows as <see cref="SubscriptionLinkType.Explicit"/>.</summary>
    public IReadOnlyList<SubscriptionStreamLink> Streams { get; }

    /// <summary>The webhook URL of a webhook subscription.</summary>
    public Uri? WebhookUrl { get; }

    /// <summary>How the server signs webhook deliveries (PROTOCOL.md §6.3, §6.5), when it said.</summary>
    public WebhookSigningInfo? WebhookSigning { get; }

    /// <summary>The wake stream path of a pull-wake subscription.</summary>
    public string? WakeStream { get; }

    /// <summary>The lease TTL.</summary>
    public TimeSpan LeaseTtl { get; }

    /// <summary>When the subscription was created, when the server said.</summary>
    public DateTimeOffset? CreatedAt { get; }

    /// <summary>Whether delivery is operating normally.</summary>
    public SubscriptionStatus Status { get; }

    /// <summary>The description, if any.</summary>
    public string? Description { get; }
}

/// <summary>One stream of a subscription and its cursor (PROTOCOL.md §6.1).</summary>
public sealed class SubscriptionStreamLink
{
    internal SubscriptionStreamLink(string path, SubscriptionLinkType linkType, Offset ackedOffset)
    {
        Path = path;
        LinkType = linkType;
        AckedOffset = ackedOffset;
    }

    /// <summary>The stream path, relative to the stream root.</summary>
    public string Path { get; }

    /// <summary>Why the stream is linked.</summary>
    public SubscriptionLinkType LinkType { get; }

    /// <summary>The last processed offset, inclusive: processing resumes after it. <see cref="Offset.Beginning"/> when nothing was processed.</summary>
    public Offset AckedOffset { get; }
}

/// <summary>A stream of a wake: its cursor and the tail at the time of the wake (PROTOCOL.md §7.1, §7.2).</summary>
public sealed class SubscriptionWakeStream
{
    internal SubscriptionWakeStream(string path, SubscriptionLinkType linkType, Offset ackedOffset, Offset tailOffset, bool hasPending)
    {
        Path = path;
        LinkType = linkType;
        AckedOffset = ackedOffset;
        TailOffset = tailOffset;
        HasPending = hasPending;
    }

    /// <summary>The stream path, relative to the stream root.</summary>
    public string Path { get; }

    /// <summary>Why the stream is linked.</summary>
    public SubscriptionLinkType LinkType { get; }

    /// <summary>The last processed offset: read from here.</summary>
    public Offset AckedOffset { get; }

    /// <summary>The stream's tail when the wake was issued: read up to here.</summary>
    public Offset TailOffset { get; }

    /// <summary>Whether the stream had events past <see cref="AckedOffset"/>.</summary>
    public bool HasPending { get; }
}

/// <summary>How the server signs webhook deliveries (PROTOCOL.md §6.3).</summary>
public sealed class WebhookSigningInfo
{
    internal WebhookSigningInfo(string? algorithm, string? keyId, Uri? jwksUrl)
    {
        Algorithm = algorithm;
        KeyId = keyId;
        JwksUrl = jwksUrl;
    }

    /// <summary>The signature algorithm, e.g. <c>ed25519</c>.</summary>
    public string? Algorithm { get; }

    /// <summary>The server's active signing key id when the response was made; each delivery names its own.</summary>
    public string? KeyId { get; }

    /// <summary>Where the server publishes its signing keys (a JWK Set).</summary>
    public Uri? JwksUrl { get; }
}

/// <summary>The outcome of <see cref="DurableStreamSubscriptions.CreateAsync(string, SubscriptionOptions, CancellationToken)"/>.</summary>
public sealed class CreateSubscriptionResult
{
    internal CreateSubscriptionResult(SubscriptionInfo subscription, bool created)
    {
        Subscription = subscription;
        Created = created;
    }

    /// <summary>The subscription as the server stored it.</summary>
    public SubscriptionInfo Subscription { get; }

    /// <summary><see langword="true"/> when this call created it (201); <see langword="false"/> when an identical one existed (200).</summary>
    public bool Created { get; }
}

/// <summary>The outcome of an ack (PROTOCOL.md §7.1, §7.2).</summary>
public sealed class SubscriptionAckResult
{
    internal SubscriptionAckResult(bool nextWake)
    {
        NextWake = nextWake;
    }

    /// <summary>
    /// After a final ack: whether work was still pending, so the server issued a new wake (a new
    /// generation) that a worker may claim. Always <see langword="false"/> after a heartbeat.
    /// </summary>
    public bool NextWake { get; }
}

/// <summary>One cursor move: the stream and the last offset processed in it, inclusive.</summary>
public readonly struct SubscriptionAck : IEquatable<SubscriptionAck>
{
    /// <summary>Creates an ack.</summary>
    /// <param name="stream">The stream path, relative to the stream root.</param>
    /// <param name="offset">The offset processing reached (a <see cref="StreamChunk.NextOffset"/>); must not be a sentinel.</param>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is empty, or <paramref name="offset"/> is <see cref="Offset.Beginning"/> or <see cref="Offset.Now"/>.</exception>
    public SubscriptionAck(string stream, Offset offset)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stream);
        if (offset.IsBeginning || offset.IsNow)
        {
            throw new ArgumentException("An ack needs an offset the server returned, not a sentinel.", nameof(offset));
        }

        Stream = stream;
        Offset = offset;
    }

    /// <summary>The stream path, relative to the stream root.</summary>
    public string Stream { get; }

    /// <summary>The offset processing reached.</summary>
    public Offset Offset { get; }

    /// <inheritdoc />
    public bool Equals(SubscriptionAck other) => string.Equals(Stream, other.Stream, StringComparison.Ordinal) && Offset.Equals(other.Offset);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SubscriptionAck other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Stream is null ? 0 : StringComparer.Ordinal.GetHashCode(Stream), Offset);

    /// <summary>Whether two acks are equal.</summary>
    /// <param name="left">One ack.</param>
    /// <param name="right">The other.</param>
    /// <returns>Whether they name the same stream and offset.</returns>
    public static bool operator ==(SubscriptionAck left, SubscriptionAck right) => left.Equals(right);

    /// <summary>Whether two acks differ.</summary>
    /// <param name="left">One ack.</param>
    /// <param name="right">The other.</param>
    /// <returns>Whether they differ.</returns>
    public static bool operator !=(SubscriptionAck left, SubscriptionAck right) => !left.Equals(right);
}
