using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DurableStreams.Testing;

/// <summary>
/// A Durable Streams server inside the test process: Kestrel on the loopback address serving
/// <see cref="DurableStreamsEndpointRouteBuilderExtensions.MapDurableStreams"/>, with a ready
/// <see cref="DurableStreamClient"/>.
/// </summary>
/// <example>
/// <code>
/// await using var server = await DurableStreamTestServer.StartAsync();
/// var stream = server.Client.GetStream(server.StreamUrl("orders"));
/// await stream.CreateStreamAsync(new CreateOptions { ContentType = "application/json" });
/// </code>
/// </example>
/// <remarks>
/// For development and tests, not production: streams live in memory (or in a directory with
/// <see cref="DurableStreamsServerOptions.DataDirectory"/>), with no authentication. Thread-safe; dispose it
/// once to stop the server and dispose <see cref="Client"/>.
/// </remarks>
public sealed class DurableStreamTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _streamsPath;
    private int _disposed;

    private DurableStreamTestServer(WebApplication app, Uri baseAddress, string streamsPath)
    {
        _app = app;
        BaseAddress = baseAddress;
        _streamsPath = streamsPath;
        Client = new DurableStreamClient(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, disposeHttpClient: true);
    }

    /// <summary>The server's base address, e.g. <c>http://127.0.0.1:5123/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>A client for this server, disposed with it.</summary>
    public DurableStreamClient Client { get; }

    /// <summary>Starts a server and waits until it listens.</summary>
    /// <param name="options">Port, store and limits. Default: a free port, in-memory store, <see cref="DurableStreamTestServerOptions"/> defaults.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running server.</returns>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="IOException">The port is in use.</exception>
    public static async Task<DurableStreamTestServer> StartAsync(DurableStreamTestServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DurableStreamTestServerOptions();
        if (options.Port is < 0 or > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"Port must be 0 to {IPEndPoint.MaxPort}, not {options.Port}.", nameof(options));
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(DurableStreamTestServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, options.Port);
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        try
        {
            app.MapDurableStreams(options.StreamsPath, options);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new DurableStreamTestServer(app, new Uri(address.TrimEnd('/') + "/"), "/" + options.StreamsPath.Trim('/'));
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The URL of the stream <paramref name="name"/> (which may contain slashes) on this server.</summary>
    /// <param name="name">The stream's name below the streams path.</param>
    /// <returns>An absolute URL such as <c>http://127.0.0.1:5123/v1/stream/orders</c>.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public string StreamUrl(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return $"{BaseAddress.AbsoluteUri.TrimEnd('/')}{_streamsPath}/{name.TrimStart('/')}";
    }

    /// <summary>Stops the server (open reads end) and disposes <see cref="Client"/>.</summary>
    /// <returns>A task that completes when the server has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Client.Dispose();
        using (var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(stopTimeout.Token).ConfigureAwait(false);
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
