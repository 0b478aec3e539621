using System.Text.Json;
using DurableStreams.Protocol.Internal;

namespace DurableStreams.Reading.Internal;

/// <summary>
/// Walks the elements of one JSON array (PROTOCOL.md §9.1: a JSON stream's response body or SSE
/// data event) with <see cref="JsonSyntax.SkipValue"/>, checking the brackets, commas and white space
/// between them. It can be given a text that is still arriving: <see cref="Next"/> then stops at the
/// last complete element and resumes there once more bytes are in.
/// </summary>
/// <remarks>
/// A mutable struct: keep it in a local or field and call it on that variable (a copy would
/// restart). It keeps only a position and a phase, so the same text (a longer one, when it is still
/// arriving) must be passed on every call.
/// </remarks>
internal struct JsonArrayCursor
{
    private int _position;
    private Phase _phase;

    /// <summary>What <see cref="Next"/> found.</summary>
    public enum Step
    {
        /// <summary>An element: its range is returned.</summary>
        Element,

        /// <summary>The array's closing bracket (and, for a final text, nothing but white space after it).</summary>
        End,

        /// <summary>The bytes so far end before the next element is complete (never for a final text).</summary>
        NeedMore,
    }

    private enum Phase : byte
    {
        BeforeArray,
        AfterOpen,
        AfterComma,
        AfterElement,
        Ended,
    }

    /// <summary>Where the next call starts: after the last element, separator or bracket it passed.</summary>
    public readonly int Position => _position;

    /// <summary>Moves to the next element of <paramref name="json"/>.</summary>
    /// <param name="json">The text so far; on every call the same bytes, and possibly more.</param>
    /// <param name="final">Whether <paramref name="json"/> is the whole text.</param>
    /// <param name="element">The element's range when <see cref="Step.Element"/> is returned.</param>
    /// <exception cref="JsonException">The text is not (or cannot become) one JSON array.</exception>
    public Step Next(ReadOnlySpan<byte> json, bool final, out Range element)
    {
        element = default;
        int i = _position;
        while (true)
        {
            i = JsonSyntax.SkipWhitespace(json, i);
            if (i >= json.Length)
            {
                _position = i;
                return _phase switch
                {
                    Phase.Ended => Step.End,
                    _ when !final => Step.NeedMore,
                    Phase.BeforeArray => throw new JsonException("Expected a JSON array."),
                    _ => throw new JsonException("The JSON array is not terminated."),
                };
            }

            byte b = json[i];
            switch (_phase)
            {
                case Phase.BeforeArray:
                    if (b != (byte)'[')
                    {
                        throw new JsonException("Expected a JSON array.");
                    }

                    _phase = Phase.AfterOpen;
                    i++;
                    continue;
                case Phase.AfterOpen when b == (byte)']':
                case Phase.AfterElement when b == (byte)']':
                    _phase = Phase.Ended;
                    i++;
                    continue;
                case Phase.AfterElement when b == (byte)',':
                    _phase = Phase.AfterComma;
                    i++;
                    continue;
                case Phase.AfterElement:
                    throw JsonSyntax.Unexpected(b, "',' or ']'", i);
                case Phase.AfterComma when b == (byte)']':
                    throw JsonSyntax.TrailingComma(i);
                case Phase.Ended:
                    throw new JsonException("Unexpected data after the JSON array.");
            }

            // An element starts at i (after the opening bracket or a comma).
            _position = i;
            int end = JsonSyntax.SkipValue(json, i, outerDepth: 1);
            if (end < 0)
            {
                return final ? throw new JsonException("The JSON array is not terminated.") : Step.NeedMore;
            }

            _phase = Phase.AfterElement;
            _position = end;
            element = new Range(i, end);
            return Step.Element;
        }
    }
}
