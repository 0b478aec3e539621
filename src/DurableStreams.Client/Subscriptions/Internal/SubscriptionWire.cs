using System.Text.Json.Serialization;

namespace DurableStreams.Subscriptions.Internal;

// The JSON shapes of PROTOCOL.md §6-§7, as the reference server 0.3.7 sends and accepts them.
// Unknown fields are ignored (the serializer's default); missing fields stay null.

internal sealed class CreateSubscriptionWire
{
    public string Type { get; set; } = "";

    public string? Pattern { get; set; }

    public List<string>? Streams { get; set; }

    public WebhookWire? Webhook { get; set; }

    public string? WakeStream { get; set; }

    public long? LeaseTtlMs { get; set; }

    public string? Description { get; set; }
}

internal sealed class WebhookWire
{
    public string? Url { get; set; }

    public SigningWire? Signing { get; set; }
}

internal sealed class SigningWire
{
    public string? Alg { get; set; }

    public string? Kid { get; set; }

    public string? JwksUrl { get; set; }
}

internal sealed class SubscriptionWire
{
    public string? Id { get; set; }

    public string? SubscriptionId { get; set; }

    public string? Type { get; set; }

    public string? Pattern { get; set; }

    public List<StreamLinkWire>? Streams { get; set; }

    public WebhookWire? Webhook { get; set; }

    public string? WakeStream { get; set; }

    public long? LeaseTtlMs { get; set; }

    public string? CreatedAt { get; set; }

    public string? Status { get; set; }

    public string? Description { get; set; }
}

internal sealed class StreamLinkWire
{
    public string? Path { get; set; }

    public string? LinkType { get; set; }

    public string? AckedOffset { get; set; }

    public string? TailOffset { get; set; }

    public bool? HasPending { get; set; }
}

internal sealed class StreamListWire
{
    public List<string> Streams { get; set; } = [];
}

internal sealed class ClaimRequestWire
{
    public string Worker { get; set; } = "";
}

internal sealed class ClaimWire
{
    public string? WakeId { get; set; }

    public long? Generation { get; set; }

    public string? Token { get; set; }

    public List<StreamLinkWire>? Streams { get; set; }

    public long? LeaseTtlMs { get; set; }
}

internal sealed class AckRequestWire
{
    public string WakeId { get; set; } = "";

    public long Generation { get; set; }

    public List<AckWire>? Acks { get; set; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Done { get; set; }
}

internal sealed class AckWire
{
    public string Stream { get; set; } = "";

    public string Offset { get; set; } = "";
}

internal sealed class ReleaseRequestWire
{
    public string WakeId { get; set; } = "";

    public long Generation { get; set; }
}

internal sealed class AckResponseWire
{
    public bool? Ok { get; set; }

    public bool? NextWake { get; set; }
}

internal sealed class ErrorEnvelopeWire
{
    public ErrorWire? Error { get; set; }
}

internal sealed class ErrorWire
{
    public string? Code { get; set; }

    public string? Message { get; set; }

    public string? CurrentHolder { get; set; }

    public long? Generation { get; set; }
}

/// <summary>A wake event of a pull-wake subscription's wake stream (PROTOCOL.md §7.2).</summary>
internal sealed class WakeEventWire
{
    public string? Type { get; set; }

    public string? SubscriptionId { get; set; }

    public string? Stream { get; set; }

    public long? Generation { get; set; }

    public long? Ts { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CreateSubscriptionWire))]
[JsonSerializable(typeof(SubscriptionWire))]
[JsonSerializable(typeof(StreamListWire))]
[JsonSerializable(typeof(ClaimRequestWire))]
[JsonSerializable(typeof(ClaimWire))]
[JsonSerializable(typeof(AckRequestWire))]
[JsonSerializable(typeof(ReleaseRequestWire))]
[JsonSerializable(typeof(AckResponseWire))]
[JsonSerializable(typeof(ErrorEnvelopeWire))]
[JsonSerializable(typeof(WakeEventWire))]
internal sealed partial class SubscriptionJsonContext : JsonSerializerContext
{
}
