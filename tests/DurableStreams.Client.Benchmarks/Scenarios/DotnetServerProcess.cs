using System.Diagnostics;

namespace DurableStreams.Benchmarks.Scenarios;

/// <summary>
/// The .NET server (DurableStreamTestServer through tests/ServerConformance/Launcher) in its own
/// process, as the reference server runs in its own Node process, so the two are compared on the
/// same footing: the benchmark client alone in this process. Stops when disposed (its stdin closes).
/// </summary>
internal sealed class DotnetServerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private DotnetServerProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    public static async Task<DotnetServerProcess> StartAsync(TimeSpan longPollTimeout)
    {
        // Built with this project (a ProjectReference without the assembly), in the same configuration.
        string dll = Path.Combine(AppContext.BaseDirectory, "launcher", "DurableStreams.Testing.Launcher.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"The .NET server launcher is missing at {dll}; build tests/ServerConformance/Launcher.", dll);
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--long-poll-timeout");
        start.ArgumentList.Add(((int)longPollTimeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet.");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            string? line = await process.StandardOutput.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                throw new InvalidOperationException("The .NET server exited before it was ready.");
            }

            if (line.StartsWith("READY ", StringComparison.Ordinal))
            {
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                return new DotnetServerProcess(process, new Uri(line["READY ".Length..].Trim()));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.StandardInput.Close();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
