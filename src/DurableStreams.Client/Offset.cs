namespace DurableStreams;

/// <summary>
/// A position in a durable stream: an opaque token minted by the server, or one of the two
/// protocol sentinels <see cref="Beginning"/> (<c>-1</c>) and <see cref="Now"/> (<c>now</c>).
/// </summary>
/// <remarks>
/// Offsets are opaque (PROTOCOL.md §8): never build one yourself, only store and pass back the
/// values the SDK hands you. Two offsets of the same stream compare by ordinal string order,
/// which <see cref="CompareTo(Offset)"/> exposes for server-minted offsets.
/// <c>default(Offset)</c> is <see cref="Beginning"/>.
/// </remarks>
public readonly struct Offset : IEquatable<Offset>, IComparable<Offset>
{
    private const string BeginningValue = "-1";
    private const string NowValue = "now";

    // ASCII controls, white space and the characters offsets never contain (PROTOCOL.md §8).
    private static readonly System.Buffers.SearchValues<byte> ForbiddenBytes = System.Buffers.SearchValues.Create(
        [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,
         0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F,
         (byte)' ', (byte)',', (byte)'&', (byte)'=', (byte)'?', (byte)'/']);

    private readonly string? _value;

    /// <summary>Creates an offset from a value previously returned by the server or by <see cref="ToString"/>.</summary>
    /// <param name="value">The offset token.</param>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="value"/> is empty or contains a character that
    /// PROTOCOL.md §8 forbids in offsets (<c>, &amp; = ? /</c>) or white space.</exception>
    public Offset(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0)
        {
            throw new ArgumentException("An offset cannot be empty.", nameof(value));
        }

        foreach (char c in value)
        {
            if (c is ',' or '&' or '=' or '?' or '/' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                throw new ArgumentException($"The offset '{value}' contains the character '{c}', which offsets never contain (PROTOCOL.md §8).", nameof(value));
            }
        }

        _value = value;
    }

    /// <summary>An offset whose characters the caller has already checked (see <see cref="IsValidUtf8"/>).</summary>
    private Offset(string value, bool checkedValue)
    {
        _ = checkedValue;
        _value = value;
    }

    /// <summary>The start of the stream (<c>-1</c>): a read from here returns every byte.</summary>
    public static Offset Beginning => default;

    /// <summary>The tail of the stream at the time of the request (<c>now</c>): a read from here skips existing data.</summary>
    public static Offset Now => new(NowValue);

    /// <summary>The token sent on the wire.</summary>
    public string Value => _value ?? BeginningValue;

    /// <summary>Whether this is the <see cref="Beginning"/> sentinel.</summary>
    public bool IsBeginning => Value == BeginningValue;

    /// <summary>Whether this is the <see cref="Now"/> sentinel.</summary>
    public bool IsNow => _value == NowValue;

    /// <summary>
    /// Whether UTF-8 bytes are an offset the constructor accepts, decided on the bytes: ASCII without
    /// the characters PROTOCOL.md §8 forbids. False for anything else (including non-ASCII offsets,
    /// which <see cref="TryParse"/> then decides on the string).
    /// </summary>
    internal static bool IsValidUtf8(ReadOnlySpan<byte> value) =>
        !value.IsEmpty && !value.ContainsAny(ForbiddenBytes) && !value.ContainsAnyInRange((byte)0x7F, (byte)0xFF);

    /// <summary>An offset from text that <see cref="IsValidUtf8"/> accepted, without checking it again.</summary>
    internal static Offset FromChecked(string value) => new(value, checkedValue: true);

    /// <summary>Parses an offset; equivalent to the constructor.</summary>
    /// <param name="value">The offset token.</param>
    /// <returns>The offset.</returns>
    public static Offset Parse(string value) => new(value);

    /// <summary>Tries to parse an offset without throwing.</summary>
    /// <param name="value">The offset token.</param>
    /// <param name="offset">The parsed offset, or <see cref="Beginning"/> when parsing fails.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is a valid offset.</returns>
    public static bool TryParse(string? value, out Offset offset)
    {
        offset = default;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        try
        {
            offset = new Offset(value);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// Compares two offsets of the same stream by ordinal order, as PROTOCOL.md §8 allows.
    /// <see cref="Beginning"/> sorts before every other offset; <see cref="Now"/> has no position
    /// and sorts after every other offset.
    /// </summary>
    /// <param name="other">The offset to compare with.</param>
    /// <returns>A negative number, zero or a positive number.</returns>
    public int CompareTo(Offset other)
    {
        if (Equals(other))
        {
            return 0;
        }

        if (IsBeginning || other.IsNow)
        {
            return -1;
        }

        if (other.IsBeginning || IsNow)
        {
            return 1;
        }

        return string.CompareOrdinal(Value, other.Value);
    }

    /// <inheritdoc />
    public bool Equals(Offset other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Offset other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>Returns the token, suitable for persisting and for <see cref="Parse"/>.</summary>
    /// <returns>The offset token.</returns>
    public override string ToString() => Value;

    /// <summary>Compares two offsets for equality.</summary>
    public static bool operator ==(Offset left, Offset right) => left.Equals(right);

    /// <summary>Compares two offsets for inequality.</summary>
    public static bool operator !=(Offset left, Offset right) => !left.Equals(right);

    /// <summary>Orders two offsets (see <see cref="CompareTo(Offset)"/>).</summary>
    public static bool operator <(Offset left, Offset right) => left.CompareTo(right) < 0;

    /// <summary>Orders two offsets (see <see cref="CompareTo(Offset)"/>).</summary>
    public static bool operator >(Offset left, Offset right) => left.CompareTo(right) > 0;

    /// <summary>Orders two offsets (see <see cref="CompareTo(Offset)"/>).</summary>
    public static bool operator <=(Offset left, Offset right) => left.CompareTo(right) <= 0;

    /// <summary>Orders two offsets (see <see cref="CompareTo(Offset)"/>).</summary>
    public static bool operator >=(Offset left, Offset right) => left.CompareTo(right) >= 0;
}
