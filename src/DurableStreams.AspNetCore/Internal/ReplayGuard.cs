using System.Collections.Concurrent;

namespace DurableStreams.AspNetCore.Internal;

/// <summary>Remembers the signatures accepted within the replay window, so an identical delivery is refused.</summary>
internal sealed class ReplayGuard
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    /// <summary>Records the signature; false when it was already accepted.</summary>
    public bool TryAccept(byte[] signature, DateTimeOffset expires, DateTimeOffset now)
    {
        if (_seen.Count > 1024)
        {
            foreach (KeyValuePair<string, DateTimeOffset> entry in _seen)
            {
                if (entry.Value < now)
                {
                    _seen.TryRemove(entry.Key, out _);
                }
            }
        }

        return _seen.TryAdd(Convert.ToBase64String(signature), expires);
    }
}
