/**
 * An embedded, in-process Convex: the project's own functions run on
 * convex-test's runtime, outside vitest, for the offline rehearsal and the
 * benchmarks.
 *
 * @example
 * const t = createEmbeddedConvex();
 * await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
 */
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { convexTest } from "convex-test";
import type { DefaultFunctionArgs, FunctionVisibility, RegisteredMutation, RegisteredQuery } from "convex/server";
import type { TransactionMetrics } from "convex-test/dist/transactionMetrics.js";
import schema from "../../convex/schema.js";
import { HALF_TRANSACTION_LIMITS } from "../../convex/lib/limits.js";
import { IndexedDatabaseFake } from "./indexedDatabase.js";

const convexDir = join(import.meta.dirname, "..", "..", "convex");

function listModules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listModules(path);
    return /\.(ts|js)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Loaded modules by path: convex-test asks for a function's module on every call, and each import() goes through the loader hooks. */
const loadedModules = new Map<string, Promise<unknown>>();

/** The modules map convex-test wants, built from the files under convex/ (vite's import.meta.glob is not here). */
export function convexModules(): Record<string, () => Promise<unknown>> {
  return Object.fromEntries(
    listModules(convexDir).map((path) => [
      `./convex/${relative(convexDir, path).replaceAll("\\", "/")}`,
      () => {
        let loaded = loadedModules.get(path);
        if (loaded === undefined) loadedModules.set(path, (loaded = import(pathToFileURL(path).href)));
        return loaded;
      },
    ]),
  );
}

/**
 * A fresh embedded Convex with the schema and every function, limits enforced
 * (half of Convex's by default), whose index ranges cost what Convex's do
 * (IndexedDatabaseFake; `indexed: false` for convex-test's own scan).
 */
export function createEmbeddedConvex(limits: Partial<TransactionMetrics> | boolean = HALF_TRANSACTION_LIMITS, { indexed = true } = {}) {
  const created: IndexedDatabaseFake[] = [];
  /** The deployment's own database (components get convex-test's): what the CLI's export and import read and write. */
  class DeploymentDatabase extends IndexedDatabaseFake {
    constructor(...args: ConstructorParameters<typeof IndexedDatabaseFake>) {
      super(...args);
      created.push(this);
    }
  }
  const database = () => {
    const root = created[0]; // the root component's, created first
    if (root === undefined) throw new Error("export and import need the indexed database");
    return root;
  };
  const t = convexTest({
    schema,
    modules: convexModules(),
    transactionLimits: limits,
    ...(indexed ? { DatabaseFake: DeploymentDatabase } : {}),
  });
  return Object.assign(t, {
    /** `npx convex export`: every app table's documents. */
    exportTables: () => database().exportTables(),
    /** `npx convex import --replace-all`: see IndexedDatabaseFake.importReplaceAll. */
    importReplaceAll: (tables: Parameters<IndexedDatabaseFake["importReplaceAll"]>[0]) => database().importReplaceAll(tables),
  });
}
export type EmbeddedConvex = ReturnType<typeof createEmbeddedConvex>;

/** The shape every benchmark section returns; `npm run bench` prints and saves them together. */
export type BenchRow = Record<string, string | number>;
/** `failures`: what a section checks and found wrong; any makes `npm run bench` exit 1 (the figures are still printed). */
export type BenchSection = { title: string; rows: BenchRow[]; notes?: string[]; failures?: string[] };

/** Documents and bytes one call read and wrote, and its index ranges, from ctx.meta.getTransactionMetrics(). */
export type CallCost = {
  documentsRead: number;
  bytesRead: number;
  documentsWritten: number;
  bytesWritten: number;
  databaseQueries: number;
};

/** A registered query or mutation, public or internal. */
type RegisteredFunction<Args extends DefaultFunctionArgs, Returns> =
  RegisteredQuery<FunctionVisibility, Args, Returns> | RegisteredMutation<FunctionVisibility, Args, Returns>;

/**
 * The CPU time (user + system, process.cpuUsage(): this process, its JavaScript and the embedded runtime's
 * work alike, garbage collection included) and the wall time `body` took, in milliseconds.
 */
export async function cpuOf<Result>(body: () => Promise<Result>): Promise<{ result: Result; cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const result = await body();
  const used = process.cpuUsage(cpu);
  return { result, cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
}

/** Runs `body` in one transaction and returns its result with what the transaction cost. */
export async function measureRun<Result>(
  t: Pick<EmbeddedConvex, "run">,
  body: (ctx: Parameters<Parameters<EmbeddedConvex["run"]>[0]>[0]) => Promise<Result>,
): Promise<{ result: Result; cost: CallCost }> {
  return t.run(async (ctx) => {
    const result = await body(ctx);
    const m = await ctx.meta.getTransactionMetrics();
    return {
      result,
      cost: {
        documentsRead: m.documentsRead.used,
        bytesRead: m.bytesRead.used,
        documentsWritten: m.documentsWritten.used,
        bytesWritten: m.bytesWritten.used,
        databaseQueries: m.databaseQueries.used,
      },
    };
  });
}

/**
 * Runs a registered query or mutation's handler in one transaction (as `t`'s
 * identity) and returns its result with what it cost. Arguments are not
 * validated: pass valid ones. The result is typed only if `Returns` is given
 * (registered functions carry no return type).
 */
export async function measureCall<Args extends DefaultFunctionArgs, Returns>(
  t: Pick<EmbeddedConvex, "run">,
  fn: RegisteredFunction<Args, Returns>,
  args: NoInfer<Args>,
): Promise<{ result: Awaited<Returns>; cost: CallCost }> {
  // Convex sets `_handler` on every registered function; its public types do not declare it.
  const { _handler } = fn as unknown as { _handler: (ctx: unknown, args: Args) => Promise<Awaited<Returns>> };
  return measureRun(t, (ctx) => _handler(ctx, args));
}
