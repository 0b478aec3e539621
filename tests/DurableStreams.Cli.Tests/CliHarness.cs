using System.Net;
using System.Text;

namespace DurableStreams.Cli.Tests;

/// <summary>The outcome of one in-process run of the tool.</summary>
internal sealed record CliResult(int ExitCode, byte[] OutputBytes, string Error)
{
    public string Output => Encoding.UTF8.GetString(OutputBytes);

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}";
}

/// <summary>Runs the tool's commands in-process against the shared reference server, with injected standard streams.</summary>
internal sealed class CliHarness(ReferenceServerFixture server)
{
    private static readonly HttpClient Raw = new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.All });

    public Dictionary<string, string?> Environment { get; } = new(StringComparer.Ordinal)
    {
        [DurableStreamCli.ServerVariable] = server.BaseUrl.AbsoluteUri,
    };

    public string ServerUrl => server.BaseUrl.AbsoluteUri.TrimEnd('/');

    public static string NewName(string prefix = "cli") => $"{prefix}-{Guid.NewGuid():N}";

    public string UrlOf(string name) => $"{ServerUrl}/v1/stream/{name}";

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(args, input: null);

    public async Task<CliResult> RunAsync(
        string[] args,
        Stream? input,
        bool inputIsTerminal = false,
        bool errorIsTerminal = false,
        Stream? output = null,
        Stream? inputFile = null,
        CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        output ??= new MemoryStream();
        var error = new StringWriter();
        var console = new CliConsole
        {
            Input = input ?? new MemoryStream(),
            InputFile = inputFile,
            Output = output,
            Error = TextWriter.Synchronized(error),
            InputIsTerminal = inputIsTerminal,
            ErrorIsTerminal = errorIsTerminal,
            GetEnvironmentVariable = name => Environment.GetValueOrDefault(name),
            ProgressInterval = TimeSpan.FromMilliseconds(20),
        };
        int exitCode = await DurableStreamCli.RunAsync(args, console, timeout.Token);
        byte[] bytes = output is MemoryStream memory ? memory.ToArray() : output is ObservedOutput observed ? observed.ToArray() : [];
        return new CliResult(exitCode, bytes, error.ToString());
    }

    public Task<CliResult> RunWithInputAsync(string input, params string[] args) =>
        RunAsync(args, new MemoryStream(Encoding.UTF8.GetBytes(input)));

    /// <summary>Runs with standard input redirected from a file: the tool gets a second view of it to check first.</summary>
    public Task<CliResult> RunWithInputFileAsync(string input, params string[] args) =>
        RunAsync(args, new MemoryStream(Encoding.UTF8.GetBytes(input)), inputFile: new MemoryStream(Encoding.UTF8.GetBytes(input)));

    /// <summary>Reads the whole stream with a plain catch-up GET, independent of the SDK's reader.</summary>
    public async Task<string> ReadRawAsync(string name)
    {
        using HttpResponseMessage response = await Raw.GetAsync(UrlOf(name) + "?offset=-1");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    public async Task<HttpStatusCode> HeadStatusAsync(string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, UrlOf(name));
        using HttpResponseMessage response = await Raw.SendAsync(request);
        return response.StatusCode;
    }

    public async Task CreateAsync(string name, string contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, UrlOf(name)) { Content = new ByteArrayContent([]) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        using HttpResponseMessage response = await Raw.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }
}

/// <summary>Standard output that a test can watch while a command is still running.</summary>
internal sealed class ObservedOutput : Stream
{
    private readonly MemoryStream _data = new();
    private readonly object _gate = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public string Text
    {
        get
        {
            lock (_gate)
            {
                return Encoding.UTF8.GetString(_data.ToArray());
            }
        }
    }

    public byte[] ToArray()
    {
        lock (_gate)
        {
            return _data.ToArray();
        }
    }

    /// <summary>Completes when the output contains <paramref name="text"/>.</summary>
    public Task WaitForAsync(string text, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (Encoding.UTF8.GetString(_data.ToArray()).Contains(text, StringComparison.Ordinal))
            {
                return Task.CompletedTask;
            }

            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((text, seen));
            return seen.Task.WaitAsync(cancellationToken);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            _data.Write(buffer);
            string text = Encoding.UTF8.GetString(_data.ToArray());
            foreach ((string wanted, TaskCompletionSource seen) in _waiters.ToArray())
            {
                if (text.Contains(wanted, StringComparison.Ordinal))
                {
                    seen.TrySetResult();
                    _waiters.Remove((wanted, seen));
                }
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>A non-seekable input of <paramref name="length"/> generated bytes, produced as it is read (never held whole).</summary>
internal sealed class GeneratedInput(long length) : Stream
{
    private long _position;

    public static byte ByteAt(long index) => (byte)('a' + (index * 7 % 26));

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int count = (int)Math.Min(buffer.Length, length - _position);
        for (int i = 0; i < count; i++)
        {
            buffer[i] = ByteAt(_position + i);
        }

        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
