namespace DurableStreams.IntegrationTests;

/// <summary>
/// The reading snippets of the README and docs/live-modes.md, kept compiling and running against the
/// reference server. The lines between "snippet" markers are the documented code.
/// </summary>
[Collection(ReferenceServerCollection.Name)]
public sealed class ReaderSnippetTests(ReferenceServerFixture server) : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    public void Dispose() => _timeout.Dispose();

    private async Task<DurableStream> CreateOrdersAsync(DurableStreamClient client)
    {
        DurableStream orders = (await client.CreateStreamAsync(new CreateOptions { Url = "orders", ContentType = "application/json" }, _timeout.Token)).Stream;
        foreach (int n in new[] { 1, 2, 3 })
        {
            await orders.AppendAsync(new Order($"o-{n}", n), TestJsonContext.Default.Order, cancellationToken: _timeout.Token);
        }

        return orders;
    }

    [Fact]
    public async Task Readme_ReadingWithCheckpoints_RunsAsWrittenAndResumesAfterTheLastHandledMessage()
    {
        using var client = new DurableStreamClient(new DurableStreamClientOptions
        {
            BaseAddress = new Uri(server.BaseUrl, $"/v1/stream/snippets-{Guid.NewGuid():N}/")
        });
        DurableStream orders = await CreateOrdersAsync(client);
        CancellationToken cancellationToken = _timeout.Token;
        string? savedText = null;
        var handled = new List<Order>();

        // First run: handle two messages, then "crash".
        await foreach (StreamItem<Order> item in orders.ReadJsonAsync<Order>(new ReadOptions { Live = LiveMode.Auto }, cancellationToken))
        {
            handled.Add(item.Value);
            savedText = item.Checkpoint.ToString();
            if (handled.Count == 2)
            {
                break;
            }
        }

        await orders.AppendAsync(new Order("o-4", 4), TestJsonContext.Default.Order, cancellationToken: cancellationToken);
        await orders.CloseAsync(cancellationToken);

        // --- snippet: README "Reading" ---
        // Everything up to now, as one list.
        IReadOnlyList<Order> all = await orders.ReadAllJsonAsync<Order>();

        // Catch up, then follow live. Save the checkpoint to resume exactly after the last handled message.
        ReadCheckpoint? resumeFrom = savedText is null ? null : ReadCheckpoint.Parse(savedText);
        await foreach (StreamItem<Order> item in orders.ReadJsonAsync<Order>(
            new ReadOptions { Checkpoint = resumeFrom, Live = LiveMode.Auto }, cancellationToken))
        {
            Console.WriteLine(item.Value);
            savedText = item.Checkpoint.ToString();
            // --- end snippet ---
            handled.Add(item.Value);
        }

        Assert.Equal(["o-1", "o-2", "o-3", "o-4"], all.Select(o => o.Id));
        Assert.Equal(["o-1", "o-2", "o-3", "o-4"], handled.Select(o => o.Id));
    }

    [Fact]
    public async Task Readme_LiveTailFromNow_RunsAsWritten()
    {
        using var client = new DurableStreamClient(new DurableStreamClientOptions
        {
            BaseAddress = new Uri(server.BaseUrl, $"/v1/stream/snippets-{Guid.NewGuid():N}/")
        });
        DurableStream logs = (await client.CreateStreamAsync(new CreateOptions { Url = "logs", ContentType = "text/plain" }, _timeout.Token)).Stream;
        await logs.AppendAsync("old line\n", cancellationToken: _timeout.Token);
        CancellationToken cancellationToken = _timeout.Token;
        var lines = new List<string>();
        Task writer = Task.Run(async () =>
        {
            await Task.Delay(200, cancellationToken);
            await logs.AppendAsync("new line\n", cancellationToken: cancellationToken);
            await logs.CloseAsync(cancellationToken);
        }, cancellationToken);

        // --- snippet: README "Live tailing" ---
        // Only what is appended from now on, pushed over SSE as it arrives; ends when the stream closes.
        await foreach (StreamItem<string> text in logs.ReadTextAsync(
            new ReadOptions { Offset = Offset.Now, Live = LiveMode.Sse }, cancellationToken))
        {
            Console.Write(text.Value);
            // --- end snippet ---
            lines.Add(text.Value);
        }

        await writer;
        Assert.Equal(["new line\n"], lines);
    }

    [Fact]
    public async Task Readme_RecoveryHook_RefreshesTheTokenAfterA401()
    {
        var tokens = new TokenSource();
        var baseAddress = new Uri(server.BaseUrl, $"/v1/stream/snippets-{Guid.NewGuid():N}/");
        using var setup = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = baseAddress });
        DurableStream created = await CreateOrdersAsync(setup);
        await created.CloseAsync(_timeout.Token);

        // A gateway in front of the server that only lets the refreshed token through.
        using var gated = new DurableStreamClient(
            new HttpClient(new RequireToken("Bearer token-1") { InnerHandler = new SocketsHttpHandler() }),
            new DurableStreamClientOptions { BaseAddress = baseAddress },
            disposeHttpClient: true);
        DurableStream orders = gated.GetStream("orders");

        // --- snippet: README "Reading" recovery hook ---
        var options = new ReadOptions
        {
            Live = LiveMode.Sse,
            OnFailure = async (failure, ct) => failure.Status == 401
                ? ReadRecovery.Retry(new Dictionary<string, string>
                {
                    ["Authorization"] = "Bearer " + await tokens.RefreshAsync(ct)
                })
                : ReadRecovery.Default,
        };
        // --- end snippet ---

        var ids = new List<string>();
        await foreach (StreamItem<Order> item in orders.ReadJsonAsync(TestJsonContext.Default.Order, options, _timeout.Token))
        {
            ids.Add(item.Value.Id);
        }

        Assert.Equal(["o-1", "o-2", "o-3"], ids);
        Assert.Equal(1, tokens.Refreshes);
    }

    private sealed class RequireToken(string expected) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            request.Headers.Authorization?.ToString() == expected
                ? base.SendAsync(request, cancellationToken)
                : Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.Unauthorized) { RequestMessage = request });
    }

    private sealed class TokenSource
    {
        public int Refreshes { get; private set; }

        public Task<string> RefreshAsync(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Refreshes++;
            return Task.FromResult("token-" + Refreshes);
        }
    }
}
