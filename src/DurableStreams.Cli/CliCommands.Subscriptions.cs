using System.Text;
using System.Text.Json;

namespace DurableStreams.Cli;

/// <summary>The <c>subscription</c> commands (PROTOCOL.md §6–§7). Stream paths are relative to <c>{url}/v1/stream/</c>.</summary>
internal sealed partial class CliCommands
{
    public Task<int> SubscriptionCreateAsync(string id, SubscriptionOptions options, CancellationToken cancellationToken) =>
        RunAsync("subscription create", id, async (client, ct) =>
        {
            CreateSubscriptionResult result = await Subscriptions(client).CreateAsync(id, options, ct).ConfigureAwait(false);
            await WriteOutputAsync(SubscriptionJson(result.Subscription), ct).ConfigureAwait(false);
            await Error.WriteLineAsync(result.Created
                ? $"durable-stream: created subscription {id}."
                : $"durable-stream: subscription {id} already exists with this configuration.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> SubscriptionGetAsync(string id, CancellationToken cancellationToken) =>
        RunAsync("subscription get", id, async (client, ct) =>
        {
            SubscriptionInfo info = await Subscriptions(client).GetAsync(id, ct).ConfigureAwait(false);
            await WriteOutputAsync(SubscriptionJson(info), ct).ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> SubscriptionDeleteAsync(string id, CancellationToken cancellationToken) =>
        RunAsync("subscription delete", id, async (client, ct) =>
        {
            await Subscriptions(client).DeleteAsync(id, ct).ConfigureAwait(false);
            await Error.WriteLineAsync($"durable-stream: deleted subscription {id}.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> SubscriptionAddStreamsAsync(string id, string[] streams, CancellationToken cancellationToken) =>
        RunAsync("subscription add-streams", id, async (client, ct) =>
        {
            await Subscriptions(client).AddStreamsAsync(id, streams, ct).ConfigureAwait(false);
            await Error.WriteLineAsync($"durable-stream: linked {streams.Length} stream(s) to subscription {id}.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    public Task<int> SubscriptionRemoveStreamAsync(string id, string stream, CancellationToken cancellationToken) =>
        RunAsync("subscription remove-stream", id, async (client, ct) =>
        {
            await Subscriptions(client).RemoveStreamAsync(id, stream, ct).ConfigureAwait(false);
            await Error.WriteLineAsync($"durable-stream: removed the explicit link of {stream} from subscription {id}.").ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    /// <summary>Works a pull-wake subscription until interrupted: each handled message on stdout, each batch on stderr.</summary>
    public Task<int> SubscriptionWorkAsync(string id, string? worker, CancellationToken cancellationToken) =>
        RunAsync("subscription work", id, async (client, ct) =>
        {
            var handler = new PrintingHandler(this);
            var options = new SubscriptionWorkerOptions { WorkerName = worker, AckInterval = TimeSpan.Zero };
            var runner = new SubscriptionWorker(Subscriptions(client), id, handler, options);
            await Error.WriteLineAsync($"durable-stream: working subscription {id} as {runner.WorkerName}; Ctrl+C to stop.").ConfigureAwait(false);
            await runner.RunAsync(ct).ConfigureAwait(false);
            return ExitCodes.Success;
        }, cancellationToken);

    private DurableStreamSubscriptions Subscriptions(DurableStreamClient client)
    {
        // The stream root is the server URL plus /v1/stream/: the same place bare stream names resolve to.
        Uri anyStream = Resolve("x");
        return new DurableStreamSubscriptions(client, new Uri(anyStream, "."));
    }

    private static string SubscriptionJson(SubscriptionInfo info)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("id", info.Id);
            json.WriteString("type", info.Type == SubscriptionType.PullWake ? "pull-wake" : "webhook");
            WriteIfSet(json, "pattern", info.Pattern);
            json.WriteStartArray("streams");
            foreach (SubscriptionStreamLink link in info.Streams)
            {
                json.WriteStartObject();
                json.WriteString("path", link.Path);
                json.WriteString("link_type", link.LinkType.ToString().ToLowerInvariant());
                json.WriteString("acked_offset", link.AckedOffset.Value);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            WriteIfSet(json, "webhook_url", info.WebhookUrl?.AbsoluteUri);
            WriteIfSet(json, "wake_stream", info.WakeStream);
            json.WriteNumber("lease_ttl_ms", (long)info.LeaseTtl.TotalMilliseconds);
            json.WriteString("status", info.Status.ToString().ToLowerInvariant());
            WriteIfSet(json, "description", info.Description);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static void WriteIfSet(Utf8JsonWriter json, string name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    private sealed class PrintingHandler(CliCommands cli) : ISubscriptionHandler
    {
        public async Task HandleAsync(SubscriptionBatch batch, CancellationToken cancellationToken)
        {
            bool json = batch.ContentType is { } type && IsJson(type);
            ReadOnlyMemory<byte> lines = json ? ToJsonLines(batch.Data) : batch.Data;
            await cli.WriteOutputAsync(Encoding.UTF8.GetString(lines.Span), cancellationToken).ConfigureAwait(false);
            await cli.Error.WriteLineAsync(
                $"durable-stream: generation {batch.Generation}: {batch.Stream} {batch.StartOffset} -> {batch.EndOffset} handled, acking.").ConfigureAwait(false);
        }
    }
}
