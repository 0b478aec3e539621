using System.Buffers;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// Reads a response body in parts of at most a given size, each in a fresh array the caller owns.
/// For text, a part never ends inside a UTF-8 sequence (the 1-3 bytes are carried into the next
/// part), so a checkpoint taken after a part of a text stream never splits a character.
/// </summary>
internal sealed class BodyPartReader
{
    private readonly Stream _body;
    private readonly int _maxPart;
    private readonly bool _text;
    private readonly byte[] _carry = new byte[3];
    private int _carryLength;

    public BodyPartReader(Stream body, int maxPart, bool text)
    {
        _body = body;
        _maxPart = maxPart;
        _text = text;
    }

    /// <summary>The next part (possibly empty) and whether the body has ended.</summary>
    public async ValueTask<(byte[] Part, bool Eof)> ReadAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_maxPart);
        try
        {
            _carry.AsSpan(0, _carryLength).CopyTo(buffer);
            int filled = _carryLength;
            _carryLength = 0;
            bool eof = false;
            while (filled < _maxPart)
            {
                int read = await _body.ReadAsync(buffer.AsMemory(filled, _maxPart - filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    eof = true;
                    break;
                }

                filled += read;
            }

            int end = eof || !_text ? filled : Utf8Boundary(buffer.AsSpan(0, filled));
            _carryLength = filled - end;
            buffer.AsSpan(end, _carryLength).CopyTo(_carry);
            return (buffer.AsSpan(0, end).ToArray(), eof);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The length of <paramref name="data"/> without a trailing incomplete UTF-8 sequence.</summary>
    internal static int Utf8Boundary(ReadOnlySpan<byte> data)
    {
        int continuation = 0;
        for (int i = data.Length - 1; i >= 0 && continuation < 3; i--)
        {
            byte b = data[i];
            if ((b & 0xC0) == 0x80)
            {
                continuation++;
                continue;
            }

            int needed = b switch
            {
                < 0x80 => 1,
                >= 0xC0 and < 0xE0 => 2,
                >= 0xE0 and < 0xF0 => 3,
                >= 0xF0 and < 0xF8 => 4,
                _ => 1,
            };
            return continuation + 1 < needed ? i : data.Length;
        }

        // Not UTF-8 text (or only continuation bytes): cut anywhere.
        return data.Length;
    }
}
