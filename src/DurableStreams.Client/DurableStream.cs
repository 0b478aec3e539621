using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using DurableStreams.Errors.Internal;
using DurableStreams.Internal;
using DurableStreams.Protocol.Internal;
using DurableStreams.Transport.Internal;

namespace DurableStreams;

/// <summary>
/// A handle on one durable stream (PROTOCOL.md §4–§5): create, inspect, append to, read, close,
/// fork and delete it. Cheap to create; constructing one does no I/O.
/// </summary>
/// <remarks>
/// Thread safety: every member is safe to call concurrently. Appends from several callers are each
/// stored whole, in the order the server receives them. The handle remembers the stream's content
/// type once an operation has learned it (create, <see cref="HeadAsync"/>, or the
/// <c>contentType</c> given to <see cref="DurableStreamClient.GetStream(string, string?)"/>); an
/// append before that sends one <c>HEAD</c> first to learn it.
/// </remarks>
public partial class DurableStream
{
    private readonly DurableStreamClient? _client;
    private readonly Uri? _url;
    private volatile string? _contentType;

    /// <summary>Creates a handle on <paramref name="url"/> that uses <see cref="DurableStreamClient.Default"/>. Does no I/O.</summary>
    /// <param name="url">The stream's absolute http(s) URL.</param>
    /// <exception cref="ArgumentException"><paramref name="url"/> is not an absolute http(s) URL.</exception>
    public DurableStream(string url)
        : this(DurableStreamClient.Default, DurableStreamClient.Default.ResolveUrl(url, nameof(url)), null)
    {
    }

    /// <summary>Creates a handle on <paramref name="url"/> that uses <see cref="DurableStreamClient.Default"/>. Does no I/O.</summary>
    /// <param name="url">The stream's absolute http(s) URL.</param>
    /// <exception cref="ArgumentException"><paramref name="url"/> is not an absolute http(s) URL.</exception>
    public DurableStream(Uri url)
        : this(DurableStreamClient.Default, DurableStreamClient.Default.ResolveUrl(url ?? throw new ArgumentNullException(nameof(url)), nameof(url)), null)
    {
    }

    internal DurableStream(DurableStreamClient client, Uri url, string? contentType)
    {
        _client = client;
        _url = url;
        _contentType = contentType;
    }

    /// <summary>For mocking: a handle with no client, whose virtual members a test double overrides.</summary>
    protected DurableStream()
    {
    }

    /// <summary>The stream's URL.</summary>
    public virtual Uri Url => _url ?? throw MockOnly();

    /// <summary>The client this handle sends requests through.</summary>
    public virtual DurableStreamClient Client => _client ?? throw MockOnly();

    /// <summary>The stream's content type, once known to this handle; otherwise <see langword="null"/>.</summary>
    public virtual string? ContentType => _contentType;

    private HttpTransport Transport => Client.Transport;

    /// <summary>
    /// Creates a stream with <see cref="DurableStreamClient.Default"/> (or confirms that one with the
    /// same configuration exists) and returns a handle on it.
    /// </summary>
    /// <param name="options">What to create; <see cref="CreateOptions.Url"/> must be an absolute http(s) URL.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A handle on the stream.</returns>
    /// <exception cref="ArgumentException">An option is invalid (checked before any I/O).</exception>
    /// <exception cref="StreamConflictException">A stream exists at the URL with another configuration.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public static async Task<DurableStream> CreateAsync(CreateOptions options, CancellationToken cancellationToken = default)
    {
        CreateStreamResult result = await DurableStreamClient.Default.CreateStreamAsync(options, cancellationToken).ConfigureAwait(false);
        return result.Stream;
    }

    /// <summary>
    /// Returns a handle on an existing stream after checking, with one <c>HEAD</c>, that it exists,
    /// using <see cref="DurableStreamClient.Default"/>.
    /// </summary>
    /// <param name="url">The stream's absolute http(s) URL.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A handle that knows the stream's content type.</returns>
    /// <exception cref="ArgumentException"><paramref name="url"/> is not an absolute http(s) URL.</exception>
    /// <exception cref="StreamNotFoundException">No stream exists at <paramref name="url"/>.</exception>
    public static Task<DurableStream> ConnectAsync(string url, CancellationToken cancellationToken = default) =>
        DurableStreamClient.Default.ConnectAsync(url, cancellationToken);

    /// <inheritdoc cref="ConnectAsync(string, CancellationToken)"/>
    public static Task<DurableStream> ConnectAsync(Uri url, CancellationToken cancellationToken = default) =>
        DurableStreamClient.Default.ConnectAsync(url, cancellationToken);

    internal async Task<DurableStream> ConnectCoreAsync(CancellationToken cancellationToken)
    {
        await HeadAsync(cancellationToken).ConfigureAwait(false);
        return this;
    }

    /// <summary>
    /// Creates this stream, or confirms that it exists with the same configuration (PROTOCOL.md §5.1).
    /// <see cref="CreateOptions.Url"/>, if set, must equal this handle's URL.
    /// </summary>
    /// <param name="options">The configuration. Default: an <c>application/octet-stream</c> stream with no expiry.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>Whether the stream was created, its tail offset and content type.</returns>
    /// <exception cref="ArgumentException">An option is invalid (checked before any I/O).</exception>
    /// <exception cref="StreamConflictException">The stream exists with another configuration.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual Task<CreateStreamResult> CreateStreamAsync(CreateOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CreateOptions();
        if (options.Url is not null && Client.ResolveUrl(options.Url, $"{nameof(options)}.{nameof(CreateOptions.Url)}") != Url)
        {
            throw new ArgumentException($"CreateOptions.Url '{options.Url}' does not match this stream's URL '{Url}'.", $"{nameof(options)}.{nameof(CreateOptions.Url)}");
        }

        return CreateCoreAsync(options, forkSource: null, cancellationToken);
    }

    /// <summary>
    /// Creates a new stream that starts with this stream's data up to <see cref="ForkOptions.Offset"/>
    /// (PROTOCOL.md §4.2). The fork then lives on its own: appends, closes and deletes on either
    /// stream do not affect the other. When <see cref="CreateOptions.ContentType"/> is not set the fork
    /// inherits this stream's content type.
    /// </summary>
    /// <param name="options">The fork's URL (on the same server), divergence offset and configuration.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A handle on the fork and whether it was new.</returns>
    /// <exception cref="ArgumentException">An option is invalid, or the fork's URL is on another server (checked before any I/O).</exception>
    /// <exception cref="StreamNotFoundException">This (the source) stream does not exist.</exception>
    /// <exception cref="StreamBadRequestException">The offset is beyond the source's tail or malformed.</exception>
    /// <exception cref="StreamConflictException">The content type differs from the source's, or the target exists with another configuration.</exception>
    public virtual Task<CreateStreamResult> ForkAsync(ForkOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        DurableStreamClient.ValidateContentType(options.ContentType, $"{nameof(options)}.{nameof(CreateOptions.ContentType)}");
        DurableStream target = Client.GetStream(DurableStreamClient.RequireUrl(options), options.ContentType);
        if (!string.Equals(target.Url.GetLeftPart(UriPartial.Authority), Url.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"A fork must live on the same server as its source ({Url.GetLeftPart(UriPartial.Authority)}), not at '{target.Url}'.", $"{nameof(options)}.{nameof(CreateOptions.Url)}");
        }

        if (options.SubOffset is < 0)
        {
            throw new ArgumentOutOfRangeException($"{nameof(options)}.{nameof(ForkOptions.SubOffset)}", options.SubOffset, "SubOffset must be >= 0.");
        }

        if (options.Offset is { } offset && (offset.IsNow))
        {
            throw new ArgumentException("A fork offset must be an offset the server returned, not Offset.Now.", $"{nameof(options)}.{nameof(ForkOptions.Offset)}");
        }

        return target.CreateCoreAsync(options, forkSource: this, cancellationToken);
    }

    internal async Task<CreateStreamResult> CreateCoreAsync(CreateOptions options, DurableStream? forkSource, CancellationToken cancellationToken)
    {
        string paramPrefix = nameof(options) + ".";
        DurableStreamClient.ValidateContentType(options.ContentType, paramPrefix + nameof(CreateOptions.ContentType));
        if (options.Ttl is { } ttl)
        {
            if (ttl < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(paramPrefix + nameof(CreateOptions.Ttl), ttl, "Ttl must be >= 0.");
            }

            if (ttl.Ticks % TimeSpan.TicksPerSecond != 0)
            {
                throw new ArgumentOutOfRangeException(paramPrefix + nameof(CreateOptions.Ttl), ttl, "Ttl must be a whole number of seconds (Stream-TTL is in seconds).");
            }

            if (options.ExpiresAt is not null)
            {
                throw new ArgumentException("Ttl and ExpiresAt cannot both be set (PROTOCOL.md §5.1).", paramPrefix + nameof(CreateOptions.ExpiresAt));
            }
        }

        bool isFork = forkSource is not null;
        string? requestedType = options.ContentType ?? (isFork ? null : MediaTypes.OctetStream);
        var request = new StreamRequest(HttpMethod.Put, Url, isFork ? "fork" : "create", RequestKind.Control)
        {
            ContentType = requestedType,
        };

        if (options.Ttl is { } seconds)
        {
            request.AddHeader(ProtocolHeaders.Ttl, ((long)seconds.TotalSeconds).ToString(CultureInfo.InvariantCulture));
        }

        if (options.ExpiresAt is { } expiresAt)
        {
            request.AddHeader(ProtocolHeaders.ExpiresAt, expiresAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        }

        if (options.Closed)
        {
            request.AddHeader(ProtocolHeaders.Closed, ProtocolHeaders.True);
        }

        if (options is ForkOptions fork && forkSource is not null)
        {
            // PROTOCOL.md §4.2: the source is named by its path on the same server.
            request.AddHeader(ProtocolHeaders.ForkedFrom, forkSource.Url.AbsolutePath);
            if (fork.Offset is { } forkOffset)
            {
                request.AddHeader(ProtocolHeaders.ForkOffset, forkOffset.Value);
            }

            if (fork.SubOffset is { } subOffset)
            {
                request.AddHeader(ProtocolHeaders.ForkSubOffset, subOffset.ToString(CultureInfo.InvariantCulture));
            }
        }

        request.Headers.AddRange(options.Headers);
        ReadOnlyMemory<byte> initial = options.InitialData;
        if (!initial.IsEmpty)
        {
            request.Content = () => new BytesContent(initial, wrapInArray: false);
        }

        using HttpResponseMessage response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            throw await UnexpectedAsync(response, request).ConfigureAwait(false);
        }

        Offset next = ResponseHeaders.RequireNextOffset(response, Url, request.Operation);
        string? contentType = ResponseHeaders.ContentType(response) ?? requestedType ?? forkSource?.ContentType;
        _contentType = contentType;
        return new CreateStreamResult(this, response.StatusCode == HttpStatusCode.Created, next, contentType, ResponseHeaders.IsClosed(response));
    }

    /// <summary>Reads the stream's metadata with <c>HEAD</c> (PROTOCOL.md §5.5), and remembers its content type.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>Content type, tail offset, TTL, expiry, closed state and ETag.</returns>
    /// <exception cref="StreamNotFoundException">The stream does not exist.</exception>
    /// <exception cref="StreamGoneException">The stream was deleted while forks still reference it.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual Task<StreamMetadata> HeadAsync(CancellationToken cancellationToken = default) =>
        HeadCoreAsync(missingIsNull: false, cancellationToken)!; // never null unless missingIsNull

    /// <summary>
    /// Whether the stream exists, with one <c>HEAD</c> (PROTOCOL.md §5.5), without an exception for
    /// the answer "no". Remembers the content type like <see cref="HeadAsync"/>.
    /// </summary>
    /// <remarks>
    /// 404 (never created, deleted or expired) and 410 (soft-deleted while forks reference it) both
    /// answer <see langword="false"/>. A closed stream exists. Other failures still throw: "the
    /// server could not be reached" is not "the stream does not exist".
    /// </remarks>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns><see langword="true"/> when the server answered 200.</returns>
    /// <exception cref="DurableStreamException">The server refused (other than 404/410) or could not be reached.</exception>
    public virtual async Task<bool> ExistsAsync(CancellationToken cancellationToken = default) =>
        await HeadCoreAsync(missingIsNull: true, cancellationToken).ConfigureAwait(false) is not null;

    private async Task<StreamMetadata?> HeadCoreAsync(bool missingIsNull, CancellationToken cancellationToken)
    {
        var request = new StreamRequest(HttpMethod.Head, Url, missingIsNull ? "exists" : "head", RequestKind.Control);
        using HttpResponseMessage response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (missingIsNull && response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
        {
            return null;
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw await UnexpectedAsync(response, request).ConfigureAwait(false);
        }

        Offset next = ResponseHeaders.RequireNextOffset(response, Url, request.Operation);
        string? contentType = ResponseHeaders.ContentType(response);
        if (contentType is not null)
        {
            _contentType = contentType;
        }

        TimeSpan? ttl = ResponseHeaders.TryGetInt64(response, ProtocolHeaders.Ttl) is { } ttlSeconds ? TimeSpan.FromSeconds(ttlSeconds) : null;
        DateTimeOffset? expiresAt = DateTimeOffset.TryParse(
            ResponseHeaders.Get(response, ProtocolHeaders.ExpiresAt),
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
            out DateTimeOffset parsed) ? parsed : null;
        return new StreamMetadata(contentType, next, ttl, expiresAt, ResponseHeaders.IsClosed(response), response.Headers.ETag?.ToString());
    }

    /// <summary>
    /// Deletes the stream and its data (PROTOCOL.md §5.4). A stream that forks still reference is
    /// soft-deleted: it answers 410 Gone from then on.
    /// </summary>
    /// <remarks>
    /// When an attempt fails after it may have reached the server and the retry finds no stream,
    /// the delete counts as done: the first attempt most likely removed it.
    /// </remarks>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes when the server confirmed the delete.</returns>
    /// <exception cref="StreamNotFoundException">The stream does not exist.</exception>
    /// <exception cref="StreamGoneException">The stream was already soft-deleted.</exception>
    /// <exception cref="DurableStreamException">The server refused or could not be reached.</exception>
    public virtual async Task DeleteAsync(CancellationToken cancellationToken = default)
    {
        var request = new StreamRequest(HttpMethod.Delete, Url, "delete", RequestKind.Control);
        using HttpResponseMessage response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.OK)
        {
            return;
        }

        // An earlier attempt may have deleted the stream before its answer was lost; the 404 of the
        // retry then reports this call's own success.
        if (response.StatusCode == HttpStatusCode.NotFound && request.EarlierAttemptMayHaveArrived)
        {
            return;
        }

        throw await UnexpectedAsync(response, request).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendAsync(StreamRequest request, CancellationToken cancellationToken) =>
        Transport.SendAsync(request, cancellationToken);

    private Task<DurableStreamException> UnexpectedAsync(HttpResponseMessage response, StreamRequest request) =>
        ErrorMapper.ToExceptionAsync(response, request, Client.Options.TimeProvider);

    private static InvalidOperationException MockOnly() =>
        new("This DurableStream was created for mocking; override the member you call.");

    private JsonSerializerOptions JsonOptions => Client.Options.JsonSerializerOptions ?? DefaultJsonOptions;

    internal static readonly JsonSerializerOptions DefaultJsonOptions = new(JsonSerializerDefaults.Web);
}
