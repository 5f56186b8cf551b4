/**
 * What the migration costs, measured in one exam's embedded instance: document
 * bytes by table (`getConvexSize` of each document, indexes not counted) at a
 * point of the run, and what the scheduled header check read in its pass.
 * The report sums the instances (report.ts `storageCosts`): tables of one exam's
 * data add up; `users` and `questions`, which several exams' instances hold, are
 * kept per document by the input's key and counted once; the deployment's own
 * bookkeeping (`SINGLE_TABLES`) counts one instance's worth.
 *
 * @example
 * outcome.storage.before = await measureStorage(t, ids);
 */
import { getConvexSize, type Value } from "convex/values";
import type { Id, TableNames } from "../../convex/_generated/dataModel.js";
import type { MutationCtx } from "../../convex/_generated/server.js";
import * as exams from "../../convex/exams.js";
import { errorCode } from "../../convex/lib/errors.js";
import { getExamHeader } from "../../convex/lib/examHeaders.js";
import { drainExamMirror } from "../../convex/projections/mirrorJob.js";
import { foldCounterSummary } from "../../convex/projections/counters.js";
import schema from "../../convex/schema.js";
import { CONVEX_LIMITS } from "../../convex/lib/limits.js";
import type { EmbeddedConvex } from "../runtime/embedded.js";
import type { IdTranslator } from "./ids.js";

/** Tables several instances hold copies of: counted once per document, by the input's id. */
export const SHARED_TABLES = ["users", "questions"] as const satisfies readonly TableNames[];
/** The deployment's own few documents (pass progress, switches): every instance has its own, production one set. */
export const SINGLE_TABLES = ["migrationProgress", "examApiSettings"] as const satisfies readonly TableNames[];
/** The tables V1 had (the migration's "before" is their bytes). */
export const V1_TABLES = ["users", "questions", "exams"] as const satisfies readonly TableNames[];

export type TableSize = { documents: number; bytes: number };
export type StorageSnapshot = {
  tables: Partial<Record<TableNames, TableSize>>;
  /** Bytes of each document of SHARED_TABLES, by the input's id (the report counts each once). */
  shared: Partial<Record<(typeof SHARED_TABLES)[number], Record<string, number>>>;
};
export const STORAGE_POINTS = ["before", "afterMigration", "afterCleanup"] as const;
export type StoragePoint = (typeof STORAGE_POINTS)[number];

/** Documents a page reads: within the embedded runtime's limits whatever their size (each at most 1 MiB). */
const PAGE = { numItems: 512, maximumBytesRead: 4 * CONVEX_LIMITS.documentBytes };

/** Every table's documents and bytes in the instance now (read in pages, outside any phase's figures). */
export async function measureStorage(t: EmbeddedConvex, ids: IdTranslator): Promise<StorageSnapshot> {
  const out: StorageSnapshot = { tables: {}, shared: {} };
  for (const table of Object.keys(schema.tables) as TableNames[]) {
    const size: TableSize = { documents: 0, bytes: 0 };
    const shared: Record<string, number> | null = (SHARED_TABLES as readonly string[]).includes(table) ? {} : null;
    let cursor: string | null = null;
    for (let done = false; !done;) {
      const page = await t.run((ctx) => ctx.db.query(table).paginate({ ...PAGE, cursor }));
      for (const doc of page.page) {
        const bytes = getConvexSize(doc as unknown as Value);
        size.documents++;
        size.bytes += bytes;
        if (shared !== null) shared[ids.key(doc._id)] = bytes;
      }
      done = page.isDone;
      cursor = page.continueCursor;
    }
    if (size.documents > 0) out.tables[table] = size;
    if (shared !== null) out.shared[table as (typeof SHARED_TABLES)[number]] = shared;
  }
  return out;
}

/** What one call or job run read and wrote (from ctx.meta.getTransactionMetrics(), the same figures the limits count). */
export type RunCost = { bytesRead: number; documentsRead: number; bytesWritten: number; documentsWritten: number };
/** A write function's cost on each side, or the error code it gave (a pause where the exam allows none). */
export type WriteCost = { name: (typeof WRITES)[number]; v1: RunCost | { error: string }; v2: RunCost | { error: string } };
export type JobRuns = {
  writes: WriteCost[];
  /**
   * The exam's mirror job: its first run after the migration (it passes every imported event once), then a run
   * after a student's start and submit; and the counts' fold after them (null: it did not run).
   */
  firstMirror: (RunCost & { eventsRead: number }) | null;
  mirror: (RunCost & { eventsRead: number; entriesWritten: number }) | null;
  fold: RunCost | null;
};

/** The V1 write functions; each V2 twin is the same name plus `V2`. Each is measured after the steps before it. */
export const WRITES = ["startExam", "startPause", "resumeFromPause", "submitExamAnswers"] as const;
const STEPS: Record<(typeof WRITES)[number], (typeof WRITES)[number][]> = {
  startExam: ["startExam"],
  startPause: ["startExam", "startPause"],
  resumeFromPause: ["startExam", "startPause", "resumeFromPause"],
  submitExamAnswers: ["startExam", "submitExamAnswers"],
};

type Metrics = Awaited<ReturnType<MutationCtx["meta"]["getTransactionMetrics"]>>;
const costBetween = (a: Metrics, b: Metrics): RunCost => ({
  bytesRead: b.bytesRead.used - a.bytesRead.used,
  documentsRead: b.documentsRead.used - a.documentsRead.used,
  bytesWritten: b.bytesWritten.used - a.bytesWritten.used,
  documentsWritten: b.documentsWritten.used - a.documentsWritten.used,
});

/** Carries a transaction's figures out of it while throwing it away. */
class Rollback extends Error {
  constructor(readonly value: unknown) {
    super("rolled back on purpose");
  }
}

/**
 * What the 4 write functions of each side cost on this exam as it stands, and what the scheduled jobs a
 * student's action starts read per run: each in a transaction of its own that is then thrown away, so the
 * rehearsed data is left as it was. A new student (a user the exam has never seen) runs the steps before the
 * measured one in the same transaction; each function runs its registered handler as Convex would
 * (arguments not validated: they are valid). The mirror run and the fold run after a V2 start and submit,
 * with everything those wrote: what the scheduled runs would read once the events settled.
 */
export async function measureJobRuns(t: EmbeddedConvex, examId: Id<"exams">): Promise<JobRuns> {
  const as = t.withIdentity({ tokenIdentifier: "rehearsal|new-student", subject: "new-student", name: "New Student" });
  const throwAway = async <T>(body: (ctx: MutationCtx) => Promise<T>): Promise<T> => {
    try {
      await as.run(async (ctx) => {
        throw new Rollback(await body(ctx as unknown as MutationCtx));
      });
    } catch (e) {
      if (e instanceof Rollback) return e.value as T;
      throw e;
    }
    throw new Error("unreachable");
  };
  const handlerOf = (name: string) =>
    (exams as unknown as Record<string, { _handler: (ctx: MutationCtx, args: object) => Promise<unknown> }>)[name]!._handler;
  const prepare = async (ctx: MutationCtx) => {
    await ctx.db.insert("users", { name: "New Student", tokenIdentifier: "rehearsal|new-student", role: "student" });
    const exam = await ctx.db.get("exams", examId);
    const answers = (exam?.questionIds ?? []).map((questionId) => ({ questionId, selectedAnswer: "A" }));
    return (name: string) => handlerOf(name)(ctx, name.startsWith("submitExamAnswers") ? { examId, answers } : { examId });
  };
  const writes: WriteCost[] = [];
  for (const name of WRITES) {
    const side = (suffix: "" | "V2") =>
      throwAway(async (ctx) => {
        const call = await prepare(ctx);
        const steps = STEPS[name];
        try {
          for (const step of steps.slice(0, -1)) await call(step + suffix);
          const before = await ctx.meta.getTransactionMetrics();
          await call(name + suffix);
          return costBetween(before, await ctx.meta.getTransactionMetrics());
        } catch (e) {
          const code = errorCode(e);
          if (code === undefined) throw e;
          return { error: code };
        }
      });
    writes.push({ name, v1: await side(""), v2: await side("V2") });
  }
  const jobs = await throwAway(async (ctx) => {
    const call = await prepare(ctx);
    const m0 = await ctx.meta.getTransactionMetrics();
    const first = await drainExamMirror(ctx, examId, await getExamHeader(ctx, examId));
    const m1 = await ctx.meta.getTransactionMetrics();
    const firstMirror = first.outcome === "mirrored" ? { ...costBetween(m0, m1), eventsRead: first.eventsRead } : null;
    try {
      await call("startExamV2");
      await call("submitExamAnswersV2");
    } catch (e) {
      if (errorCode(e) === undefined) throw e;
      return { firstMirror, mirror: null, fold: null };
    }
    const m2 = await ctx.meta.getTransactionMetrics();
    const run = await drainExamMirror(ctx, examId, await getExamHeader(ctx, examId));
    const m3 = await ctx.meta.getTransactionMetrics();
    await foldCounterSummary(ctx, examId, { after: Date.now() }); // as the start's and submit's shard writes scheduled it
    const m4 = await ctx.meta.getTransactionMetrics();
    return {
      firstMirror,
      mirror:
        run.outcome === "mirrored" ? { ...costBetween(m2, m3), eventsRead: run.eventsRead, entriesWritten: run.entriesWritten } : null,
      fold: costBetween(m3, m4),
    };
  });
  return { writes, ...jobs };
}
