using System.CommandLine;

namespace DurableStreams.Cli;

/// <summary>Builds <c>durable-stream subscription create|get|delete|add-streams|remove-stream|work</c>.</summary>
internal static class SubscriptionCommandLine
{
    public static Command Build(CliCommands commands)
    {
        var command = new Command("subscription", "Manage subscriptions (durable cursors over many streams) and work pull-wake subscriptions. Stream paths are relative to {url}/v1/stream/.");
        command.Subcommands.Add(BuildCreate(commands));
        command.Subcommands.Add(BuildSimple("get", "Print a subscription as JSON: its streams with their acked offsets.", (c, p, id, ct) => c.With(p).SubscriptionGetAsync(id, ct), commands));
        command.Subcommands.Add(BuildSimple("delete", "Delete a subscription.", (c, p, id, ct) => c.With(p).SubscriptionDeleteAsync(id, ct), commands));
        command.Subcommands.Add(BuildAddStreams(commands));
        command.Subcommands.Add(BuildRemoveStream(commands));
        command.Subcommands.Add(BuildWork(commands));
        return command;
    }

    private static Argument<string> Id() => new("id") { Description = "The subscription id." };

    private static Command BuildCreate(CliCommands commands)
    {
        Argument<string> id = Id();
        var pattern = new Option<string?>("--pattern") { Description = "A glob over stream paths: * matches one segment, ** any number.", HelpName = "GLOB" };
        var streams = new Option<string[]>("--stream") { Description = "A stream path to link by name (repeatable).", HelpName = "PATH", AllowMultipleArgumentsPerToken = false };
        var wake = new Option<string?>("--wake-stream") { Description = "Pull-wake: the (existing, JSON) stream the server writes wake events to.", HelpName = "PATH" };
        var webhook = new Option<string?>("--webhook") { Description = "Webhook: the URL that receives signed wakes.", HelpName = "URL" };
        var ttl = new Option<int?>("--lease-ttl") { Description = "Lease TTL in milliseconds, 1000 to 600000 (server default: 30000).", HelpName = "MS" };
        var description = new Option<string?>("--description") { Description = "A human-readable description.", HelpName = "TEXT" };
        var command = new Command("create", "Create a subscription (or confirm an identical one). Prints it as JSON.")
        {
            id, pattern, streams, wake, webhook, ttl, description,
        };
        command.Validators.Add(r =>
        {
            bool hasWake = r.GetValue(wake) is not null;
            bool hasHook = r.GetValue(webhook) is not null;
            if (hasWake == hasHook)
            {
                r.AddError("Give exactly one of --wake-stream (pull-wake) and --webhook.");
            }

            if (r.GetValue(pattern) is null && (r.GetValue(streams) ?? []).Length == 0)
            {
                r.AddError("Give --pattern, --stream, or both.");
            }
        });
        command.SetAction((parse, ct) =>
        {
            var options = new SubscriptionOptions
            {
                Type = parse.GetValue(webhook) is null ? SubscriptionType.PullWake : SubscriptionType.Webhook,
                Pattern = parse.GetValue(pattern),
                WakeStream = parse.GetValue(wake),
                WebhookUrl = parse.GetValue(webhook) is { } url ? (Uri.TryCreate(url, UriKind.Absolute, out Uri? hook) ? hook : new Uri("invalid:" + url)) : null,
                LeaseTtl = parse.GetValue(ttl) is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
                Description = parse.GetValue(description),
            };
            foreach (string stream in parse.GetValue(streams) ?? [])
            {
                options.Streams.Add(stream);
            }

            return commands.With(parse).SubscriptionCreateAsync(parse.GetValue(id)!, options, ct);
        });
        return command;
    }

    private static Command BuildSimple(string name, string description, Func<CliCommands, ParseResult, string, CancellationToken, Task<int>> run, CliCommands commands)
    {
        Argument<string> id = Id();
        var command = new Command(name, description) { id };
        command.SetAction((parse, ct) => run(commands, parse, parse.GetValue(id)!, ct));
        return command;
    }

    private static Command BuildAddStreams(CliCommands commands)
    {
        Argument<string> id = Id();
        var streams = new Argument<string[]>("streams") { Description = "Stream paths to link by name.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("add-streams", "Link streams to a subscription by name, at their current tails.") { id, streams };
        command.SetAction((parse, ct) => commands.With(parse).SubscriptionAddStreamsAsync(parse.GetValue(id)!, parse.GetValue(streams)!, ct));
        return command;
    }

    private static Command BuildRemoveStream(CliCommands commands)
    {
        Argument<string> id = Id();
        var stream = new Argument<string>("stream") { Description = "The stream path whose explicit link to remove (a glob link stays)." };
        var command = new Command("remove-stream", "Remove one explicit stream link from a subscription.") { id, stream };
        command.SetAction((parse, ct) => commands.With(parse).SubscriptionRemoveStreamAsync(parse.GetValue(id)!, parse.GetValue(stream)!, ct));
        return command;
    }

    private static Command BuildWork(CliCommands commands)
    {
        Argument<string> id = Id();
        var worker = new Option<string?>("--worker") { Description = "The worker name to claim with. Default: host-pid-random.", HelpName = "NAME" };
        var command = new Command("work", "Work a pull-wake subscription until Ctrl+C: claim each wake, print every pending message (one line per JSON message), ack it.") { id, worker };
        command.SetAction((parse, ct) => commands.With(parse).SubscriptionWorkAsync(parse.GetValue(id)!, parse.GetValue(worker), ct));
        return command;
    }
}
