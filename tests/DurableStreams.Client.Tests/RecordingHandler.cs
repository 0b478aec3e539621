using System.Net;

namespace DurableStreams.Tests;

/// <summary>A request as it went out: method, URL, headers and body bytes, captured at send time.</summary>
internal sealed record SentRequest(HttpMethod Method, Uri Url, Dictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out string? value) ? value : null;
}

/// <summary>
/// An HttpMessageHandler that records every request and answers from a script: one step per
/// request, in order; the last step repeats when the script runs out.
/// </summary>
internal sealed class RecordingHandler : HttpMessageHandler
{
    private readonly List<Func<SentRequest, HttpResponseMessage>> _steps = [];
    private readonly List<SentRequest> _requests = [];
    private readonly object _gate = new();
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];

    public IReadOnlyList<SentRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Completes once at least <paramref name="count"/> requests have arrived.</summary>
    public Task WaitForRequestsAsync(int count, CancellationToken cancellationToken)
    {
        var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_requests.Count >= count)
            {
                return Task.CompletedTask;
            }

            _waiters.Add((count, signal));
        }

        return signal.Task.WaitAsync(cancellationToken);
    }

    public RecordingHandler Then(Func<SentRequest, HttpResponseMessage> step)
    {
        _steps.Add(step);
        return this;
    }

    public RecordingHandler ThenRespond(HttpStatusCode status, Action<HttpResponseMessage>? configure = null) =>
        Then(_ =>
        {
            var response = new HttpResponseMessage(status) { Content = new ByteArrayContent([]) };
            configure?.Invoke(response);
            return response;
        });

    public RecordingHandler ThenThrow(Func<Exception> exception) => Then(_ => throw exception());

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in request.Headers)
        {
            headers[header.Key] = string.Join(", ", header.Value);
        }

        byte[] body = [];
        if (request.Content is not null)
        {
            foreach (var header in request.Content.Headers)
            {
                headers[header.Key] = string.Join(", ", header.Value);
            }

            body = await request.Content.ReadAsByteArrayAsync(cancellationToken);
        }

        var sent = new SentRequest(request.Method, request.RequestUri!, headers, body);
        Func<SentRequest, HttpResponseMessage> step;
        lock (_gate)
        {
            _requests.Add(sent);
            if (_steps.Count == 0)
            {
                throw new InvalidOperationException("The script has no steps.");
            }

            step = _steps[Math.Min(_requests.Count - 1, _steps.Count - 1)];
            foreach (var waiter in _waiters.Where(w => w.Count <= _requests.Count))
            {
                waiter.Signal.TrySetResult();
            }
        }

        HttpResponseMessage response = step(sent);
        response.RequestMessage = request;
        return response;
    }

    public static HttpResponseMessage Ok(HttpStatusCode status = HttpStatusCode.NoContent, string nextOffset = "0000_0010", string? contentType = null)
    {
        var response = new HttpResponseMessage(status) { Content = new ByteArrayContent([]) };
        response.Headers.TryAddWithoutValidation("Stream-Next-Offset", nextOffset);
        if (contentType is not null)
        {
            response.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        return response;
    }
}
