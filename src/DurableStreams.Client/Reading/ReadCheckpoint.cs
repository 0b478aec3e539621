using System.Globalization;

namespace DurableStreams;

/// <summary>
/// A saved read position that resumes exactly after the last item processed: the offset of the
/// response the item came from, how many items of that response to skip, and the server's cursor.
/// </summary>
/// <remarks>
/// Offsets only exist at response boundaries (PROTOCOL.md §8), so an item in the middle of a
/// response is addressed as "the response starting at <see cref="Offset"/>, after <see cref="Skip"/>
/// items". Persist it with <see cref="ToString"/> and restore it with <see cref="Parse(string)"/>.
/// The text form is <c>offset</c> when there is nothing else to say, else <c>offset,skip[,cursor]</c>.
/// </remarks>
public readonly struct ReadCheckpoint : IEquatable<ReadCheckpoint>
{
    /// <summary>Creates a checkpoint.</summary>
    /// <param name="offset">The offset to request.</param>
    /// <param name="skip">How many items (JSON messages) of the response at <paramref name="offset"/> were already processed.</param>
    /// <param name="cursor">The last <c>Stream-Cursor</c> the server sent, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="skip"/> is negative.</exception>
    public ReadCheckpoint(Offset offset, long skip = 0, string? cursor = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(skip);
        Offset = offset;
        Skip = skip;
        Cursor = string.IsNullOrEmpty(cursor) ? null : cursor;
    }

    /// <summary>The offset to request when resuming.</summary>
    public Offset Offset { get; }

    /// <summary>How many items of the response at <see cref="Offset"/> to drop when resuming.</summary>
    public long Skip { get; }

    /// <summary>The last <c>Stream-Cursor</c> seen, echoed as <c>cursor</c> when resuming a live read (PROTOCOL.md §5.8).</summary>
    public string? Cursor { get; }

    /// <summary>Parses the text form written by <see cref="ToString"/>.</summary>
    /// <param name="value">The text.</param>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="FormatException"><paramref name="value"/> is not a checkpoint.</exception>
    public static ReadCheckpoint Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out ReadCheckpoint checkpoint)
            ? checkpoint
            : throw new FormatException($"'{value}' is not a read checkpoint (expected 'offset' or 'offset,skip[,cursor]').");
    }

    /// <summary>Tries to parse the text form written by <see cref="ToString"/>.</summary>
    /// <param name="value">The text.</param>
    /// <param name="checkpoint">The checkpoint, or <see langword="default"/> when parsing fails.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is a checkpoint.</returns>
    public static bool TryParse(string? value, out ReadCheckpoint checkpoint)
    {
        checkpoint = default;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        int firstComma = value.IndexOf(',', StringComparison.Ordinal);
        if (firstComma < 0)
        {
            if (!DurableStreams.Offset.TryParse(value, out Offset onlyOffset))
            {
                return false;
            }

            checkpoint = new ReadCheckpoint(onlyOffset);
            return true;
        }

        if (!DurableStreams.Offset.TryParse(value[..firstComma], out Offset offset))
        {
            return false;
        }

        string rest = value[(firstComma + 1)..];
        int secondComma = rest.IndexOf(',', StringComparison.Ordinal);
        string skipText = secondComma < 0 ? rest : rest[..secondComma];
        if (!long.TryParse(skipText, NumberStyles.None, CultureInfo.InvariantCulture, out long skip))
        {
            return false;
        }

        string? cursor = secondComma < 0 ? null : rest[(secondComma + 1)..];
        checkpoint = new ReadCheckpoint(offset, skip, cursor);
        return true;
    }

    /// <summary>The text form, for persisting; <see cref="Parse(string)"/> reads it back.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() =>
        Skip == 0 && Cursor is null
            ? Offset.Value
            : Cursor is null
                ? string.Create(CultureInfo.InvariantCulture, $"{Offset.Value},{Skip}")
                : string.Create(CultureInfo.InvariantCulture, $"{Offset.Value},{Skip},{Cursor}");

    /// <inheritdoc/>
    public bool Equals(ReadCheckpoint other) =>
        Offset.Equals(other.Offset) && Skip == other.Skip && string.Equals(Cursor, other.Cursor, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ReadCheckpoint other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Offset, Skip, Cursor is null ? 0 : StringComparer.Ordinal.GetHashCode(Cursor));

    /// <summary>Whether two checkpoints are equal.</summary>
    /// <param name="left">The first checkpoint.</param>
    /// <param name="right">The second checkpoint.</param>
    /// <returns><see langword="true"/> when they are equal.</returns>
    public static bool operator ==(ReadCheckpoint left, ReadCheckpoint right) => left.Equals(right);

    /// <summary>Whether two checkpoints differ.</summary>
    /// <param name="left">The first checkpoint.</param>
    /// <param name="right">The second checkpoint.</param>
    /// <returns><see langword="true"/> when they differ.</returns>
    public static bool operator !=(ReadCheckpoint left, ReadCheckpoint right) => !left.Equals(right);
}
