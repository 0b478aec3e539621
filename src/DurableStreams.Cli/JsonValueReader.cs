using System.Text.Json;

namespace DurableStreams.Cli;

/// <summary>
/// Splits a byte stream holding JSON values one after another (one value, or newline-delimited
/// JSON, or values separated by any JSON white space) into one value at a time, holding in memory
/// only the value being read rather than the whole input.
/// </summary>
internal sealed class JsonValueReader
{
    private const int InitialBufferSize = 16 * 1024;
    private readonly Stream _input;
    private byte[] _buffer = new byte[InitialBufferSize];
    private int _start;
    private int _end;
    private long _bufferPosition;
    private bool _eof;

    public JsonValueReader(Stream input) => _input = input;

    /// <summary>Bytes read from the input so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>
    /// Returns the next value's bytes (valid until the next call), or <see langword="null"/> at the end of the input.
    /// </summary>
    /// <exception cref="UsageException">The input is not a sequence of JSON values.</exception>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadNextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            SkipWhiteSpace();
            if (_start == _end)
            {
                if (_eof)
                {
                    return null;
                }
            }
            else if (TryReadValue(out int length))
            {
                var value = new ReadOnlyMemory<byte>(_buffer, _start, length);
                _start += length;
                return value;
            }

            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void SkipWhiteSpace()
    {
        while (_start < _end && _buffer[_start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            _start++;
        }
    }

    /// <summary>Tries to find one complete value at <see cref="_start"/> (which is not white space).</summary>
    private bool TryReadValue(out int length)
    {
        length = 0;
        var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _eof, default);
        try
        {
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip())
            {
                return false;
            }

            length = checked((int)reader.BytesConsumed);
            return true;
        }
        catch (JsonException ex)
        {
            long at = _bufferPosition + _start + ex.BytePositionInLine.GetValueOrDefault();
            throw new UsageException($"The input is not JSON (a value, or one value per line) near byte {at}: {ex.Message}", ex);
        }
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferPosition += _start;
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, checked(_buffer.Length * 2));
        }

        int read = await _input.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            _eof = true;
        }

        _end += read;
        BytesRead += read;
    }
}
