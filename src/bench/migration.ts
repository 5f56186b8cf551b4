/**
 * The migration and a full rebuild on the guide's dataset (15 exams, 234
 * participants, 46,800 answers): documents written ÷ the minimum needed, and
 * wall time ÷ the time of inserting the same documents directly, in the same
 * run. The rebuild is timed twice: over the rows the migration wrote (the
 * rehearsal's real case: it rewrites nothing) and from emptied projections.
 * One embedded instance per exam for both sides.
 *
 * @example
 * const section = await bench(); // npm run bench
 */
import { internal } from "../../convex/_generated/api.js";
import type { Doc, TableNames } from "../../convex/_generated/dataModel.js";
import { runMigrationBatch } from "../../convex/migration/batch.js";
import { rebuildProjections } from "../../convex/projections/rebuild.js";
import { GUIDE_DATASET, generateV1Dataset, insertDataset, type DatasetExam, type V1Dataset } from "../dataset/generate.js";
import { createEmbeddedConvex, measureCall, measureRun, type BenchSection, type EmbeddedConvex } from "../runtime/embedded.js";

type RebuildResult = { isDone: boolean; continueCursor: string };

/** Documents per direct-insert transaction (well within half the write limit). */
const CHUNK = 4_000;

type Copied = Omit<Doc<"examEvents">, "_id" | "_creationTime"> | Record<string, unknown>;

async function insertDirectly(t: EmbeddedConvex, table: TableNames, docs: Copied[]): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < docs.length; i += CHUNK) {
    const chunk = docs.slice(i, i + CHUNK);
    await t.run(async (ctx) => {
      for (const doc of chunk) await ctx.db.insert(table, doc as never);
    });
  }
  return performance.now() - start;
}

function strip<T extends { _id: unknown; _creationTime: unknown }>({ _id, _creationTime, ...rest }: T) {
  return rest;
}

type Totals = {
  minimumMigration: number;
  writtenMigration: number;
  msMigration: number;
  msDirectMigration: number;
  minimumRebuild: number;
  writtenRebuild: number;
  msRebuild: number;
  msDirectRebuild: number;
  writtenRebuildPresent: number;
  msRebuildPresent: number;
  rebuildPresentCalls: number;
  migrationCalls: number;
  rebuildCalls: number;
};

/** rebuildProjections call after call until done: its wall time, documents written and calls. */
async function rebuildToEnd(t: EmbeddedConvex): Promise<{ ms: number; written: number; calls: number }> {
  const start = performance.now();
  let written = 0;
  let calls = 0;
  for (let cursor: string | undefined; ;) {
    const { result, cost } = await measureCall<{ cursor?: string }, RebuildResult>(t, rebuildProjections as never, { cursor });
    written += cost.documentsWritten;
    calls += 1;
    if (result.isDone) break;
    cursor = result.continueCursor;
  }
  return { ms: performance.now() - start, written, calls };
}

/** Migrates one exam, rebuilds it from emptied projections, and inserts the same documents directly, adding to `totals`. */
async function measureExam(dataset: V1Dataset, exam: DatasetExam, totals: Totals): Promise<void> {
  // Migration side.
  const t = createEmbeddedConvex();
  await insertDataset(t, dataset, [exam.key]);
  const start = performance.now();
  for (;;) {
    const { result, cost } = await measureRun(t, (ctx) =>
      runMigrationBatch(ctx, { batchSize: 10, dryRun: false, clearAfterMigration: false }),
    );
    totals.writtenMigration += cost.documentsWritten;
    totals.migrationCalls += 1;
    if (result.isDone) break;
  }
  totals.msMigration += performance.now() - start;
  const { events, participations, answers } = await t.run(async (ctx) => ({
    events: (await ctx.db.query("examEvents").collect()).map(strip),
    participations: await ctx.db.query("examParticipations").collect(),
    answers: await ctx.db.query("examAnswers").collect(),
  }));
  totals.minimumMigration += events.length + participations.length + answers.length;
  totals.minimumRebuild += participations.length + answers.length;

  // Rebuild over the rows as they are (what the rehearsal runs): everything replayed and compared, nothing to rewrite.
  const present = await rebuildToEnd(t);
  totals.writtenRebuildPresent += present.written;
  totals.rebuildPresentCalls += present.calls;
  totals.msRebuildPresent += present.ms;

  // Rebuild side: the projections emptied, then rebuilt from the log.
  await t.run(async (ctx) => {
    for (const table of ["examAnswers", "examParticipations", "examCounterShards"] as const) {
      for (const doc of await ctx.db.query(table).collect()) await ctx.db.delete(table, doc._id);
    }
  });
  const fromEmpty = await rebuildToEnd(t);
  totals.writtenRebuild += fromEmpty.written;
  totals.rebuildCalls += fromEmpty.calls;
  totals.msRebuild += fromEmpty.ms;
  const check = await t.action(internal.projections.rebuild.verifyProjections, {});
  if (!check.isValid) throw new Error(`rebuild of ${exam.key} does not verify: ${JSON.stringify(check.issues.slice(0, 3))}`);

  // Direct side: the same documents inserted as they are, into a fresh instance holding the same V1 data.
  const direct = createEmbeddedConvex();
  await insertDataset(direct, dataset, [exam.key]);
  const rowsMs = await insertDirectly(direct, "examParticipations", participations.map(strip));
  const ids = await direct.run(async (ctx) => (await ctx.db.query("examParticipations").collect()).map((p) => p._id));
  const byOld = new Map(participations.map((p, i) => [p._id as string, ids[i]!]));
  const answersMs = await insertDirectly(
    direct,
    "examAnswers",
    answers.map((a) => ({ ...strip(a), participationId: byOld.get(a.participationId)! })),
  );
  const eventsMs = await insertDirectly(direct, "examEvents", events);
  totals.msDirectMigration += rowsMs + answersMs + eventsMs;
  totals.msDirectRebuild += rowsMs + answersMs;
}

export async function bench(): Promise<BenchSection> {
  const dataset = generateV1Dataset({ ...GUIDE_DATASET, dirty: false });
  const totals: Totals = {
    minimumMigration: 0,
    writtenMigration: 0,
    msMigration: 0,
    msDirectMigration: 0,
    minimumRebuild: 0,
    writtenRebuild: 0,
    msRebuild: 0,
    msDirectRebuild: 0,
    writtenRebuildPresent: 0,
    msRebuildPresent: 0,
    rebuildPresentCalls: 0,
    migrationCalls: 0,
    rebuildCalls: 0,
  };
  // Warm-up, not counted: otherwise the first exam's migration and rebuild pay the JIT compilation of
  // their whole path while the direct inserts run code insertDataset has already warmed.
  const warmUp = generateV1Dataset({ exams: 1, participants: 4, answers: 40, seed: 7 });
  await measureExam(warmUp, warmUp.exams[0]!, { ...totals });
  for (const exam of dataset.exams) await measureExam(dataset, exam, totals);
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    title: "Migration and rebuild on the guide's dataset (15 exams, 234 participants, 46,800 answers)",
    rows: [
      {
        operation: "migration",
        calls: totals.migrationCalls,
        documentsWritten: totals.writtenMigration,
        minimumDocuments: totals.minimumMigration,
        writeRatio: round(totals.writtenMigration / totals.minimumMigration),
        timeRatio: round(totals.msMigration / totals.msDirectMigration),
      },
      {
        operation: "rebuild over the migrated rows (nothing to rewrite)",
        calls: totals.rebuildPresentCalls,
        documentsWritten: totals.writtenRebuildPresent,
        minimumDocuments: 0,
        writeRatio: "-",
        timeRatio: round(totals.msRebuildPresent / totals.msDirectRebuild),
      },
      {
        operation: "full rebuild (projections emptied first)",
        calls: totals.rebuildCalls,
        documentsWritten: totals.writtenRebuild,
        minimumDocuments: totals.minimumRebuild,
        writeRatio: round(totals.writtenRebuild / totals.minimumRebuild),
        timeRatio: round(totals.msRebuild / totals.msDirectRebuild),
      },
    ],
    notes: [
      "Minimum: one document per event, participation and answer (migration); per participation and answer (rebuild).",
      "Extra writes: the counter shards and each exam's count summary, header and question list, and the progress document.",
      "Time ratio: wall time of the commands ÷ wall time of inserting the same documents directly (for both rebuilds: the rows), same run, one embedded instance per exam for both sides, after an uncounted warm-up exam (targets: write ≤ 1.1, time ≤ 2).",
      `Raw times: migration ${Math.round(totals.msMigration)} ms vs ${Math.round(totals.msDirectMigration)} ms of direct inserts; rebuild over present rows ${Math.round(totals.msRebuildPresent)} ms, from empty ${Math.round(totals.msRebuild)} ms, vs ${Math.round(totals.msDirectRebuild)} ms of direct row inserts.`,
    ],
  };
}
