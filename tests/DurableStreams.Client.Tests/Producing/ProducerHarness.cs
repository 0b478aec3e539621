using System.Net;
using System.Text;
using System.Threading.Channels;
using DurableStreams.Testing;

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
    /// The next request. While none has arrived and <paramref name="time"/> is given, each timer the
    /// producer schedules (linger, retry backoff) is run by moving fake time to it.
    /// </summary>
    public async Task<PendingRequest> NextAsync(CancellationToken cancellationToken, SignallingTimeProvider? time = null)
    {
        while (true)
        {
            if (_requests.Reader.TryRead(out PendingRequest? request))
            {
                return request;
            }

            if (time is null)
            {
                return await _requests.Reader.ReadAsync(cancellationToken);
            }

            Task<bool> arrived = _requests.Reader.WaitToReadAsync(cancellationToken).AsTask();
            Task timer = time.WhenTimerPendingAsync(cancellationToken);
            if (await Task.WhenAny(arrived, timer) == timer && !arrived.IsCompleted)
            {
                await timer;
                time.AdvanceToNextTimer();
            }
        }
    }

    /// <summary>Whether a request is waiting now.</summary>
    public bool TryNext(out PendingRequest? request) => _requests.Reader.TryRead(out request);
}

/// <summary>A producer wired to a <see cref="ScriptedHandler"/> and a <see cref="SignallingTimeProvider"/>.</summary>
internal sealed class ProducerHarness : IAsyncDisposable
{
    public const string StreamUrl = "http://streams.test/v1/stream/orders";

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    /// <param name="contentType">The stream's content type.</param>
    /// <param name="configure">Changes to the options.</param>
    /// <param name="clientDisposed">When given, the producer's "client disposed" token (the internal creation path).</param>
    public ProducerHarness(string contentType = "application/json", Action<ProducerOptions>? configure = null, CancellationToken? clientDisposed = null)
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
        Producer = clientDisposed is { } token
            ? new IdempotentProducer(Stream, "producer-1", Options, token)
            : Stream.CreateProducer("producer-1", Options);
    }

    public SignallingTimeProvider Time { get; } = new();

    public ScriptedHandler Handler { get; } = new();

    public DurableStreamClient Client { get; }

    public DurableStream Stream { get; }

    public ProducerOptions Options { get; }

    public IdempotentProducer Producer { get; }

    public List<DurableStreamException> Errors { get; } = [];

    public CancellationToken Ct => _timeout.Token;

    /// <summary>The next request, running the producer's timers while none has arrived.</summary>
    public Task<PendingRequest> NextAsync() => Handler.NextAsync(Ct, Time);

    /// <summary>The next request without moving time (it must come without a timer).</summary>
    public Task<PendingRequest> NextWithoutTimeAsync() => Handler.NextAsync(Ct);

    /// <summary>
    /// Stores "0" as seq 0 (confirming the epoch, so that later batches are pipelined), then appends
    /// <paramref name="messages"/> (one batch each with <c>MaxBatchItems = 1</c>), starts a flush and
    /// returns it with the requests in flight, ordered by sequence number.
    /// </summary>
    public async Task<(Task Flush, PendingRequest[] BySeq)> ConfirmEpochThenPipelineAsync(params string[] messages)
    {
        Producer.Append("0");
        (await NextWithoutTimeAsync()).Accept(1);
        await Producer.FlushAsync(Ct);
        foreach (string message in messages)
        {
            Producer.Append(message);
        }

        Task flush = Producer.FlushAsync(Ct);
        var inFlight = new List<PendingRequest>();
        for (int i = 0; i < messages.Length; i++)
        {
            inFlight.Add(await NextWithoutTimeAsync());
        }

        return (flush, [.. inFlight.OrderBy(r => r.Seq)]);
    }

    public async ValueTask DisposeAsync()
    {
        // Whatever a test left unanswered: run the producer's timers on fake time (its retries, then
        // ProducerOptions.DisposeTimeout) until DisposeAsync gives up on it, without real waiting.
        Task dispose = Producer.DisposeAsync().AsTask();
        while (!dispose.IsCompleted && !Ct.IsCancellationRequested)
        {
            Task timer = Time.WhenTimerPendingAsync(Ct);
            if (await Task.WhenAny(dispose, timer) == timer && !dispose.IsCompleted)
            {
                Time.AdvanceToNextTimer();
            }
        }

        try
        {
            await dispose.WaitAsync(Ct);
        }
        catch (DurableStreamException)
        {
            // A failure the test did not observe, or the abandonment at the dispose timeout.
        }

        Client.Dispose();
        _timeout.Dispose();
    }
}
