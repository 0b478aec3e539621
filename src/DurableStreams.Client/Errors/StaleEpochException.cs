namespace DurableStreams;

/// <summary>
/// This producer's epoch is no longer its own (PROTOCOL.md §5.2.1): a newer epoch of the same
/// producer id has claimed the stream (HTTP 403; this instance is a zombie and was fenced), or
/// another instance already used the same epoch (a duplicate answer, 204, to a batch this producer
/// had never sent — typically a restart without a higher epoch). Nothing of the refused batch was stored.
/// </summary>
public sealed class StaleEpochException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="currentEpoch">The server's current epoch for the producer id.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public StaleEpochException(string message, long currentEpoch, Uri? streamUrl)
        : this(message, currentEpoch, streamUrl, status: 403)
    {
    }

    internal StaleEpochException(string message, long currentEpoch, Uri? streamUrl, int status)
        : base(message, status, DurableStreamErrorCodes.StaleEpoch, streamUrl)
    {
        CurrentEpoch = currentEpoch;
    }

    /// <summary>The server's current epoch for the producer id (its <c>Producer-Epoch</c> header).</summary>
    public long CurrentEpoch { get; }
}
