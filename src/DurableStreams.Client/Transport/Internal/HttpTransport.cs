using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.ExceptionServices;
using System.Text;
using DurableStreams.Diagnostics.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace DurableStreams.Transport.Internal;

/// <summary>
/// Sends protocol requests through an <see cref="HttpClient"/>, rebuilding the request and
/// re-evaluating dynamic headers for every attempt, and sending each as its <see cref="RequestKind"/>
/// says (<see cref="RequestPolicy.Of"/>): retried through a Polly pipeline whose predicate depends on
/// whether the request may be repeated, or one attempt whose retries the caller owns.
/// </summary>
internal sealed class HttpTransport
{
    private static readonly ResiliencePropertyKey<StreamRequest> RequestKey = new("DurableStreams.Request");
    private static readonly ResiliencePropertyKey<FirstAttempt> FirstAttemptKey = new("DurableStreams.FirstAttempt");

    private readonly HttpClient _http;
    private readonly DurableStreamClientOptions _options;
    private readonly ResiliencePipeline<HttpResponseMessage> _retryPipeline;
    private readonly ILogger _logger;
    private readonly CancellationToken _disposal;

    /// <param name="http">The client to send with.</param>
    /// <param name="options">The owning client's options.</param>
    /// <param name="disposal">Cancelled when the owning <see cref="DurableStreamClient"/> is disposed.</param>
    public HttpTransport(HttpClient http, DurableStreamClientOptions options, CancellationToken disposal = default)
    {
        _http = http;
        _options = options;
        _disposal = disposal;
        _logger = options.LoggerFactory?.CreateLogger(DurableStreamsTelemetry.Name) ?? NullLogger.Instance;
        _retryPipeline = BuildPipeline(options.Retry, options.TimeProvider, _logger);
    }

    public ILogger Logger => _logger;

    public HttpClient HttpClient => _http;

    public DurableStreamClientOptions Options => _options;

    /// <summary>
    /// Sends the request, retrying as its <see cref="StreamRequest.Policy"/> allows. Returns the final response,
    /// which may be an error status; throws for network failures that retries did not overcome.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The owning client is (or was, while waiting) disposed.</exception>
    public async Task<HttpResponseMessage> SendAsync(StreamRequest request, CancellationToken cancellationToken)
    {
        if (_disposal.IsCancellationRequested)
        {
            throw DurableStreamClient.DisposedException();
        }

        // Disposing the client ends its requests: the caller's token is linked with the disposal
        // token. A caller's token that can never be cancelled needs no link: the disposal token
        // alone ends the request (most calls pass none, and a linked source costs an allocation and
        // a registration on the client-wide disposal source per request).
        using CancellationTokenSource? linked = _disposal.CanBeCanceled && cancellationToken.CanBeCanceled
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposal)
            : null;
        CancellationToken token = linked?.Token ?? (_disposal.CanBeCanceled ? _disposal : cancellationToken);

        // One method for the disposal, the span, the retries and the failure translation: every
        // async layer that suspends while the request is in flight allocates its state machine.
        try
        {
            ResilienceContext? context = null;
            using Activity? activity = StartActivity(request);
            try
            {
                HttpResponseMessage response;
                if (!request.Policy.PollyRetries)
                {
                    response = await SendOnceAsync(request, token).ConfigureAwait(false);
                }
                else
                {
                    // The first attempt is sent outside the retry pipeline, because most requests
                    // succeed at once and the pipeline's layers cost time on every request (most
                    // while the JIT has not optimized them yet: ~15 µs per append then, measured in
                    // docs/benchmarks.md). An outcome the pipeline could retry (an exception, or a
                    // transient status) is handed to the pipeline as its first attempt's outcome, so
                    // that retries, their delays, counting and logging are exactly the pipeline's.
                    HttpResponseMessage? retryable = null;
                    ExceptionDispatchInfo? failure = null;
                    try
                    {
                        response = await SendOnceAsync(request, token).ConfigureAwait(false);
                        if (!FailureClassifier.IsTransientStatus(response.StatusCode))
                        {
                            return TagResponse(activity, request, response);
                        }

                        retryable = response;
                    }
                    catch (Exception ex) when (!token.IsCancellationRequested)
                    {
                        // (A cancelled request is not the pipeline's business: it ends here, as the
                        // pipeline would end it.)
                        failure = ExceptionDispatchInfo.Capture(ex);
                    }

                    context = ResilienceContextPool.Shared.Get(token);
                    context.Properties.Set(RequestKey, request);
                    context.Properties.Set(FirstAttemptKey, new FirstAttempt(request, retryable, failure));
                    response = await _retryPipeline.ExecuteAsync(
                        static (ctx, self) =>
                        {
                            FirstAttempt attempt = ctx.Properties.GetValue(FirstAttemptKey, null!);
                            return attempt.TakeOutcome(out HttpResponseMessage? earlier)
                                ? new ValueTask<HttpResponseMessage>(earlier!)
                                : new ValueTask<HttpResponseMessage>(self.SendOnceAsync(attempt.Request, ctx.CancellationToken));
                        },
                        context,
                        this).ConfigureAwait(false);
                }

                return TagResponse(activity, request, response);
            }
            catch (Exception ex) when (activity is not null && RecordFailure(activity, request, ex))
            {
                throw;
            }
            catch (OperationCanceledException ex) when (token.IsCancellationRequested && ex.CancellationToken != token)
            {
                // Report the request's token, not the linked per-attempt one.
                throw new OperationCanceledException(ex.Message, ex, token);
            }
            catch (Exception ex) when (!token.IsCancellationRequested && FailureClassifier.IsNetworkFailure(ex))
            {
                throw WrapNetworkFailure(request, ex);
            }
            finally
            {
                if (context is not null)
                {
                    ResilienceContextPool.Shared.Return(context);
                }
            }
        }
        catch (Exception ex) when (_disposal.IsCancellationRequested && !cancellationToken.IsCancellationRequested &&
                                   ex is OperationCanceledException or ObjectDisposedException or HttpRequestException or IOException)
        {
            // Disposing the client ends its requests, and may dispose the HttpClient under them.
            throw DurableStreamClient.DisposedException();
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested && ex.CancellationToken != cancellationToken)
        {
            // Report the caller's own token, not the linked one.
            throw new OperationCanceledException(ex.Message, ex, cancellationToken);
        }
    }

    /// <summary>
    /// One attempt: build, send, and apply the per-attempt timeout; the request and the same-origin
    /// redirects it is answered with (<see cref="RedirectPolicy"/>) all fall within one timeout.
    /// </summary>
    public async Task<HttpResponseMessage> SendOnceAsync(StreamRequest request, CancellationToken cancellationToken)
    {
        try
        {
            TimeSpan timeout = _options.RequestTimeout;
            using CancellationTokenSource? attempt = timeout == Timeout.InfiniteTimeSpan ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt?.CancelAfter(timeout);
            try
            {
                Uri? target = null;
                for (int followed = 0; ; followed++)
                {
                    HttpResponseMessage response = await SendHopAsync(request, target, attempt?.Token ?? cancellationToken).ConfigureAwait(false);
                    if (!RedirectPolicy.IsRedirect(response.StatusCode))
                    {
                        return response;
                    }

                    using (response)
                    {
                        target = FollowOrThrow(request, response, followed);
                    }
                }
            }
            catch (OperationCanceledException ex) when (attempt is not null && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"The {request.Operation} request did not complete within {timeout.TotalSeconds:0.###} s.", ex);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && FailureClassifier.IsNetworkFailure(ex) && !FailureClassifier.ProvablyNotSent(ex))
        {
            request.EarlierAttemptMayHaveArrived = true;
            throw;
        }
        catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested && FailureClassifier.IsPermanentFailure(ex))
        {
            throw WrapPermanentFailure(request, ex);
        }
    }

    /// <summary>One HTTP request to <paramref name="target"/> (the request's own URL when null).</summary>
    private async Task<HttpResponseMessage> SendHopAsync(StreamRequest request, Uri? target, CancellationToken cancellationToken)
    {
        using HttpRequestMessage message = await BuildMessageAsync(request, target, cancellationToken).ConfigureAwait(false);
        HttpCompletionOption completion = request.Policy.StreamedResponse ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead;

        // A handler that follows redirects itself changes the message's URL and method in place.
        Uri sentUrl = message.RequestUri!;
        HttpMethod sentMethod = message.Method;

        // The duration and its tags are worked out only when a meter listener or debug logging
        // observes them: without one, Record would discard them.
        bool observed = DurableStreamsTelemetry.RequestDuration.Enabled || _logger.IsEnabled(LogLevel.Debug);
        long started = observed ? Stopwatch.GetTimestamp() : 0;
        int statusCode = 0;
        try
        {
            HttpResponseMessage response = await _http.SendAsync(message, completion, cancellationToken).ConfigureAwait(false);
            statusCode = (int)response.StatusCode;
            if (response.RequestMessage?.RequestUri is { } answered &&
                (!RedirectPolicy.SameOrigin(sentUrl, answered) || response.RequestMessage.Method != sentMethod))
            {
                // A caller's HttpClient with AllowAutoRedirect: the answer comes from elsewhere.
                response.Dispose();
                throw new DurableStreamException(
                    $"{sentMethod} {DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url)} ({request.Operation}) was redirected by the HttpClient's handler " +
                    $"to {response.RequestMessage.Method} '{DurableStreams.Internal.UrlUtilities.WithoutQuery(answered)}', another origin or method, so its answer was not accepted. " +
                    "Set AllowAutoRedirect = false on the handler: the SDK then follows same-origin redirects itself.",
                    (int)response.StatusCode,
                    DurableStreamErrorCodes.UnexpectedStatus,
                    request.Url);
            }

            return response;
        }
        finally
        {
            if (observed)
            {
                RecordCompleted(request, sentUrl, statusCode, Stopwatch.GetElapsedTime(started));
            }
        }
    }

    /// <summary>The next URL of a redirect the policy allows; otherwise the exception that names the Location.</summary>
    private static Uri FollowOrThrow(StreamRequest request, HttpResponseMessage response, int followed)
    {
        string? location = response.Headers.NonValidated.TryGetValues("Location", out HeaderStringValues values) ? values.ToString() : null;
        Uri from = response.RequestMessage?.RequestUri ?? request.Url;
        (Uri? next, string? refusal) = RedirectPolicy.Decide(
            request.Method,
            hasBody: request.Content is not null,
            bodyRepeatable: request.Policy.Retry != RetryScope.Never,
            from,
            response.StatusCode,
            location,
            followed);
        if (next is not null)
        {
            return next;
        }

        throw new DurableStreamException(
            $"{request.Method} {DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url)} ({request.Operation}) was redirected (HTTP {(int)response.StatusCode}) {refusal}. The redirect was not followed.",
            (int)response.StatusCode,
            DurableStreamErrorCodes.UnexpectedStatus,
            request.Url);
    }

    /// <summary>The request-duration histogram (status "error" when no response came) and the debug log line.</summary>
    private void RecordCompleted(StreamRequest request, Uri sentUrl, int statusCode, TimeSpan elapsed)
    {
        if (DurableStreamsTelemetry.RequestDuration.Enabled)
        {
            string status = statusCode == 0 ? "error" : statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            DurableStreamsTelemetry.RequestDuration.Record(
                elapsed.TotalSeconds,
                new KeyValuePair<string, object?>("durable_streams.operation", request.Operation),
                new KeyValuePair<string, object?>("http.response.status_code", status));
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            string url = DurableStreams.Internal.UrlUtilities.WithoutQuery(sentUrl);
            Log.RequestCompleted(_logger, request.Method.Method, url, request.Operation, statusCode, elapsed.TotalMilliseconds);
        }
    }

    /// <summary>Records the final response on the request's span (when there is one) and returns it.</summary>
    private static HttpResponseMessage TagResponse(Activity? activity, StreamRequest request, HttpResponseMessage response)
    {
        if (activity is not null)
        {
            activity.SetTag("http.response.status_code", (int)response.StatusCode);
            activity.SetTag("durable_streams.retry_count", request.Retries);
            if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.NotModified)
            {
                activity.SetStatus(ActivityStatusCode.Error, $"HTTP {(int)response.StatusCode}");
            }
        }

        return response;
    }

    private static Activity? StartActivity(StreamRequest request)
    {
        Activity? activity = DurableStreamsTelemetry.ActivitySource.StartActivity("durable_streams." + request.Operation, ActivityKind.Client);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("durable_streams.operation", request.Operation);
        activity.SetTag("http.request.method", request.Method.Method);
        activity.SetTag("url.full", DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url));
        foreach (KeyValuePair<string, string> parameter in request.Query)
        {
            if (parameter.Key == Protocol.Internal.ProtocolHeaders.OffsetParameter)
            {
                activity.SetTag("durable_streams.offset", parameter.Value);
            }
        }

        if (request.BodyLength is { } bytes)
        {
            activity.SetTag("durable_streams.bytes", bytes);
        }

        return activity;
    }

    private static bool RecordFailure(Activity activity, StreamRequest request, Exception exception)
    {
        activity.SetTag("durable_streams.retry_count", request.Retries);
        DurableStreamsTelemetry.RecordError(activity, exception);
        return false;
    }

    private async ValueTask<HttpRequestMessage> BuildMessageAsync(StreamRequest request, Uri? target, CancellationToken cancellationToken)
    {
        // A redirect's Location is requested as the server wrote it, query included.
        target ??= await BuildUrlAsync(request, cancellationToken).ConfigureAwait(false);
        var message = new HttpRequestMessage(request.Method, target);
        try
        {
            HttpContent? content = request.Content?.Invoke();
            if (content is null && request.ContentType is not null)
            {
                // PROTOCOL.md §5.1: a create with no body still names its content type.
                content = new ByteArrayContent([]);
            }

            message.Content = content;
            if (content is not null && request.ContentType is not null)
            {
                content.Headers.Remove("Content-Type");
                content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
            }

            // Precedence: per-call and protocol headers, then the dynamic provider, then defaults.
            IReadOnlyDictionary<string, string>? provided = _options.HeadersProvider is { } headerProvider
                ? await headerProvider(cancellationToken).ConfigureAwait(false)
                : null;
            if ((provided is null || provided.Count == 0) && _options.DefaultHeaders.Count == 0 && request.Headers.Count <= 1)
            {
                // Nothing to override or be overridden by: no set of names to keep.
                AddHeaders(message, seen: null, request.Headers);
                return message;
            }

            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            AddHeaders(message, seen, request.Headers);
            if (provided is not null)
            {
                AddHeaders(message, seen, provided);
            }

            AddHeaders(message, seen, _options.DefaultHeaders);
            return message;
        }
        catch
        {
            message.Dispose();
            throw;
        }
    }

    private async ValueTask<Uri> BuildUrlAsync(StreamRequest request, CancellationToken cancellationToken)
    {
        if (request.ExtraQuery is null && _options.QueryParametersProvider is null && _options.DefaultQueryParameters.Count == 0)
        {
            // Only the protocol's own parameters, whose names never repeat.
            return DurableStreams.Internal.UrlUtilities.WithQuery(request.Url, request.Query);
        }

        var query = new List<KeyValuePair<string, string>>(request.Query);
        var queryNames = new HashSet<string>(request.Query.Select(p => p.Key), StringComparer.Ordinal);
        if (request.ExtraQuery is not null)
        {
            AddQuery(query, queryNames, request.ExtraQuery);
        }

        if (_options.QueryParametersProvider is { } queryProvider)
        {
            AddQuery(query, queryNames, await queryProvider(cancellationToken).ConfigureAwait(false));
        }

        AddQuery(query, queryNames, _options.DefaultQueryParameters);
        return DurableStreams.Internal.UrlUtilities.WithQuery(request.Url, query);
    }

    private static void AddQuery(List<KeyValuePair<string, string>> query, HashSet<string> names, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        foreach (KeyValuePair<string, string> parameter in parameters)
        {
            if (names.Add(parameter.Key))
            {
                query.Add(parameter);
            }
        }
    }

    private static void AddHeaders(HttpRequestMessage message, HashSet<string>? seen, IEnumerable<KeyValuePair<string, string>> headers)
    {
        foreach ((string name, string value) in headers)
        {
            if (seen is not null && !seen.Add(name))
            {
                continue;
            }

            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                if (message.Content is not null)
                {
                    message.Content.Headers.Remove(name);
                    message.Content.Headers.TryAddWithoutValidation(name, value);
                }

                continue;
            }

            if (!message.Headers.TryAddWithoutValidation(name, value))
            {
                message.Content?.Headers.TryAddWithoutValidation(name, value);
            }
        }
    }

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(RetryOptions retry, TimeProvider timeProvider, ILogger logger)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider };
        if (retry.MaxRetries == 0)
        {
            return builder.Build();
        }

        RetryOptions copy = retry.Clone();
        return builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
        {
            MaxRetryAttempts = copy.MaxRetries,
            ShouldHandle = args =>
            {
                StreamRequest request = args.Context.Properties.GetValue(RequestKey, null!);
                if (args.Outcome.Result is { } response)
                {
                    // A Retry-After beyond RetryOptions.MaxRetryAfter is not waited for: the answer is
                    // returned and becomes an exception carrying the server's value.
                    return ValueTask.FromResult(
                        FailureClassifier.IsTransientStatus(response.StatusCode) &&
                        Backoff.Allows(copy, RetryAfterOf(response, timeProvider)));
                }

                Exception? exception = args.Outcome.Exception;
                if (exception is null || args.Context.CancellationToken.IsCancellationRequested || !FailureClassifier.IsNetworkFailure(exception))
                {
                    return ValueTask.FromResult(false);
                }

                return ValueTask.FromResult(request.Policy.Retry == RetryScope.Safe || FailureClassifier.ProvablyNotSent(exception));
            },
            DelayGenerator = args =>
            {
                TimeSpan? retryAfter = args.Outcome.Result is { } response ? RetryAfterOf(response, timeProvider) : null;
                return ValueTask.FromResult(Backoff.Delay(copy, args.AttemptNumber, retryAfter));
            },
            OnRetry = args =>
            {
                StreamRequest request = args.Context.Properties.GetValue(RequestKey, null!);
                request.Retries++;
                DurableStreamsTelemetry.Retries.Add(1, new KeyValuePair<string, object?>("durable_streams.operation", request.Operation));
                if (logger.IsEnabled(LogLevel.Warning))
                {
                    string failure = args.Outcome.Result is { } response
                        ? $"HTTP {(int)response.StatusCode}"
                        : args.Outcome.Exception?.GetType().Name ?? "an unknown failure";
                    Log.Retrying(logger, request.Method.Method, DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url), request.Operation, args.AttemptNumber + 1, failure, args.RetryDelay.TotalMilliseconds);
                }

                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    /// <summary>The <c>Retry-After</c> of a response, in seconds or as an HTTP date.</summary>
    public static TimeSpan? RetryAfterOf(HttpResponseMessage response, TimeProvider timeProvider)
    {
        RetryConditionHeaderValue? retryAfter = response.Headers.RetryAfter;
        if (retryAfter?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (retryAfter?.Date is { } date)
        {
            TimeSpan wait = date - timeProvider.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }

    /// <summary>
    /// A failure that the same request would meet again (<see cref="FailureClassifier.IsPermanentFailure"/>):
    /// not retried, and named for what it is rather than as a network failure.
    /// </summary>
    private static DurableStreamException WrapPermanentFailure(StreamRequest request, HttpRequestException exception)
    {
        string url = DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url);
        string what = $"{request.Method} {url} ({request.Operation})";
        if (!FailureClassifier.ResponseArrived(exception))
        {
            return new DurableStreamException(
                $"{what} could not connect: {exception.Message} The same failure would recur, so the request was not retried.",
                0,
                DurableStreamErrorCodes.NetworkError,
                request.Url,
                exception);
        }

        string problem = exception.HttpRequestError == HttpRequestError.ConfigurationLimitExceeded
            ? "exceeds a limit of the HttpClient's handler (for example its response headers are larger than MaxResponseHeadersLength, default 64 KiB)"
            : "is not a valid HTTP response";
        if (request.Policy.Retry != RetryScope.Safe)
        {
            return new AppendOutcomeUnknownException(
                $"{what} got an answer that {problem}: {exception.Message} The request reached the server, so the data may or may not have been stored; it was not resent.",
                request.Url,
                exception);
        }

        return new DurableStreamProtocolException(
            $"{what} got an answer that {problem}: {exception.Message} The same answer would recur, so the request was not retried.",
            request.Url,
            exception);
    }

    private static DurableStreamException WrapNetworkFailure(StreamRequest request, Exception exception)
    {
        string url = DurableStreams.Internal.UrlUtilities.WithoutQuery(request.Url);
        if (request.Policy.Retry != RetryScope.Safe && !FailureClassifier.ProvablyNotSent(exception))
        {
            return new AppendOutcomeUnknownException(
                $"{request.Method} {url} ({request.Operation}) failed after the request may have reached the server: {exception.Message} " +
                "The data may or may not have been stored, so it was not resent. Use an IdempotentProducer for exactly-once appends through failures.",
                request.Url,
                exception);
        }

        bool timeout = exception is TimeoutException;
        return new DurableStreamException(
            $"{request.Method} {url} ({request.Operation}) failed: {exception.Message}",
            0,
            timeout ? DurableStreamErrorCodes.Timeout : DurableStreamErrorCodes.NetworkError,
            request.Url,
            exception);
    }

    /// <summary>
    /// The response body as a stream, decompressed when the handler left it compressed (the SDK's
    /// own clients always do: reads ask for compression themselves, see ReadSession).
    /// </summary>
    public static async Task<Stream> ReadBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        Stream body = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        ICollection<string> encodings = content.Headers.ContentEncoding;
        if (encodings.Count == 0)
        {
            return body;
        }

        foreach (string encoding in encodings.Reverse())
        {
            body = encoding.ToUpperInvariant() switch
            {
                "GZIP" or "X-GZIP" => new GZipStream(body, CompressionMode.Decompress),
                "DEFLATE" => new ZLibStream(body, CompressionMode.Decompress),
                "BR" => new BrotliStream(body, CompressionMode.Decompress),
                "IDENTITY" => body,
                _ => throw new NotSupportedException($"The response uses the content encoding '{encoding}', which the SDK cannot decode."),
            };
        }

        return body;
    }

    /// <summary>Reads at most <paramref name="maxChars"/> characters of an error body for a message.</summary>
    public static async Task<string> ReadErrorTextAsync(HttpResponseMessage response, int maxChars = 2048)
    {
        try
        {
            using Stream body = await ReadBodyAsync(response.Content, CancellationToken.None).ConfigureAwait(false);
            using var reader = new StreamReader(body, Encoding.UTF8);
            char[] buffer = new char[maxChars];
            int read = await reader.ReadBlockAsync(buffer, 0, buffer.Length).ConfigureAwait(false);
            return new string(buffer, 0, read).Trim();
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or NotSupportedException or InvalidDataException)
        {
            return string.Empty;
        }
    }

    /// <summary>
    /// The outcome of a request's first attempt, sent before the retry pipeline was entered; the
    /// pipeline's first call of its callback takes it instead of sending again.
    /// </summary>
    private sealed class FirstAttempt(StreamRequest request, HttpResponseMessage? response, ExceptionDispatchInfo? failure)
    {
        private bool _taken;

        public StreamRequest Request { get; } = request;

        /// <summary>
        /// True (with the response) the first time: the first attempt's outcome, its failure rethrown
        /// with its original stack; false afterwards, when the caller sends a new attempt.
        /// </summary>
        public bool TakeOutcome(out HttpResponseMessage? outcome)
        {
            outcome = null;
            if (_taken)
            {
                return false;
            }

            _taken = true;
            failure?.Throw();
            outcome = response;
            return true;
        }
    }
}
