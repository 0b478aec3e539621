namespace DurableStreams.Cli;

/// <summary>The tool's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The server refused, or could not be reached.</summary>
    public const int Failure = 1;

    /// <summary>The command line (or the input it names) is wrong; nothing was sent.</summary>
    public const int Usage = 2;
}

/// <summary>A mistake in how the tool was called, found after parsing (exit code 2).</summary>
internal sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException()
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
