using System.Net;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams.Producing.Internal;

/// <summary>What one attempt's answer means for a producer batch (PROTOCOL.md §5.2.1).</summary>
internal enum BatchOutcome
{
    /// <summary>Stored: 200, or 204 as the duplicate of an earlier attempt of ours.</summary>
    Acknowledged,

    /// <summary>No answer, 429 or 5xx: resend the same (epoch, seq) after a backoff; the server deduplicates.</summary>
    Retry,

    /// <summary>403 naming the server's epoch: a newer epoch fenced this one.</summary>
    Fenced,

    /// <summary>
    /// 409 expecting a lower sequence while an earlier batch of ours is still unacknowledged: this
    /// batch overtook it on another connection. Wait for it, then resend the same (epoch, seq).
    /// </summary>
    Overtaken,

    /// <summary>409 expecting another sequence with no earlier batch outstanding: a real gap.</summary>
    SequenceGap,

    /// <summary>
    /// 204 (duplicate) to the first attempt of this (epoch, seq): no attempt of ours can have stored
    /// it, so another instance with the same producer id and epoch did.
    /// </summary>
    ForeignDuplicate,

    /// <summary>Anything else (404, 410, 409 closed, 400, ...): the batch fails with the answer's exception.</summary>
    Failed,
}

/// <summary>The decision about one answer, with the numbers the next step needs.</summary>
/// <param name="Outcome">What the answer means.</param>
/// <param name="ServerEpoch">For <see cref="BatchOutcome.Fenced"/>: the server's current epoch.</param>
/// <param name="ExpectedSeq">For <see cref="BatchOutcome.Overtaken"/> and <see cref="BatchOutcome.SequenceGap"/>: <c>Producer-Expected-Seq</c>.</param>
/// <param name="ReceivedSeq">For the same: <c>Producer-Received-Seq</c>, or the sent sequence when absent.</param>
internal readonly record struct BatchVerdict(BatchOutcome Outcome, long ServerEpoch = 0, long ExpectedSeq = 0, long ReceivedSeq = 0);

/// <summary>What the sender knew when the attempt left.</summary>
/// <param name="Seq">The sequence number sent.</param>
/// <param name="FirstAttemptOfKey">This was the first attempt with this (epoch, seq).</param>
/// <param name="IsClose">The batch closes the stream.</param>
/// <param name="EarlierStored">Every earlier batch of ours was acknowledged before the attempt left.</param>
internal readonly record struct AttemptFacts(long Seq, bool FirstAttemptOfKey, bool IsClose, bool EarlierStored);

/// <summary>
/// Classifies the answer to one producer attempt. Pure: it reads the status and headers and the
/// facts of the attempt, and changes nothing; the sender acts on the verdict.
/// </summary>
internal static class BatchResponseClassifier
{
    /// <summary>Classifies <paramref name="response"/>; <see langword="null"/> means the attempt got no answer (a network failure).</summary>
    public static BatchVerdict Classify(HttpResponseMessage? response, AttemptFacts facts)
    {
        if (response is null || FailureClassifier.IsTransientStatus(response.StatusCode))
        {
            return new(BatchOutcome.Retry);
        }

        switch (response.StatusCode)
        {
            case HttpStatusCode.NoContent when facts.FirstAttemptOfKey && !facts.IsClose:
                // Treating this as success would drop the batch silently: typically this producer's
                // previous run restarted without a higher epoch (PROTOCOL.md §5.2.1).
                return new(BatchOutcome.ForeignDuplicate);

            case HttpStatusCode.OK or HttpStatusCode.NoContent:
                return new(BatchOutcome.Acknowledged);

            case HttpStatusCode.Forbidden when ResponseHeaders.TryGetInt64(response, ProtocolHeaders.ProducerEpoch) is { } serverEpoch:
                return new(BatchOutcome.Fenced, ServerEpoch: serverEpoch);

            case HttpStatusCode.Conflict when !ResponseHeaders.IsClosed(response) &&
                                              ResponseHeaders.TryGetInt64(response, ProtocolHeaders.ProducerExpectedSeq) is { } expected:
                long received = ResponseHeaders.TryGetInt64(response, ProtocolHeaders.ProducerReceivedSeq) ?? facts.Seq;
                BatchOutcome outcome = expected < facts.Seq && !facts.EarlierStored ? BatchOutcome.Overtaken : BatchOutcome.SequenceGap;
                return new(outcome, ExpectedSeq: expected, ReceivedSeq: received);

            default:
                return new(BatchOutcome.Failed);
        }
    }
}
