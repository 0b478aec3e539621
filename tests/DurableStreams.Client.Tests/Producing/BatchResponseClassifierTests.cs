using System.Net;
using DurableStreams.Producing.Internal;

namespace DurableStreams.Tests.Producing;

/// <summary>The pure decision about one producer attempt's answer, as a table.</summary>
public sealed class BatchResponseClassifierTests
{
    // status 0 = no answer (network failure). headers: "Name=Value;Name=Value".
    [Theory]
    [InlineData(0, "", 3, true, false, false, "Retry", 0, 0, 0)]
    [InlineData(500, "", 3, true, false, false, "Retry", 0, 0, 0)]
    [InlineData(503, "", 3, false, false, true, "Retry", 0, 0, 0)]
    [InlineData(429, "", 3, true, false, true, "Retry", 0, 0, 0)]
    [InlineData(200, "", 3, true, false, true, "Acknowledged", 0, 0, 0)]
    [InlineData(200, "", 3, false, true, true, "Acknowledged", 0, 0, 0)]
    [InlineData(204, "", 3, false, false, true, "Acknowledged", 0, 0, 0)]
    [InlineData(204, "", 3, true, true, true, "Acknowledged", 0, 0, 0)]
    [InlineData(204, "", 3, true, false, true, "ForeignDuplicate", 0, 0, 0)]
    [InlineData(403, "Producer-Epoch=7", 3, true, false, true, "Fenced", 7, 0, 0)]
    [InlineData(403, "", 3, true, false, true, "Failed", 0, 0, 0)]
    [InlineData(409, "Producer-Expected-Seq=1;Producer-Received-Seq=2", 2, true, false, false, "Overtaken", 0, 1, 2)]
    [InlineData(409, "Producer-Expected-Seq=1;Producer-Received-Seq=2", 2, true, false, true, "SequenceGap", 0, 1, 2)]
    [InlineData(409, "Producer-Expected-Seq=4;Producer-Received-Seq=0", 0, true, false, false, "SequenceGap", 0, 4, 0)]
    [InlineData(409, "Producer-Expected-Seq=4", 6, true, false, true, "SequenceGap", 0, 4, 6)]
    [InlineData(409, "Stream-Closed=true;Producer-Expected-Seq=1", 2, true, false, false, "Failed", 0, 0, 0)]
    [InlineData(409, "", 2, true, false, false, "Failed", 0, 0, 0)]
    [InlineData(404, "", 0, true, false, true, "Failed", 0, 0, 0)]
    [InlineData(410, "", 0, true, false, true, "Failed", 0, 0, 0)]
    [InlineData(400, "", 0, true, false, true, "Failed", 0, 0, 0)]
    public void Classify_Answer_GivesTheOutcomeAndItsNumbers(
        int status, string headers, long seq, bool firstAttemptOfKey, bool isClose, bool earlierStored,
        string outcome, long serverEpoch, long expectedSeq, long receivedSeq)
    {
        using HttpResponseMessage? response = status == 0 ? null : Response(status, headers);

        BatchVerdict verdict = BatchResponseClassifier.Classify(response, new AttemptFacts(seq, firstAttemptOfKey, isClose, earlierStored));

        Assert.Equal(Enum.Parse<BatchOutcome>(outcome), verdict.Outcome);
        Assert.Equal((serverEpoch, expectedSeq, receivedSeq), (verdict.ServerEpoch, verdict.ExpectedSeq, verdict.ReceivedSeq));
    }

    private static HttpResponseMessage Response(int status, string headers)
    {
        var response = new HttpResponseMessage((HttpStatusCode)status) { Content = new ByteArrayContent([]) };
        foreach (string header in headers.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = header.Split('=');
            response.Headers.TryAddWithoutValidation(parts[0], parts[1]);
        }

        return response;
    }
}
