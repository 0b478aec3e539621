using System.Text.Json;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// Checks that a JSON stream's response body is one JSON array (PROTOCOL.md §9.1) and counts its
/// elements while the body is still arriving: given the bytes received so far after each read, it
/// walks the complete elements (<see cref="JsonArrayCursor"/>) and keeps its place, so the check of a
/// large body is mostly done by the time its last byte arrives instead of being one more pass after
/// it. Given a whole text at once it is <see cref="JsonArrayScanner.Count"/>.
/// </summary>
/// <remarks>
/// A mutable struct: keep it in a local and call it on that variable. An element split across
/// reads is walked again from its start once more bytes are in; <see cref="Advance"/> waits until
/// the bytes after the last complete element have at least doubled before it tries again, so a
/// single huge element is walked a bounded number of times, not once per read.
/// </remarks>
internal struct JsonArrayCounter
{
    private JsonArrayCursor _cursor;
    private int _retryAt;
    private int _count;

    /// <summary>Bytes walked so far, counting the ones walked again (for tests).</summary>
    internal long BytesExamined { get; private set; }

    /// <summary>Walks what it can of the body so far.</summary>
    /// <param name="received">Every byte of the body received so far: what the last call saw, and more.</param>
    /// <param name="cancellationToken">Checked every 4,096 elements.</param>
    /// <exception cref="JsonException">What has arrived already cannot be the start of one JSON array.</exception>
    public void Advance(ReadOnlySpan<byte> received, CancellationToken cancellationToken)
    {
        if (received.Length < _retryAt)
        {
            return;
        }

        Read(received, final: false, cancellationToken);
        int pending = received.Length - _cursor.Position;
        _retryAt = received.Length + pending;
    }

    /// <summary>Walks the rest of the complete body and returns the number of elements.</summary>
    /// <param name="body">The whole body: what <see cref="Advance"/> saw, and the rest.</param>
    /// <param name="cancellationToken">Checked every 4,096 elements.</param>
    /// <exception cref="JsonException">The body is not one well-formed JSON array.</exception>
    public int Finish(ReadOnlySpan<byte> body, CancellationToken cancellationToken)
    {
        Read(body, final: true, cancellationToken);
        return _count;
    }

    private void Read(ReadOnlySpan<byte> received, bool final, CancellationToken cancellationToken)
    {
        BytesExamined += received.Length - _cursor.Position;
        while (_cursor.Next(received, final, out _) == JsonArrayCursor.Step.Element)
        {
            if (++_count % 4096 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }
}
