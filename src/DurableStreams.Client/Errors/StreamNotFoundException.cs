namespace DurableStreams;

/// <summary>The stream does not exist (HTTP 404; PROTOCOL.md §5).</summary>
public sealed class StreamNotFoundException : DurableStreamException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="streamUrl">The stream the operation addressed.</param>
    public StreamNotFoundException(string message, Uri? streamUrl)
        : base(message, 404, DurableStreamErrorCodes.NotFound, streamUrl)
    {
    }
}
