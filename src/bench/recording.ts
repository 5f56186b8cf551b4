/**
 * Which documents a function touches: its handler runs in one transaction with a
 * `ctx.db` that records every table it reads and every document it writes (ids),
 * beside Convex's own figures from ctx.meta.getTransactionMetrics(). Used by the
 * legacy-mirror benchmark (shared documents between students) and its tests.
 *
 * @example
 * const { touched, cost } = await recordCall(as, e.startPauseV2, { examId });
 * touched.tablesRead.has("exams"); // did it read an exam document?
 * touched.written;                 // ids it inserted, patched, replaced or deleted
 */
import type { DefaultFunctionArgs, FunctionVisibility, RegisteredMutation } from "convex/server";
import type { EmbeddedConvex, CallCost } from "../runtime/embedded";

export type Touched = {
  tablesRead: Set<string>;
  /** `table:id` of every document written (inserted ones too). */
  written: Set<string>;
  writtenTables: Set<string>;
};

type Db = Record<string, (...args: unknown[]) => unknown>;

/** A `ctx.db` that records what goes through it (table-first calls, as this codebase makes them). */
function recordingDb(db: Db, touched: Touched): Db {
  const wrote = (table: string, id: unknown) => {
    touched.written.add(`${table}:${String(id)}`);
    touched.writtenTables.add(table);
  };
  return new Proxy(db, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      const fn = value as (...args: unknown[]) => unknown;
      switch (prop) {
        case "get":
        case "query":
          return (...args: unknown[]) => {
            touched.tablesRead.add(String(args[0]));
            return fn.apply(target, args);
          };
        case "insert":
          return async (...args: unknown[]) => {
            const id = await fn.apply(target, args);
            wrote(String(args[0]), id);
            return id;
          };
        case "patch":
        case "replace":
        case "delete":
          return (...args: unknown[]) => {
            wrote(String(args[0]), args[1]);
            return fn.apply(target, args);
          };
        default:
          return fn.bind(target);
      }
    },
  });
}

/**
 * Runs a registered mutation's handler in one transaction (as `t`'s identity) with a recording
 * `ctx.db`, and returns its result, what it touched and what it cost. Arguments are not validated.
 */
export async function recordCall<Args extends DefaultFunctionArgs>(
  t: Pick<EmbeddedConvex, "run">,
  fn: RegisteredMutation<FunctionVisibility, Args, unknown>,
  args: NoInfer<Args>,
): Promise<{ result: unknown; touched: Touched; cost: CallCost }> {
  const { _handler } = fn as unknown as { _handler: (ctx: unknown, args: Args) => Promise<unknown> };
  return t
    .run(async (ctx) => {
      const touched: Touched = { tablesRead: new Set(), written: new Set(), writtenTables: new Set() };
      const recording = { ...ctx, db: recordingDb(ctx.db as unknown as Db, touched) };
      const result = await _handler(recording, args);
      const m = await ctx.meta.getTransactionMetrics();
      const cost = {
        documentsRead: m.documentsRead.used,
        bytesRead: m.bytesRead.used,
        documentsWritten: m.documentsWritten.used,
        bytesWritten: m.bytesWritten.used,
        databaseQueries: m.databaseQueries.used,
      };
      return {
        result,
        tablesRead: [...touched.tablesRead],
        written: [...touched.written],
        writtenTables: [...touched.writtenTables],
        cost,
      };
    })
    .then(({ result, cost, ...sets }) => ({
      result,
      cost,
      touched: { tablesRead: new Set(sets.tablesRead), written: new Set(sets.written), writtenTables: new Set(sets.writtenTables) },
    }));
}
