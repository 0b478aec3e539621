// Runs the official server conformance suite from node_modules (vitest skips node_modules by default,
// so the package's own CLI finds no tests). Set CONFORMANCE_TEST_URL to the server's base URL.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["node_modules/@durable-streams/server-conformance-tests/dist/test-runner.js"],
    exclude: [],
  },
});
