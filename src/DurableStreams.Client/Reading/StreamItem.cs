namespace DurableStreams;

/// <summary>One item of a typed read: a JSON message, or the text or bytes of one chunk, with where to resume after it.</summary>
/// <typeparam name="T">The item type.</typeparam>
public sealed class StreamItem<T>
{
    internal StreamItem(T value, ReadCheckpoint checkpoint, bool upToDate, bool streamClosed)
    {
        Value = value;
        Checkpoint = checkpoint;
        UpToDate = upToDate;
        StreamClosed = streamClosed;
    }

    /// <summary>The item.</summary>
    public T Value { get; }

    /// <summary>Pass this to <see cref="ReadOptions.Checkpoint"/> to resume right after this item.</summary>
    public ReadCheckpoint Checkpoint { get; }

    /// <summary>Whether this is the last item the server had when it answered (the reader is caught up).</summary>
    public bool UpToDate { get; }

    /// <summary>Whether this is the last item of a closed stream.</summary>
    public bool StreamClosed { get; }
}
