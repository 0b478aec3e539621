using System.Globalization;
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
    private long _line = 1;
    private bool _eof;

    public JsonValueReader(Stream input) => _input = input;

    /// <summary>Bytes read from the input so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>
    /// Returns the next value's bytes (valid until the next call), or <see langword="null"/> at the end of the input.
    /// </summary>
    /// <exception cref="JsonInputException">The input is not a sequence of JSON values.</exception>
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
                _line += value.Span.Count((byte)'\n');
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
            if (_buffer[_start] == (byte)'\n')
            {
                _line++;
            }

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
            // The reader's line number counts from the start of this value, not of the input.
            long errorLine = _line + ex.LineNumber.GetValueOrDefault();
            ReadOnlySpan<byte> rest = _buffer.AsSpan(_start, _end - _start).TrimEnd(" \t\r\n"u8);
            bool endsInside = _eof && errorLine > _line + rest.Count((byte)'\n');
            throw new JsonInputException(_line, endsInside ? null : errorLine, Reason(ex), ex);
        }
    }

    /// <summary>The parser's message without its position, which is relative to this value rather than the input.</summary>
    private static string Reason(JsonException ex)
    {
        int position = ex.Message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return position > 0 ? ex.Message[..position] : ex.Message;
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
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

/// <summary>
/// The input of <c>write --json</c> is not a sequence of JSON values; names the line (1-based) of
/// the value that is wrong and the line where the parser found the mistake.
/// </summary>
internal sealed class JsonInputException : Exception
{
    public JsonInputException(long valueLine, long? errorLine, string reason, Exception innerException)
        : base(Describe(valueLine, errorLine, reason), innerException)
    {
        ValueLine = valueLine;
        ErrorLine = errorLine;
    }

    public JsonInputException()
    {
    }

    public JsonInputException(string message)
        : base(message)
    {
    }

    public JsonInputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The line on which the bad value starts.</summary>
    public long ValueLine { get; }

    /// <summary>
    /// The line on which the parser found the mistake (the same line for newline-delimited JSON), or
    /// <see langword="null"/> when the input ends inside the value.
    /// </summary>
    public long? ErrorLine { get; }

    private static string Describe(long valueLine, long? errorLine, string reason) => errorLine switch
    {
        null => string.Create(CultureInfo.InvariantCulture, $"line {valueLine} is not JSON (the input ends inside the value that starts there): {reason}"),
        { } line when line == valueLine => string.Create(CultureInfo.InvariantCulture, $"line {valueLine} is not JSON: {reason}"),
        { } line => string.Create(CultureInfo.InvariantCulture, $"line {valueLine} is not JSON (the value that starts there fails at line {line}): {reason}"),
    };
}
