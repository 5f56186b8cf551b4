/**
 * Bundles every function file of convex/ as `npx convex deploy` does and fails if the bundle holds
 * anything of the test runtime (docs/runtime.md): convex-test, a module under src/, or the names of
 * the embedded database and of its read path; nor anything of the example client (examples/, React).
 * Deploy bundles the functions with all their dependencies, so a patched `convex` package or an
 * import of src/runtime would ship to production.
 *
 * The entry points and esbuild options are the CLI's own (node_modules/convex/dist/cjs/bundler:
 * `entryPoints` in index.js, `innerEsbuild` in debugBundle.js), run with the esbuild the CLI uses;
 * only source maps are left out (they do not change the code).
 *
 * @example
 * npx tsx scripts/check-bundle.ts            # this tree
 * npx tsx scripts/check-bundle.ts /tmp/old   # another checkout (with its node_modules)
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type * as Esbuild from "esbuild";

const root = path.resolve(process.argv[2] ?? ".");
const convexDir = path.join(root, "convex");
const esbuild = createRequire(path.join(root, "node_modules", "convex", "package.json"))("esbuild") as typeof Esbuild;

/** What a production bundle must not hold. */
const FORBIDDEN_NAMES = ["asyncSyscallValue", "performAsyncSyscallValue", "DatabaseFake", "IndexedDatabase"];
const FORBIDDEN_INPUTS = [/^src\//, /^examples\//, /(^|\/)node_modules\/(convex-test|react)\//, /(^|\/)convex\/dist\/[^/]+\/react\//];

/** The CLI's entry points: every JS/TS file but _generated/, schema, dotfiles, names with two dots or a space, components. */
function entryPoints(dir: string): string[] {
  if (dir !== convexDir && existsSync(path.join(dir, "convex.config.ts"))) return [];
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      const rel = path.relative(convexDir, full);
      if (entry.isDirectory()) return rel === "_generated" ? [] : entryPoints(full);
      const base = entry.name;
      if (!/\.(m|c)?(j|t)sx?$/.test(base) || base.endsWith(".d.ts")) return [];
      if (base.startsWith(".") || base.startsWith("#") || /^schema\.(t|j)s$/.test(base)) return [];
      if ((base.match(/\./g) ?? []).length > 1 || rel.includes(" ")) return [];
      if (/\.tsx?$/.test(base) && !/^\s{0,100}(import|export)/m.test(readFileSync(full, "utf8"))) return [];
      return [full];
    });
}

/** The CLI's stubs: `node:async_hooks` from the isolate's globals (browser platform), `server-only` empty. */
const stubs = (platform: "browser" | "node"): Esbuild.Plugin => ({
  name: "convex-stubs",
  setup(build) {
    if (platform === "browser") {
      build.onResolve({ filter: /^(node:)?async_hooks$/ }, (args) => ({ path: args.path, namespace: "async-hooks-shim" }));
      build.onLoad({ filter: /.*/, namespace: "async-hooks-shim" }, () => ({
        contents: "export const AsyncLocalStorage = globalThis.AsyncLocalStorage; export default { AsyncLocalStorage };",
        loader: "js",
      }));
    }
    build.onResolve({ filter: /^server-only$/ }, (args) => ({ path: args.path, namespace: "server-only-stub" }));
    build.onLoad({ filter: /.*/, namespace: "server-only-stub" }, () => ({ contents: "", loader: "js" }));
  },
});

/** `npx convex deploy`'s esbuild call (innerEsbuild), without source maps. */
async function bundle(files: string[], platform: "browser" | "node") {
  return esbuild.build({
    plugins: [stubs(platform)],
    absWorkingDir: root,
    entryPoints: files,
    bundle: true,
    platform,
    format: "esm",
    target: "esnext",
    jsx: "automatic",
    outdir: "out",
    outbase: convexDir,
    conditions: ["convex", "module"],
    write: false,
    splitting: true,
    chunkNames: "_deps/[hash]",
    treeShaking: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    minifyWhitespace: false,
    keepNames: true,
    define: { "process.env.NODE_ENV": '"production"' },
    metafile: true,
    logLevel: "error",
  });
}

const files = entryPoints(convexDir);
const isNode = (file: string) => /^\s*("|')use node("|');?\s*$/m.test(readFileSync(file, "utf8"));
const problems: string[] = [];
let bytes = 0;
for (const platform of ["browser", "node"] as const) {
  const group = files.filter((f) => isNode(f) === (platform === "node"));
  if (group.length === 0) continue;
  const result = await bundle(group, platform);
  for (const input of Object.keys(result.metafile.inputs)) {
    if (FORBIDDEN_INPUTS.some((p) => p.test(input))) problems.push(`bundles ${input}`);
  }
  for (const out of result.outputFiles) {
    bytes += out.contents.length;
    for (const name of FORBIDDEN_NAMES) {
      if (out.text.includes(name)) problems.push(`${path.relative(root, out.path)} contains \`${name}\``);
    }
  }
}
if (problems.length > 0) {
  console.error(`The production bundle holds the test runtime (docs/runtime.md):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(
  `Production bundle clean: ${files.length} function files, ${bytes} bytes, none of ${FORBIDDEN_NAMES.join(", ")}, src/, examples/, React or convex-test.`,
);
