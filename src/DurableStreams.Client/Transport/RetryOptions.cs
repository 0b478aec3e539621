namespace DurableStreams;

/// <summary>
/// How the SDK retries failed requests: network failures, 429 and 5xx, with exponential backoff,
/// full jitter, and the server's <c>Retry-After</c> as the minimum wait.
/// </summary>
/// <remarks>
/// Each setter rejects an out-of-range value at once; <see cref="Validate"/> also checks that
/// <see cref="MaxDelay"/> is not below <see cref="InitialDelay"/>, and every client or producer
/// calls it when it is constructed, before any I/O. The delay before retry <c>n</c> (from 0) is
/// <c>min(MaxDelay, InitialDelay × Multiplier^n)</c>, drawn uniformly from zero to that value when
/// <see cref="Jitter"/> is on, and never shorter than the server's <c>Retry-After</c>.
/// </remarks>
public sealed class RetryOptions
{
    private int _maxRetries = 5;
    private TimeSpan _initialDelay = TimeSpan.FromMilliseconds(100);
    private TimeSpan _maxDelay = TimeSpan.FromSeconds(10);
    private double _multiplier = 2.0;
    private TimeSpan _maxRetryAfter = TimeSpan.FromMinutes(1);

    /// <summary>Creates options with the defaults.</summary>
    public RetryOptions()
    {
    }

    /// <summary>Creates options with every value given, validated at once.</summary>
    /// <param name="maxRetries">See <see cref="MaxRetries"/>.</param>
    /// <param name="initialDelay">See <see cref="InitialDelay"/>.</param>
    /// <param name="maxDelay">See <see cref="MaxDelay"/>.</param>
    /// <param name="multiplier">See <see cref="Multiplier"/>.</param>
    /// <param name="jitter">See <see cref="Jitter"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the parameter name says which.</exception>
    public RetryOptions(int maxRetries, TimeSpan initialDelay, TimeSpan maxDelay, double multiplier = 2.0, bool jitter = true)
    {
        MaxRetries = maxRetries;
        InitialDelay = initialDelay;
        MaxDelay = maxDelay;
        Multiplier = multiplier;
        Jitter = jitter;
        Validate();
    }

    /// <summary>
    /// How many times a failed request is retried after the first attempt; 0 disables retries.
    /// Default: 5. Live reads use <see cref="DurableStreamClientOptions.ReadRetry"/>, which
    /// retries without limit by default.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public int MaxRetries
    {
        get => _maxRetries;
        set
        {
            if (value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxRetries), value, "MaxRetries must be >= 0.");
            }

            _maxRetries = value;
        }
    }

    /// <summary>The backoff before the first retry. Default: 100 ms.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public TimeSpan InitialDelay
    {
        get => _initialDelay;
        set
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(InitialDelay), value, "InitialDelay must be > 0.");
            }

            _initialDelay = value;
        }
    }

    /// <summary>The longest backoff between two attempts (a longer <c>Retry-After</c> still wins). Default: 10 s.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public TimeSpan MaxDelay
    {
        get => _maxDelay;
        set
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxDelay), value, "MaxDelay must be > 0.");
            }

            _maxDelay = value;
        }
    }

    /// <summary>The factor by which the backoff grows after each retry. Default: 2.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1 or not a finite number.</exception>
    public double Multiplier
    {
        get => _multiplier;
        set
        {
            if (!(value >= 1.0) || double.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(Multiplier), value, "Multiplier must be >= 1.");
            }

            _multiplier = value;
        }
    }

    /// <summary>
    /// Whether each backoff is drawn uniformly between zero and its computed value ("full jitter"),
    /// which spreads out clients that failed together. Default: <see langword="true"/>.
    /// </summary>
    public bool Jitter { get; set; } = true;

    /// <summary>
    /// The longest <c>Retry-After</c> the SDK waits for. When a 429 or 5xx answer asks for a longer
    /// wait, the request is not retried: the answer's exception is thrown at once and carries the
    /// server's value in <see cref="DurableStreamException.RetryAfter"/>, so the caller decides.
    /// Applies to control operations, reads and producers alike. Default: 1 minute.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is zero or negative.</exception>
    public TimeSpan MaxRetryAfter
    {
        get => _maxRetryAfter;
        set
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(MaxRetryAfter), value, "MaxRetryAfter must be > 0.");
            }

            _maxRetryAfter = value;
        }
    }

    /// <summary>Checks the values together.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="MaxDelay"/> is below <see cref="InitialDelay"/>.</exception>
    public void Validate()
    {
        if (MaxDelay < InitialDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, $"MaxDelay must be >= InitialDelay ({InitialDelay}).");
        }
    }

    /// <summary>Returns a copy of these options.</summary>
    /// <returns>A new instance with the same values.</returns>
    public RetryOptions Clone() => new()
    {
        _maxRetries = _maxRetries,
        _initialDelay = _initialDelay,
        _maxDelay = _maxDelay,
        _multiplier = _multiplier,
        _maxRetryAfter = _maxRetryAfter,
        Jitter = Jitter,
    };

    /// <summary>The backoff before retry number <paramref name="retry"/> (from 0), before jitter and Retry-After.</summary>
    internal TimeSpan BackoffCeiling(int retry)
    {
        double ms = InitialDelay.TotalMilliseconds * Math.Pow(Multiplier, Math.Min(retry, 64));
        double max = MaxDelay.TotalMilliseconds;
        return TimeSpan.FromMilliseconds(double.IsFinite(ms) ? Math.Min(ms, max) : max);
    }
}
