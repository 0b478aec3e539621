using System.Text;

namespace DurableStreams.Cli.Tests;

public sealed class JsonValueReaderTests
{
    public static TheoryData<string, string[], int> Inputs()
    {
        var data = new TheoryData<string, string[], int>();
        (string Input, string[] Values)[] cases =
        [
            ("{\"a\":1}\n{\"b\":2}\n", ["{\"a\":1}", "{\"b\":2}"]),
            ("{\"a\":1}\r\n{\"b\":2}", ["{\"a\":1}", "{\"b\":2}"]),
            ("{\n  \"a\": [1,\n 2]\n}\n", ["{\n  \"a\": [1,\n 2]\n}"]),
            ("1\n22\n333", ["1", "22", "333"]),
            ("\"x\" \"y\"\t[]{}", ["\"x\"", "\"y\"", "[]", "{}"]),
            ("  \n true false null \n", ["true", "false", "null"]),
            ("\"br{ace}s and \\\" quotes\"\n", ["\"br{ace}s and \\\" quotes\""]),
            ("", []),
            (" \n\n ", []),
        ];
        foreach ((string input, string[] values) in cases)
        {
            foreach (int readSize in new[] { 1, 2, 7, 4096 })
            {
                data.Add(input, values, readSize);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task ReadNextAsync_SplitsValuesAtAnyReadBoundary(string input, string[] expected, int readSize)
    {
        var reader = new JsonValueReader(new TrickleStream(Encoding.UTF8.GetBytes(input), readSize));

        List<string> values = await ReadAllAsync(reader);

        Assert.Equal(expected, values);
        Assert.Equal(Encoding.UTF8.GetByteCount(input), reader.BytesRead);
    }

    [Fact]
    public async Task ReadNextAsync_ValueLargerThanTheBuffer_IsReadWhole()
    {
        string big = "{\"text\":\"" + new string('x', 100_000) + "\"}";
        var reader = new JsonValueReader(new TrickleStream(Encoding.UTF8.GetBytes(big + "\n[1]\n"), 3000));

        List<string> values = await ReadAllAsync(reader);

        Assert.Equal([big, "[1]"], values);
    }

    [Theory]
    [InlineData("{\"a\":1}\n{oops}\n", 1, "line 2 is not JSON: ")]
    [InlineData("[1,2\n", 0, "line 1 is not JSON (the input ends inside the value that starts there): ")]
    [InlineData("{\"a\":1}\n]", 1, "line 2 is not JSON: ")]
    [InlineData("tru", 0, "line 1 is not JSON")]
    [InlineData("1\n\n2 3\r\n4\nx\n5\n", 4, "line 5 is not JSON: ")]
    [InlineData("{\n  \"a\": 1\n}\n{\n  \"b\": ]\n}\n", 1, "line 4 is not JSON (the value that starts there fails at line 5): ")]
    public async Task ReadNextAsync_InvalidInput_ThrowsNamingTheLineAfterTheValidValues(string input, int validBefore, string expected)
    {
        var reader = new JsonValueReader(new TrickleStream(Encoding.UTF8.GetBytes(input), 2));
        var values = new List<string>();

        JsonInputException error = await Assert.ThrowsAsync<JsonInputException>(async () =>
        {
            while (await reader.ReadNextAsync(CancellationToken.None) is { } value)
            {
                values.Add(Encoding.UTF8.GetString(value.Span));
            }
        });

        Assert.Equal(validBefore, values.Count);
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber:", error.Message, StringComparison.Ordinal);
    }

    private static async Task<List<string>> ReadAllAsync(JsonValueReader reader)
    {
        var values = new List<string>();
        while (await reader.ReadNextAsync(CancellationToken.None) is { } value)
        {
            values.Add(Encoding.UTF8.GetString(value.Span));
        }

        return values;
    }

    /// <summary>Returns at most <paramref name="readSize"/> bytes per read, like a slow pipe.</summary>
    private sealed class TrickleStream(byte[] data, int readSize) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, readSize));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, readSize)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, readSize)], cancellationToken);
    }
}
