using System.Text.Json.Nodes;

namespace DurableStreams.Conformance;

/// <summary>The runner's own matching logic, without a server: YAML typing and expectation checks.</summary>
public sealed class RunnerLogicTests
{
    [Fact]
    public void YamlToJson_PlainScalars_FollowTheYaml12CoreSchema()
    {
        var doc = (JsonObject)YamlToJson.LoadDocument("""
            a: yes
            b: false
            c: 2.0
            d: 9007199254740991
            e: long-poll
            f: "true"
            g: ~
            h: "before\u0085after"
            i: { id: 0, z: 1 }
            """)!;

        Assert.Equal("\"yes\"", doc["a"]!.ToJsonString());
        Assert.Equal("false", doc["b"]!.ToJsonString());
        Assert.Equal("2", JsSemantics.Stringify(doc["c"]));
        Assert.Equal("9007199254740991", JsSemantics.Stringify(doc["d"]));
        Assert.Equal("long-poll", doc["e"]!.GetValue<string>());
        Assert.Equal("true", doc["f"]!.GetValue<string>());
        Assert.Null(doc["g"]);
        Assert.True(doc.ContainsKey("g"));
        Assert.Equal("before\u0085after", doc["h"]!.GetValue<string>());
        Assert.Equal("{\"id\":0,\"z\":1}", JsSemantics.Stringify(doc["i"]));
    }

    [Fact]
    public void Check_StatusIsComparedOnlyWhenTheResultHasOne()
    {
        var expect = new JsonObject { ["status"] = 200 };

        Assert.Null(Expectations.Check(new JsonObject { ["type"] = "close", ["success"] = true }, expect));
        Assert.Equal("Expected status 200, got 204", Expectations.Check(new JsonObject { ["type"] = "read", ["success"] = true, ["status"] = 204 }, expect));
    }

    [Fact]
    public void Check_ReadKeysAreSkippedOnErrorResults()
    {
        var error = new JsonObject { ["type"] = "error", ["success"] = false, ["status"] = 400, ["errorCode"] = "INVALID_OFFSET", ["message"] = "bad" };

        Assert.Null(Expectations.Check(error, new JsonObject { ["data"] = "from-the-start", ["chunkCount"] = 0 }));
    }

    [Fact]
    public void Check_MissingBooleanIsNotFalse()
    {
        var read = new JsonObject { ["type"] = "read", ["success"] = true, ["chunks"] = new JsonArray(), ["upToDate"] = true };

        Assert.Equal("Expected streamClosed=false, got undefined", Expectations.Check(read, new JsonObject { ["streamClosed"] = false }));
    }

    [Fact]
    public void Check_DataIsTheConcatenationOfChunks()
    {
        var read = new JsonObject
        {
            ["type"] = "read",
            ["success"] = true,
            ["chunks"] = new JsonArray(new JsonObject { ["data"] = "ab" }, new JsonObject { ["data"] = "c" }),
        };

        Assert.Null(Expectations.Check(read, new JsonObject { ["data"] = "abc", ["minChunks"] = 1, ["dataContainsAll"] = new JsonArray("a", "bc") }));
        Assert.Equal("Expected data \"abd\", got \"abc\"", Expectations.Check(read, new JsonObject { ["data"] = "abd" }));
        Assert.Equal("Expected 0 chunks, got 2", Expectations.Check(read, new JsonObject { ["chunkCount"] = 0 }));
    }

    [Fact]
    public void Check_ErrorExpectationsOnASuccess_Fail()
    {
        var ok = new JsonObject { ["type"] = "append", ["success"] = true, ["status"] = 200 };

        Assert.Equal("Expected error NOT_FOUND, but operation succeeded", Expectations.Check(ok, new JsonObject { ["errorCode"] = "NOT_FOUND" }));
        Assert.Equal("Expected validation to fail, but it passed", Expectations.Check(ok, new JsonObject { ["valid"] = false }));
    }

    [Fact]
    public void Check_MessageContainsIsCaseInsensitive_ErrorContainsIsNot()
    {
        var error = new JsonObject { ["type"] = "error", ["success"] = false, ["errorCode"] = "INVALID_ARGUMENT", ["message"] = "maxBatchBytes: must be > 0" };

        Assert.Null(Expectations.Check(error, new JsonObject { ["messageContains"] = new JsonArray("MAXBATCHBYTES") }));
        Assert.NotNull(Expectations.Check(error, new JsonObject { ["errorContains"] = "MaxBatchBytes" }));
        Assert.Null(Expectations.Check(error, new JsonObject { ["errorContains"] = "maxBatchBytes" }));
    }
}
