#!/usr/bin/env node
// Runs the TypeScript CLI (src/cli/main.ts) with tsx, passing the arguments and exit code through.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
// The embedded runtime's value reads (docs/runtime.md), registered before convex is loaded.
const valueReads = new URL("../src/runtime/valueReads.ts", import.meta.url).href;
// tsx resolved from this package, so the launcher works from any working directory.
const tsx = import.meta.resolve("tsx");
const { status, signal } = spawnSync(process.execPath, ["--import", tsx, "--import", valueReads, main, ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exit(status ?? (signal ? 1 : 0));
