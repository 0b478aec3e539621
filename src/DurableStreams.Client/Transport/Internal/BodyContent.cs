using System.Net;

namespace DurableStreams.Transport.Internal;

/// <summary>
/// A request body of bytes, optionally wrapped in <c>[</c> … <c>]</c> so that a JSON stream stores
/// it as exactly one message (PROTOCOL.md §9.1.2 flattens one array level). Writes the payload
/// without copying it.
/// </summary>
internal sealed class BytesContent : HttpContent
{
    private static readonly byte[] Open = [(byte)'['];
    private static readonly byte[] Close = [(byte)']'];

    private readonly ReadOnlyMemory<byte> _payload;
    private readonly bool _wrapInArray;

    public BytesContent(ReadOnlyMemory<byte> payload, bool wrapInArray)
    {
        _payload = payload;
        _wrapInArray = wrapInArray;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_wrapInArray)
        {
            await stream.WriteAsync(Open, cancellationToken).ConfigureAwait(false);
        }

        await stream.WriteAsync(_payload, cancellationToken).ConfigureAwait(false);
        if (_wrapInArray)
        {
            await stream.WriteAsync(Close, cancellationToken).ConfigureAwait(false);
        }
    }

    protected override void SerializeToStream(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_wrapInArray)
        {
            stream.Write(Open);
        }

        stream.Write(_payload.Span);
        if (_wrapInArray)
        {
            stream.Write(Close);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _payload.Length + (_wrapInArray ? 2 : 0);
        return true;
    }
}

/// <summary>
/// A request body copied from a caller's <see cref="Stream"/> as it is sent, with no length, so
/// HTTP/1.1 sends it chunked and nothing is buffered whole; optionally wrapped in <c>[</c> … <c>]</c>.
/// </summary>
internal sealed class StreamBodyContent : HttpContent
{
    private readonly Stream _source;
    private readonly bool _wrapInArray;

    public StreamBodyContent(Stream source, bool wrapInArray)
    {
        _source = source;
        _wrapInArray = wrapInArray;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_wrapInArray)
        {
            await stream.WriteAsync("["u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }

        await _source.CopyToAsync(stream, 81920, cancellationToken).ConfigureAwait(false);
        if (_wrapInArray)
        {
            await stream.WriteAsync("]"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    // The caller owns the source stream: disposing the content must not dispose it.
    protected override void Dispose(bool disposing) => base.Dispose(disposing);
}
