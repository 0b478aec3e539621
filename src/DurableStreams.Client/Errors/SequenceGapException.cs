namespace DurableStreams;

/// <summary>
/// The server expected another producer sequence number than the one sent (HTTP 409,
/// PROTOCOL.md §5.2.1) and the missing batches will not arrive: the producer's state and the
/// server's disagree.
/// </summary>
public sealed class SequenceGapException : StreamConflictException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="expectedSequence">The sequence number the server expected.</param>
    /// <param name="receivedSequence">The sequence number it received.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public SequenceGapException(string message, long expectedSequence, long receivedSequence, Uri? streamUrl)
        : base(message, ConflictReason.SequenceConflict, DurableStreamErrorCodes.SequenceConflict, streamUrl)
    {
        ExpectedSequence = expectedSequence;
        ReceivedSequence = receivedSequence;
    }

    /// <summary>The sequence number the server expected (<c>Producer-Expected-Seq</c>).</summary>
    public long ExpectedSequence { get; }

    /// <summary>The sequence number the server received (<c>Producer-Received-Seq</c>).</summary>
    public long ReceivedSequence { get; }
}
