// Starts DurableStreamTestServer for the server conformance suite and the client tests' .NET leg.
//
// Usage: dotnet run -- [--port N] [--long-poll-timeout MS] [--dir DIR]
//
// Prints one line "READY <base-url>" once the server listens. Stops on Ctrl-C/SIGTERM or when stdin
// closes, so a parent that dies without cleaning up never leaves it running.
using System.Globalization;
using DurableStreams.Testing;

var options = new DurableStreamTestServerOptions();
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--port":
            options.Port = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--long-poll-timeout":
            options.LongPollTimeout = TimeSpan.FromMilliseconds(int.Parse(args[i + 1], CultureInfo.InvariantCulture));
            break;
        case "--dir":
            options.DataDirectory = args[i + 1];
            break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}");
            return 2;
    }
}

await using var server = await DurableStreamTestServer.StartAsync(options);
Console.WriteLine($"READY {server.BaseAddress.AbsoluteUri.TrimEnd('/')}");

var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.TrySetResult();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
_ = Task.Run(async () =>
{
    // Stdin reaching its end means the parent is gone.
    await Console.In.ReadToEndAsync();
    stop.TrySetResult();
});
await stop.Task;
return 0;
