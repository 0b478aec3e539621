using DurableStreams.Cli;

return await DurableStreamCli.RunAsync(args, CliConsole.FromSystemConsole()).ConfigureAwait(false);
