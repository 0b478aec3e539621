using System.Net;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace DurableStreams.Tests.Producing;

/// <summary>One request the producer sent, held until the test answers it.</summary>
internal sealed class PendingRequest
{
    private readonly TaskCompletionSource<HttpResponseMessage> _response = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PendingRequest(HttpMethod method, Uri url, Dictionary<string, string> headers, byte[] body)
    {
        Method = method;
        Url = url;
        Headers = headers;
        Body = body;
    }

    public HttpMethod Method { get; }

    public Uri Url { get; }

    public Dictionary<string, string> Headers { get; }

    public byte[] Body { get; }

    public string BodyText => Encoding.UTF8.GetString(Body);

    public long Epoch => long.Parse(Headers["Producer-Epoch"], System.Globalization.CultureInfo.InvariantCulture);

    public long Seq => long.Parse(Headers["Producer-Seq"], System.Globalization.CultureInfo.InvariantCulture);

    public bool Closes => Headers.TryGetValue("Stream-Closed", out string? value) && value == "true";

    public Task<HttpResponseMessage> Response => _response.Task;

    public void Respond(HttpStatusCode status, params (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(status) { Content = new ByteArrayContent([]) };
        foreach ((string name, string value) in headers)
        {
            response.Headers.TryAddWithoutValidation(name, value);
        }

        _response.SetResult(response);
    }

    public void RespondWith(HttpResponseMessage response) => _response.SetResult(response);

    /// <summary>200 with the producer headers echoed and a tail offset.</summary>
    public void Accept(long tail) => Respond(
        HttpStatusCode.OK,
        ("Stream-Next-Offset", Offset(tail)),
        ("Producer-Epoch", Headers["Producer-Epoch"]),
        ("Producer-Seq", Headers["Producer-Seq"]));

    /// <summary>Fails the attempt as a dropped connection would.</summary>
    public void Drop() => _response.SetException(new HttpRequestException("The connection was reset (simulated).", new IOException("reset")));

    public static string Offset(long tail) => $"0000000000000000_{tail:D16}";
}

/// <summary>An HttpMessageHandler whose requests wait in a queue until the test answers them.</summary>
internal sealed class ScriptedHandler : HttpMessageHandler
{
    private readonly Channel<PendingRequest> _requests = Channel.CreateUnbounded<PendingRequest>();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in request.Headers)
        {
            headers[header.Key] = string.Join(",", header.Value);
        }

        byte[] body = [];
        if (request.Content is not null)
        {
            foreach (var header in request.Content.Headers)
            {
                headers[header.Key] = string.Join(",", header.Value);
            }

            body = await request.Content.ReadAsByteArrayAsync(cancellationToken);
        }

        var pending = new PendingRequest(request.Method, request.RequestUri!, headers, body);
        Interlocked.Increment(ref _count);
        _requests.Writer.TryWrite(pending);
        return await pending.Response.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// The next request. While none has arrived, fake time moves on by <paramref name="step"/>
    /// (when given) so that linger timers and retry backoffs elapse.
    /// </summary>
    public async Task<PendingRequest> NextAsync(CancellationToken cancellationToken, FakeTimeProvider? time = null, TimeSpan? step = null)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_requests.Reader.TryRead(out PendingRequest? request))
            {
                return request;
            }

            if (time is null)
            {
                return await _requests.Reader.ReadAsync(cancellationToken);
            }

            // Give the producer's thread-pool work a moment to reach its timer, then move fake time.
            using var poll = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            poll.CancelAfter(TimeSpan.FromMilliseconds(10));
            try
            {
                return await _requests.Reader.ReadAsync(poll.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                time.Advance(step ?? TimeSpan.FromMilliseconds(1));
            }
        }
    }

    /// <summary>Whether a request is waiting now.</summary>
    public bool TryNext(out PendingRequest? request) => _requests.Reader.TryRead(out request);
}

/// <summary>A producer wired to a <see cref="ScriptedHandler"/> and a <see cref="FakeTimeProvider"/>.</summary>
internal sealed class ProducerHarness : IAsyncDisposable
{
    public const string StreamUrl = "http://streams.test/v1/stream/orders";

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    public ProducerHarness(string contentType = "application/json", Action<ProducerOptions>? configure = null)
    {
        Client = new DurableStreamClient(new HttpClient(Handler), new DurableStreamClientOptions { TimeProvider = Time });
        Stream = Client.GetStream(StreamUrl, contentType);
        Options = new ProducerOptions
        {
            TimeProvider = Time,
            Retry = new RetryOptions(maxRetries: 3, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), jitter: false),
            OnError = ex => Errors.Add(ex),
        };
        configure?.Invoke(Options);
        Producer = Stream.CreateProducer("producer-1", Options);
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public ScriptedHandler Handler { get; } = new();

    public DurableStreamClient Client { get; }

    public DurableStream Stream { get; }

    public ProducerOptions Options { get; }

    public IdempotentProducer Producer { get; }

    public List<DurableStreamException> Errors { get; } = [];

    public CancellationToken Ct => _timeout.Token;

    /// <summary>The next request, moving fake time on while none has arrived.</summary>
    public Task<PendingRequest> NextAsync() => Handler.NextAsync(Ct, Time, TimeSpan.FromMilliseconds(10));

    /// <summary>The next request without moving time (it must come without a timer).</summary>
    public Task<PendingRequest> NextWithoutTimeAsync() => Handler.NextAsync(Ct);

    public async ValueTask DisposeAsync()
    {
        // Stop without flushing whatever a test left unanswered.
        _timeout.Cancel();
        try
        {
            await Producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is DurableStreamException or OperationCanceledException or TimeoutException)
        {
        }

        Client.Dispose();
        _timeout.Dispose();
    }
}
