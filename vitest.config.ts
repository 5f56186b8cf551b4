import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "edge-runtime",
    server: { deps: { inline: ["convex-test"] } },
    include: ["tests/**/*.test.ts"],
    // Registers the runtime's value reads before any test file loads convex (docs/runtime.md).
    setupFiles: ["src/runtime/valueReads.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Test files share their worker's modules instead of importing convex/, convex-test and
    // fast-check afresh per file (about a quarter of the suite's CPU time). Safe while every
    // test builds its own convex-test instance and no file mocks modules or stubs globals
    // (vi.mock, vi.stubGlobal): a file that needs that belongs in a project with isolate on.
    isolate: false,
  },
});
