using System.Globalization;
using System.Text;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace DurableStreams.AspNetCore.Internal;

/// <summary>
/// Parses and checks <c>Webhook-Signature: t=&lt;unix seconds&gt;,kid=&lt;key id&gt;,ed25519=&lt;base64url&gt;</c>
/// (PROTOCOL.md §7.1): an Ed25519 signature over <c>&lt;t&gt;.&lt;raw body&gt;</c>.
/// </summary>
internal readonly record struct WebhookSignature(long Timestamp, string KeyId, byte[] Signature)
{
    public static bool TryParse(string? header, out WebhookSignature signature)
    {
        signature = default;
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }

        long? t = null;
        string? kid = null;
        byte[]? sig = null;
        foreach (string part in header.Split(','))
        {
            int eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return false;
            }

            string name = part[..eq].Trim();
            string value = part[(eq + 1)..].Trim();
            switch (name)
            {
                case "t" when long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds):
                    t = seconds;
                    break;
                case "kid" when value.Length > 0:
                    kid = value;
                    break;
                case "ed25519":
                    sig = Base64Url(value);
                    break;
            }
        }

        if (t is null || kid is null || sig is not { Length: 64 })
        {
            return false;
        }

        signature = new WebhookSignature(t.Value, kid, sig);
        return true;
    }

    public bool Verify(byte[] publicKey, ReadOnlySpan<byte> body)
    {
        if (publicKey.Length != Ed25519.PublicKeySize)
        {
            return false;
        }

        byte[] prefix = Encoding.ASCII.GetBytes(Timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        byte[] message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return Ed25519.Verify(Signature, 0, publicKey, 0, message, 0, message.Length);
    }

    public static byte[]? Base64Url(string value)
    {
        string base64 = value.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        try
        {
            return Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
