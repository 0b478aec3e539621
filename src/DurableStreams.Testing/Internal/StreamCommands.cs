namespace DurableStreams.Testing.Internal;

/// <summary>A validated PUT (PROTOCOL.md §5.1, §4.2).</summary>
internal sealed class CreateCommand
{
    public required string Path { get; init; }

    /// <summary>The request's Content-Type, or null when it sent none.</summary>
    public string? ContentType { get; init; }

    public long? TtlSeconds { get; init; }

    public DateTimeOffset? ExpiresAt { get; init; }

    public bool Close { get; init; }

    public IReadOnlyList<ReadOnlyMemory<byte>> Units { get; init; } = [];

    public string? ForkedFrom { get; init; }

    /// <summary>The source's path key, resolved from <see cref="ForkedFrom"/>.</summary>
    public string? SourcePath { get; init; }

    /// <summary>The requested fork offset as sent; null: the source's tail.</summary>
    public string? ForkOffset { get; init; }

    public long ForkSubOffset { get; init; }
}

internal enum CreateStatus
{
    Created,
    Exists,
    Conflict,
    SourceNotFound,
    BadForkOffset,
    BadSubOffset,
}

internal sealed record CreateOutcome(CreateStatus Status, StoredStream? Stream, string? Message = null);

/// <summary>A validated POST (PROTOCOL.md §5.2, §5.2.1).</summary>
internal sealed class AppendCommand
{
    /// <summary>The units to store: the body (byte streams) or its flattened messages (JSON streams).</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Units { get; init; } = [];

    public bool HasBody { get; init; }

    public string? ContentType { get; init; }

    public bool Close { get; init; }

    public string? StreamSeq { get; init; }

    public ProducerTuple? Producer { get; init; }

    /// <summary>Why the JSON body is unusable (invalid, or an empty array), reported after the closed check.</summary>
    public string? JsonError { get; init; }
}

internal enum AppendStatus
{
    Appended,
    Duplicate,
    NotFound,
    Gone,
    StreamClosed,
    ContentTypeMismatch,
    InvalidBody,
    StreamSeqConflict,
    StaleEpoch,
    InvalidEpochSeq,
    SequenceGap,
}

internal sealed record AppendOutcome(AppendStatus Status, long Tail, bool Closed)
{
    public long? ProducerEpoch { get; init; }

    public long? ProducerSeq { get; init; }

    public long? ExpectedSeq { get; init; }

    public long? ReceivedSeq { get; init; }

    public string? Message { get; init; }
}
