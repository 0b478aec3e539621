using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DurableStreams.Conformance;

/// <summary>
/// The adapter process and its line protocol, as the official runner drives it (RUNNER.md §2.1):
/// one pending-response slot and no request ids; a command's timer rejects it and clears the slot,
/// so a late answer goes to whatever command is pending next.
/// </summary>
public sealed class AdapterProcess : IAsyncDisposable
{
    /// <summary>An adapter executable to run instead of the one built with these tests (spawned with no arguments).</summary>
    public const string AdapterVariable = "DURABLE_STREAMS_CONFORMANCE_ADAPTER";

    private readonly Process _process;
    private readonly object _gate = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private TaskCompletionSource<JsonObject>? _pending;

    private AdapterProcess(Process process)
    {
        _process = process;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the adapter; <paramref name="environment"/> sets (or, with a null value, removes) variables of its environment.</summary>
    public static AdapterProcess Start(IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (KeyValuePair<string, string?> variable in environment ?? new Dictionary<string, string?>())
        {
            if (variable.Value is null)
            {
                start.Environment.Remove(variable.Key);
            }
            else
            {
                start.Environment[variable.Key] = variable.Value;
            }
        }

        string? configured = Environment.GetEnvironmentVariable(AdapterVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            start.FileName = configured;
        }
        else
        {
            start.FileName = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
            start.ArgumentList.Add(BuiltAdapterPath());
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start the adapter {start.FileName}.");
        var adapter = new AdapterProcess(process);
        _ = Task.Run(adapter.PumpStdoutAsync);
        _ = Task.Run(adapter.PumpStderrAsync);
        return adapter;
    }

    /// <summary>The adapter built with these tests (see the csproj), or next to the repository's build output.</summary>
    private static string BuiltAdapterPath()
    {
        string? path = typeof(AdapterProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ConformanceAdapterPath")?.Value;
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException($"The conformance adapter was not built at '{path}'. Build tests/DurableStreams.Client.ConformanceAdapter, or set {AdapterVariable}.");
        }

        return Path.GetFullPath(path);
    }

    /// <summary>Lines the adapter wrote to stderr since the last call.</summary>
    public IReadOnlyList<string> DrainStderr()
    {
        var lines = new List<string>();
        while (_stderr.TryDequeue(out string? line))
        {
            lines.Add(line);
        }

        return lines;
    }

    /// <summary>
    /// Sends one command and returns the task of its result; the timer starts now. Like the official
    /// runner, a new command replaces the pending slot.
    /// </summary>
    public Task<JsonObject> SendAsync(JsonObject command, TimeSpan timeout)
    {
        var pending = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        string type = command["type"]?.ToString() ?? "";
        lock (_gate)
        {
            if (_process.HasExited)
            {
                return Task.FromException<JsonObject>(new InvalidOperationException($"Client adapter exited with code {_process.ExitCode}"));
            }

            _pending = pending;
        }

        try
        {
            // JSON.stringify output with U+2028/U+2029 escaped; the default encoder escapes all non-ASCII, which JSON.parse reads the same.
            _process.StandardInput.Write(command.ToJsonString() + "\n");
            _process.StandardInput.Flush();
        }
        catch (IOException ex)
        {
            Reject(pending, new InvalidOperationException($"Client adapter exited: {ex.Message}", ex));
        }

        _ = ExpireAsync(pending, timeout, type);
        return pending.Task;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await SendAsync(new JsonObject { ["type"] = "shutdown" }, TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
        {
            // Errors of shutdown are ignored, as by the official runner.
        }

        try
        {
            _process.StandardInput.Close();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private async Task ExpireAsync(TaskCompletionSource<JsonObject> pending, TimeSpan timeout, string type)
    {
        if (await Task.WhenAny(pending.Task, Task.Delay(timeout)) != pending.Task)
        {
            Reject(pending, new TimeoutException($"Command timed out after {(long)timeout.TotalMilliseconds}ms: {type}"));
        }
    }

    private void Reject(TaskCompletionSource<JsonObject> pending, Exception error)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_pending, pending))
            {
                _pending = null;
            }
        }

        pending.TrySetException(error);
    }

    private async Task PumpStdoutAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            TaskCompletionSource<JsonObject>? pending;
            lock (_gate)
            {
                pending = _pending;
                _pending = null;
            }

            if (pending is null)
            {
                _stderr.Enqueue($"[dropped stdout line with no pending command] {line}");
                continue;
            }

            try
            {
                if (JsonNode.Parse(line) is JsonObject result)
                {
                    pending.TrySetResult(result);
                }
                else
                {
                    pending.TrySetException(new InvalidDataException($"Failed to parse client response: {line}"));
                }
            }
            catch (JsonException)
            {
                pending.TrySetException(new InvalidDataException($"Failed to parse client response: {line}"));
            }
        }

        await _process.WaitForExitAsync();
        TaskCompletionSource<JsonObject>? orphan;
        lock (_gate)
        {
            orphan = _pending;
            _pending = null;
        }

        orphan?.TrySetException(new InvalidOperationException($"Client adapter exited with code {_process.ExitCode}"));
    }

    private async Task PumpStderrAsync()
    {
        while (await _process.StandardError.ReadLineAsync() is { } line)
        {
            _stderr.Enqueue(line);
        }
    }
}
