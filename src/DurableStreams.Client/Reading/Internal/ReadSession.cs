namespace DurableStreams.Reading.Internal;

/// <summary>
/// The read protocol loop (PROTOCOL.md §5.6-§5.8): catch-up, then long-poll or SSE, with retries,
/// reconnects and the recovery hook. Yields one <see cref="StreamChunk"/> per response or per SSE
/// control group, empty ones included; for JSON streams the chunk's data is one JSON array (or empty).
/// </summary>
internal static class ReadSession
{
    public static async IAsyncEnumerable<StreamChunk> RunAsync(
        DurableStream stream,
        ReadOptions options,
        Offset start,
        string? cursor,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _ = stream;
        _ = options;
        _ = start;
        _ = cursor;
        await Task.Yield();
        cancellationToken.ThrowIfCancellationRequested();
        throw new NotImplementedException("ReadSession is being written (issue 3).");
#pragma warning disable CS0162 // Unreachable code detected
        yield break;
#pragma warning restore CS0162
    }
}
