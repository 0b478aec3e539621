using DurableStreams.Testing.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;

namespace DurableStreams.Testing;

/// <summary>Maps the Durable Streams protocol onto an ASP.NET Core app.</summary>
public static class DurableStreamsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves Durable Streams under <paramref name="prefix"/>: every URL below it is a stream
    /// (<c>{prefix}/{name}</c>, names may contain slashes) that answers PUT, POST, GET (catch-up, long-poll, SSE),
    /// HEAD, DELETE and CORS preflight OPTIONS per PROTOCOL.md §4, §5 and §8–10. Paths whose first segment is
    /// <c>__ds</c> are reserved control routes (PROTOCOL.md §6) and answer 404.
    /// </summary>
    /// <param name="endpoints">The app or route group.</param>
    /// <param name="prefix">The stream root, e.g. <c>/v1/stream</c>.</param>
    /// <param name="options">Store and limits. Default: an in-memory store with <see cref="DurableStreamsServerOptions"/> defaults.
    /// Read once here; later changes have no effect.</param>
    /// <returns>The endpoint's convention builder, to add authorization or other metadata.</returns>
    /// <remarks>
    /// A development and test server, not a production store. Each call makes its own store, so two
    /// mappings never share streams. With <see cref="DurableStreamsServerOptions.DataDirectory"/> set, the
    /// directory must not be used by another running mapping.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="prefix"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="prefix"/> does not start with <c>/</c>, or an option is invalid.</exception>
    public static IEndpointConventionBuilder MapDurableStreams(this IEndpointRouteBuilder endpoints, string prefix, DurableStreamsServerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(prefix);
        if (!prefix.StartsWith('/') || prefix.Trim('/').Length == 0)
        {
            throw new ArgumentException($"The prefix must be a path such as \"/v1/stream\", not \"{prefix}\".", nameof(prefix));
        }

        options ??= new DurableStreamsServerOptions();
        options.Validate();
        var endpoint = new StreamEndpoint(prefix, Copy(options));
        var root = "/" + prefix.Trim('/');
        return endpoints.Map(root + "/{**path}", endpoint.HandleAsync).WithDisplayName("Durable Streams " + root);
    }

    private static DurableStreamsServerOptions Copy(DurableStreamsServerOptions options) => new()
    {
        DataDirectory = options.DataDirectory,
        LongPollTimeout = options.LongPollTimeout,
        SseConnectionLifetime = options.SseConnectionLifetime,
        MaxRequestBodySize = options.MaxRequestBodySize,
        MaxReadChunkSize = options.MaxReadChunkSize,
        TimeProvider = options.TimeProvider,
    };
}
