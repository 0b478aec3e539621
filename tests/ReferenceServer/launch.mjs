// Starts the pinned @durable-streams/server on a loopback port for tests and samples.
//
// Usage: node launch.mjs [--port N] [--host H] [--long-poll-timeout MS] [--no-compression] [--webhooks]
//
// --webhooks (or DURABLE_STREAMS_WEBHOOKS=1) enables webhook subscriptions; they are off by default.
//
// Prints exactly one line "READY <base-url>" on stdout once the server listens.
// The server stops when this process gets SIGINT/SIGTERM or when its stdin
// closes, so a parent that dies without cleaning up never leaves it running.
import { DurableStreamTestServer } from "@durable-streams/server";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

const server = new DurableStreamTestServer({
  port: Number(option("--port", "0")),
  host: option("--host", "127.0.0.1"),
  longPollTimeout: Number(option("--long-poll-timeout", "30000")),
  compression: !args.includes("--no-compression"),
  webhooks: args.includes("--webhooks") || process.env.DURABLE_STREAMS_WEBHOOKS === "1",
});

const url = await server.start();
process.stdout.write(`READY ${url}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  try {
    await server.stop();
  } finally {
    process.exit(0);
  }
};

process.on("SIGINT", stop);
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
