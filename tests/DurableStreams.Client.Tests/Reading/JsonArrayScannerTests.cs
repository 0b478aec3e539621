using System.Text;
using System.Text.Json;
using DurableStreams.Reading.Internal;

namespace DurableStreams.Tests.Reading;

/// <summary>
/// <see cref="JsonArrayScanner.Count"/> (used to check every JSON catch-up body),
/// <see cref="JsonArrayScanner.MoveNext"/> (the typed reader and the skip on resuming from a checkpoint) and
/// <see cref="JsonArrayScanner.AppendElements"/> (SSE data events) against System.Text.Json's
/// <see cref="Utf8JsonReader"/> as the oracle (<see cref="JsonOracle"/>): on named well-formed and
/// broken bodies and on 2,000 random mutations of valid arrays, they accept the same texts, find
/// the same elements, and reject the same texts. <see cref="JsonArrayCounter"/> (the check of a
/// catch-up body while it arrives) is held to the same oracle with the text arriving in pieces.
/// JsonSyntaxTests holds the framing to the oracle on a wider alphabet.
/// </summary>
public sealed class JsonArrayScannerTests
{
    public static TheoryData<string> Named() => new(NamedBodies);

    private static readonly string[] NamedBodies =
    [
        "[]",
        " [ ] ",
        "[1]",
        "[1,2,3]",
        "[{\"a\":[1,{\"b\":\"]\"}]},\"x\\\"]\",null,true,false,-1.5e3]",
        "[[],[[]],{}]",
        "\t[\r\n1 ,\n2\r\n]\n",
        "[\"\\u005d\"]",
        string.Concat(Enumerable.Repeat("[", 64)) + string.Concat(Enumerable.Repeat("]", 64)),

        // Broken: each must be rejected by both.
        "",
        "   ",
        "{}",
        "1",
        "[",
        "[1",
        "[1,",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1]]",
        "[1][2]",
        "[1] x",
        "[\"unterminated]",
        "[{\"a\":}]",
        "[tru]",
        "[1]/* comment */",
        "[/* comment */1]",
        "[01]",
        string.Concat(Enumerable.Repeat("[", 65)) + string.Concat(Enumerable.Repeat("]", 65)),
    ];

    [Theory]
    [MemberData(nameof(Named))]
    public void Count_NamedBodies_AgreesWithTheOracle(string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(Oracle(bytes), Outcome(() => JsonArrayScanner.Count(bytes, CancellationToken.None)));
    }

    [Theory]
    [MemberData(nameof(Named))]
    public void MoveNext_NamedBodies_FindsTheOraclesElements(string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        Assert.Equal(JsonOracle.Describe(JsonOracle.Elements(bytes)), JsonOracle.Describe(JsonOracle.ScannerElements(bytes)));
    }

    [Fact]
    public void MoveNext_RandomMutationsOfValidArrays_FindsTheOraclesElements()
    {
        var random = new Random(20261204);
        byte[] alphabet = "[]{},:\"\\ 0123456789-.eEtrufalsn\n\t"u8.ToArray();
        for (int i = 0; i < 2_000; i++)
        {
            byte[] bytes = Mutate(Encoding.UTF8.GetBytes(RandomArray(random)), random, alphabet);
            Assert.Equal(JsonOracle.Describe(JsonOracle.Elements(bytes)), JsonOracle.Describe(JsonOracle.ScannerElements(bytes)));
        }
    }

    [Fact]
    public void Count_NamedBodies_IncludeAcceptedAndRejectedOnes()
    {
        // The named set must exercise both outcomes, or the agreement above would prove little.
        var outcomes = NamedBodies.Select(body => Oracle(Encoding.UTF8.GetBytes(body))).ToList();
        Assert.Contains(outcomes, o => o.Count is > 1);
        Assert.Contains(outcomes, o => o.Count is null);
    }

    [Fact]
    public void Count_RandomMutationsOfValidArrays_AgreesWithTheOracle()
    {
        var random = new Random(20261201);
        byte[] alphabet = "[]{},:\"\\ 0123456789-.eEtrufalsn\n\t"u8.ToArray();
        int accepted = 0, rejected = 0;
        for (int i = 0; i < 2_000; i++)
        {
            byte[] bytes = Mutate(Encoding.UTF8.GetBytes(RandomArray(random)), random, alphabet);
            (int? Count, string? Failure) expected = Oracle(bytes);
            Assert.Equal(expected, Outcome(() => JsonArrayScanner.Count(bytes, CancellationToken.None)));
            if (expected.Count is null)
            {
                rejected++;
            }
            else
            {
                accepted++;
            }
        }

        // Both kinds occur in quantity, so the agreement covers accepting and rejecting.
        Assert.True(accepted > 200 && rejected > 200, $"accepted {accepted}, rejected {rejected}");
    }

    [Theory]
    [MemberData(nameof(Named))]
    public void AppendElements_NamedBodies_TheOraclesElementsJoinedByCommas(string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        foreach (bool separateFirst in new[] { false, true })
        {
            Assert.Equal(AppendOracle(bytes, separateFirst), AppendOutcome(bytes, separateFirst));
        }
    }

    [Fact]
    public void AppendElements_RandomMutationsOfValidArrays_TheOraclesElementsJoinedByCommas()
    {
        // Compact arrays (copied as one run), arrays with white space between elements (copied
        // element by element) and everything the mutations make of them.
        var random = new Random(20261202);
        byte[] alphabet = "[]{},:\"\\ 0123456789-.eEtrufalsn\n\t"u8.ToArray();
        for (int i = 0; i < 2_000; i++)
        {
            string array = RandomArray(random);
            if (i % 3 == 0)
            {
                array = array.Replace(",", i % 2 == 0 ? ", " : ",\n", StringComparison.Ordinal);
            }

            byte[] bytes = i % 4 == 0 ? Encoding.UTF8.GetBytes(array) : Mutate(Encoding.UTF8.GetBytes(array), random, alphabet);
            bool separateFirst = random.Next(2) == 0;
            Assert.Equal(AppendOracle(bytes, separateFirst), AppendOutcome(bytes, separateFirst));
        }
    }

    /// <summary>What <see cref="JsonArrayScanner.AppendElements"/> must write: the oracle's elements joined by commas, or the failure's type.</summary>
    private static (string? Text, int Count, string? Failure) AppendOracle(byte[] json, bool separateFirst)
    {
        List<Range>? elements = JsonOracle.Elements(json);
        if (elements is null)
        {
            return (null, 0, nameof(JsonException));
        }

        string joined = string.Join(',', elements.Select(item => Encoding.UTF8.GetString(json[item])));
        return (elements.Count == 0 ? "" : (separateFirst ? "," : "") + joined, elements.Count, null);
    }

    private static (string? Text, int Count, string? Failure) AppendOutcome(byte[] json, bool separateFirst)
    {
        try
        {
            byte[] destination = new byte[json.Length + 1];
            int count = JsonArrayScanner.AppendElements(json, destination, separateFirst, out int written);
            return (Encoding.UTF8.GetString(destination, 0, written), count, null);
        }
        catch (JsonException)
        {
            return (null, 0, nameof(JsonException));
        }
    }

    [Theory]
    [MemberData(nameof(Named))]
    public void Counter_NamedBodiesArrivingInPieces_AgreesWithTheOracle(string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        foreach (int piece in new[] { 1, 2, 3, 5, int.MaxValue })
        {
            Assert.Equal(Oracle(bytes), Outcome(() => CountInPieces(bytes, piece)));
        }
    }

    [Fact]
    public void Counter_RandomMutationsArrivingInRandomPieces_AgreesWithTheOracle()
    {
        var random = new Random(20261203);
        byte[] alphabet = "[]{},:\"\\ 0123456789-.eEtrufalsn\n\t"u8.ToArray();
        for (int i = 0; i < 2_000; i++)
        {
            byte[] bytes = Mutate(Encoding.UTF8.GetBytes(RandomArray(random)), random, alphabet);
            int piece = random.Next(1, 8);
            Assert.Equal(Oracle(bytes), Outcome(() => CountInPieces(bytes, piece)));
        }
    }

    [Fact]
    public void Counter_HugeStringArrivingInSmallPieces_IsReadAgainOnlyABoundedNumberOfTimes()
    {
        // One 1 MiB string in 1 KiB reads: reading the unfinished token again after every read
        // would examine ~512 MiB; waiting until the pending bytes double keeps it a few MiB.
        byte[] bytes = Encoding.UTF8.GetBytes("[\"" + new string('x', 1024 * 1024) + "\",1]");
        var counter = default(JsonArrayCounter);
        for (int length = 1024; length < bytes.Length; length += 1024)
        {
            counter.Advance(bytes.AsSpan(0, length), CancellationToken.None);
        }

        Assert.Equal(2, counter.Finish(bytes, CancellationToken.None));
        Assert.InRange(counter.BytesExamined, bytes.Length, 4L * bytes.Length);
    }

    [Fact]
    public void Counter_CancelledDuringALongScan_Throws()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Repeat("1", 10_000)) + "]");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var counter = default(JsonArrayCounter);
        Assert.Throws<OperationCanceledException>(() => counter.Advance(bytes.AsSpan(0, bytes.Length - 1), cancelled.Token));
    }

    /// <summary>Feeds the text to a <see cref="JsonArrayCounter"/> as it would arrive in reads of <paramref name="piece"/> bytes.</summary>
    private static int CountInPieces(byte[] json, int piece)
    {
        var counter = default(JsonArrayCounter);
        for (long length = piece; length < json.Length; length += piece)
        {
            counter.Advance(json.AsSpan(0, (int)length), CancellationToken.None);
        }

        return counter.Finish(json, CancellationToken.None);
    }

    [Fact]
    public void Count_CancelledDuringALongScan_Throws()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Repeat("1", 10_000)) + "]");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => JsonArrayScanner.Count(bytes, cancelled.Token));
    }

    /// <summary>The element count by the oracle, or the failure's type.</summary>
    private static (int? Count, string? Failure) Oracle(byte[] json) =>
        JsonOracle.Elements(json) is { } elements ? (elements.Count, null) : (null, nameof(JsonException));

    private static (int? Count, string? Failure) Outcome(Func<int> scan)
    {
        try
        {
            return (scan(), null);
        }
        catch (Exception ex) when (ex is JsonException)
        {
            // Compare the kind only: the messages differ.
            return (null, nameof(JsonException));
        }
    }

    private static string RandomArray(Random random)
    {
        int count = random.Next(0, 6);
        return "[" + string.Join(",", Enumerable.Range(0, count).Select(_ => RandomValue(random, depth: 0))) + "]";
    }

    private static string RandomValue(Random random, int depth) => random.Next(depth > 2 ? 4 : 6) switch
    {
        0 => random.Next(-1000, 1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
        1 => "\"s" + random.Next(100) + (random.Next(4) == 0 ? "\\\"]" : "") + "\"",
        2 => random.Next(2) == 0 ? "true" : "null",
        3 => "1.5e2",
        4 => "[" + string.Join(",", Enumerable.Range(0, random.Next(0, 3)).Select(_ => RandomValue(random, depth + 1))) + "]",
        _ => "{" + string.Join(",", Enumerable.Range(0, random.Next(0, 3)).Select(k => $"\"k{k}\":" + RandomValue(random, depth + 1))) + "}",
    };

    /// <summary>Half of the texts unchanged, the rest with one to three bytes replaced, inserted or removed.</summary>
    private static byte[] Mutate(byte[] bytes, Random random, byte[] alphabet)
    {
        var list = bytes.ToList();
        JsonOracle.MaybeMutate(list, random, alphabet);
        return [.. list];
    }
}
