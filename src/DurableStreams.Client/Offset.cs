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
