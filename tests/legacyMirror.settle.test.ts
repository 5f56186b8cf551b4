/**
 * The synchronous mirror mode and a one-call resync keep their watermark MIRROR_SETTLE_MS behind their own time,
 * and schedule the job that moves it on once their events are settled: the exam is current without another write.
 */
import { describe, expect, it, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { markLegacyBackfilled } from "../convex/headers/examHeaders";
import { newConvexTest, runScheduled, seedExam, seedUser, useFakeClock } from "./support/convex";
import { arrayAndTables, runHeaderCheckPass } from "./support/exams";

useFakeClock(Date.UTC(2026, 2, 2, 9, 0, 0));

describe("synchronous mirror mode after the last write", () => {
  it("an exam mirrored synchronously is current once its writes have settled (no write after the last one)", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const exam = await seedExam(t, { questions: 2 });
    await runHeaderCheckPass(t);
    await t.run((ctx) => markLegacyBackfilled(ctx, exam.examId));
    await t.mutation(internal.legacyMirror.setLegacyMirrorSync, { examId: exam.examId, sync: true });
    await ada.as.mutation(api.exams.startExamV2, { examId: exam.examId });
    const { array, tables } = await arrayAndTables(t, exam.examId);
    expect(array).toEqual(tables); // the array holds the event already
    vi.setSystemTime(Date.now() + 60 * 60_000); // an hour later, nothing else happened
    await runScheduled(t);
    const status = (await t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]!;
    expect({ arrayCurrent: status.arrayCurrent, events: status.lag.events }).toEqual({ arrayCurrent: true, events: 0 });
  });
});

describe("a one-transaction resync right after a student's action", () => {
  it("the exam is current once the action has settled (setExamLegacyMirror on, nothing else happening)", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const exam = await seedExam(t, { questions: 2 });
    await runHeaderCheckPass(t);
    await t.run((ctx) => markLegacyBackfilled(ctx, exam.examId));
    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId: exam.examId, enabled: false });
    await ada.as.mutation(api.exams.startExamV2, { examId: exam.examId });
    vi.setSystemTime(Date.now() + 1_000); // the operator turns the mirror back on a second later
    const page = await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId: exam.examId, enabled: true });
    expect(page).toMatchObject({ legacyMirror: true, isDone: true });
    const { array, tables } = await arrayAndTables(t, exam.examId);
    expect(array).toEqual(tables); // the array holds every attempt
    vi.setSystemTime(Date.now() + 60 * 60_000);
    await runScheduled(t);
    const status = (await t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams[0]!;
    expect({ arrayCurrent: status.arrayCurrent, events: status.lag.events }).toEqual({ arrayCurrent: true, events: 0 });
  });
});
