/**
 * CPU time per call of every operator loop whose work grows with the data, at
 * the largest exams Convex can hold of each kind (4,000 participants × 1
 * answer, 6,500 × 0, 65 × 200: one exam each, in its own embedded instance):
 * the migration batch, its verification page, the projection rebuild (over
 * the migrated rows and from emptied projections) and its verification page,
 * the cleanup batch, and the header check (examAdmin:repairExamHeaders, over
 * copies of the exam document). Each call's CPU time (process.cpuUsage(),
 * around the whole call in the embedded runtime) beside its wall time and the
 * bound of its work; the goal: no call above about 0.5 s of Convex's 1 s.
 *
 * @example
 * const section = await bench(); // npm run bench -- --only cpu
 */
import { internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { BATCH_BUDGET_SHARE } from "../../convex/lib/budget";
import { WORK_BOUNDS } from "../../convex/lib/limits";
import { generateV1Dataset, insertDataset } from "../dataset/generate";
import { observeTransactions } from "../rehearsal/metrics";
import { cpuOf, createEmbeddedConvex, type BenchRow, type BenchSection, type EmbeddedConvex } from "../runtime/embedded";

/** The largest exam of each kind this generator fits in Convex's 1 MiB document (docs/rehearsal.md). */
export const CPU_SHAPES = [
  { participants: 4_000, answersEach: 1 },
  { participants: 6_500, answersEach: 0 },
  { participants: 65, answersEach: 200 },
] as const;

/** What a call may use, by call: the work bound it stops at (besides Convex's limits). */
const BUDGET = `${Math.round(BATCH_BUDGET_SHARE * 100)}% of every Convex limit`;
const ENTRIES = `${WORK_BOUNDS.migrationEntriesPerCall} entries (WORK_BOUNDS.migrationEntriesPerCall)`;
const STREAMS = `${WORK_BOUNDS.streamsPerPage} attempts (WORK_BOUNDS.streamsPerPage)`;
const BOUNDS = {
  migrate: `${ENTRIES}; ${BUDGET}; 5 exams (batchSize)`,
  verify: `${BUDGET} (reads)`,
  rebuildPresent: `${STREAMS}; ${BUDGET}`,
  rebuildEmpty: `${STREAMS}; ${BUDGET}`,
  verifyProjections: `${STREAMS}; ${BUDGET}`,
  cleanup: `${ENTRIES}; ${BUDGET}; 5 exams (batchSize)`,
  headerHeal: `${WORK_BOUNDS.headerCheckExams} exams (WORK_BOUNDS.headerCheckExams); ${BUDGET}`,
  headerCheck: `${WORK_BOUNDS.headerCheckExams} exams (WORK_BOUNDS.headerCheckExams); ${BUDGET}`,
} as const;
type Kind = keyof typeof BOUNDS;
const LABELS: Record<Kind, string> = {
  migrate: "migration batch (migrateExamParticipants)",
  verify: "migration check page (verifyExamPage)",
  rebuildPresent: "rebuild over the migrated rows (rebuildProjections)",
  rebuildEmpty: "rebuild from emptied projections (rebuildProjections)",
  verifyProjections: "projection check page (verifyProjectionsPage)",
  cleanup: "cleanup batch (migrateExamParticipants, clearAfterMigration)",
  headerHeal: "header check, healing (repairExamHeaders)",
  headerCheck: "header check, nothing stale (repairExamHeaders)",
};

/** Copies of the exam document the header check walks (besides the original): more than one call reads. */
const HEADER_COPIES = 8;

/** The goal for one call's JavaScript, of Convex's 1 s. */
export const CPU_GOAL_MS = 500;

type Call = { cpuMs: number; wallMs: number; documentsRead: number; bytesRead: number; documentsWritten: number; entries: number };

/** One call, measured: CPU and wall time, and its transaction's documents (a query or mutation is one transaction). */
async function measured<T>(body: () => Promise<T>, entries: (result: T) => number): Promise<{ result: T; call: Call }> {
  const { result, cpuMs, wallMs } = await cpuOf(() => observeTransactions(body));
  const documentsRead = result.transactions.reduce((n, c) => n + c.documentsRead, 0);
  const bytesRead = result.transactions.reduce((n, c) => n + c.bytesRead, 0);
  const documentsWritten = result.transactions.reduce((n, c) => n + c.documentsWritten, 0);
  return { result: result.result, call: { cpuMs, wallMs, documentsRead, bytesRead, documentsWritten, entries: entries(result.result) } };
}

/** Every call of each loop, to its end, on one exam of `participants` × `answersEach`. */
async function measureShape(participants: number, answersEach: number): Promise<Map<Kind, Call[]>> {
  const calls = new Map<Kind, Call[]>();
  const add = (kind: Kind, call: Call) => calls.set(kind, [...(calls.get(kind) ?? []), call]);
  const t = createEmbeddedConvex();
  const dataset = generateV1Dataset({ exams: 1, participants, answers: participants * answersEach, dirty: false, seed: 42 });
  const examId = (await insertDataset(t, dataset)).exams.get(dataset.exams[0]!.key)!;
  const original = (await t.run((ctx) => ctx.db.get("exams", examId)))!;

  const migrate = async (kind: "migrate" | "cleanup") => {
    for (let done = false; !done;) {
      const { result, call } = await measured(
        () => t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5, clearAfterMigration: kind === "cleanup" }),
        (r) => r.participantsMigrated,
      );
      add(kind, call);
      done = result.isDone;
    }
  };
  await migrate("migrate");
  for (let fromIndex: number | null = 0; fromIndex !== null;) {
    const from: number = fromIndex;
    const { result, call } = await measured(
      () => t.query(internal.migrations.verifyExamPage, { examId, fromIndex: from }),
      (r) => (r.nextIndex ?? participants) - from,
    );
    add("verify", call);
    fromIndex = result.nextIndex;
  }
  const rebuild = (kind: "rebuildPresent" | "rebuildEmpty") =>
    eachPage(async (cursor) => {
      const { result, call } = await measured(
        () => t.mutation(internal.projections.rebuild.rebuildProjections, { examId, cursor }),
        (r) => r.streamsRebuilt,
      );
      add(kind, call);
      return result;
    });
  const verifyProjections = () =>
    eachPage(async (cursor) => {
      const { result, call } = await measured(
        () => t.query(internal.projections.rebuild.verifyProjectionsPage, { examId, cursor }),
        (r) => r.summary.streams,
      );
      if (!result.isDone || result.summary.streams > 0) add("verifyProjections", call);
      if (result.issues.length > 0) throw new Error(`${participants} × ${answersEach}: projections do not verify`);
      return result;
    });
  await rebuild("rebuildPresent");
  await emptyProjections(t);
  await rebuild("rebuildEmpty");
  await verifyProjections();
  await migrate("cleanup");

  // The header check over the exam (cleared now) and copies of it as it stood in V1, made around the keeper:
  // a first pass creates their headers, a second finds nothing stale.
  const { _id, _creationTime, ...fields } = original;
  for (let i = 0; i < HEADER_COPIES; i++) await t.run((ctx) => ctx.db.insert("exams", fields));
  for (const kind of ["headerHeal", "headerCheck"] as const) {
    await eachPage(async (cursor) => {
      const { result, call } = await measured(
        () => t.mutation(internal.examAdmin.repairExamHeaders, { cursor }),
        (r) => r.checked,
      );
      add(kind, call);
      return result;
    });
  }
  return calls;
}

/** Calls `page` with each cursor it returns until it is done. */
async function eachPage(page: (cursor: string | null) => Promise<{ isDone: boolean; continueCursor: string | null }>) {
  for (let cursor: string | null = null; ;) {
    const { isDone, continueCursor } = await page(cursor);
    if (isDone) return;
    cursor = continueCursor;
  }
}

/** Deletes the exam's participations, answers and counter shards, a page per transaction. */
async function emptyProjections(t: EmbeddedConvex) {
  for (const table of ["examAnswers", "examParticipations", "examCounterShards"] as const) {
    for (let more = true; more;) {
      more = await t.run(async (ctx) => {
        const docs = await ctx.db.query(table).take(2_000);
        for (const doc of docs) await ctx.db.delete(table, doc._id as Id<typeof table>);
        return docs.length === 2_000;
      });
    }
  }
}

export async function bench(): Promise<BenchSection> {
  await measureShape(50, 2); // warm-up: JIT and module loading, not counted
  const rows: BenchRow[] = [];
  const over: string[] = [];
  for (const { participants, answersEach } of CPU_SHAPES) {
    const shape = `${participants.toLocaleString("en-US")} × ${answersEach}`;
    for (const [kind, calls] of await measureShape(participants, answersEach)) {
      const worst = calls.reduce((a, b) => (b.cpuMs > a.cpuMs ? b : a));
      const perEntry = worst.entries > 0 ? (worst.cpuMs * 1000) / worst.entries : null;
      if (worst.cpuMs > CPU_GOAL_MS)
        over.push(`${shape}, ${LABELS[kind]}: ${Math.round(worst.cpuMs)} ms CPU, ${Math.round(worst.cpuMs - CPU_GOAL_MS)} ms over`);
      rows.push({
        shape,
        call: LABELS[kind],
        calls: calls.length,
        "largest CPU ms": Math.round(worst.cpuMs),
        "its wall ms": Math.round(worst.wallMs),
        "÷ 500 ms": Number((worst.cpuMs / CPU_GOAL_MS).toFixed(2)),
        "its entries": worst.entries,
        "its docs read": worst.documentsRead,
        "its KiB read": Math.round(worst.bytesRead / 1024),
        "its docs written": worst.documentsWritten,
        "CPU µs per entry": perEntry === null ? "-" : Math.round(perEntry),
        bound: BOUNDS[kind],
        "over 0.5 s": worst.cpuMs > CPU_GOAL_MS ? "OVER" : "",
      });
    }
  }
  return {
    title: "CPU time per call at the largest exams Convex can hold (4,000 × 1, 6,500 × 0, 65 × 200), beside each call's work bound",
    rows,
    notes: [
      "One exam per shape in its own embedded instance (convex-test with IndexedDatabaseFake, half of Convex's limits enforced), after an uncounted warm-up; each loop run to its end, call after call.",
      "CPU: process.cpuUsage() (user + system) around the whole call: the project's JavaScript and the embedded runtime's own work (argument validation, the fake database, garbage collection). Wall time of the same call beside it. The row shows the call of the largest CPU time.",
      "Entries: V1 participants (migration, cleanup, migration check), attempts (rebuild, projection check), exams (header check); the header check walks the exam and 8 copies of its V1 document made around the keeper.",
      `Goal: no call above about ${CPU_GOAL_MS} ms of Convex's 1 s.`,
      ...(over.length === 0 ? [`Every call stayed within ${CPU_GOAL_MS} ms of CPU.`] : over.map((o) => `OVER the goal: ${o}`)),
    ],
  };
}
