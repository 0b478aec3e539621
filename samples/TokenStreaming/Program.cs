// TokenStreaming: an AI-style answer streamed token by token through a durable stream, read by a
// client that is "killed" half-way and resumes from its saved checkpoint without losing or
// repeating a single token.
//
//   dotnet run --project samples/TokenStreaming
//
// With DURABLE_STREAMS_URL set (e.g. http://localhost:4437) it talks to that server; without it,
// it starts the pinned reference server and stops it at the end. Exits 1 if the text read back
// differs from the text written.
using System.Text;
using System.Text.RegularExpressions;
using DurableStreams;
using DurableStreams.Testing;

const string Answer =
    "A durable stream is an append-only log behind a plain HTTP URL. Writers append, readers " +
    "catch up from any offset and then follow the tail live, and a reader that drops off resumes " +
    "exactly where it stopped. That makes it a good fit for streaming model output: a browser " +
    "tab that reloads, a phone that loses its signal, or a worker that restarts picks the answer " +
    "up again from its last checkpoint instead of asking the model to start over.";

string? serverUrl = Environment.GetEnvironmentVariable("DURABLE_STREAMS_URL");
ReferenceServerProcess? localServer = null;
if (string.IsNullOrEmpty(serverUrl))
{
    Console.Error.WriteLine("DURABLE_STREAMS_URL is not set: starting the reference server...");
    localServer = await ReferenceServerProcess.StartAsync();
    serverUrl = localServer.BaseUrl.AbsoluteUri;
}

string checkpointFile = Path.Combine(Path.GetTempPath(), $"token-streaming-{Guid.NewGuid():N}.checkpoint");
try
{
    using var client = new DurableStreamClient(new DurableStreamClientOptions { BaseAddress = new Uri(serverUrl) });
    CreateStreamResult created = await client.CreateStreamAsync(new CreateOptions
    {
        Url = $"v1/stream/answer-{Guid.NewGuid():N}",
        ContentType = "text/plain; charset=utf-8",
        Ttl = TimeSpan.FromHours(1),
    });
    DurableStream stream = created.Stream;
    Console.Error.WriteLine($"Streaming the answer into {stream.Url}");

    // The "model": one token at a time, a few milliseconds apart. A low linger sends each token
    // almost at once instead of waiting to fill a batch; the producer still stores each exactly once.
    Task generation = Task.Run(async () =>
    {
        await using IdempotentProducer producer = stream.CreateProducer("model-1", new ProducerOptions { Linger = TimeSpan.FromMilliseconds(1) });
        foreach (Match token in Regex.Matches(Answer, @"\S+\s*"))
        {
            await producer.AppendAsync(token.Value);
            await Task.Delay(Random.Shared.Next(2, 12));
        }

        // Closing tells every reader that the answer is complete.
        await producer.CloseAsync();
    });

    // Reader 1 follows the answer live and saves a checkpoint after every piece it shows. Half-way
    // through it is "killed" (its token is cancelled), as a closed tab or a crashed process would be.
    var firstPart = new StringBuilder();
    using (var kill = new CancellationTokenSource())
    {
        try
        {
            await foreach (StreamItem<string> piece in stream.ReadTextAsync(new ReadOptions { Live = LiveMode.Auto }, kill.Token))
            {
                firstPart.Append(piece.Value);
                await File.WriteAllTextAsync(checkpointFile, piece.Checkpoint.ToString(), CancellationToken.None);
                if (firstPart.Length >= Answer.Length / 2)
                {
                    await kill.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException) when (kill.IsCancellationRequested)
        {
            Console.Error.WriteLine($"Reader 1 was killed after {firstPart.Length} characters; checkpoint saved: {await File.ReadAllTextAsync(checkpointFile)}");
        }
    }

    // Reader 2 starts from the saved checkpoint and reads to the end of the (closed) stream.
    var resume = ReadCheckpoint.Parse(await File.ReadAllTextAsync(checkpointFile));
    var secondPart = new StringBuilder();
    await foreach (StreamItem<string> piece in stream.ReadTextAsync(new ReadOptions { Checkpoint = resume, Live = LiveMode.Auto }))
    {
        secondPart.Append(piece.Value);
    }

    await generation;
    string fullText = firstPart.ToString() + secondPart;
    Console.WriteLine(fullText);
    if (fullText != Answer)
    {
        Console.Error.WriteLine("The text read back differs from the text written.");
        return 1;
    }

    Console.Error.WriteLine($"Read {firstPart.Length} + {secondPart.Length} characters: nothing lost, nothing repeated.");
    return 0;
}
finally
{
    File.Delete(checkpointFile);
    if (localServer is not null)
    {
        await localServer.DisposeAsync();
    }
}
