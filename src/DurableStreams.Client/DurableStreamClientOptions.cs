namespace DurableStreams;

/// <summary>
/// Settings of a <see cref="DurableStreamClient"/>. A mutable class so that it binds from
/// configuration; the client copies what it needs when it is constructed.
/// </summary>
public sealed class DurableStreamClientOptions
{
    /// <summary>
    /// The server's base address, against which relative stream paths resolve. Default: the
    /// <see cref="HttpClient.BaseAddress"/> of the client's <see cref="HttpClient"/>, if any.
    /// </summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>
    /// Retries of create, append, head, close, delete and fork requests, and of a read until it has
    /// received its first successful response (so a read against a server that is down fails like
    /// any other request). Default: 5 retries from 100 ms up to 10 s.
    /// </summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>
    /// Retries of read requests (each catch-up page, long-poll and SSE reconnect) once the read has
    /// received a successful response; before that, <see cref="Retry"/> applies. Default: no limit,
    /// from 100 ms up to 10 s, so a connected live reader rides out any outage until it is cancelled.
    /// Its delays also pace a read whose responses make no progress.
    /// </summary>
    public RetryOptions ReadRetry { get; set; } = new() { MaxRetries = int.MaxValue };

    /// <summary>Headers added to every request. Default: none.</summary>
    public IDictionary<string, string> DefaultHeaders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Called before every HTTP request, retries and reconnects included, to supply headers whose
    /// value changes (for example a bearer token that refreshes). Its headers override
    /// <see cref="DefaultHeaders"/>; per-call headers override both. Default: none.
    /// </summary>
    public Func<CancellationToken, ValueTask<IReadOnlyDictionary<string, string>>>? HeadersProvider { get; set; }

    /// <summary>Query parameters added to every request. Default: none.</summary>
    public IDictionary<string, string> DefaultQueryParameters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Called before every HTTP request, retries and reconnects included, to supply query
    /// parameters whose value changes. Default: none.
    /// </summary>
    public Func<CancellationToken, ValueTask<IReadOnlyDictionary<string, string>>>? QueryParametersProvider { get; set; }

    /// <summary>
    /// How long one attempt of a non-live request may take until its response has been read, and how
    /// long a live read (long-poll or SSE) waits for its response headers: a server that accepts a
    /// long-poll and never answers fails the attempt after this long, and the read polls again. Keep
    /// it above the server's long-poll timeout (the reference server's is 30 s). The body of a live
    /// response is not cut by it. <see cref="Timeout.InfiniteTimeSpan"/> disables it. Default: 100 s.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// How long a read waits for the next byte of a catch-up or long-poll response body once its
    /// headers have arrived. A body that sends nothing for this long fails the attempt like a dropped
    /// connection, and the read resumes from the last byte it handed out. Each byte that arrives
    /// restarts the wait; SSE responses, where silence between events is normal, are not affected.
    /// <see cref="Timeout.InfiniteTimeSpan"/> disables it. Default: 30 s.
    /// </summary>
    public TimeSpan ResponseIdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The serializer options of the reflection-based JSON overloads. Default:
    /// <see cref="System.Text.Json.JsonSerializerDefaults.Web"/> (camelCase names).
    /// </summary>
    public System.Text.Json.JsonSerializerOptions? JsonSerializerOptions { get; set; }

    /// <summary>
    /// Where the SDK logs retries, reconnects, fallbacks and producer failures. Default: none
    /// (<see cref="Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory"/>); <c>AddDurableStreams</c>
    /// uses the container's logger factory.
    /// </summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>The clock used for retry delays. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range; the parameter name says which.</exception>
    /// <exception cref="ArgumentException"><see cref="BaseAddress"/> is not an absolute http(s) URL.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Retry, nameof(Retry));
        ArgumentNullException.ThrowIfNull(ReadRetry, nameof(ReadRetry));
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
        Retry.Validate();
        ReadRetry.Validate();
        if (RequestTimeout <= TimeSpan.Zero && RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "RequestTimeout must be > 0 or Timeout.InfiniteTimeSpan.");
        }

        if (ResponseIdleTimeout <= TimeSpan.Zero && ResponseIdleTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ResponseIdleTimeout), ResponseIdleTimeout, "ResponseIdleTimeout must be > 0 or Timeout.InfiniteTimeSpan.");
        }

        if (BaseAddress is not null && !Internal.UrlUtilities.IsHttpUrl(BaseAddress))
        {
            throw new ArgumentException($"BaseAddress must be an absolute http or https URL, not '{BaseAddress}'.", nameof(BaseAddress));
        }
    }
}
