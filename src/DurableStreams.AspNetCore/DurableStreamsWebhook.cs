namespace DurableStreams.AspNetCore;

/// <summary>A verified webhook wake (PROTOCOL.md §7.1): which streams have pending events, and how to ack later.</summary>
public sealed class DurableStreamsWebhook
{
    internal DurableStreamsWebhook(string subscriptionId, string wakeId, long generation, IReadOnlyList<DurableStreamsWebhookStream> streams, Uri? callbackUrl, string? callbackToken, SubscriptionCallback? callback = null)
    {
        Callback = callback;
        SubscriptionId = subscriptionId;
        WakeId = wakeId;
        Generation = generation;
        Streams = streams;
        CallbackUrl = callbackUrl;
        CallbackToken = callbackToken;
    }

    /// <summary>The subscription id.</summary>
    public string SubscriptionId { get; }

    /// <summary>The wake id.</summary>
    public string WakeId { get; }

    /// <summary>The wake's fencing generation.</summary>
    public long Generation { get; }

    /// <summary>Every linked stream with the acked offset to read from and the tail of the wake snapshot.</summary>
    public IReadOnlyList<DurableStreamsWebhookStream> Streams { get; }

    /// <summary>Where to POST acks for asynchronous processing (PROTOCOL.md §7.1).</summary>
    public Uri? CallbackUrl { get; }

    /// <summary>The bearer token of the callback; scoped to this wake's generation. A secret: never log it.</summary>
    public string? CallbackToken { get; }

    /// <summary>
    /// Acks this wake later, after the handler returned <see langword="false"/>: call
    /// <see cref="SubscriptionCallback.AckAsync"/> with the offsets processed, and <c>done</c> at the end.
    /// Sent through <see cref="DurableStreamsWebhookOptions.Client"/> (or the <see cref="DurableStreamClient"/>
    /// registered in DI). <see langword="null"/> when the delivery carried no callback URL or token.
    /// </summary>
    public SubscriptionCallback? Callback { get; }

    internal DurableStreamsWebhook WithCallback(DurableStreamClient client) =>
        CallbackUrl is { Scheme: "http" or "https" } url && !string.IsNullOrWhiteSpace(CallbackToken)
            ? new DurableStreamsWebhook(SubscriptionId, WakeId, Generation, Streams, url, CallbackToken, new SubscriptionCallback(client, SubscriptionId, WakeId, Generation, url, CallbackToken))
            : this;
}

/// <summary>One stream of a webhook wake.</summary>
public sealed class DurableStreamsWebhookStream
{
    internal DurableStreamsWebhookStream(string path, Offset ackedOffset, Offset tailOffset, bool hasPending)
    {
        Path = path;
        AckedOffset = ackedOffset;
        TailOffset = tailOffset;
        HasPending = hasPending;
    }

    /// <summary>The stream path, relative to the stream root.</summary>
    public string Path { get; }

    /// <summary>The last acked offset: read from here.</summary>
    public Offset AckedOffset { get; }

    /// <summary>The tail when the wake was issued.</summary>
    public Offset TailOffset { get; }

    /// <summary>Whether the stream has events past <see cref="AckedOffset"/>.</summary>
    public bool HasPending { get; }
}
