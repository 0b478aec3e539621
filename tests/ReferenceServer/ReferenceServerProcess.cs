using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace DurableStreams.Testing;

/// <summary>
/// Runs the pinned npm reference server (<c>@durable-streams/server</c>, see package.json beside
/// this file) through <c>launch.mjs</c> on a free loopback port: installs it with <c>npm ci</c> on
/// first use, waits for its READY line, and stops it on dispose. The server also stops by itself
/// when this process dies, because the launcher exits when its stdin closes.
/// </summary>
public sealed class ReferenceServerProcess : IAsyncDisposable
{
    private static readonly SemaphoreSlim InstallLock = new(1, 1);
    private readonly Process _process;

    private ReferenceServerProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    /// <summary>The server's base URL, e.g. <c>http://127.0.0.1:41234</c> (no trailing slash).</summary>
    public Uri BaseUrl { get; }

    /// <summary>The folder holding package.json and launch.mjs, found by walking up from this program.</summary>
    public static string LauncherDirectory { get; } = FindLauncherDirectory();

    /// <summary>Installs the pinned server if needed, starts it and waits until it listens.</summary>
    /// <param name="longPollTimeout">The server's long-poll timeout. Default: 30 s (the server's own default).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static Task<ReferenceServerProcess> StartAsync(TimeSpan? longPollTimeout = null, CancellationToken cancellationToken = default) =>
        StartAsync(longPollTimeout, webhooks: false, cancellationToken);

    /// <summary>Like <see cref="StartAsync(TimeSpan?, CancellationToken)"/>, optionally with webhook subscriptions enabled (off by default).</summary>
    /// <param name="longPollTimeout">The server's long-poll timeout. Default: 30 s.</param>
    /// <param name="webhooks">Whether the server accepts webhook subscriptions and delivers to loopback URLs.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<ReferenceServerProcess> StartAsync(TimeSpan? longPollTimeout, bool webhooks, CancellationToken cancellationToken)
    {
        await EnsureInstalledAsync(cancellationToken).ConfigureAwait(false);
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = LauncherDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("launch.mjs");
        start.ArgumentList.Add("--long-poll-timeout");
        start.ArgumentList.Add(((int)(longPollTimeout ?? TimeSpan.FromSeconds(30)).TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (webhooks)
        {
            start.ArgumentList.Add("--webhooks");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
                if (line is null)
                {
                    throw new InvalidOperationException($"The reference server exited before it was ready. Its stderr:\n{stderr}");
                }

                if (line.StartsWith("READY ", StringComparison.Ordinal))
                {
                    // Keep draining stdout so the server never blocks on a full pipe.
                    _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                    return new ReferenceServerProcess(process, new Uri(line["READY ".Length..].Trim().TrimEnd('/')));
                }
            }
        }
        catch
        {
            Kill(process);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Stops the server.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            Kill(_process);
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <summary>Runs <c>npm ci</c> in the launcher folder unless the pinned package is already installed.</summary>
    public static async Task EnsureInstalledAsync(CancellationToken cancellationToken = default)
    {
        string marker = Path.Combine(LauncherDirectory, "node_modules", "@durable-streams", "server", "package.json");
        if (File.Exists(marker))
        {
            return;
        }

        await InstallLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (File.Exists(marker))
            {
                return;
            }

            var start = new ProcessStartInfo("npm")
            {
                WorkingDirectory = LauncherDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string arg in new[] { "ci", "--no-audit", "--no-fund", "--loglevel=error" })
            {
                start.ArgumentList.Add(arg);
            }

            using var npm = Process.Start(start) ?? throw new InvalidOperationException("Could not start npm.");
            Task<string> output = npm.StandardOutput.ReadToEndAsync(cancellationToken);
            Task<string> errors = npm.StandardError.ReadToEndAsync(cancellationToken);
            await npm.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (npm.ExitCode != 0)
            {
                throw new InvalidOperationException($"npm ci failed in {LauncherDirectory} (exit {npm.ExitCode}):\n{await output.ConfigureAwait(false)}\n{await errors.ConfigureAwait(false)}");
            }
        }
        finally
        {
            InstallLock.Release();
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static string FindLauncherDirectory([CallerFilePath] string sourcePath = "")
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("DURABLE_STREAMS_REFERENCE_SERVER_DIR");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "ReferenceServer");
            if (File.Exists(Path.Combine(candidate, "launch.mjs")))
            {
                return candidate;
            }
        }

        // Built from a checkout elsewhere: fall back to where this file was compiled from.
        string compiledFrom = Path.GetDirectoryName(sourcePath) ?? ".";
        return File.Exists(Path.Combine(compiledFrom, "launch.mjs"))
            ? compiledFrom
            : throw new DirectoryNotFoundException("Could not find tests/ReferenceServer/launch.mjs; set DURABLE_STREAMS_REFERENCE_SERVER_DIR.");
    }
}
