using System.Net;
using System.Text;

namespace DurableStreams.IntegrationTests.Subscriptions;

/// <summary>
/// A client whose base address is the reference server's stream root (<c>/v1/stream/</c>), plus
/// helpers for unique stream paths and a switch that swallows heartbeats, as a worker cut off from
/// the server would lose them.
/// </summary>
internal sealed class SubscriptionTestContext : IDisposable
{
    private readonly HeartbeatSwallowingHandler _handler;

    public SubscriptionTestContext(ReferenceServerFixture server)
    {
        StreamRoot = new Uri(server.BaseUrl.AbsoluteUri.TrimEnd('/') + "/v1/stream/");
        _handler = new HeartbeatSwallowingHandler(new SocketsHttpHandler());
        Client = new DurableStreamClient(
            new HttpClient(_handler) { Timeout = Timeout.InfiniteTimeSpan },
            new DurableStreamClientOptions { BaseAddress = StreamRoot },
            disposeHttpClient: true);
        Prefix = "t" + Guid.NewGuid().ToString("N")[..12];
    }

    public Uri StreamRoot { get; }

    public DurableStreamClient Client { get; }

    public DurableStreamSubscriptions Subscriptions => Client.Subscriptions;

    /// <summary>A prefix unique to this context, so patterns never match another test's streams.</summary>
    public string Prefix { get; }

    /// <summary>While set, heartbeats (acks with no offsets) are answered locally and never reach the server.</summary>
    public bool SwallowHeartbeats
    {
        get => _handler.Swallow;
        set => _handler.Swallow = value;
    }

    public int SwallowedHeartbeats => _handler.Swallowed;

    public string NewId(string name = "sub") => $"{Prefix}-{name}-{Guid.NewGuid():N}";

    public async Task<DurableStream> CreateJsonStreamAsync(string path, CancellationToken cancellationToken)
    {
        CreateStreamResult result = await Client.CreateStreamAsync(new CreateOptions { Url = path, ContentType = "application/json" }, cancellationToken);
        return result.Stream;
    }

    public void Dispose() => Client.Dispose();

    private sealed class HeartbeatSwallowingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int _swallowed;

        public volatile bool Swallow;

        public int Swallowed => Volatile.Read(ref _swallowed);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Swallow && request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.EndsWith("/ack", StringComparison.Ordinal) && request.Content is not null)
            {
                string body = await request.Content.ReadAsStringAsync(cancellationToken);
                if (body.Contains("\"acks\":[]", StringComparison.Ordinal) && !body.Contains("\"done\"", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _swallowed);
                    return new HttpResponseMessage(HttpStatusCode.OK)
                    {
                        Content = new StringContent("""{"ok":true,"next_wake":false}""", Encoding.UTF8, "application/json"),
                    };
                }
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
