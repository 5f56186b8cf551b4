/* global process, console */
// A fake `npx convex run <function> <args> [options]` for tests/runToEnd.test.ts: prints the output
// recorded for that function and those args (compared as values) in FAKE_CONVEX_PAGES, a JSON list of
// { fn, args, output } or { fn, args, error } (printed to stderr, exit 1, as the CLI does for a failed
// call); appends every call to FAKE_CONVEX_LOG as a JSON line.
import { appendFileSync, readFileSync } from "node:fs";

const [fn, argsText = "{}", ...options] = process.argv.slice(2);
const args = JSON.parse(argsText);
appendFileSync(process.env.FAKE_CONVEX_LOG, `${JSON.stringify({ fn, args, options })}\n`);
const sorted = (value) =>
  JSON.stringify(value, (_key, v) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
const call = JSON.parse(readFileSync(process.env.FAKE_CONVEX_PAGES, "utf8")).find((c) => c.fn === fn && sorted(c.args) === sorted(args));
if (call === undefined) {
  console.error(`fake convex run: nothing recorded for ${fn} ${argsText}`);
  process.exit(1);
}
if (call.error !== undefined) {
  console.error(`Failed to run function "${fn}":\n${call.error}`);
  process.exit(1);
}
console.log(call.output);
