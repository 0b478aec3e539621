namespace DurableStreams;

public partial class DurableStreamClient
{
    /// <summary>
    /// Returns a handle on an existing stream after checking, with one <c>HEAD</c> (PROTOCOL.md §5.5),
    /// that it exists; the handle then knows the stream's content type. The same as
    /// <see cref="DurableStream.ConnectAsync(string, CancellationToken)"/> on this client instead of
    /// <see cref="Default"/>: its base address, headers, retries and logging apply.
    /// </summary>
    /// <param name="url">An absolute http(s) URL, or a path relative to <see cref="BaseAddress"/>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A handle that knows the stream's content type.</returns>
    /// <exception cref="ArgumentException"><paramref name="url"/> is empty, relative with no base address, or not http(s) (checked before any I/O).</exception>
    /// <exception cref="StreamNotFoundException">No stream exists at <paramref name="url"/>.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual Task<DurableStream> ConnectAsync(string url, CancellationToken cancellationToken = default) =>
        GetStream(url).ConnectCoreAsync(cancellationToken);

    /// <inheritdoc cref="ConnectAsync(string, CancellationToken)"/>
    public virtual Task<DurableStream> ConnectAsync(Uri url, CancellationToken cancellationToken = default) =>
        GetStream(url).ConnectCoreAsync(cancellationToken);
}
