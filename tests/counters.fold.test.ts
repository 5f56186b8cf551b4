/**
 * The exam list's counts have a keeper of their own: each shard write of a student's action schedules the
 * exam's fold (projections/counterFold.ts), so the V2 list's counts converge after the scheduled jobs run
 * with the legacy mirror off for the exam, off globally or synchronous, and the mirror (job, drain,
 * synchronous run) never writes the summary; a fold that a later fold already covers reads one document.
 */
import { describe, expect, it, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { markLegacyBackfilled } from "../convex/headers/examHeaders";
import { getExamHeader } from "../convex/lib/examHeaders";
import { CREATION_SETTLE_MS } from "../convex/lib/limits";
import { foldCounterSummary } from "../convex/projections/counters";
import { drainExamMirror } from "../convex/projections/mirrorJob";
import { newConvexTest, runScheduled, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";
import { runHeaderCheckPass } from "./support/exams";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
useFakeClock(T0);

type Mode = "exam off" | "global off" | "synchronous" | "on";

async function world(mode: Mode) {
  const t = newConvexTest();
  const students = [await seedUser(t, "a"), await seedUser(t, "b"), await seedUser(t, "c")];
  const { examId, questionIds } = await seedExam(t, { questions: 2 });
  await runHeaderCheckPass(t);
  await t.run((ctx) => markLegacyBackfilled(ctx, examId));
  if (mode === "exam off") await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId, enabled: false });
  if (mode === "global off") await t.mutation(internal.legacyMirror.setGlobalLegacyMirror, { enabled: false });
  if (mode === "synchronous") await t.mutation(internal.legacyMirror.setLegacyMirrorSync, { sync: true });
  const answers = questionIds.map((questionId) => ({ questionId, selectedAnswer: "a" }));
  /** Every student starts; the first `submitting` submit. */
  const act = async (submitting: number) => {
    for (const s of students) {
      vi.setSystemTime(Date.now() + 1_000);
      await s.as.mutation(api.exams.startExamV2, { examId });
    }
    for (const s of students.slice(0, submitting)) {
      vi.setSystemTime(Date.now() + 1_000);
      await s.as.mutation(api.exams.submitExamAnswers, { examId, answers });
    }
  };
  return { t, examId, students, act };
}

const scheduledNames = (t: TestConvex) =>
  t.run(async (ctx) => (await ctx.db.system.query("_scheduled_functions").collect()).map((f) => f.name));

const summary = (t: TestConvex, examId: Id<"exams">) =>
  t.run(async (ctx) => {
    const doc = await ctx.db
      .query("examCountSummaries")
      .withIndex("by_exam", (q) => q.eq("examId", examId))
      .unique();
    return doc === null ? null : { participants: doc.participants, completed: doc.completed, answers: doc.answers };
  });

async function listed(t: TestConvex, examId: Id<"exams">) {
  const as = t.withIdentity({ tokenIdentifier: "test|a" });
  return (await as.query(api.exams.getAllExamsMetadataV2, {})).find((e) => e.examId === examId);
}

describe("the exam list's counts", () => {
  for (const mode of ["exam off", "global off", "synchronous"] as const) {
    it(`converge after the scheduled jobs run with the mirror ${mode}: each shard write schedules the counters' fold`, async () => {
      const w = await world(mode);
      await w.act(2);
      const names = await scheduledNames(w.t);
      expect(names.filter((n) => n === "projections/counterFold:foldExamCounters")).toHaveLength(5); // 3 starts, 2 submits
      // Mirror off for the exam: nothing for its job to do. (Synchronous: the job only moves the watermark on once settled.)
      if (mode === "exam off") expect(names).not.toContain("legacyMirror:runExamMirror");
      expect(await summary(w.t, w.examId)).toBeNull(); // no fold has run yet, whatever the mirror did
      await runScheduled(w.t);
      expect(await summary(w.t, w.examId)).toEqual({ participants: 3, completed: 2, answers: 4 });
      expect(await listed(w.t, w.examId)).toMatchObject({ participantCount: 3, completedCount: 2 });
      // A later action moves the counts again: they follow it once its fold has run.
      vi.setSystemTime(Date.now() + 60_000);
      await w.students[2]!.as.mutation(api.exams.submitExamAnswers, { examId: w.examId, answers: [] });
      expect(await listed(w.t, w.examId)).toMatchObject({ participantCount: 3, completedCount: 2 });
      await runScheduled(w.t);
      expect(await listed(w.t, w.examId)).toMatchObject({ participantCount: 3, completedCount: 3 });
    });
  }

  it("are never folded by the mirror: a drain and the job leave the summary to the counters' fold", async () => {
    const w = await world("on");
    await w.act(3);
    vi.setSystemTime(Date.now() + 60_000);
    const drained = await w.t.run(async (ctx) => drainExamMirror(ctx, w.examId, await getExamHeader(ctx, w.examId)));
    expect(drained).toMatchObject({ outcome: "mirrored", examWritten: true });
    await w.t.mutation(internal.legacyMirror.runExamMirror, { examId: w.examId });
    expect(await summary(w.t, w.examId)).toBeNull();
    await runScheduled(w.t);
    expect(await summary(w.t, w.examId)).toEqual({ participants: 3, completed: 3, answers: 6 });
  });

  it("cost one read when a fold after the write's settle time already counted it", async () => {
    const w = await world("on");
    await w.act(1);
    const fold = (after: number) =>
      w.t.run(async (ctx) => {
        const folded = await foldCounterSummary(ctx, w.examId, { after });
        return { folded, documentsRead: (await ctx.meta.getTransactionMetrics()).documentsRead.used };
      });
    const shards = (await w.t.run((ctx) => ctx.db.query("examCounterShards").collect())).length;
    expect(shards).toBeGreaterThan(1);
    expect(await fold(Date.now())).toEqual({ folded: true, documentsRead: shards }); // no summary yet: the shards
    const foldedAt = (await w.t.run((ctx) => ctx.db.query("examCountSummaries").unique()))!.foldedAt;
    expect(await fold(foldedAt - CREATION_SETTLE_MS)).toEqual({ folded: false, documentsRead: 1 }); // covered: the summary only
    expect(await fold(foldedAt - CREATION_SETTLE_MS + 1)).toEqual({ folded: false, documentsRead: 1 + shards }); // not covered: read again, same counts
  });
});
