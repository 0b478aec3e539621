namespace DurableStreams.Cli;

/// <summary>
/// The process's standard streams and environment, injectable so tests can run commands
/// in-process with their own input, output and variables.
/// </summary>
internal sealed class CliConsole
{
    /// <summary>Standard input, read as bytes (data for <c>write</c>).</summary>
    public required Stream Input { get; init; }

    /// <summary>
    /// A second, independent view of standard input when it is a regular file (`&lt; events.ndjson`),
    /// reading from the same starting point; <see langword="null"/> for a pipe or terminal, whose
    /// input can be read only once. <c>write --json</c> checks a file whole before sending any of it.
    /// </summary>
    public Stream? InputFile { get; init; }

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
    /// Standard output. On Unix a pipe, terminal or socket gets a plain file stream: the console
    /// stream ignores a closed pipe (EPIPE), so `durable-stream read --live s | head` would read on
    /// forever, while a file stream reports it as an <see cref="IOException"/> and the read stops.
    /// A regular file (`&gt; out.txt`) gets the console stream instead: a file stream writes at its
    /// own position (pwrite), so it would overwrite what the shell or an earlier command wrote
    /// through the same open file (`2&gt;&amp;1`, `{ a; b; } &gt; f`); the console stream writes at
    /// the shared position, and a regular file has no closed-pipe case to detect.
    /// </summary>
    private static Stream OpenStandardOutput()
    {
        if (OperatingSystem.IsWindows())
        {
            return Console.OpenStandardOutput();
        }

        var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(1, ownsHandle: false);
        var file = new FileStream(handle, FileAccess.Write, bufferSize: 0);
        if (!file.CanSeek)
        {
            return file;
        }

        file.Dispose();
        return Console.OpenStandardOutput();
    }

    /// <summary>
    /// Standard input as a file stream of its own when it is a regular file; it reads at its own
    /// position (pread), so checking the file through it leaves the shared position, which
    /// <see cref="Console.OpenStandardInput()"/> reads from, where it was.
    /// </summary>
    private static FileStream? OpenStandardInputFile()
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            var file = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(0, ownsHandle: false), FileAccess.Read, bufferSize: 0);
            if (file.CanSeek)
            {
                return file;
            }

            file.Dispose();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Standard input is closed or not readable: treat it as a pipe.
        }

        return null;
    }

    /// <summary>The console of this process.</summary>
    public static CliConsole FromSystemConsole() => new()
    {
        Input = Console.OpenStandardInput(),
        InputFile = OpenStandardInputFile(),
        Output = OpenStandardOutput(),
        Error = Console.Error,
        InputIsTerminal = !Console.IsInputRedirected,
        ErrorIsTerminal = !Console.IsErrorRedirected,
        ProcessTerminationTimeout = TimeSpan.FromSeconds(2),
    };
}
