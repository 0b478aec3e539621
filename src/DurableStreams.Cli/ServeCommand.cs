using System.CommandLine;
using System.Net;
using System.Text;
using DurableStreams.Testing;

namespace DurableStreams.Cli;

/// <summary>
/// <c>durable-stream serve</c>: a local development server (DurableStreamTestServer from the
/// DurableStreams.Testing package) on the loopback address until Ctrl-C. Not a production server.
/// </summary>
internal static class ServeCommand
{
    /// <summary>The protocol's registered default port (PROTOCOL.md §13.1).</summary>
    public const int DefaultPort = 4437;

    public static Command Build(CliConsole console)
    {
        var port = new Option<int>("--port")
        {
            Description = $"The loopback port to listen on; 0 picks a free one. Default: {DefaultPort}.",
            HelpName = "PORT",
            DefaultValueFactory = _ => DefaultPort,
        };
        port.Validators.Add(r =>
        {
            int value = r.GetValueOrDefault<int>();
            if (value is < 0 or > IPEndPoint.MaxPort)
            {
                r.AddError($"--port must be 0 to {IPEndPoint.MaxPort}, not {value}.");
            }
        });
        var dir = new Option<string?>("--dir")
        {
            Description = "Keep streams in this directory (created when missing), so they survive a restart. Default: in memory.",
            HelpName = "DIR",
        };
        var command = new Command("serve", "Run a local Durable Streams development server (in memory, or in --dir) until Ctrl-C. Not for production.")
        {
            port,
            dir,
        };
        command.SetAction((parse, ct) => RunAsync(console, parse.GetValue(port), parse.GetValue(dir), ct));
        return command;
    }

    private static async Task<int> RunAsync(CliConsole console, int port, string? dir, CancellationToken cancellationToken)
    {
        DurableStreamTestServer server;
        try
        {
            server = await DurableStreamTestServer.StartAsync(
                new DurableStreamTestServerOptions { Port = port, DataDirectory = dir, LongPollTimeout = TimeSpan.FromSeconds(30) },
                cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await console.Error.WriteLineAsync($"durable-stream: cannot listen on port {port}: {e.Message}").ConfigureAwait(false);
            return ExitCodes.Failure;
        }

        await using (server.ConfigureAwait(false))
        {
            string root = server.StreamUrl("x")[..^1];
            string storage = dir is null ? "in memory" : $"in {Path.GetFullPath(dir)}";
            byte[] banner = Encoding.UTF8.GetBytes($"Durable Streams dev server at {server.BaseAddress.AbsoluteUri.TrimEnd('/')} (streams under {root}, {storage}). Ctrl-C stops it.\n");
            await console.Output.WriteAsync(banner, cancellationToken).ConfigureAwait(false);
            await console.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C or SIGTERM: stop the server below.
            }
        }

        return ExitCodes.Success;
    }
}
