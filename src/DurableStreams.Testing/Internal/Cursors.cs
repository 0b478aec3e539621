using System.Globalization;

namespace DurableStreams.Testing.Internal;

/// <summary>
/// Live-read cursors (PROTOCOL.md §10.1): the number of 20-second intervals since 2024-10-09T00:00:00Z,
/// moved strictly past a client's cursor that is already at or beyond the current interval.
/// </summary>
internal sealed class Cursors(TimeProvider time)
{
    private static readonly DateTimeOffset Epoch = new(2024, 10, 9, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(20);

    public long Current => (time.GetUtcNow() - Epoch).Ticks / Interval.Ticks;

    /// <summary>The cursor to answer a request that echoed <paramref name="clientCursor"/> with.</summary>
    public long Next(string? clientCursor)
    {
        var current = Current;
        if (long.TryParse(clientCursor, NumberStyles.None, CultureInfo.InvariantCulture, out var client) && client >= current)
        {
            // 1 to 3600 seconds of jitter, in whole intervals, at least one.
            return client + Math.Max(1, Random.Shared.Next(1, 3601) / (int)Interval.TotalSeconds);
        }

        return current;
    }
}
