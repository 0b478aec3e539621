namespace DurableStreams;

/// <summary>What a failed request of a read looked like, for <see cref="ReadOptions.OnFailure"/>.</summary>
public sealed class ReadFailureContext
{
    internal ReadFailureContext(DurableStream stream, Exception exception, int status, int attempt, Offset offset, bool willRetry)
    {
        Stream = stream;
        Exception = exception;
        Status = status;
        Attempt = attempt;
        Offset = offset;
        WillRetry = willRetry;
    }

    /// <summary>The stream being read.</summary>
    public DurableStream Stream { get; }

    /// <summary>The failure: a <see cref="DurableStreamException"/> for an error response, or the network exception.</summary>
    public Exception Exception { get; }

    /// <summary>The HTTP status of the failed response, or 0 when no response arrived.</summary>
    public int Status { get; }

    /// <summary>How many consecutive failed attempts this is, starting at 1.</summary>
    public int Attempt { get; }

    /// <summary>The offset the failed request asked for; the retry asks for it again.</summary>
    public Offset Offset { get; }

    /// <summary>What the SDK will do on its own (<see cref="ReadRecovery.Default"/>): retry (transient failures within the retry budget) or fail.</summary>
    public bool WillRetry { get; }
}

/// <summary>The answer of a <see cref="ReadOptions.OnFailure"/> hook.</summary>
public sealed class ReadRecovery
{
    private ReadRecovery(bool? retry, IReadOnlyDictionary<string, string>? headers, TimeSpan? delay)
    {
        ShouldRetry = retry;
        Headers = headers;
        Delay = delay;
    }

    /// <summary>Keep the SDK's own decision (<see cref="ReadFailureContext.WillRetry"/>).</summary>
    public static ReadRecovery Default { get; } = new(null, null, null);

    /// <summary>Fail the read now with the failure's exception.</summary>
    public static ReadRecovery Fail { get; } = new(false, null, null);

    /// <summary>Retry the failed request, whatever the failure was.</summary>
    /// <param name="headers">Headers that replace same-named headers on this and every later request of the read (e.g. a fresh <c>Authorization</c>). Default: none.</param>
    /// <param name="delay">How long to wait first. Default: the retry policy's backoff.</param>
    /// <returns>The recovery.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delay"/> is negative.</exception>
    public static ReadRecovery Retry(IReadOnlyDictionary<string, string>? headers = null, TimeSpan? delay = null)
    {
        if (delay is { } d && d < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delay), delay, "The delay cannot be negative.");
        }

        return new ReadRecovery(true, headers, delay);
    }

    /// <summary><see langword="true"/> to retry, <see langword="false"/> to fail, <see langword="null"/> to keep the SDK's decision.</summary>
    public bool? ShouldRetry { get; }

    /// <summary>Headers to use from the retry on, or <see langword="null"/>.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; }

    /// <summary>The wait before the retry, or <see langword="null"/> for the policy's backoff.</summary>
    public TimeSpan? Delay { get; }
}
