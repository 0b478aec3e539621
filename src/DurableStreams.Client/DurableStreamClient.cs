using System.Net;
using System.Runtime.CompilerServices;
using DurableStreams.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams;

/// <summary>
/// The entry point for talking to one Durable Streams server through an <see cref="HttpClient"/>:
/// hands out cheap <see cref="DurableStream"/> handles and creates streams.
/// </summary>
/// <remarks>
/// <para>
/// Thread safety: every member is safe to call concurrently. Create one client per server and
/// share it; handles are cheap and do no I/O until an operation is called.
/// </para>
/// <para>
/// Ownership: a client built with <see cref="DurableStreamClient(DurableStreamClientOptions?)"/>
/// owns the <see cref="HttpClient"/> it creates and disposes it in <see cref="Dispose()"/>. A client
/// built from a caller's <see cref="HttpClient"/> disposes it only when <c>disposeHttpClient</c> is
/// <see langword="true"/>. The SDK applies its own per-request timeout
/// (<see cref="DurableStreamClientOptions.RequestTimeout"/>) and never lets a timeout cut a live
/// read, so give it an <see cref="HttpClient"/> whose <see cref="HttpClient.Timeout"/> is
/// <see cref="Timeout.InfiniteTimeSpan"/>; a finite one also ends long-polls that outlast it.
/// </para>
/// <para>
/// Redirects: the SDK follows 301, 302, 303, 307 and 308 itself, to the same origin (scheme, host
/// and port) only and at most 5 in a row; 307 and 308 keep the method and body, while 301, 302 and
/// 303 are followed by reads and <c>HEAD</c> only (they would turn a write into a <c>GET</c>). Any
/// other redirect fails with a <see cref="DurableStreamException"/> naming the <c>Location</c>, so
/// headers and data never reach another origin.
/// </para>
/// </remarks>
public partial class DurableStreamClient : IDisposable
{
    private static readonly Lazy<DurableStreamClient> SharedClient = new(
        () => new DurableStreamClient(CreateDefaultHttpClient(), new DurableStreamClientOptions(), disposeHttpClient: false) { _shared = true },
        LazyThreadSafetyMode.ExecutionAndPublication);

    // Cancelled by Dispose: every request and read of this client links it. Never disposed itself,
    // so that DisposalToken stays readable after Dispose.
    private readonly CancellationTokenSource _disposal = new();
    private readonly HttpTransport? _transport;
    private bool _shared;
    private readonly bool _disposeHttpClient;
    private readonly Uri? _baseAddress;
    private int _disposed;
    private DurableStreamSubscriptions? _subscriptions;

    /// <summary>Creates a client that owns a new, correctly pooled <see cref="HttpClient"/>.</summary>
    /// <param name="options">Settings; validated here. Default: <see cref="DurableStreamClientOptions"/> defaults.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public DurableStreamClient(DurableStreamClientOptions? options = null)
        : this(CreateDefaultHttpClient(), options, disposeHttpClient: true)
    {
    }

    /// <summary>Creates a client on a caller's <see cref="HttpClient"/>.</summary>
    /// <remarks>
    /// Build <paramref name="httpClient"/> on a handler with <c>AllowAutoRedirect = false</c>
    /// (<see cref="SocketsHttpHandler.AllowAutoRedirect"/>, <see cref="HttpClientHandler.AllowAutoRedirect"/>)
    /// and a <see cref="HttpClient.Timeout"/> of <see cref="Timeout.InfiniteTimeSpan"/>. The SDK
    /// follows same-origin redirects itself; a handler that follows them resends every header but
    /// <c>Authorization</c> to whatever host a redirect names. When the SDK sees that the handler
    /// followed a redirect to another origin, or changed the method, it rejects the answer with a
    /// <see cref="DurableStreamException"/>, but the request has already been sent there.
    /// </remarks>
    /// <param name="httpClient">The client to send requests with. Its <see cref="HttpClient.BaseAddress"/> is used when
    /// <see cref="DurableStreamClientOptions.BaseAddress"/> is not set.</param>
    /// <param name="options">Settings; validated here. Default: <see cref="DurableStreamClientOptions"/> defaults.</param>
    /// <param name="disposeHttpClient">Whether <see cref="Dispose()"/> disposes <paramref name="httpClient"/>. Default: <see langword="false"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="httpClient"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public DurableStreamClient(HttpClient httpClient, DurableStreamClientOptions? options = null, bool disposeHttpClient = false)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        options ??= new DurableStreamClientOptions();
        options.Validate();
        Options = Snapshot(options);
        _baseAddress = options.BaseAddress ?? httpClient.BaseAddress;
        if (_baseAddress is not null && !UrlUtilities.IsHttpUrl(_baseAddress))
        {
            throw new ArgumentException($"The base address must be an absolute http or https URL, not '{_baseAddress}'.", nameof(httpClient));
        }

        _transport = new HttpTransport(httpClient, Options, _disposal.Token);
        _disposeHttpClient = disposeHttpClient;
    }

    /// <summary>For mocking: a client with no transport, whose virtual members a test double overrides.</summary>
    protected DurableStreamClient()
    {
        Options = new DurableStreamClientOptions();
    }

    /// <summary>
    /// The process-wide client used by <see cref="DurableStream.CreateAsync(CreateOptions, CancellationToken)"/>,
    /// <see cref="DurableStream.ConnectAsync(string, CancellationToken)"/> and the URL constructors of
    /// <see cref="DurableStream"/>: default options, one pooled <see cref="HttpClient"/> that recycles
    /// connections every two minutes (so DNS changes are seen); reads ask for compression except on
    /// loopback, and the SDK decodes it. Never disposed.
    /// </summary>
    public static DurableStreamClient Default => SharedClient.Value;

    /// <summary>The base address relative stream URLs resolve against, if any.</summary>
    public Uri? BaseAddress => _baseAddress;

    /// <summary>
    /// The subscription API (PROTOCOL.md §6–§7), with <see cref="BaseAddress"/> as the stream root that
    /// subscription stream paths are relative to. Does no I/O.
    /// </summary>
    public virtual DurableStreamSubscriptions Subscriptions => _subscriptions ??= new DurableStreamSubscriptions(this);

    /// <summary>A copy of the options this client was built with.</summary>
    internal DurableStreamClientOptions Options { get; }

    /// <summary>
    /// Cancelled when this client is disposed. Requests link it (<see cref="HttpTransport"/>), and
    /// so do reads and producers, which then end with <see cref="DisposedException"/>.
    /// </summary>
    internal CancellationToken DisposalToken => _disposal.Token;

    /// <summary>Whether <see cref="Dispose()"/> has been called.</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    internal HttpTransport Transport => _transport ?? throw new InvalidOperationException("This DurableStreamClient was created for mocking and has no transport.");

    /// <summary>Returns a handle on the stream at <paramref name="url"/>. Does no I/O.</summary>
    /// <param name="url">An absolute http(s) URL, or a path relative to <see cref="BaseAddress"/>.</param>
    /// <param name="contentType">The stream's content type if the caller knows it; saves a <c>HEAD</c> before the first append.</param>
    /// <returns>The handle.</returns>
    /// <exception cref="ArgumentException"><paramref name="url"/> is empty, relative with no base address, or not http(s).</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public virtual DurableStream GetStream(string url, string? contentType = null)
    {
        ThrowIfDisposed();
        return new(this, ResolveUrl(url, nameof(url)), ValidateContentType(contentType, nameof(contentType)));
    }

    /// <summary>Returns a handle on the stream at <paramref name="url"/>. Does no I/O.</summary>
    /// <param name="url">An absolute http(s) URL, or a relative one resolved against <see cref="BaseAddress"/>.</param>
    /// <param name="contentType">The stream's content type if the caller knows it.</param>
    /// <returns>The handle.</returns>
    /// <exception cref="ArgumentException"><paramref name="url"/> is relative with no base address, or not http(s).</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed.</exception>
    public virtual DurableStream GetStream(Uri url, string? contentType = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        ThrowIfDisposed();
        return new(this, ResolveUrl(url, nameof(url)), ValidateContentType(contentType, nameof(contentType)));
    }

    /// <summary>
    /// Creates a stream, or confirms that one with the same configuration exists (PROTOCOL.md §5.1).
    /// </summary>
    /// <param name="options">What to create. <see cref="CreateOptions.Url"/> is required.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The handle and whether the stream was new.</returns>
    /// <exception cref="ArgumentException">An option is invalid (checked before any I/O).</exception>
    /// <exception cref="StreamConflictException">A stream exists at the URL with another configuration.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual Task<CreateStreamResult> CreateStreamAsync(CreateOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ValidateContentType(options.ContentType, $"{nameof(options)}.{nameof(CreateOptions.ContentType)}");
        DurableStream stream = GetStream(RequireUrl(options), options.ContentType);
        return stream.CreateCoreAsync(options, forkSource: null, cancellationToken);
    }

    /// <summary>
    /// Ends every active read and request of this client, then disposes the <see cref="HttpClient"/>
    /// if this client owns it. Does nothing on <see cref="Default"/>, which lives as long as the process.
    /// </summary>
    /// <remarks>
    /// Reads in progress (catch-up, long-poll, SSE, or waiting to retry) and requests in flight end
    /// with an <see cref="ObjectDisposedException"/> naming <c>DurableStreamClient</c>, as do
    /// operations started afterwards, before any I/O. A request that was already sent may still have
    /// reached the server.
    /// </remarks>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources.</summary>
    /// <param name="disposing">Whether this is a call from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing || _shared || Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposal.Cancel();
        if (_disposeHttpClient)
        {
            _transport?.HttpClient.Dispose();
        }
    }

    /// <summary>Throws <see cref="DisposedException"/> when this client is disposed.</summary>
    internal void ThrowIfDisposed()
    {
        if (IsDisposed)
        {
            throw DisposedException();
        }
    }

    /// <summary>What an operation of a disposed client throws.</summary>
    internal static ObjectDisposedException DisposedException() =>
        new(nameof(DurableStreamClient), "The DurableStreamClient was disposed, which ends its reads and requests.");

    /// <summary>
    /// A token that this client's disposal also cancels, for an operation that outlives a single
    /// request (a read); throws <see cref="DisposedException"/> when the client is already disposed.
    /// </summary>
    internal CancellationTokenSource LinkDisposal(CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        return CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposal.Token);
    }

    /// <summary>
    /// What a failure of an operation running under <see cref="LinkDisposal"/> surfaces as: this
    /// client's disposal as <see cref="DisposedException"/> rather than as the caller's cancellation,
    /// and the caller's cancellation with the caller's token. Null: the failure surfaces unchanged.
    /// </summary>
    internal Exception? EndedBy(Exception exception, CancellationToken cancellationToken)
    {
        if (_disposal.IsCancellationRequested && !cancellationToken.IsCancellationRequested &&
            exception is OperationCanceledException or ObjectDisposedException or HttpRequestException or IOException)
        {
            return DisposedException();
        }

        if (exception is OperationCanceledException canceled && cancellationToken.IsCancellationRequested && canceled.CancellationToken != cancellationToken)
        {
            return new OperationCanceledException(canceled.Message, canceled, cancellationToken);
        }

        return null;
    }

    internal Uri ResolveUrl(string url, string paramName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url, paramName);
        if (Uri.TryCreate(url, UriKind.Absolute, out Uri? absolute) && absolute.Scheme != Uri.UriSchemeFile)
        {
            return ResolveUrl(absolute, paramName);
        }

        if (_baseAddress is null)
        {
            throw new ArgumentException($"'{url}' is not an absolute http or https URL, and the client has no base address to resolve it against.", paramName);
        }

        return ResolveUrl(new Uri(url, UriKind.Relative), paramName);
    }

    internal Uri ResolveUrl(Uri url, string paramName)
    {
        if (!url.IsAbsoluteUri)
        {
            if (_baseAddress is null)
            {
                throw new ArgumentException($"'{url}' is relative, and the client has no base address to resolve it against.", paramName);
            }

            // Treat the base as a directory so "v1/stream/x" lands under it whether or not it ends in '/'.
            string baseText = _baseAddress.AbsoluteUri;
            var directory = new Uri(baseText.EndsWith('/') ? baseText : baseText + "/", UriKind.Absolute);
            url = new Uri(directory, url.OriginalString.TrimStart('/'));
        }

        if (!UrlUtilities.IsHttpUrl(url))
        {
            throw new ArgumentException($"'{url}' is not an http or https URL.", paramName);
        }

        return url;
    }

    internal static string RequireUrl(CreateOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Url))
        {
            throw new ArgumentException($"{nameof(CreateOptions)}.{nameof(CreateOptions.Url)} is required.", $"{nameof(options)}.{nameof(CreateOptions.Url)}");
        }

        return options.Url;
    }

    internal static string? ValidateContentType(string? contentType, string paramName)
    {
        if (contentType is not null && string.IsNullOrWhiteSpace(contentType))
        {
            throw new ArgumentException("The content type cannot be empty; pass null to leave it unspecified.", paramName);
        }

        return contentType;
    }

    private static HttpClient CreateDefaultHttpClient() =>
        new(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            // Reads ask for compression themselves (not on loopback) and decode it; no other request needs it.
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(15),

            // The transport follows same-origin redirects itself (RedirectPolicy).
            AllowAutoRedirect = false,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };

    private static DurableStreamClientOptions Snapshot(DurableStreamClientOptions source)
    {
        var copy = new DurableStreamClientOptions
        {
            BaseAddress = source.BaseAddress,
            Retry = source.Retry.Clone(),
            ReadRetry = source.ReadRetry.Clone(),
            HeadersProvider = source.HeadersProvider,
            QueryParametersProvider = source.QueryParametersProvider,
            RequestTimeout = source.RequestTimeout,
            ResponseIdleTimeout = source.ResponseIdleTimeout,
            JsonSerializerOptions = source.JsonSerializerOptions,
            TimeProvider = source.TimeProvider,
            LoggerFactory = source.LoggerFactory,
        };
        foreach (KeyValuePair<string, string> header in source.DefaultHeaders)
        {
            copy.DefaultHeaders[header.Key] = header.Value;
        }

        foreach (KeyValuePair<string, string> parameter in source.DefaultQueryParameters)
        {
            copy.DefaultQueryParameters[parameter.Key] = parameter.Value;
        }

        return copy;
    }
}
