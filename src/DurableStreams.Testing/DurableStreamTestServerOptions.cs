namespace DurableStreams.Testing;

/// <summary>Settings of a <see cref="DurableStreamTestServer"/>: the protocol options plus where it listens.</summary>
public class DurableStreamTestServerOptions : DurableStreamsServerOptions
{
    /// <summary>The loopback port to listen on; 0 picks a free one. Default: 0.</summary>
    public int Port { get; set; }

    /// <summary>The path streams live under. Default: <c>/v1/stream</c>.</summary>
    public string StreamsPath { get; set; } = "/v1/stream";
}
