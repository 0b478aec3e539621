namespace DurableStreams.Transport.Internal;

/// <summary>
/// The one backoff rule shared by control operations, reads and producers: exponential growth
/// from <see cref="RetryOptions.InitialDelay"/>, capped at <see cref="RetryOptions.MaxDelay"/>,
/// full jitter when <see cref="RetryOptions.Jitter"/> is on, and the server's <c>Retry-After</c>
/// as a floor as long as it is within <see cref="RetryOptions.MaxRetryAfter"/>.
/// </summary>
internal static class Backoff
{
    /// <summary>
    /// The wait before retry number <paramref name="retry"/> (from 0), or <see langword="null"/>
    /// when the server asked for a longer wait than <see cref="RetryOptions.MaxRetryAfter"/>
    /// allows: the caller then fails at once with the answer's exception.
    /// </summary>
    public static TimeSpan? Delay(RetryOptions options, int retry, TimeSpan? retryAfter)
    {
        if (retryAfter is { } requested && requested > options.MaxRetryAfter)
        {
            return null;
        }

        TimeSpan ceiling = options.BackoffCeiling(Math.Max(0, retry));
        TimeSpan delay = options.Jitter ? TimeSpan.FromTicks((long)(ceiling.Ticks * Random.Shared.NextDouble())) : ceiling;
        return retryAfter is { } minimum && minimum > delay ? minimum : delay;
    }

    /// <summary>Whether a <c>Retry-After</c> (absent counts as yes) is short enough to wait for.</summary>
    public static bool Allows(RetryOptions options, TimeSpan? retryAfter) =>
        retryAfter is not { } requested || requested <= options.MaxRetryAfter;
}
