// Runs the official server conformance suite from node_modules (vitest skips node_modules by default,
// so the package's own CLI finds no tests). Set CONFORMANCE_TEST_URL to the server's base URL.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["node_modules/@durable-streams/server-conformance-tests/dist/test-runner.js"],
    exclude: [],
    // vitest's 5 s default is tight on a loaded CI machine for the cases that check 100 KiB byte by
    // byte in JavaScript; cases with their own timeout keep it. Start the server with a long-poll
    // timeout well under 5 s (the launcher in ./Launcher takes --long-poll-timeout).
    testTimeout: 20000,
  },
});
