using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;

namespace DurableStreams.Cli;

/// <summary>
/// The <c>durable-stream</c> command line: defines the commands with System.CommandLine and runs
/// one of them against the injected <see cref="CliConsole"/>.
/// </summary>
internal static class DurableStreamCli
{
    public const string ServerVariable = "STREAM_URL";
    public const string AuthVariable = "STREAM_AUTH";

    private static readonly HashSet<string> AuthSchemes = new(StringComparer.OrdinalIgnoreCase)
    {
        "Bearer", "Basic", "Token", "Digest", "Negotiate", "ApiKey",
    };

    /// <summary>Parses <paramref name="args"/> and runs the command.</summary>
    /// <returns>0 on success, 1 when the server refused or could not be reached, 2 on a usage error.</returns>
    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);

        RootCommand root = BuildCommandLine(console);
        IEnumerable<string> errors;
        ParseResult? result = null;
        if (FindOptionWithoutValue(root, args) is { } missingValue)
        {
            errors = [missingValue];
        }
        else
        {
            try
            {
                result = root.Parse(args);
                errors = result.Errors.Select(e => RedactAuth(e.Message, args));
            }
            catch (InvalidOperationException ex)
            {
                // A value the parser could not convert, met by a validator: still a usage error, never a crash.
                errors = [RedactAuth(ex.Message, args)];
            }
        }

        if (result is null || result.Errors.Count > 0)
        {
            foreach (string error in errors)
            {
                await console.Error.WriteLineAsync($"durable-stream: {error}").ConfigureAwait(false);
            }

            await console.Error.WriteLineAsync("Run 'durable-stream --help' for usage.").ConfigureAwait(false);
            await console.Error.FlushAsync(cancellationToken).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var output = new StreamWriter(console.Output, new UTF8Encoding(false), bufferSize: 4096, leaveOpen: true) { AutoFlush = true };
        await using (output.ConfigureAwait(false))
        {
            var invocation = new InvocationConfiguration
            {
                Output = output,
                Error = console.Error,
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = console.ProcessTerminationTimeout,
            };
            int exitCode = await result.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
            await console.Error.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return exitCode;
        }
    }

    /// <summary>
    /// Finds an option that takes a value but is followed by another option (<c>--auth --url URL</c>):
    /// the parser would take <c>--url</c> as the value and then trip over the URL, naming neither.
    /// A value never starts with <c>--</c>, so this names the option whose value is missing.
    /// </summary>
    /// <returns>The error to print, or <see langword="null"/>.</returns>
    internal static string? FindOptionWithoutValue(RootCommand root, IReadOnlyList<string> args)
    {
        var takesValue = new HashSet<string>(StringComparer.Ordinal);
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (Command command in root.Subcommands.Prepend(root))
        {
            foreach (Option option in command.Options)
            {
                IEnumerable<string> names = option.Aliases.Prepend(option.Name);
                known.UnionWith(names);
                if (option.Arity.MinimumNumberOfValues > 0)
                {
                    takesValue.UnionWith(names);
                }
            }
        }

        for (int i = 0; i < args.Count - 1; i++)
        {
            if (args[i] == "--")
            {
                break;
            }

            string next = args[i + 1];
            if (takesValue.Contains(args[i]) && (next.StartsWith("--", StringComparison.Ordinal) || known.Contains(next)))
            {
                return $"{args[i]} needs a value, but the next word is the option {next}. Put the value right after {args[i]}.";
            }
        }

        return null;
    }

    /// <summary>
    /// Hides the value of <c>--auth</c> in a parse error. The usual slip is an unquoted
    /// <c>--auth Bearer TOKEN</c>: the token then lands in an "unrecognized argument" error, so the
    /// word after the value is hidden too.
    /// </summary>
    internal static string RedactAuth(string message, IReadOnlyList<string> args)
    {
        var secrets = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--auth")
            {
                secrets.AddRange(args.Skip(i + 1).Take(2).Where(a => !a.StartsWith('-')));
            }
            else if (args[i].StartsWith("--auth=", StringComparison.Ordinal) || args[i].StartsWith("--auth:", StringComparison.Ordinal))
            {
                secrets.Add(args[i]["--auth=".Length..]);
                secrets.AddRange(args.Skip(i + 1).Take(1).Where(a => !a.StartsWith('-')));
            }
        }

        foreach (string secret in secrets.Where(s => s.Length > 0 && !AuthSchemes.Contains(s)).OrderByDescending(s => s.Length))
        {
            message = message.Replace(secret, "***", StringComparison.Ordinal);
        }

        return message;
    }

    /// <summary>Defines every command, its arguments, options and validation.</summary>
    internal static RootCommand BuildCommandLine(CliConsole console)
    {
        var url = new Option<string?>("--url")
        {
            Description = $"The server's base URL, e.g. http://localhost:4437 (default: ${ServerVariable}). A bare stream name resolves to {{url}}{StreamLocator.StreamPath}{{name}}.",
            Recursive = true,
            HelpName = "URL",
        };
        var auth = new Option<string?>("--auth")
        {
            Description = $"The Authorization header sent with every request, e.g. \"Bearer TOKEN\" (default: ${AuthVariable}). Never printed.",
            Recursive = true,
            HelpName = "VALUE",
        };
        auth.Validators.Add(r =>
        {
            // An unquoted `--auth Bearer TOKEN` leaves TOKEN to be taken as the stream name, which
            // would then appear in messages: refuse a bare scheme before anything is sent.
            string value = r.GetValueOrDefault<string?>()?.Trim() ?? string.Empty;
            if (value.Length > 0 && !value.Contains(' ', StringComparison.Ordinal) && AuthSchemes.Contains(value))
            {
                r.AddError($"--auth takes the whole Authorization value: quote it, e.g. --auth \"{value} TOKEN\".");
            }
        });

        var root = new RootCommand(
            "durable-stream: create, write, read, inspect, close, fork and delete Durable Streams.\n" +
            "Exit codes: 0 success, 1 server or network error, 2 usage error.");
        root.Options.Add(url);
        root.Options.Add(auth);

        var commands = new CliCommands(console, url, auth);
        root.Subcommands.Add(BuildCreate(commands));
        root.Subcommands.Add(BuildWrite(commands));
        root.Subcommands.Add(BuildRead(commands));
        root.Subcommands.Add(BuildHead(commands));
        root.Subcommands.Add(BuildClose(commands));
        root.Subcommands.Add(BuildDelete(commands));
        root.Subcommands.Add(BuildFork(commands));
        root.Subcommands.Add(ServeCommand.Build(console));
        root.Subcommands.Add(SubscriptionCommandLine.Build(commands));
        return root;
    }

    private static Argument<string> StreamArgument(string name = "stream", string description = "The stream: a name (under the server's /v1/stream/) or a full http(s) URL.") =>
        new(name) { Description = description };

    private static Option<string?> ContentTypeOption(string description) =>
        new("--content-type") { Description = description, HelpName = "TYPE" };

    private static Option<bool> JsonOption(string description) => new("--json") { Description = description };

    private static Command BuildCreate(CliCommands commands)
    {
        Argument<string> stream = StreamArgument();
        Option<string?> contentType = ContentTypeOption("The stream's content type. Default: application/octet-stream.");
        Option<bool> json = JsonOption("Create a JSON stream (application/json): each append is one message.");
        var ttl = new Option<long?>("--ttl")
        {
            Description = "Delete the stream this many seconds after its last write (a whole number).",
            HelpName = "SECONDS",
            CustomParser = ParseSeconds,
        };
        var expiresAt = new Option<DateTimeOffset?>("--expires-at")
        {
            Description = "Delete the stream at this time (ISO 8601, e.g. 2030-01-31T12:00:00Z; UTC unless an offset is given).",
            HelpName = "TIME",
            CustomParser = ParseTime,
        };

        var command = new Command("create", "Create a stream (or confirm that one with the same configuration exists). Prints its URL.")
        {
            stream, contentType, json, ttl, expiresAt,
        };
        command.Validators.Add(r =>
        {
            OnlyOne(r, contentType, json);
            OnlyOne(r, ttl, expiresAt);
        });
        command.SetAction((parse, ct) => commands.With(parse).CreateAsync(
            parse.GetValue(stream)!,
            parse.GetValue(json) ? "application/json" : parse.GetValue(contentType),
            parse.GetValue(ttl),
            parse.GetValue(expiresAt),
            ct));
        return command;
    }

    private static Command BuildWrite(CliCommands commands)
    {
        Argument<string> stream = StreamArgument();
        var data = new Argument<string?>("data")
        {
            Description = "The data to append. Without it, standard input is streamed to the server (not read into memory first).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        Option<string?> contentType = ContentTypeOption("The stream's content type, if known (saves a HEAD request; the server rejects a mismatch).");
        Option<bool> json = JsonOption(
            "The stream is a JSON stream. DATA is one JSON value; standard input holds one JSON value or newline-delimited JSON (one message per line), sent through an idempotent producer. " +
            "Input from a file (< FILE) is checked whole first: a bad line sends nothing (exit 2). Input from a pipe is sent as it is read: a bad line stops the write after the messages before it are stored (exit 1). Either way the error names the line.");
        var command = new Command("write", "Append data to a stream.")
        {
            stream, data, contentType, json,
        };
        command.Validators.Add(r => OnlyOne(r, contentType, json));
        command.SetAction((parse, ct) => commands.With(parse).WriteAsync(
            parse.GetValue(stream)!,
            parse.GetValue(data),
            parse.GetValue(contentType),
            parse.GetValue(json),
            ct));
        return command;
    }

    private static Command BuildRead(CliCommands commands)
    {
        Argument<string> stream = StreamArgument();
        var offset = new Option<string?>("--offset")
        {
            Description = "Where to start: -1 (the beginning, default), now (only new data), or an offset printed by an earlier read.",
            HelpName = "OFFSET",
        };
        offset.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string?>();
            if (value is not null && !ReadCheckpoint.TryParse(value, out _))
            {
                r.AddError($"--offset: '{value}' is not an offset (-1, now, or an offset the server returned).");
            }
        });
        var live = new Option<bool>("--live") { Description = "Keep following the stream after catching up, until it is closed or Ctrl-C; then print the offset to resume from on stderr." };
        var sse = new Option<bool>("--sse") { Description = "With --live: follow with Server-Sent Events." };
        var longPoll = new Option<bool>("--long-poll") { Description = "With --live: follow with long-poll requests. Default for --live: SSE for text and JSON streams, long-poll otherwise." };
        Option<bool> json = JsonOption("Print the messages of a JSON stream one per line (newline-delimited JSON).");
        var command = new Command("read", "Print a stream's data to standard output as it arrives.")
        {
            stream, offset, live, sse, longPoll, json,
        };
        command.Validators.Add(r =>
        {
            OnlyOne(r, sse, longPoll);
            foreach (Option<bool> mode in new[] { sse, longPoll })
            {
                if (r.GetValue(mode) && !r.GetValue(live))
                {
                    r.AddError($"{mode.Name} needs --live.");
                }
            }
        });
        command.SetAction((parse, ct) =>
        {
            LiveMode mode = !parse.GetValue(live) ? LiveMode.Off
                : parse.GetValue(sse) ? LiveMode.Sse
                : parse.GetValue(longPoll) ? LiveMode.LongPoll
                : LiveMode.Auto;
            return commands.With(parse).ReadAsync(parse.GetValue(stream)!, parse.GetValue(offset), mode, parse.GetValue(json), ct);
        });
        return command;
    }

    private static Command BuildHead(CliCommands commands)
    {
        Argument<string> stream = StreamArgument();
        var command = new Command("head", "Print a stream's metadata: content type, tail offset, closed, TTL, expiry.") { stream };
        command.SetAction((parse, ct) => commands.With(parse).HeadAsync(parse.GetValue(stream)!, ct));
        return command;
    }

    private static Command BuildClose(CliCommands commands)
    {
        Argument<string> stream = StreamArgument();
        var data = new Argument<string?>("data")
        {
            Description = "A last message to append atomically with the close.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var command = new Command("close", "Close a stream: no more appends; readers see the end of the stream.") { stream, data };
        command.SetAction((parse, ct) => commands.With(parse).CloseAsync(parse.GetValue(stream)!, parse.GetValue(data), ct));
        return command;
    }

    private static Command BuildDelete(CliCommands commands)
    {
        Argument<string> stream = StreamArgument();
        var command = new Command("delete", "Delete a stream and its data.") { stream };
        command.SetAction((parse, ct) => commands.With(parse).DeleteAsync(parse.GetValue(stream)!, ct));
        return command;
    }

    private static Command BuildFork(CliCommands commands)
    {
        Argument<string> source = StreamArgument("source", "The stream to fork: a name or a full URL.");
        Argument<string> target = StreamArgument("new", "The new stream, on the same server: a name or a full URL.");
        var offset = new Option<string?>("--offset")
        {
            Description = "Fork the source's data up to this offset (one the server returned). Default: all of it.",
            HelpName = "OFFSET",
        };
        offset.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string?>();
            if (value is not null && (!Offset.TryParse(value, out Offset parsed) || parsed.IsNow))
            {
                r.AddError($"--offset: '{value}' is not a fork offset (-1, or an offset the server returned).");
            }
        });
        var command = new Command("fork", "Create a new stream that starts with another stream's data. Prints its URL.") { source, target, offset };
        command.SetAction((parse, ct) => commands.With(parse).ForkAsync(
            parse.GetValue(source)!,
            parse.GetValue(target)!,
            parse.GetValue(offset) is { } o ? Offset.Parse(o) : null,
            ct));
        return command;
    }

    private static void OnlyOne(CommandResult result, Option first, Option second)
    {
        if (result.GetResult(first) is { Implicit: false } && result.GetResult(second) is { Implicit: false })
        {
            result.AddError($"{first.Name} and {second.Name} cannot be used together.");
        }
    }

    /// <summary>The largest <c>--ttl</c> a <see cref="TimeSpan"/> holds (about 29,000 years).</summary>
    private static readonly long MaxSeconds = (long)TimeSpan.MaxValue.TotalSeconds;

    private static long? ParseSeconds(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) && seconds <= MaxSeconds)
        {
            return seconds;
        }

        string option = result.Parent is OptionResult parent ? parent.Option.Name : "--ttl";
        result.AddError(string.Create(CultureInfo.InvariantCulture, $"{option} takes a whole number of seconds from 0 to {MaxSeconds}; '{text}' is not one."));
        return null;
    }

    private static DateTimeOffset? ParseTime(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset time))
        {
            return time;
        }

        result.AddError($"--expires-at: '{text}' is not a time (use ISO 8601, e.g. 2030-01-31T12:00:00Z).");
        return null;
    }
}
