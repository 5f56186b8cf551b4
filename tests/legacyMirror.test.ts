/**
 * The legacy mirror as a per-exam job, by example: a student's action leaves the
 * exam document alone and writes nothing another student writes but its counter
 * shard; the job then writes what the synchronous mode writes at once; one run
 * serves every action before it; a run aborted at any point and run again ends
 * as an uninterrupted one; lag status and drain; cleanup drains first and
 * verification calls unmirrored entries pending; the exam list reads one summary.
 */
import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { api, internal } from "../convex/_generated/api";
import * as exams from "../convex/exams";
import { runExamMirror } from "../convex/legacyMirror";
import type { Id } from "../convex/_generated/dataModel";
import { MIRROR_RUN_DELAY_MS, MIRROR_SETTLE_MS, drainExamMirror, runSettledMirror } from "../convex/projections/mirrorJob";
import { markLegacyBackfilled } from "../convex/headers/examHeaders";
import { getExamHeader } from "../convex/lib/examHeaders";
import { countParticipants } from "../convex/projections/counters";
import { recordCall } from "../src/bench/recording";
import {
  legacyEntry,
  newConvexTest,
  runScheduled,
  seedExam,
  seedUser,
  useFakeClock,
  type SeededUser,
  type TestConvex,
} from "./support/convex";
import { arrayAndTables, runHeaderCheckPass } from "./support/exams";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
useFakeClock(T0);

/** An exam with `n` students (same ids in every instance built the same way), its definition synced and marked backfilled. */
async function world(n: number, o: { sync?: boolean } = {}) {
  const t = newConvexTest();
  const students: SeededUser[] = [];
  for (let i = 0; i < n; i++) students.push(await seedUser(t, `s${i}`));
  const admin = await seedUser(t, "admin", "admin");
  const exam = await seedExam(t, { questions: 3, durationMs: 60 * 60_000, maxPauses: 3 });
  await runHeaderCheckPass(t);
  await t.run((ctx) => markLegacyBackfilled(ctx, exam.examId)); // no V1 entries: a first action need not look for one
  if (o.sync) await t.mutation(internal.legacyMirror.setLegacyMirrorSync, { sync: true });
  const answers = exam.questionIds.map((questionId, i) => ({ questionId, selectedAnswer: i === 0 ? "b" : "a" }));
  return { t, students, admin, ...exam, answers };
}
type World = Awaited<ReturnType<typeof world>>;

const examDoc = (w: World) => w.t.run(async (ctx) => (await ctx.db.get("exams", w.examId))!);

/** Start, pause, resume and submit for every student, in rounds (all start, then all pause, ...), in every world at the same times. */
async function rounds(worlds: World | World[], after?: () => Promise<void>) {
  const all = Array.isArray(worlds) ? worlds : [worlds];
  for (const step of ["start", "pause", "resume", "submit"] as const) {
    for (const [i] of all[0]!.students.entries()) {
      vi.setSystemTime(Date.now() + 1_000);
      for (const w of all) {
        const s = w.students[i]!;
        if (step === "start") await s.as.mutation(api.exams.startExamV2, { examId: w.examId });
        if (step === "pause") await s.as.mutation(api.exams.startPause, { examId: w.examId }); // V1 too
        if (step === "resume") await s.as.mutation(api.exams.resumeFromPauseV2, { examId: w.examId });
        if (step === "submit") await s.as.mutation(api.exams.submitExamAnswers, { examId: w.examId, answers: w.answers });
      }
    }
    await after?.();
  }
}

describe("a student's action", () => {
  it("leaves the exam document unchanged until the job runs; then the array is what the synchronous mirror writes", async () => {
    const async = await world(3);
    const sync = await world(3, { sync: true });
    const untouched = await examDoc(async);
    await rounds([async, sync], async () => {
      // Right after the actions, before scheduled functions run: the exam document is as it was;
      // the synchronous mode has written every entry already.
      expect(await examDoc(async)).toEqual(untouched);
      expect((await examDoc(sync)).participants).toHaveLength(3);
    });
    await runScheduled(async.t);
    expect((await examDoc(async)).participants).toEqual((await examDoc(sync)).participants);
    expect((await arrayAndTables(async.t, async.examId)).array).toEqual((await arrayAndTables(async.t, async.examId)).tables);
  });

  it("writes only its own stream, its own rows and one counter shard, and never reads the exam document (V2)", async () => {
    const w = await world(2);
    const [ada] = w.students;
    const calls = [
      [exams.startExamV2, { examId: w.examId }],
      [exams.startPauseV2, { examId: w.examId }],
      [exams.resumeFromPauseV2, { examId: w.examId }],
      [exams.submitExamAnswersV2, { examId: w.examId, answers: w.answers }],
    ] as const;
    for (const [fn, args] of calls) {
      vi.setSystemTime(Date.now() + 1_000);
      const { touched } = await recordCall(ada!.as, fn as never, args as never);
      expect(touched.tablesRead.has("exams")).toBe(false);
      expect([...touched.writtenTables].sort()).toEqual(expect.arrayContaining(["examEvents"]));
      for (const table of touched.writtenTables)
        expect(["examEvents", "examParticipations", "examAnswers", "examCounterShards"]).toContain(table);
      expect([...touched.written].filter((d) => d.startsWith("examCounterShards:")).length).toBeLessThanOrEqual(1); // start and submit move it
    }
    // What it wrote belongs to ada: her events, her row, her answers.
    const mine = await w.t.run(async (ctx) => {
      const events = await ctx.db.query("examEvents").collect();
      const rows = await ctx.db.query("examParticipations").collect();
      return { eventUsers: [...new Set(events.map((e) => e.userId))], rowUsers: [...new Set(rows.map((r) => r.userId))] };
    });
    expect(mine).toEqual({ eventUsers: [ada!.userId], rowUsers: [ada!.userId] });
  });
});

describe("the mirror job", () => {
  it("serves every action since the last run in one run: the runs scheduled behind it write nothing", async () => {
    const w = await world(4);
    await rounds(w);
    const runs = [];
    vi.setSystemTime(Date.now() + MIRROR_RUN_DELAY_MS);
    for (let i = 0; i < 3; i++) runs.push(await w.t.mutation(internal.legacyMirror.runExamMirror, { examId: w.examId }));
    expect(runs[0]).toMatchObject({ examWritten: true, entriesWritten: 4, liveEvents: 16, isDone: true });
    expect(runs.slice(1)).toEqual([
      expect.objectContaining({ eventsRead: 0, examWritten: false }),
      expect.objectContaining({ eventsRead: 0, examWritten: false }),
    ]);
    const before = await examDoc(w);
    await runScheduled(w.t); // the 16 scheduled runs: nothing left for them
    expect(await examDoc(w)).toEqual(before);
    expect((await w.t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]).toMatchObject({
      arrayCurrent: true,
      lag: { events: 0 },
    });
  });

  it("folds an exam near the document limit (60 attempts × 200 answers) in one run within half of every limit, reading settled events only", async () => {
    const t = newConvexTest(); // half of Convex's limits, enforced
    const { examId, questionIds } = await seedExam(t, { questions: 200 });
    await runHeaderCheckPass(t);
    await t.run((ctx) => markLegacyBackfilled(ctx, examId));
    const answers = questionIds.map((questionId) => ({ questionId, selectedAnswer: "a" }));
    for (let i = 0; i < 60; i++) {
      const s = await seedUser(t, `big${i}`);
      await s.as.mutation(api.exams.startExamV2, { examId });
      await s.as.mutation(api.exams.submitExamAnswersV2, { examId, answers });
    }
    vi.setSystemTime(Date.now() + MIRROR_RUN_DELAY_MS);
    const { result, touched, cost } = await recordCall(t, runExamMirror as never, { examId } as never);
    expect(result).toMatchObject({ isDone: true, examWritten: true, entriesWritten: 60, liveEvents: 120 });
    // Nothing a student's action writes is read: no rows, no answers, no counter shards.
    expect([...touched.tablesRead].sort()).toEqual(["examApiSettings", "examEvents", "examHeaders", "examMirrorStates", "exams"]);
    expect(cost.bytesWritten).toBeLessThan(1024 * 1024);
    const { array, tables } = await arrayAndTables(t, examId);
    expect(Object.keys(array)).toHaveLength(60);
    expect(array).toEqual(tables);
  });

  it("never folds an event younger than the settle time (a transaction that started earlier may still commit before it)", async () => {
    const w = await world(1);
    await w.students[0]!.as.mutation(api.exams.startExamV2, { examId: w.examId });
    const early = await w.t.mutation(internal.legacyMirror.runExamMirror, { examId: w.examId });
    expect(early).toMatchObject({ eventsRead: 0, examWritten: false });
    expect((await examDoc(w)).participants ?? []).toEqual([]);
  });

  it("aborted at random points and run again (in runs of a few events) ends equal to an uninterrupted run", async () => {
    const reference = await world(3);
    await rounds(reference);
    await runScheduled(reference.t);
    const expected = await examDoc(reference);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 6 }),
        async (abortAt, perRun) => {
          vi.setSystemTime(T0);
          const w = await world(3);
          await rounds(w);
          vi.setSystemTime(Date.now() + MIRROR_RUN_DELAY_MS);
          let steps = 0;
          const aborts = new Set(abortAt);
          const beforeStep = () => {
            if (aborts.has(++steps)) throw new Error(`abort at step ${steps}`);
          };
          // A run as runExamMirror does it, with the faults injected; a throw rolls its transaction back.
          const run = () =>
            w.t.run(async (ctx) => runSettledMirror(ctx, w.examId, await getExamHeader(ctx, w.examId), { maxEvents: perRun, beforeStep }));
          for (let i = 0; i < 60; i++) {
            const r = await run().catch(() => null);
            if (r !== null && r.eventsRead === 0) break;
          }
          await runScheduled(w.t);
          expect(await examDoc(w)).toEqual(expected);
          const status = await w.t.query(internal.legacyMirror.legacyMirrorStatus, {});
          expect(status.exams[0]).toMatchObject({ arrayCurrent: true });
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe("lag, drain and synchronous mode", () => {
  it("status reports the lag; drainLegacyMirror mirrors everything and reports the arrays current", async () => {
    const w = await world(2);
    await w.students[0]!.as.mutation(api.exams.startExamV2, { examId: w.examId });
    vi.setSystemTime(Date.now() + 2_000);
    await w.students[1]!.as.mutation(api.exams.startExamV2, { examId: w.examId });
    const lagging = (await w.t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]!;
    expect(lagging).toMatchObject({ arrayCurrent: false, lag: { events: 2, eventsAtLeast: false } });
    expect(lagging.lag.ageMs).toBeGreaterThan(1_900);
    // A drain writes every event into the array at once, but vouches only for those MIRROR_SETTLE_MS old: a
    // transaction begun earlier could still commit an event created before the last one it read.
    const first = await w.t.action(internal.legacyMirror.drainLegacyMirror, {});
    expect(first).toMatchObject({ arraysCurrent: false, liveEvents: 2, entriesWritten: 2, examDocumentWrites: 1 });
    expect(first.lagging).toEqual([{ examId: w.examId, events: 2 }]);
    vi.setSystemTime(Date.now() + MIRROR_SETTLE_MS);
    const drained = await w.t.action(internal.legacyMirror.drainLegacyMirror, {});
    expect(drained).toMatchObject({ arraysCurrent: true, lagging: [], liveEvents: 2, entriesWritten: 0, examDocumentWrites: 0 });
    expect((await w.t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]).toMatchObject({
      arrayCurrent: true,
      lag: { events: 0, oldestAt: null },
    });
    const { array, tables } = await arrayAndTables(w.t, w.examId);
    expect(array).toEqual(tables);
  });

  it("synchronous mode for one exam mirrors inside the action; back to the default, the job takes over", async () => {
    const w = await world(2);
    await w.t.mutation(internal.legacyMirror.setLegacyMirrorSync, { examId: w.examId, sync: true });
    await w.students[0]!.as.mutation(api.exams.startExamV2, { examId: w.examId });
    expect((await examDoc(w)).participants).toHaveLength(1);
    await w.t.mutation(internal.legacyMirror.setLegacyMirrorSync, { examId: w.examId, sync: null });
    await w.students[1]!.as.mutation(api.exams.startExamV2, { examId: w.examId });
    expect((await examDoc(w)).participants).toHaveLength(1);
    await runScheduled(w.t);
    expect((await examDoc(w)).participants).toHaveLength(2);
  });
});

describe("the watermark never passes an event that commits after it", () => {
  // A transaction's events are created when it runs and may commit later; one that began before a drain (or a
  // synchronous run) read the log could commit an event created before the last one that read saw. Every run
  // therefore keeps its watermark MIRROR_SETTLE_MS behind its own time, beyond any transaction Convex lets run:
  // such an event, created after (drain time − settle) ≥ watermark, is never behind it. Both orders, at the code level.
  const watermark = (w: World) =>
    w.t.run(
      async (ctx) =>
        (
          await ctx.db
            .query("examMirrorStates")
            .withIndex("by_exam", (q) => q.eq("examId", w.examId))
            .unique()
        )?.mirroredThrough,
    );

  it("a student's event committed before the drain's read: in the array, and vouched for once settled", async () => {
    const w = await world(1);
    await w.students[0]!.as.mutation(api.exams.startExamV2, { examId: w.examId }); // commits first
    vi.setSystemTime(Date.now() + 1_000); // past the last commit: the drain's time is the clock's
    const drainedAt = Date.now();
    await w.t.run(async (ctx) => drainExamMirror(ctx, w.examId, await getExamHeader(ctx, w.examId)));
    expect((await examDoc(w)).participants).toHaveLength(1);
    expect(await watermark(w)).toBeLessThanOrEqual(drainedAt - MIRROR_SETTLE_MS);
    expect((await w.t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]).toMatchObject({ arrayCurrent: false });
    vi.setSystemTime(drainedAt + MIRROR_SETTLE_MS + 1);
    await w.t.run(async (ctx) => drainExamMirror(ctx, w.examId, await getExamHeader(ctx, w.examId)));
    expect((await w.t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]).toMatchObject({ arrayCurrent: true });
  });

  it("a student's event committed after the drain's read (same millisecond, synchronous mode too): ahead of the watermark, so V1 reads V2", async () => {
    for (const sync of [false, true]) {
      const w = await world(2, { sync });
      await w.students[0]!.as.mutation(api.exams.startExamV2, { examId: w.examId });
      vi.setSystemTime(Date.now() + 1_000); // past the last commit: the drain's time is the clock's
      const drainedAt = Date.now();
      await w.t.run(async (ctx) => drainExamMirror(ctx, w.examId, await getExamHeader(ctx, w.examId)));
      await w.students[1]!.as.mutation(api.exams.startExamV2, { examId: w.examId }); // commits after the read
      expect(await watermark(w)).toBeLessThanOrEqual(drainedAt - MIRROR_SETTLE_MS);
      const status = (await w.t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]!;
      expect(status.arrayCurrent).toBe(false);
      // V1 does not trust the array while an event is ahead of the watermark: it shows the second student's attempt.
      const v1 = await w.students[1]!.as.query(api.exams.getPauseStatus, { examId: w.examId });
      expect(v1).toEqual(await w.students[1]!.as.query(api.exams.getPauseStatusV2, { examId: w.examId }));
      expect(v1.status).toBe("in_progress");
    }
  });
});

describe("overlapping mirror runs", () => {
  it("two runs of one exam started at once: they serialize on the watermark, one writes the array, the other finds nothing", async () => {
    const w = await world(3);
    for (const s of w.students) await s.as.mutation(api.exams.startExamV2, { examId: w.examId });
    vi.setSystemTime(Date.now() + MIRROR_SETTLE_MS + 1_000);
    const runs = await Promise.all([0, 1].map(() => w.t.mutation(internal.legacyMirror.runExamMirror, { examId: w.examId })));
    expect(runs.map((r) => r.examWritten).sort()).toEqual([false, true]);
    expect(runs.map((r) => r.entriesWritten).sort()).toEqual([0, 3]);
    const { array, tables } = await arrayAndTables(w.t, w.examId);
    expect(array).toEqual(tables);
  });
});

describe("migration commands while the mirror lags", () => {
  async function legacyExam() {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const bob = await seedUser(t, "bob");
    const entry = (userId: Id<"users">) => legacyEntry(userId, T0 - 60_000);
    const exam = await seedExam(t, { questions: 2, participants: [entry(ada.userId)] });
    for (let r = await t.mutation(internal.migrations.migrateExamParticipants, {}); !r.isDone;)
      r = await t.mutation(internal.migrations.migrateExamParticipants, {});
    vi.setSystemTime(Date.now() + 1_000);
    await ada.as.mutation(api.exams.startPauseV2, { examId: exam.examId }); // a live change to a migrated entry
    await bob.as.mutation(api.exams.startExamV2, { examId: exam.examId }); // a live attempt with no entry yet
    return { t, ada, bob, ...exam };
  }

  it("verifyMigrationIntegrity names entries with unmirrored events as pending, not as issues", async () => {
    const { t, ada, bob, examId } = await legacyExam();
    // The status tells the live events behind from the migration's imports (already in the array).
    expect((await t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]).toMatchObject({
      arrayCurrent: false,
      lag: { events: 2, importsToPass: 1 },
    });
    const report = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect(report.isValid).toBe(true);
    expect(report.issues).toEqual([]);
    expect(report.pending.map((p) => p.userId).sort()).toEqual([ada.userId, bob.userId].sort());
    await runScheduled(t);
    expect(await t.action(internal.migrations.verifyMigrationIntegrity, { examId })).toMatchObject({
      isValid: true,
      issues: [],
      pending: [],
    });
  });

  it("cleanup drains the exam's mirror before it verifies, so a lagging exam is cleared", async () => {
    const { t, examId } = await legacyExam();
    const r = await t.mutation(internal.migrations.migrateExamParticipants, { clearAfterMigration: true });
    expect(r).toMatchObject({ examsCleared: [examId], examsNotCleared: [] });
    expect((await t.run((ctx) => ctx.db.get("exams", examId)))!.participants).toEqual([]);
  });
});

describe("the exam list's counts", () => {
  async function counts(t: TestConvex, examId: Id<"exams">) {
    return t.run(async (ctx) => {
      const before = (await ctx.meta.getTransactionMetrics()).documentsRead.used;
      const c = await countParticipants(ctx, examId);
      return { ...c, reads: (await ctx.meta.getTransactionMetrics()).documentsRead.used - before };
    });
  }

  it("come from one summary per exam that the job folds from the shards", async () => {
    const w = await world(5);
    await rounds(w);
    await runScheduled(w.t);
    expect(await counts(w.t, w.examId)).toEqual({ participants: 5, completed: 5, answers: 15, reads: 1 });
    // A later action moves a shard; the summary follows when the job runs.
    const late = await seedUser(w.t, "late");
    await late.as.mutation(api.exams.startExamV2, { examId: w.examId });
    expect((await counts(w.t, w.examId)).participants).toBe(5);
    await runScheduled(w.t);
    expect((await counts(w.t, w.examId)).participants).toBe(6);
    const list = await late.as.query(api.exams.getAllExamsMetadataV2, {});
    expect(list.find((e) => e.examId === w.examId)).toMatchObject({ participantCount: 6, completedCount: 5 });
  });

  it("come from one summary as soon as the migration has filled an exam (its batch sets it from the shards it read)", async () => {
    const t = newConvexTest();
    const users = [await seedUser(t, "a"), await seedUser(t, "b"), await seedUser(t, "c")];
    const entry = (userId: Id<"users">, completedAt?: number) =>
      legacyEntry(userId, T0 - 60_000, completedAt === undefined ? {} : { completedAt });
    const { examId } = await seedExam(t, {
      participants: [entry(users[0]!.userId, T0 - 1), entry(users[1]!.userId), entry(users[2]!.userId)],
    });
    for (let r = await t.mutation(internal.migrations.migrateExamParticipants, {}); !r.isDone;)
      r = await t.mutation(internal.migrations.migrateExamParticipants, {});
    expect(await counts(t, examId)).toEqual({ participants: 3, completed: 1, answers: 0, reads: 1 });
  });

  it("follow a legacy participant imported on the fly by an action that appends nothing (V1 list from the array equals V2's)", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const leg = await seedUser(t, "legacy");
    const paused = legacyEntry(leg.userId, T0 - 60_000, { isPaused: true, pausedAt: T0 - 30_000, pauseCount: 1 });
    const { examId } = await seedExam(t, { questions: 2, participants: [paused] });
    await runHeaderCheckPass(t);
    vi.setSystemTime(T0 + 1_000);
    await ada.as.mutation(api.exams.startExam, { examId });
    await runScheduled(t);
    await leg.as.mutation(api.exams.startExam, { examId }); // paused: returns the session, appends nothing but the import
    await runScheduled(t);
    const v1 = await ada.as.query(api.exams.getAllExamsMetadata, {});
    expect(v1.find((e) => e.examId === examId)).toMatchObject({ participantCount: 2 });
    expect(await ada.as.query(api.exams.getAllExamsMetadataV2, {})).toEqual(v1);
  });
});
