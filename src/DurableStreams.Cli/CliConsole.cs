namespace DurableStreams.Cli;

/// <summary>
/// The process's standard streams and environment, injectable so tests can run commands
/// in-process with their own input, output and variables.
/// </summary>
internal sealed class CliConsole
{
    /// <summary>Standard input, read as bytes (data for <c>write</c>).</summary>
    public required Stream Input { get; init; }

    /// <summary>Standard output, written as bytes (data of <c>read</c>) and text (help, <c>head</c>).</summary>
    public required Stream Output { get; init; }

    /// <summary>Standard error: diagnostics, progress and resume offsets. Never data.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Whether standard input is a terminal (not a pipe or file); <c>write</c> then needs DATA.</summary>
    public bool InputIsTerminal { get; init; }

    /// <summary>Whether standard error is a terminal; progress is shown only then.</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>Reads an environment variable (<c>STREAM_URL</c>, <c>STREAM_AUTH</c>).</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>
    /// How long Ctrl-C / SIGTERM waits for a command to finish after cancelling it, or
    /// <see langword="null"/> to leave signals alone (in-process tests cancel through a token instead).
    /// </summary>
    public TimeSpan? ProcessTerminationTimeout { get; init; }

    /// <summary>How often progress is redrawn on a terminal. Default: 250 ms.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Standard output as a plain file stream on Unix: the console stream ignores a closed pipe
    /// (EPIPE), so `durable-stream read --live s | head` would read on forever; a file stream
    /// reports it as an <see cref="IOException"/> and the read stops.
    /// </summary>
    private static Stream OpenStandardOutput() =>
        OperatingSystem.IsWindows()
            ? Console.OpenStandardOutput()
            : new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);

    /// <summary>The console of this process.</summary>
    public static CliConsole FromSystemConsole() => new()
    {
        Input = Console.OpenStandardInput(),
        Output = OpenStandardOutput(),
        Error = Console.Error,
        InputIsTerminal = !Console.IsInputRedirected,
        ErrorIsTerminal = !Console.IsErrorRedirected,
        ProcessTerminationTimeout = TimeSpan.FromSeconds(2),
    };
}
