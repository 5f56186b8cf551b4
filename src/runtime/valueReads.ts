/**
 * Document reads handed over as values, in the processes that run the embedded runtime (tests,
 * rehearsal, benchmarks) and nowhere else: importing this module registers a Node.js module hook
 * that rewrites three read syscalls of the `convex` package as it is loaded, so a function's
 * `db.get`, query and page reads take convex-test's `Convex.asyncSyscallValue` (a copy of the stored
 * document, patches/convex-test+*.patch) instead of JSON text that `JSON.parse` + `jsonToConvex`
 * decode again. The files on disk and every deployed bundle keep stock `convex`
 * (scripts/check-bundle.ts). Where the runtime defines no `asyncSyscallValue` the rewritten code
 * falls back to the stock path. What a function sees is the same either way:
 * tests/indexedDatabase.property.test.ts holds the copy to the JSON path's result. docs/runtime.md
 * says what this is worth.
 *
 * @example
 * tsx --import ./src/runtime/valueReads.ts src/cli/main.ts rehearse   // before convex is loaded
 */
import { register } from "node:module";

/** The stock call and what replaces it; each must occur exactly once in its file, or loading fails (a convex upgrade moved it). */
type Rewrite = { file: string; edits: [from: string, to: string][] };

/** Appended to syscall.js: `jsonToConvex(await performAsyncSyscall(op, arg))`, answered by the runtime as a value when it can. */
const VALUE_SYSCALL = `
export async function performAsyncSyscallValue(op, arg) {
  if (typeof Convex === "undefined" || Convex.asyncSyscallValue === void 0) {
    return jsonToConvex(await performAsyncSyscall(op, arg));
  }
  try {
    return await Convex.asyncSyscallValue(op, JSON.stringify(arg));
  } catch (e) {
    if (e.data !== void 0) {
      const rethrown = new ConvexError(e.message);
      rethrown.data = jsonToConvex(e.data);
      throw rethrown;
    }
    throw new Error(e.message);
  }
}
globalThis[Symbol.for("exam-events.valueReads")] = true;
`;
const IMPORT_VALUE_SYSCALL = `\nimport { performAsyncSyscallValue } from "./syscall.js";\n`;

const REWRITES: Rewrite[] = [
  {
    file: "/node_modules/convex/dist/esm/server/impl/syscall.js",
    edits: [["//# sourceMappingURL=syscall.js.map", `${VALUE_SYSCALL}//# sourceMappingURL=syscall.js.map`]],
  },
  {
    file: "/node_modules/convex/dist/esm/server/impl/database_impl.js",
    edits: [
      [
        `const syscallJSON = await performAsyncSyscall("1.0/get", args);\n  return jsonToConvex(syscallJSON);`,
        `return await performAsyncSyscallValue("1.0/get", args);`,
      ],
      ["//# sourceMappingURL=database_impl.js.map", `${IMPORT_VALUE_SYSCALL}//# sourceMappingURL=database_impl.js.map`],
    ],
  },
  {
    file: "/node_modules/convex/dist/esm/server/impl/query_impl.js",
    edits: [
      [`await performAsyncSyscall("1.0/queryStreamNext", {`, `await performAsyncSyscallValue("1.0/queryStreamNext", {`],
      [`const convexValue = jsonToConvex(value);`, `const convexValue = value;`],
      [`await performAsyncSyscall("1.0/queryPage", {`, `await performAsyncSyscallValue("1.0/queryPage", {`],
      [`page: page.map((json) => jsonToConvex(json)),`, `page,`],
      ["//# sourceMappingURL=query_impl.js.map", `${IMPORT_VALUE_SYSCALL}//# sourceMappingURL=query_impl.js.map`],
    ],
  },
];

/** The hook, run on Node.js's loader thread (plain JavaScript: no TypeScript loader there). */
const HOOKS = `
let rewrites = [];
export function initialize(data) { rewrites = data.rewrites; }
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  const rewrite = rewrites.find((r) => url.endsWith(r.file));
  if (rewrite === undefined) return result;
  let source = typeof result.source === "string" ? result.source : new TextDecoder().decode(result.source);
  for (const [from, to] of rewrite.edits) {
    if (source.split(from).length !== 2) throw new Error("src/runtime/valueReads.ts: " + url + " no longer holds " + JSON.stringify(from) + " once");
    source = source.replace(from, () => to);
  }
  return { ...result, source };
}
`;

/** True once convex's syscall.js was loaded rewritten in this thread. */
export function valueReadsActive(): boolean {
  return (globalThis as Record<symbol, unknown>)[Symbol.for("exam-events.valueReads")] === true;
}

const REGISTERED = Symbol.for("exam-events.valueReads.registered");
const flags = globalThis as Record<symbol, unknown>;
if (flags[REGISTERED] !== true) {
  flags[REGISTERED] = true;
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { rewrites: REWRITES } });
}
