// WorkerProducer: a generic-host worker that writes events through an idempotent producer and
// flushes them on graceful shutdown. The client is configured from appsettings.json through
// services.AddDurableStreams(configuration section).
//
//   dotnet run --project samples/WorkerProducer                   # until Ctrl-C
//   dotnet run --project samples/WorkerProducer -- --messages 20  # 20 events, then stop (CI)
//
// The server is DurableStreams:BaseAddress (appsettings.json, or --DurableStreams:BaseAddress URL),
// or the DURABLE_STREAMS_URL environment variable; with neither, the sample starts the pinned
// reference server and stops it at the end.
using DurableStreams;
using DurableStreams.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using WorkerProducer;

HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Configuration.AddCommandLine(args, new Dictionary<string, string> { ["--messages"] = "Worker:Messages" });
if (Environment.GetEnvironmentVariable("DURABLE_STREAMS_URL") is { Length: > 0 } fromEnvironment)
{
    builder.Configuration["DurableStreams:BaseAddress"] = fromEnvironment;
}

ReferenceServerProcess? localServer = null;
if (string.IsNullOrEmpty(builder.Configuration["DurableStreams:BaseAddress"]))
{
    Console.Error.WriteLine("No server configured: starting the reference server...");
    localServer = await ReferenceServerProcess.StartAsync();
    builder.Configuration["DurableStreams:BaseAddress"] = localServer.BaseUrl.AbsoluteUri;
}

try
{
    builder.Services.AddDurableStreams(builder.Configuration.GetSection("DurableStreams"));
    builder.Services.Configure<WorkerOptions>(builder.Configuration.GetSection("Worker"));
    builder.Services.AddSingleton<WorkerReport>();
    builder.Services.AddHostedService<EventWorker>();
    builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

    using IHost host = builder.Build();
    await host.StartAsync();
    await host.WaitForShutdownAsync();

    // After the host stopped: check that every event this run wrote is in the stream, once.
    WorkerReport report = host.Services.GetRequiredService<WorkerReport>();
    DurableStreamClient client = host.Services.GetRequiredService<DurableStreamClient>();
    if (report.StreamUrl is null)
    {
        Console.Error.WriteLine("The worker did not start.");
        return 1;
    }

    IReadOnlyList<WorkerEvent> events = await client.GetStream(report.StreamUrl).ReadAllJsonAsync<WorkerEvent>();
    int[] mine = events.Where(e => e.Run == report.Run).Select(e => e.Sequence).ToArray();
    bool exact = mine.SequenceEqual(Enumerable.Range(0, report.Written));
    Console.WriteLine($"This run wrote {report.Written} events; the stream holds {mine.Length} of them{(exact ? ", in order, each once" : " (MISMATCH)")}.");
    return exact && report.Written > 0 ? 0 : 1;
}
finally
{
    if (localServer is not null)
    {
        await localServer.DisposeAsync();
    }
}
