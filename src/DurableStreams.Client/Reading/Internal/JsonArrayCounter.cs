using System.Text.Json;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// Checks that a JSON stream's response body is one JSON array (PROTOCOL.md §9.1) and counts its
/// elements while the body is still arriving: given the bytes received so far after each read, it
/// reads as far as they go and keeps its place, so the check of a large body is mostly done by the
/// time its last byte arrives instead of being one more pass after it. Given a whole text at once
/// it is <see cref="JsonArrayScanner.Count"/>. It accepts and rejects the same texts as
/// <see cref="JsonArrayScanner.MoveNext"/> (the oracle tests in JsonArrayScannerTests).
/// </summary>
/// <remarks>
/// A mutable struct: keep it in a local and call it on that variable. A token split across reads is
/// read again from its start once more bytes are in; <see cref="Advance"/> waits until the bytes
/// after the last complete token have at least doubled before it tries again, so a single huge
/// string or number is read a bounded number of times, not once per read.
/// </remarks>
internal struct JsonArrayCounter
{
    private JsonReaderState _state;
    private int _consumed;
    private int _retryAt;
    private int _count;
    private bool _started;
    private bool _ended;

    /// <summary>Bytes handed to the JSON reader so far, counting the ones read again (for tests).</summary>
    internal long BytesExamined { get; private set; }

    /// <summary>Reads what it can of the body so far.</summary>
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
        int pending = received.Length - _consumed;
        _retryAt = received.Length + pending;
    }

    /// <summary>Reads the rest of the complete body and returns the number of elements.</summary>
    /// <param name="body">The whole body: what <see cref="Advance"/> saw, and the rest.</param>
    /// <param name="cancellationToken">Checked every 4,096 elements.</param>
    /// <exception cref="JsonException">The body is not one well-formed JSON array.</exception>
    public int Finish(ReadOnlySpan<byte> body, CancellationToken cancellationToken)
    {
        Read(body, final: true, cancellationToken);
        if (!_ended)
        {
            throw new JsonException(_started ? "The JSON array is not terminated." : "Expected a JSON array.");
        }

        return _count;
    }

    private void Read(ReadOnlySpan<byte> received, bool final, CancellationToken cancellationToken)
    {
        BytesExamined += received.Length - _consumed;
        var reader = new Utf8JsonReader(received[_consumed..], final, _state);
        while (reader.Read())
        {
            if (_ended)
            {
                // The reader rejects a second top-level value itself; this keeps the rule explicit.
                throw new JsonException("Unexpected data after the JSON array.");
            }

            if (!_started)
            {
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw new JsonException("Expected a JSON array.");
                }

                _started = true;
            }
            else if (reader.CurrentDepth == 0)
            {
                // The array's own closing bracket.
                _ended = true;
            }
            else if (reader.CurrentDepth == 1 && reader.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
            {
                // An element begins: a value directly inside the array.
                if (++_count % 4096 == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }

                // An object or array is passed over whole when it has arrived whole (the reader's
                // own loop, faster than a token at a time here); otherwise its tokens are read as
                // they come, and its closing token, back at this depth, is not counted again.
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
                {
                    break;
                }
            }
        }

        _consumed += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
    }
}
