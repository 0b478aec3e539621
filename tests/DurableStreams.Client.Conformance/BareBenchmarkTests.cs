using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using DurableStreams.Testing;

namespace DurableStreams.Conformance;

/// <summary>
/// The adapter's bare HttpClient benchmark mode (<c>DURABLE_STREAMS_BENCH_CLIENT</c>), driven like the
/// official runner's <c>--bench</c> (ADAPTER.md §11) against the real reference server with its
/// default long-poll timeout. Every test first checks that <c>init</c> names the bare client, so
/// none of them passes on an adapter that ignores the variable and does the operation with the SDK.
/// </summary>
public sealed class BareBenchmarkTests(BareBenchmarkTests.Server server) : IClassFixture<BareBenchmarkTests.Server>
{
    private const string ModeVariable = "DURABLE_STREAMS_BENCH_CLIENT";
    private const string OctetStream = "application/octet-stream";
    private const string Json = "application/json";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("bare", "bare HttpClient")]
    [InlineData("bare-gzip", "bare HttpClient (gzip)")]
    public async Task Init_BareMode_NamesTheBareClientWithTheSameFeatures(string mode, string clientName)
    {
        await using AdapterProcess adapter = AdapterProcess.Start(EnvironmentOf(mode));

        JsonObject init = await adapter.SendAsync(new JsonObject { ["type"] = "init", ["serverUrl"] = server.Url }, Timeout);

        Assert.Equal(true, init["success"]?.GetValue<bool>());
        Assert.Equal(clientName, init["clientName"]?.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(init["clientVersion"]?.GetValue<string>()));
        JsonObject features = Assert.IsType<JsonObject>(init["features"]);
        foreach (string feature in new[] { "batching", "sse", "longPoll", "auto", "streaming", "dynamicHeaders", "retryOptions", "batchItems", "strictZeroValidation" })
        {
            Assert.Equal(true, features[feature]?.GetValue<bool>());
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sdk")]
    public async Task Init_NoBareMode_NamesTheSdk(string? mode)
    {
        await using AdapterProcess adapter = AdapterProcess.Start(EnvironmentOf(mode));

        JsonObject init = await adapter.SendAsync(new JsonObject { ["type"] = "init", ["serverUrl"] = server.Url }, Timeout);

        Assert.Equal("DurableStreams.Client", init["clientName"]?.GetValue<string>());
    }

    [Fact]
    public async Task Init_UnknownMode_FailsNamingTheVariable()
    {
        await using AdapterProcess adapter = AdapterProcess.Start(EnvironmentOf("bear"));

        JsonObject init = await adapter.SendAsync(new JsonObject { ["type"] = "init", ["serverUrl"] = server.Url }, Timeout);

        Assert.Equal(false, init["success"]?.GetValue<bool>());
        Assert.Equal("INVALID_ARGUMENT", init["errorCode"]?.GetValue<string>());
        Assert.Contains(ModeVariable, init["message"]?.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bare")]
    [InlineData("bare-gzip")]
    public async Task Append_BareMode_AppendsSizeBytesAndReportsThem(string mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        string path = NewPath();
        await server.CreateAsync(path, OctetStream, timeout.Token);
        await using AdapterProcess adapter = await StartBareAsync(mode);

        JsonObject metrics = await BenchmarkAsync(adapter, new JsonObject { ["op"] = "append", ["path"] = path, ["size"] = 100 });

        Assert.Equal(100, metrics["bytesTransferred"]?.GetValue<long>());
        byte[] stored = await server.Http.GetByteArrayAsync(server.Url + path + "?offset=-1", timeout.Token);
        Assert.Equal(Enumerable.Repeat((byte)'*', 100), stored);
    }

    [Theory]
    [InlineData("bare")]
    [InlineData("bare-gzip")]
    public async Task Create_BareMode_CreatesTheStreamAndAcceptsItAgain(string mode)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        string path = NewPath();
        await using AdapterProcess adapter = await StartBareAsync(mode);
        var create = new JsonObject { ["op"] = "create", ["path"] = path, ["contentType"] = Json };

        JsonObject created = await BenchmarkAsync(adapter, create.DeepClone().AsObject());
        JsonObject again = await BenchmarkAsync(adapter, create);

        Assert.Empty(created);
        Assert.Empty(again);
        using var head = new HttpRequestMessage(HttpMethod.Head, server.Url + path);
        using HttpResponseMessage response = await server.Http.SendAsync(head, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Json, response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("bare")]
    [InlineData("bare-gzip")]
    public async Task Read_BareMode_CountsEveryByteFromTheStartOrTheOffset(string mode)
    {
        // As the runner's latency-read stream: 10 x 1 KiB. Above 1 KiB the server gzips a response
        // when the client accepts it, so bare-gzip counts decompressed bytes.
        using var timeout = new CancellationTokenSource(Timeout);
        string path = NewPath();
        await server.CreateAsync(path, OctetStream, timeout.Token);
        string afterFirst = await server.AppendAsync(path, new byte[1024], timeout.Token);
        for (int i = 1; i < 10; i++)
        {
            await server.AppendAsync(path, new byte[1024], timeout.Token);
        }

        await using AdapterProcess adapter = await StartBareAsync(mode);

        JsonObject all = await BenchmarkAsync(adapter, new JsonObject { ["op"] = "read", ["path"] = path });
        JsonObject rest = await BenchmarkAsync(adapter, new JsonObject { ["op"] = "read", ["path"] = path, ["offset"] = afterFirst });

        Assert.Equal(10 * 1024, all["bytesTransferred"]?.GetValue<long>());
        Assert.Equal(9 * 1024, rest["bytesTransferred"]?.GetValue<long>());
    }

    /// <summary>
    /// Two round trips on one path, as the runner's warmup and measured iterations reuse paths: the
    /// second must read from the tail its PUT names, not from the start (which would return the first
    /// payload too). Each JSON message arrives as a one-element array (<c>[…]</c>, PROTOCOL.md §5.8),
    /// two bytes more than the payload, which is also what the SDK path reports.
    /// </summary>
    [Theory]
    [InlineData("bare", "long-poll", OctetStream, 0)]
    [InlineData("bare", "long-poll", Json, 2)]
    [InlineData("bare", "sse", Json, 2)]
    [InlineData("bare", "sse", OctetStream, 0)]
    [InlineData("bare-gzip", "long-poll", OctetStream, 0)]
    [InlineData("bare-gzip", "sse", Json, 2)]
    public async Task Roundtrip_BareMode_ReceivesExactlyTheNewPayload(string mode, string live, string contentType, int framing)
    {
        string path = NewPath();
        await using AdapterProcess adapter = await StartBareAsync(mode);

        JsonObject first = await BenchmarkAsync(adapter, new JsonObject { ["op"] = "roundtrip", ["path"] = path, ["size"] = 300, ["live"] = live, ["contentType"] = contentType });
        JsonObject second = await BenchmarkAsync(adapter, new JsonObject { ["op"] = "roundtrip", ["path"] = path, ["size"] = 100, ["live"] = live, ["contentType"] = contentType });

        Assert.Equal(300 + 300 + framing, first["bytesTransferred"]?.GetValue<long>());
        Assert.Equal(100 + 100 + framing, second["bytesTransferred"]?.GetValue<long>());
    }

    [Theory]
    [InlineData("throughput_append")]
    [InlineData("throughput_read")]
    public async Task Throughput_BareMode_IsNotSupported(string op)
    {
        // A stream both operations could use, so that the SDK path would succeed here.
        using var timeout = new CancellationTokenSource(Timeout);
        string path = NewPath();
        await server.CreateAsync(path, Json, timeout.Token);
        await using AdapterProcess adapter = await StartBareAsync("bare");

        JsonObject result = await adapter.SendAsync(
            new JsonObject
            {
                ["type"] = "benchmark",
                ["iterationId"] = "measure-0",
                ["operation"] = new JsonObject { ["op"] = op, ["path"] = path, ["count"] = 1, ["size"] = 10 },
            },
            Timeout);

        Assert.Equal("error", result["type"]?.GetValue<string>());
        Assert.Equal("benchmark", result["commandType"]?.GetValue<string>());
        Assert.Equal("NOT_SUPPORTED", result["errorCode"]?.GetValue<string>());
    }

    private static string NewPath() => $"/bare-{Guid.NewGuid():N}";

    private static Dictionary<string, string?> EnvironmentOf(string? mode) => new() { [ModeVariable] = mode };

    /// <summary>An adapter in the bare mode, initialized, after checking that it says so.</summary>
    private async Task<AdapterProcess> StartBareAsync(string mode)
    {
        AdapterProcess adapter = AdapterProcess.Start(EnvironmentOf(mode));
        JsonObject init = await adapter.SendAsync(new JsonObject { ["type"] = "init", ["serverUrl"] = server.Url }, Timeout);
        string? name = init["clientName"]?.GetValue<string>();
        if (name?.StartsWith("bare HttpClient", StringComparison.Ordinal) != true)
        {
            await adapter.DisposeAsync();
            Assert.Fail($"The adapter did not start in the bare mode ({ModeVariable}={mode}): init answered {init.ToJsonString()}");
        }

        return adapter;
    }

    /// <summary>Sends one benchmark command and returns its metrics after checking the success envelope.</summary>
    private static async Task<JsonObject> BenchmarkAsync(AdapterProcess adapter, JsonObject operation)
    {
        JsonObject result = await adapter.SendAsync(
            new JsonObject { ["type"] = "benchmark", ["iterationId"] = "measure-0", ["operation"] = operation },
            Timeout);

        Assert.True(result["type"]?.GetValue<string>() == "benchmark", $"Not a benchmark result: {result.ToJsonString()}");
        Assert.Equal("measure-0", result["iterationId"]?.GetValue<string>());
        Assert.True(long.TryParse(result["durationNs"]?.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out long nanoseconds) && nanoseconds > 0);
        return Assert.IsType<JsonObject>(result["metrics"]);
    }

    /// <summary>One reference server for the class, with its default 30 s long-poll timeout (as the benchmark runner's).</summary>
    public sealed class Server : IAsyncLifetime
    {
        private ReferenceServerProcess? _process;

        public string Url => _process?.BaseUrl.ToString().TrimEnd('/') ?? throw new InvalidOperationException("The server is not started.");

        /// <summary>For setting streams up and checking them: no decompression, so the bytes are the server's.</summary>
        public HttpClient Http { get; } = new(new SocketsHttpHandler()) { Timeout = TimeSpan.FromSeconds(30) };

        public async Task CreateAsync(string path, string contentType, CancellationToken cancellationToken)
        {
            using var content = new ByteArrayContent([]);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            using HttpResponseMessage response = await Http.PutAsync(Url + path, content, cancellationToken);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        /// <summary>Appends and returns the stream's next offset after the append.</summary>
        public async Task<string> AppendAsync(string path, byte[] data, CancellationToken cancellationToken)
        {
            using var content = new ByteArrayContent(data);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(OctetStream);
            using HttpResponseMessage response = await Http.PostAsync(Url + path, content, cancellationToken);
            response.EnsureSuccessStatusCode();
            return response.Headers.GetValues("Stream-Next-Offset").Single();
        }

        public async Task InitializeAsync() => _process = await ReferenceServerProcess.StartAsync();

        public async Task DisposeAsync()
        {
            Http.Dispose();
            if (_process is not null)
            {
                await _process.DisposeAsync();
            }
        }
    }
}
