namespace DurableStreams.Testing;

/// <summary>
/// Settings of the Durable Streams endpoints that
/// <see cref="DurableStreamsEndpointRouteBuilderExtensions.MapDurableStreams(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder, string, DurableStreamsServerOptions?)"/>
/// maps and that <see cref="DurableStreamTestServer"/> runs.
/// </summary>
/// <remarks>
/// A development and test server, not a production store: all streams are held in memory (the file store
/// keeps a copy on disk so a restart on the same directory finds them again), there is no authentication,
/// and limits are sized for tests.
/// </remarks>
public class DurableStreamsServerOptions
{
    /// <summary>
    /// A directory for the file store, created when missing. Streams, their data, closure and producer state
    /// are written there and read back when a server starts on the same directory.
    /// Default: <see langword="null"/>, an in-memory store whose streams end with the server.
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>How long a long-poll read waits for new data before answering 204. Default: 3 seconds.</summary>
    public TimeSpan LongPollTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long the server keeps one SSE response open before ending it so the client reconnects
    /// (PROTOCOL.md §10.2 suggests about a minute). Default: 60 seconds.
    /// </summary>
    public TimeSpan SseConnectionLifetime { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest request body (PUT or POST) accepted, at most <see cref="Array.MaxLength"/>; a larger one gets 413. Default: 16 MiB.</summary>
    public long MaxRequestBodySize { get; set; } = 16L * 1024 * 1024;

    /// <summary>The most stream data one catch-up, long-poll or SSE data event carries (at least one message or byte). Default: 4 MiB.</summary>
    public int MaxReadChunkSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// The clock for TTL and <c>Stream-Expires-At</c> expiry and for live-read cursors; pass a fake one to
    /// expire streams in a test without waiting. It also times <see cref="LongPollTimeout"/> and
    /// <see cref="SseConnectionLifetime"/>: with a fake clock, a long-poll that gets no data answers only
    /// once the clock is advanced past its timeout. Default: <see cref="TimeProvider.System"/>.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        if (LongPollTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(LongPollTimeout)} must be positive, not {LongPollTimeout}.", nameof(LongPollTimeout));
        }

        if (SseConnectionLifetime <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(SseConnectionLifetime)} must be positive, not {SseConnectionLifetime}.", nameof(SseConnectionLifetime));
        }

        if (MaxRequestBodySize <= 0 || MaxRequestBodySize > Array.MaxLength)
        {
            throw new ArgumentException($"{nameof(MaxRequestBodySize)} must be 1 to {Array.MaxLength} bytes, not {MaxRequestBodySize}.", nameof(MaxRequestBodySize));
        }

        if (MaxReadChunkSize <= 0)
        {
            throw new ArgumentException($"{nameof(MaxReadChunkSize)} must be positive, not {MaxReadChunkSize}.", nameof(MaxReadChunkSize));
        }

        if (TimeProvider is null)
        {
            throw new ArgumentException($"{nameof(TimeProvider)} must not be null.", nameof(TimeProvider));
        }
    }
}
