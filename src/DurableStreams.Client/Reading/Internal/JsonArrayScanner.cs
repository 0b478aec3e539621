using System.Text.Json;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// The one place that frames the messages of a JSON stream (PROTOCOL.md §9.1: a response or an SSE
/// data event is one JSON array whose elements are the messages). Finds the elements one at a time
/// without materializing them and without a list of ranges, so memory does not grow with the count.
/// </summary>
/// <remarks>
/// A mutable struct: keep it in a local or field and call <see cref="MoveNext"/> on that variable
/// (a copy would restart). It keeps only a position (<see cref="JsonArrayCursor"/>), so it can live in
/// an async iterator across <c>yield return</c>.
/// </remarks>
internal struct JsonArrayScanner
{
    private JsonArrayCursor _cursor;

    /// <summary>Moves to the next element of <paramref name="json"/>, the same bytes on every call.</summary>
    /// <param name="json">The whole JSON array.</param>
    /// <param name="item">The byte range of the element.</param>
    /// <returns><see langword="false"/> after the last element (the rest of the text has been checked).</returns>
    /// <exception cref="JsonException">The text is not one well-formed JSON array.</exception>
    public bool MoveNext(ReadOnlySpan<byte> json, out Range item) =>
        _cursor.Next(json, final: true, out item) == JsonArrayCursor.Step.Element;

    /// <summary>Checks that <paramref name="json"/> is one JSON array and counts its elements.</summary>
    /// <remarks><see cref="JsonArrayCounter"/> given all of the text at once: the same checks as <see cref="MoveNext"/>.</remarks>
    /// <exception cref="JsonException">The text is not one well-formed JSON array.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled during the scan.</exception>
    public static int Count(ReadOnlySpan<byte> json, CancellationToken cancellationToken)
    {
        var counter = default(JsonArrayCounter);
        return counter.Finish(json, cancellationToken);
    }

    /// <summary>
    /// Checks that <paramref name="json"/> is one JSON array (the same checks as <see cref="Count"/>,
    /// in one pass) and copies its elements into <paramref name="destination"/>, separated by
    /// commas and preceded by one when <paramref name="separateFirst"/> is set, without the brackets
    /// and the white space between elements. The destination needs at most the length of the text.
    /// </summary>
    /// <param name="json">The JSON array.</param>
    /// <param name="destination">Where the elements go.</param>
    /// <param name="separateFirst">Whether the first element follows earlier elements and needs a comma.</param>
    /// <param name="written">The bytes written.</param>
    /// <returns>The number of elements.</returns>
    /// <exception cref="JsonException">The text is not one well-formed JSON array.</exception>
    public static int AppendElements(ReadOnlySpan<byte> json, Span<byte> destination, bool separateFirst, out int written)
    {
        // Elements separated by a bare comma (the compact text servers send) are copied as one run.
        var cursor = default(JsonArrayCursor);
        int count = 0;
        int position = 0;
        int runStart = 0;
        int runEnd = 0;
        while (cursor.Next(json, final: true, out Range item) == JsonArrayCursor.Step.Element)
        {
            int start = item.Start.Value;
            int end = item.End.Value;
            if (count > 0 && start == runEnd + 1 && json[runEnd] == (byte)',')
            {
                runEnd = end;
            }
            else
            {
                if (count > 0)
                {
                    position = CopyRun(json[runStart..runEnd], destination, position, separate: position > 0 || separateFirst);
                }

                runStart = start;
                runEnd = end;
            }

            count++;
        }

        written = count == 0 ? 0 : CopyRun(json[runStart..runEnd], destination, position, separate: position > 0 || separateFirst);
        return count;
    }

    /// <summary>Copies a run of elements after a comma when <paramref name="separate"/>; returns the new position.</summary>
    private static int CopyRun(ReadOnlySpan<byte> run, Span<byte> destination, int position, bool separate)
    {
        if (separate)
        {
            destination[position++] = (byte)',';
        }

        run.CopyTo(destination[position..]);
        return position + run.Length;
    }

    /// <summary>
    /// Builds <c>[e,...]</c> from the elements of <paramref name="json"/> after the first
    /// <paramref name="skip"/>; empty when none remain.
    /// </summary>
    /// <exception cref="JsonException">The text is not one well-formed JSON array.</exception>
    public static byte[] Skip(ReadOnlySpan<byte> json, long skip)
    {
        int length = Measure(json, skip, out int count);
        if (count == 0)
        {
            return [];
        }

        byte[] result = new byte[length + 1];
        int written = Write(json, skip, result, 0);
        result[written] = (byte)']';
        return result;
    }

    /// <summary>
    /// The bytes <see cref="Write"/> needs for the elements after the first <paramref name="skip"/>:
    /// each element plus one separator; <paramref name="count"/> says how many elements that is.
    /// </summary>
    /// <exception cref="JsonException">The text is not one well-formed JSON array.</exception>
    public static int Measure(ReadOnlySpan<byte> json, long skip, out int count)
    {
        var scanner = default(JsonArrayScanner);
        int length = 0;
        long index = 0;
        count = 0;
        while (scanner.MoveNext(json, out Range item))
        {
            if (index++ >= skip)
            {
                length += item.GetOffsetAndLength(json.Length).Length + 1;
                count++;
            }
        }

        return length;
    }

    /// <summary>
    /// Writes the elements after the first <paramref name="skip"/> into <paramref name="destination"/>
    /// from <paramref name="position"/> on, each preceded by <c>[</c> when it is the first byte of the
    /// destination and by <c>,</c> otherwise, so arrays merge into one. Returns the new position.
    /// </summary>
    /// <exception cref="JsonException">The text is not one well-formed JSON array.</exception>
    public static int Write(ReadOnlySpan<byte> json, long skip, Span<byte> destination, int position)
    {
        var scanner = default(JsonArrayScanner);
        long index = 0;
        while (scanner.MoveNext(json, out Range item))
        {
            if (index++ < skip)
            {
                continue;
            }

            destination[position] = position == 0 ? (byte)'[' : (byte)',';
            position++;
            ReadOnlySpan<byte> element = json[item];
            element.CopyTo(destination[position..]);
            position += element.Length;
        }

        return position;
    }
}
