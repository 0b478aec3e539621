namespace DurableStreams.Benchmarks;

/// <summary>Where results are written: <c>artifacts/benchmarks</c> under the repository root.</summary>
internal static class Artifacts
{
    /// <summary>The folder, created on first use.</summary>
    public static string Directory { get; } = Find();

    private static string Find()
    {
        // Walk up from the program to the folder holding the solution; fall back to the current directory.
        string? folder = AppContext.BaseDirectory;
        while (folder is not null && !File.Exists(Path.Combine(folder, "DurableStreams.Client.sln")))
        {
            folder = Path.GetDirectoryName(folder);
        }

        string path = Path.Combine(folder ?? System.IO.Directory.GetCurrentDirectory(), "artifacts", "benchmarks");
        System.IO.Directory.CreateDirectory(path);
        return path;
    }
}
