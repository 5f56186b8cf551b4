/**
 * Fails when `convex/_generated` is not what codegen makes from the current
 * functions (someone added a function and forgot `npm run codegen`).
 * Leaves the committed files as they were.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = join(import.meta.dirname, "..", "convex", "_generated");
const snapshot = () => new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]));

const before = snapshot();
execFileSync("npx", ["convex", "codegen", "--system-udfs", "--typecheck", "disable"], { stdio: "pipe" });
const after = snapshot();
const stale = [...new Set([...before.keys(), ...after.keys()])].filter((f) => before.get(f) !== after.get(f));
for (const [f, text] of before) writeFileSync(join(dir, f), text);
if (stale.length > 0) {
  console.error(`convex/_generated is out of date (${stale.join(", ")}): run \`npm run codegen\` and commit.`);
  process.exit(1);
}
console.log("convex/_generated is current.");
