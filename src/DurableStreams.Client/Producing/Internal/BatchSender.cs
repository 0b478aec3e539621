using System.Diagnostics;
using System.Globalization;
using DurableStreams.Errors.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams.Producing.Internal;

/// <summary>
/// Sends one batch until it is stored or fails: builds each attempt, lets
/// <see cref="BatchResponseClassifier"/> decide what the answer means, and acts on the verdict
/// (backoff and resend, wait for earlier batches, hand a fence to the epoch owner, or fail).
/// Producer state is touched only through <see cref="ProducerCore"/>.
/// </summary>
/// <remarks>
/// The producer's retries do not go through the transport's Polly pipeline
/// (<see cref="RequestKind.ProducerBatch"/> in <see cref="RequestPolicy.Of"/>): a resend must keep its
/// (epoch, seq) and interleave with fencing, renumbering and waiting for earlier batches, which a
/// generic retry strategy cannot see; it shares the backoff (<see cref="Backoff"/>) instead.
/// </remarks>
internal sealed class BatchSender(ProducerCore core, HttpTransport transport, ProducerOptions options, RetryOptions retry, CancellationToken stop)
{
    private readonly KeyValuePair<string, string>[] _headers = [.. options.Headers];
    private readonly Func<CancellationToken, ValueTask<IReadOnlyDictionary<string, string>>>? _headersProvider = options.HeadersProvider;
    private readonly bool _autoClaim = options.AutoClaim;

    /// <summary>
    /// Sends <paramref name="batch"/>, then, on the same task, each batch its completion let the
    /// producer start (<see cref="ProducerCore.CompleteBatch"/>): one batch after another, as a
    /// caller's own send loop would, without a hop through the thread pool between them.
    /// </summary>
    public async Task RunAsync(ProducerBatch batch)
    {
        ProducerBatch? next = batch;
        while (next is not null)
        {
            next = await RunOneAsync(next).ConfigureAwait(false);
        }
    }

    /// <summary>Sends one batch until it is stored or fails; returns the batch to send next on this task, if any.</summary>
    private async Task<ProducerBatch?> RunOneAsync(ProducerBatch batch)
    {
        ProducerBatch? next = null;
        Exception? failure = null;
        bool aborted = false;
        using Activity? activity = StartBatchActivity(batch);
        int attempts = 0;
        (long Epoch, long Seq) attemptKey = (-1, -1);
        int attemptsOfKey = 0;
        try
        {
            string? contentType = await core.ContentTypeForAsync(batch).ConfigureAwait(false);
            int retries = 0;

            // Every way out of the loop ends in the finally below, which hands on the next batch
            // (a return inside the try would fix the method's result before the finally runs).
            bool acknowledged = false;
            while (!acknowledged)
            {
                (bool proceed, long epoch, long seq, bool earlierStored) = await core.EnterAttemptAsync(batch).ConfigureAwait(false);
                if (!proceed)
                {
                    aborted = true;
                    break;
                }

                StreamRequest? request = null;
                HttpResponseMessage? response = null;
                Exception? networkFailure = null;
                attempts++;
                attemptsOfKey = attemptKey == (epoch, seq) ? attemptsOfKey + 1 : 1;
                attemptKey = (epoch, seq);
                try
                {
                    request = await BuildRequestAsync(batch, contentType, epoch, seq).ConfigureAwait(false);
                    response = await transport.SendOnceAsync(request, stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stop.IsCancellationRequested && FailureClassifier.IsNetworkFailure(ex))
                {
                    networkFailure = ex;
                }
                finally
                {
                    core.LeaveAttempt(batch, ambiguous: response is null && request is not null);
                }

                using (response)
                {
                    // Classify reads no response when there is none: every outcome but Retry has one.
                    BatchVerdict verdict = BatchResponseClassifier.Classify(response, new AttemptFacts(seq, attemptsOfKey == 1, batch.IsClose, earlierStored));
                    switch (verdict.Outcome)
                    {
                        case BatchOutcome.Retry:
                            // PROTOCOL.md §5.2.1: the server deduplicates (epoch, seq), so resending the
                            // same batch after a lost response or a refusal is safe.
                            TimeSpan? delay = retries < retry.MaxRetries ? BackoffFor(retries, response) : null;
                            if (delay is null)
                            {
                                // Out of retries, or the server asked for a longer wait than
                                // RetryOptions.MaxRetryAfter: the answer's exception carries its Retry-After.
                                throw networkFailure is not null
                                    ? RetriesExhausted(epoch, seq, retries, networkFailure)
                                    : await ErrorMapper.ToExceptionAsync(response!, request!, core.Time).ConfigureAwait(false);
                            }

                            retries++;
                            ProducerLog.Retrying(core.Logger, core.UrlForLogs, epoch, seq, networkFailure?.GetType().Name ?? $"HTTP {(int)response!.StatusCode}", delay.Value.TotalMilliseconds, retries, retry.MaxRetries);
                            await Task.Delay(delay.Value, core.Time, stop).ConfigureAwait(false);
                            continue;

                        case BatchOutcome.ForeignDuplicate:
                            await HandleForeignDuplicateAsync(batch, epoch, seq).ConfigureAwait(false);
                            continue;

                        case BatchOutcome.Acknowledged:
                            activity?.SetTag("http.response.status_code", (int)response!.StatusCode);
                            batch.NextOffset = batch.IsClose
                                ? ResponseHeaders.RequireNextOffset(response!, core.Stream.Url, request!.Operation)
                                : ResponseHeaders.TryGetOffset(response!, ProtocolHeaders.NextOffset);
                            acknowledged = true;
                            break;

                        case BatchOutcome.Fenced:
                            await core.HandleStaleEpochAsync(batch, epoch, verdict.ServerEpoch).ConfigureAwait(false);
                            continue;

                        case BatchOutcome.Overtaken:
                            core.ResolveAmbiguity(batch);
                            core.StopPipelining();
                            await core.WaitForEarlierBatchesAsync(batch, epoch, verdict.ExpectedSeq, seq).ConfigureAwait(false);
                            continue;

                        case BatchOutcome.SequenceGap:
                            core.ResolveAmbiguity(batch);
                            throw new SequenceGapException(
                                $"POST {core.UrlForLogs} (producer batch, epoch {epoch}) was refused: the server expected sequence {verdict.ExpectedSeq} but received {verdict.ReceivedSeq}, and no earlier batch of this producer is still being sent.",
                                verdict.ExpectedSeq,
                                verdict.ReceivedSeq,
                                core.Stream.Url);

                        default:
                            throw await ErrorMapper.ToExceptionAsync(response!, request!, core.Time).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception ex)
        {
            failure = ex;
            DurableStreamsTelemetry.RecordError(activity, ex);
        }
        finally
        {
            activity?.SetTag("durable_streams.retry_count", Math.Max(0, attempts - 1));
            next = core.CompleteBatch(batch, failure, aborted);
        }

        return next;
    }

    /// <summary>
    /// A duplicate answer to the first attempt of an (epoch, seq): another instance with the same id
    /// and epoch stored it. Without auto-claim the batch fails; with it, the producer claims the next
    /// epoch (the server's is the one sent: a lower one would have been answered 403).
    /// </summary>
    private ValueTask HandleForeignDuplicateAsync(ProducerBatch batch, long sentEpoch, long seq)
    {
        if (!_autoClaim)
        {
            throw new StaleEpochException(
                $"POST {core.UrlForLogs} (producer batch, epoch {sentEpoch}, seq {seq}) was answered as a duplicate although this producer never sent it: " +
                $"another instance with producer id '{core.ProducerId}' already used epoch {sentEpoch}. A restarted producer must use a higher ProducerOptions.Epoch, or AutoClaim; the batch was not stored.",
                sentEpoch,
                core.Stream.Url,
                status: 204);
        }

        return core.HandleStaleEpochAsync(batch, sentEpoch, sentEpoch);
    }

    /// <summary>One span per producer batch, covering every attempt to send it.</summary>
    private Activity? StartBatchActivity(ProducerBatch batch)
    {
        Activity? activity = DurableStreamsTelemetry.ActivitySource.StartActivity(
            batch.IsClose ? "durable_streams.producer.close" : "durable_streams.producer.batch", ActivityKind.Client);
        if (activity is null)
        {
            return null;
        }

        activity.SetTag("durable_streams.operation", batch.IsClose ? "producer.close" : "producer.batch");
        activity.SetTag("url.full", core.UrlForLogs);
        activity.SetTag("durable_streams.producer.epoch", batch.Epoch);
        activity.SetTag("durable_streams.producer.seq", batch.Seq);
        activity.SetTag("durable_streams.messages", batch.Count);
        activity.SetTag("durable_streams.bytes", batch.PayloadBytes);
        return activity;
    }

    private async ValueTask<StreamRequest> BuildRequestAsync(ProducerBatch batch, string? contentType, long epoch, long seq)
    {
        var request = new StreamRequest(HttpMethod.Post, core.Stream.Url, batch.IsClose ? "producer close" : "producer append", RequestKind.ProducerBatch);
        request.AddHeader(ProtocolHeaders.ProducerId, core.ProducerId);
        request.AddHeader(ProtocolHeaders.ProducerEpoch, epoch.ToString(CultureInfo.InvariantCulture));
        request.AddHeader(ProtocolHeaders.ProducerSeq, seq.ToString(CultureInfo.InvariantCulture));
        if (batch.IsClose)
        {
            request.AddHeader(ProtocolHeaders.Closed, ProtocolHeaders.True);
        }

        if (batch.BodyLength > 0)
        {
            request.ContentType = contentType ?? MediaTypes.OctetStream;
            request.Content = () => batch.CreateContent(core.BodySent);
        }

        if (_headersProvider is not null)
        {
            IReadOnlyDictionary<string, string> dynamicHeaders = await _headersProvider(stop).ConfigureAwait(false);
            request.Headers.AddRange(dynamicHeaders);
        }

        request.Headers.AddRange(_headers);
        return request;
    }

    private TimeSpan? BackoffFor(int retries, HttpResponseMessage? response) =>
        Backoff.Delay(retry, retries, response is null ? null : HttpTransport.RetryAfterOf(response, core.Time));

    private DurableStreamException RetriesExhausted(long epoch, long seq, int retries, Exception failure) =>
        new(
            $"POST {core.UrlForLogs} (producer batch, epoch {epoch}, seq {seq}) failed after {retries} retries: {failure.Message} " +
            "The batch may or may not have been stored; no later batch was sent.",
            0,
            failure is TimeoutException ? DurableStreamErrorCodes.Timeout : DurableStreamErrorCodes.NetworkError,
            core.Stream.Url,
            failure);
}
