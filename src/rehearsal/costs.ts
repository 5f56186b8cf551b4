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
import { DatabaseFake } from "convex-test";
import type { Id, TableNames } from "../../convex/_generated/dataModel.js";
import type { MutationCtx } from "../../convex/_generated/server.js";
import * as exams from "../../convex/exams.js";
import { errorCode } from "../../convex/lib/errors.js";
import { getExamHeader } from "../../convex/lib/examHeaders.js";
import { drainExamMirror } from "../../convex/projections/mirrorJob.js";
import { foldCounterSummary } from "../../convex/projections/counters.js";
import schema from "../../convex/schema.js";
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

/** The committed documents of convex-test's database, as src/runtime/indexedDatabase.ts reads them too. */
type CommittedDocuments = { _documents: Record<string, Record<string, unknown>>; _tableIds: Map<string, Set<string>> };

let lastDatabase: CommittedDocuments | null = null;
let hooked = false;

/** The database of `t`: each transaction starts on it (convex-test's TransactionManager.begin), and records it here. */
async function databaseOf(t: EmbeddedConvex): Promise<CommittedDocuments> {
  if (!hooked) {
    hooked = true;
    const proto = DatabaseFake.prototype as unknown as { startTransaction: (this: CommittedDocuments) => void };
    const original = proto.startTransaction;
    const seen = (db: CommittedDocuments) => (lastDatabase = db);
    proto.startTransaction = function (this: CommittedDocuments) {
      seen(this);
      return original.call(this);
    };
  }
  lastDatabase = null;
  await t.run(async () => {});
  if (lastDatabase === null) throw new Error("the embedded database could not be found (convex-test changed?)");
  return lastDatabase;
}

/**
 * Every table's documents and bytes in the instance now: the committed documents read where convex-test keeps
 * them, outside any transaction (no limit to respect, nothing in any phase's figures; reading them by queries
 * took about 50 ms per guide exam, this about 6). tests/html.test.ts checks the sums against documents read by queries.
 */
export async function measureStorage(t: EmbeddedConvex, ids: IdTranslator): Promise<StorageSnapshot> {
  const db = await databaseOf(t);
  const out: StorageSnapshot = { tables: {}, shared: {} };
  for (const table of Object.keys(schema.tables) as TableNames[]) {
    const size: TableSize = { documents: 0, bytes: 0 };
    const shared: Record<string, number> | null = (SHARED_TABLES as readonly string[]).includes(table) ? {} : null;
    for (const id of db._tableIds.get(table) ?? []) {
      const bytes = getConvexSize(db._documents[id] as Value);
      size.documents++;
      size.bytes += bytes;
      if (shared !== null) shared[ids.key(id)] = bytes;
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
   * after a new student's start, pause, resume and submit; and the counts' fold after them (null: it did not run).
   */
  firstMirror: (RunCost & { eventsRead: number }) | null;
  mirror: (RunCost & { eventsRead: number; entriesWritten: number }) | null;
  fold: RunCost | null;
};

/**
 * The write functions and the jobs are measured on the first exams only (by input order: in an export, a random
 * sample, docs/rehearsal.md): on every exam they would add about a tenth to the guide rehearsal's time.
 */
export const JOB_SAMPLE_EXAMS = 3;

/** The V1 write functions, in the order a new student calls them; each V2 twin is the same name plus `V2`. */
export const WRITES = ["startExam", "startPause", "resumeFromPause", "submitExamAnswers"] as const;

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
 * What the 4 write functions of each side cost on this exam as it stands, and what the jobs a student's
 * action starts read per run, in one transaction that is then thrown away: the rehearsed data is left as it
 * was. The mirror runs first (its first run after the migration); a new student (a user the exam has never
 * seen) starts, pauses, resumes and submits every question through the V1 functions, and a second one
 * through the V2 functions; the mirror runs again (what the scheduled run reads once the second student's
 * events settle) and the counts' fold the shard writes scheduled. Each function runs its registered
 * handler as Convex runs it (arguments valid, not validated); each figure is the difference of the
 * transaction's metrics around it.
 */
export async function measureJobRuns(t: EmbeddedConvex, examId: Id<"exams">): Promise<JobRuns> {
  const handlers = exams as unknown as Record<string, { _handler: (ctx: MutationCtx, args: object) => Promise<unknown> }>;
  const student = (n: number) => ({ tokenIdentifier: `rehearsal|new-student-${n}`, subject: `new-student-${n}`, name: `New Student ${n}` });
  try {
    await t.run(async (raw) => {
      const ctx = raw as unknown as MutationCtx;
      const metrics = () => ctx.meta.getTransactionMetrics();
      const answers = ((await ctx.db.get("exams", examId))?.questionIds ?? []).map((questionId) => ({ questionId, selectedAnswer: "A" }));
      /** The 4 writes of one side as a new student (the caller's identity is the handler's `ctx.auth`). */
      const writesAs = async (n: number, suffix: "" | "V2") => {
        const { tokenIdentifier, name } = student(n);
        await ctx.db.insert("users", { name, tokenIdentifier, role: "student" });
        const identity = { ...student(n), issuer: "https://convex.test" };
        const asStudent = { ...ctx, auth: { ...ctx.auth, getUserIdentity: async () => identity } } as MutationCtx;
        const out: (RunCost | { error: string })[] = [];
        for (const fn of WRITES) {
          const before = await metrics();
          try {
            await handlers[fn + suffix]!._handler(asStudent, fn === "submitExamAnswers" ? { examId, answers } : { examId });
            out.push(costBetween(before, await metrics()));
          } catch (e) {
            const code = errorCode(e);
            if (code === undefined) throw e;
            out.push({ error: code });
          }
        }
        return out;
      };
      const mirror = async () => drainExamMirror(ctx, examId, await getExamHeader(ctx, examId));
      const m0 = await metrics();
      const first = await mirror();
      const m1 = await metrics();
      const v1 = await writesAs(1, "");
      await mirror(); // folds the V1 student's entry in: the run measured below serves the V2 student alone
      const v2 = await writesAs(2, "V2");
      const m2 = await metrics();
      const run = await mirror();
      const m3 = await metrics();
      await foldCounterSummary(ctx, examId, { after: Date.now() }); // as the shard writes scheduled it
      const m4 = await metrics();
      const result: JobRuns = {
        writes: WRITES.map((name, i) => ({ name, v1: v1[i]!, v2: v2[i]! })),
        firstMirror: first.outcome === "mirrored" ? { ...costBetween(m0, m1), eventsRead: first.eventsRead } : null,
        mirror:
          run.outcome === "mirrored" && run.eventsRead > 0
            ? { ...costBetween(m2, m3), eventsRead: run.eventsRead, entriesWritten: run.entriesWritten }
            : null,
        fold: costBetween(m3, m4),
      };
      throw new Rollback(result);
    });
  } catch (e) {
    if (e instanceof Rollback) return e.value as JobRuns;
    throw e;
  }
  throw new Error("unreachable: the transaction throws");
}
