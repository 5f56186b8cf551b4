/**
 * Checks that every import under convex/ points down (README "Architecture"):
 *
 *   0  convex/lib/, convex/events/,  pure rules, validators, limits, the log, and the data model
 *      convex/schema.ts               (validators are read from its tables): import only each other
 *   1  convex/projections/           rows from the log: import layer 0 and each other
 *   2  convex/<feature>/             attempts/, reads/, migration/, auditTrail/, headers/: layers 0–2
 *   3  Convex function files         convex/*.ts: import anything; nothing imports them
 *
 * A function file inside a layer's folder (projections/rebuild.ts, an API path) keeps its folder's
 * layer, and may import the mutation builders (headers/functions.ts) besides; nothing imports it either.
 * convex/_generated/ is no layer (anything may import it): a module may name a function through
 * `internal.*` to schedule it (the mirror job schedules its own next run), which is a call by
 * reference at run time, not an import. Exits 1 and lists each upward import.
 *
 * @example
 * npx tsx scripts/check-layers.ts            # this tree
 * npx tsx scripts/check-layers.ts /tmp/old   # another checkout's convex/
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const root = path.resolve(process.argv[2] ?? ".");
const convexDir = path.join(root, "convex");

const LAYER_NAMES = ["lib/events", "projections", "feature", "function file"] as const;

/** A module registers Convex functions when it exports a builder call (query, internalMutation, …). */
const REGISTERS_FUNCTIONS =
  /export\s+const\s+\w+\s*=\s*(?:internal)?(?:query|mutation|action|Query|Mutation|Action)\s*\(|export\s+default\s+crons/;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === "_generated" || name === "node_modules" ? [] : tsFiles(full);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [full] : [];
  });
}

/** Every mutation is built with these (they keep the exam headers current): any function file may import them. */
const MUTATION_BUILDERS = "headers/functions";

/** The layer of a module under convex/ (its path relative to convex/, without extension), or null for _generated. */
function layerOf(rel: string): number | null {
  const [top] = rel.split("/");
  if (top === "_generated") return null;
  if (rel === "schema") return 0; // the data model: tables' validators are the one definition of their fields
  if (!rel.includes("/")) return 3;
  if (top === "lib" || top === "events") return 0;
  if (top === "projections") return 1;
  return 2;
}

const files = tsFiles(convexDir);
const sources = new Map(files.map((f) => [f, readFileSync(f, "utf8")]));
const violations: string[] = [];
for (const [file, source] of sources) {
  const rel = path.relative(convexDir, file).replace(/\\/g, "/").replace(/\.ts$/, "");
  const layer = layerOf(rel);
  if (layer === null) continue;
  const functionFile = REGISTERS_FUNCTIONS.test(source);
  for (const { fileName: spec } of ts.preProcessFile(source, true, true).importedFiles) {
    if (!spec.startsWith(".")) continue;
    const target = path.resolve(path.dirname(file), spec).replace(/\.(js|ts)$/, "");
    const targetRel = path.relative(convexDir, target).replace(/\\/g, "/");
    if (targetRel.startsWith("..")) {
      violations.push(`${rel} imports ${spec}: outside convex/`);
      continue;
    }
    const targetLayer = layerOf(targetRel);
    if (targetLayer === null || (functionFile && targetRel === MUTATION_BUILDERS)) continue;
    // Function files are the top: importing one (even from another) would make a Convex module a library.
    const targetIsFunctionFile = targetLayer === 3 || REGISTERS_FUNCTIONS.test(sources.get(`${target}.ts`) ?? "");
    if (targetLayer > layer || targetIsFunctionFile) {
      const what = targetIsFunctionFile ? "function file" : LAYER_NAMES[targetLayer];
      violations.push(`${rel} (${LAYER_NAMES[layer]}) imports ${targetRel} (${what})`);
    }
  }
}

if (violations.length > 0) {
  console.error(`${violations.length} import(s) from a higher layer:\n  ${violations.join("\n  ")}`);
  process.exit(1);
}
console.log(`Layers: ${files.length} modules under convex/, every import points down.`);
