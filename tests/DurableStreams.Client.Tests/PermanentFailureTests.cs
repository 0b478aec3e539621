using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using DurableStreams.Transport.Internal;

namespace DurableStreams.Tests;

/// <summary>HTTP-level failures that a retry would meet again are not retried as network failures.</summary>
public sealed class PermanentFailureTests : IDisposable
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose() => _timeout.Dispose();

    public static TheoryData<Exception, bool> Failures() => new()
    {
        { new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, "The HTTP response headers length exceeded the set limit."), true },
        { new HttpRequestException(HttpRequestError.InvalidResponse, "The server returned an invalid or unrecognized response."), true },
        { new HttpRequestException(HttpRequestError.UserAuthenticationError, "Proxy authentication failed."), true },
        { new HttpRequestException(HttpRequestError.SecureConnectionError, "The SSL connection could not be established.", new AuthenticationException("The remote certificate is invalid.")), true },
        { new HttpRequestException(HttpRequestError.SecureConnectionError, "The SSL connection could not be established.", new IOException("Received an unexpected EOF.")), false },
        { new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused", new SocketException((int)SocketError.ConnectionRefused)), false },
        { new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely."), false },
        { new IOException("Connection reset by peer"), false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void IsPermanentFailure_ClassifiesEachFailure(Exception failure, bool permanent)
    {
        Assert.Equal(permanent, FailureClassifier.IsPermanentFailure(failure));
        Assert.Equal(!permanent, FailureClassifier.IsNetworkFailure(failure));
    }

    [Fact]
    public async Task Head_ResponseHeadersOverTheLimit_FailsAtOnceWithAProtocolException()
    {
        var handler = new RecordingHandler().ThenThrow(() => new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, "The HTTP response headers length exceeded the set limit of 65536 bytes."));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Contains("MaxResponseHeadersLength", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Read_InvalidResponse_FailsTheReadInsteadOfRetryingForever()
    {
        var handler = new RecordingHandler().ThenThrow(() => new HttpRequestException(HttpRequestError.InvalidResponse, "The server returned an invalid or unrecognized response."));
        using DurableStreamClient client = TestClients.Create(handler, o => o.ReadRetry = TestClients.FastRetry(int.MaxValue));

        var ex = await Assert.ThrowsAsync<DurableStreamProtocolException>(() => client.GetStream(TestClients.StreamUrl).ReadAllBytesAsync(cancellationToken: Ct));

        Assert.Contains("not a valid HTTP response", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Append_InvalidResponse_ReportsAnUnknownOutcomeWithoutResending()
    {
        var handler = new RecordingHandler().ThenThrow(() => new HttpRequestException(HttpRequestError.InvalidResponse, "The server returned an invalid or unrecognized response."));
        using DurableStreamClient client = TestClients.Create(handler);

        await Assert.ThrowsAsync<AppendOutcomeUnknownException>(() => client.GetStream(TestClients.StreamUrl, "text/plain").AppendAsync("x", cancellationToken: Ct));

        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Producer_ResponseHeadersOverTheLimit_FailsTheBatchWithoutResending()
    {
        var handler = new RecordingHandler().ThenThrow(() => new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, "The HTTP response headers length exceeded the set limit of 65536 bytes."));
        using DurableStreamClient client = TestClients.Create(handler);
        IdempotentProducer producer = client.GetStream(TestClients.StreamUrl, "text/plain").CreateProducer("p1", new ProducerOptions { Retry = TestClients.FastRetry() });
        await using (producer)
        {
            producer.Append("x");

            await Assert.ThrowsAsync<DurableStreamProtocolException>(() => producer.FlushAsync(Ct));
        }

        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Head_CertificateRejected_FailsAtOnce()
    {
        var handler = new RecordingHandler().ThenThrow(() => new HttpRequestException(HttpRequestError.SecureConnectionError, "The SSL connection could not be established.", new AuthenticationException("The remote certificate is invalid.")));
        using DurableStreamClient client = TestClients.Create(handler);

        var ex = await Assert.ThrowsAsync<DurableStreamException>(() => client.GetStream(TestClients.StreamUrl).HeadAsync(Ct));

        Assert.Equal(DurableStreamErrorCodes.NetworkError, ex.ErrorCode);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Head_RealServerSendsOversizedHeaders_FailsOnceWithAProtocolException()
    {
        string huge = new('a', 100 * 1024);
        await using var server = new RawHttpServer(_ => RawHttpServer.Response(200, [("Stream-Next-Offset", "0000_0000"), ("X-Huge", huge)]));
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = server.BaseUrl, Retry = TestClients.FastRetry() });

        await Assert.ThrowsAsync<DurableStreamProtocolException>(() => client.GetStream("v1/stream/x").HeadAsync(Ct));

        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Read_RealServerSendsAMalformedStatusLine_FailsOnceWithAProtocolException()
    {
        await using var server = new RawHttpServer(_ => Encoding.ASCII.GetBytes("HTTP/1.1 two hundred OK\r\nContent-Length: 0\r\n\r\n"));
        using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = server.BaseUrl, ReadRetry = TestClients.FastRetry(int.MaxValue) });

        await Assert.ThrowsAsync<DurableStreamProtocolException>(() => client.GetStream("v1/stream/x").ReadAllBytesAsync(cancellationToken: Ct));

        Assert.Single(server.Requests);
    }
}
