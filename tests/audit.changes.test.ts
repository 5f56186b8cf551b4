/**
 * The exam's change history at every size (docs/audit.md "Exam changes"), at half of Convex's limits:
 * every change on the trail once, those after the exam's last event included, on a cursor of their own
 * (1,100 changes before the first event, an exam of 1,600 questions); a change record too large for one
 * document (a 600 KB question text, before and after) kept in several and read back whole; and an edit
 * made around the keeper recorded by whatever path absorbs it, state-at saying between when it was made.
 */
import { describe, expect, it, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import * as audit from "../convex/audit";
import { measureCall } from "../src/runtime/embedded";
import { newConvexTest, runScheduled, seedUser, useFakeClock, type SeededUser, type TestConvex } from "./support/convex";

const T0 = Date.UTC(2026, 4, 1, 9, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
useFakeClock(T0);

type Change = {
  changeId: string;
  operation: string;
  questionId?: string;
  examId?: string;
  since?: number;
  before: unknown;
  after: unknown;
};
type TrailPage = { page: { type: string }[]; examChanges: Change[]; isDone: boolean; continueCursor: string; changesDone?: boolean };

/** Every page of the exam's trail, `numItems` events at a time. */
async function wholeTrail(admin: SeededUser, examId: Id<"exams">, numItems: number) {
  const events: string[] = [];
  const changes: Change[] = [];
  let pages = 0;
  for (let cursor: string | null = null; ;) {
    const page: TrailPage = await admin.as.query(api.audit.getExamAuditTrail, { examId, paginationOpts: { numItems, cursor } });
    pages += 1;
    events.push(...page.page.map((e) => e.type));
    changes.push(...page.examChanges);
    if (page.isDone) return { events, changes, pages };
    cursor = page.continueCursor;
  }
}

async function examWithQuestions(t: TestConvex, admin: SeededUser, questions: number) {
  const questionIds = await t.run(async (ctx) => {
    const ids: Id<"questions">[] = [];
    for (let i = 0; i < questions; i++)
      ids.push(await ctx.db.insert("questions", { text: `Q${i}`, options: ["a", "b"], correctAnswer: "a" }));
    return ids;
  });
  const examId = await admin.as.mutation(api.examAdmin.createExam, { title: "Exam", questionIds, durationMs: HOUR, maxPauses: 1 });
  return { examId, questionIds };
}

/** An exam of `questions` questions and an hour created by an admin at T0; Ada starts it at T0+1'. */
async function examStarted(t: TestConvex, questions: number) {
  const admin = await seedUser(t, "admin", "admin");
  const ada = await seedUser(t, "ada");
  const { examId, questionIds } = await examWithQuestions(t, admin, questions);
  vi.setSystemTime(T0 + MIN);
  await ada.as.mutation(api.exams.startExamV2, { examId });
  return { admin, ada, examId, questionIds };
}

/** The recorded changes as the table holds them (heads only: continuation documents are no change). */
async function recordedChanges(t: TestConvex) {
  return t.run(async (ctx) => (await ctx.db.query("examChanges").collect()).filter((c) => c.partOf === undefined));
}

describe("the trail shows every change", () => {
  it("an admin's edits after the exam's last event are on the trail", async () => {
    const t = newConvexTest();
    const { admin, examId, questionIds } = await examStarted(t, 2);
    vi.setSystemTime(T0 + 2 * MIN);
    await admin.as.mutation(api.examAdmin.updateExam, { examId, title: "After the last event" });
    await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: questionIds[0]!, text: "Edited after it" });
    for (const numItems of [1, 10]) {
      const trail = await wholeTrail(admin, examId, numItems);
      expect(trail.events).toEqual(["ExamStarted"]);
      expect(trail.changes.map((c) => [c.operation, c.after])).toEqual([
        ["insert", { title: "Exam", questionIds, durationMs: HOUR, maxPauses: 1 }],
        ["update", { title: "After the last event" }],
        ["update", { text: "Edited after it" }],
      ]);
    }
  });

  it("1,100 question edits before the first event page with numItems 1 and 100, each change once", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await examWithQuestions(t, admin, 10);
    for (let i = 0; i < 1_100; i++) {
      await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: questionIds[i % 10]!, text: `edit ${i}` });
    }
    vi.setSystemTime(T0 + MIN);
    await ada.as.mutation(api.exams.startExamV2, { examId });
    await ada.as.mutation(api.exams.startPauseV2, { examId });
    const recorded = await recordedChanges(t);
    expect(recorded).toHaveLength(1_101);
    for (const numItems of [1, 100]) {
      const trail = await wholeTrail(admin, examId, numItems);
      expect(trail.events).toEqual(["ExamStarted", "ExamPaused"]);
      expect(trail.changes.map((c) => c.changeId).sort()).toEqual(recorded.map((c) => c._id).sort());
      // Each question's edits in the order made.
      const ofFirst = trail.changes.filter((c) => c.questionId === questionIds[0]).map((c) => (c.after as { text: string }).text);
      expect(ofFirst).toEqual(Array.from({ length: 110 }, (_, k) => `edit ${k * 10}`));
    }
  });

  it("an exam of 1,600 questions is not refused: its questions' changes page on", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const { examId, questionIds } = await examWithQuestions(t, admin, 1_600);
    await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: questionIds[1_599]!, points: 2 });
    const trail = await wholeTrail(admin, examId, 1);
    expect(trail.changes.map((c) => [c.operation, c.after])).toEqual([
      ["insert", { title: "Exam", questionIds, durationMs: HOUR, maxPauses: 1 }],
      ["update", { points: 2 }],
    ]);
    expect(trail.pages).toBeGreaterThan(1);
  });
});

describe("state-at reads only the changes it needs", () => {
  it("an exam edited 1,100 times after `at`: the facts then from the first change of each, a few documents read", async () => {
    const t = newConvexTest();
    const { admin, ada, examId, questionIds } = await examStarted(t, 2);
    vi.setSystemTime(T0 + 10 * MIN);
    await admin.as.mutation(api.examAdmin.updateExam, {
      examId,
      title: "T",
      durationMs: 2 * HOUR,
      maxPauses: 2,
      questionIds: [questionIds[1]!],
    });
    for (let i = 0; i < 1_100; i++) await admin.as.mutation(api.examAdmin.updateExam, { examId, title: `T${i}` });
    const during = await measureCall(ada.as, audit.getParticipationStateAt as never, { examId, at: T0 + 5 * MIN } as never);
    expect((during.result as { exam: unknown }).exam).toEqual({ title: "Exam", durationMs: HOUR, maxPauses: 1, questionIds });
    expect(during.cost.documentsRead).toBeLessThan(20);
  });
});

describe("a change record always fits", () => {
  it("a question text of 600 KB is edited through updateQuestion and its record read back whole", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const { examId, questionIds } = await examWithQuestions(t, admin, 1);
    // 600,001 bytes of UTF-8 each: a surrogate pair falls on every boundary of the record's pieces.
    const before = "x" + "😀".repeat(150_000);
    const after = "y" + "😃".repeat(150_000);
    await t.run((ctx) => ctx.db.patch("questions", questionIds[0]!, { text: before }));
    await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: questionIds[0]!, text: after });
    expect((await t.run((ctx) => ctx.db.get("questions", questionIds[0]!)))!.text).toBe(after);
    const trail = await wholeTrail(admin, examId, 1);
    const edit = trail.changes.find((c) => c.operation === "update")!;
    expect(edit.before).toEqual({ text: before });
    expect(edit.after).toEqual({ text: after });
  });
});

describe("an edit made around the keeper is recorded by the path that absorbs it", () => {
  /** An exam of 60 minutes created at T0; Ada's attempt runs from T0+1' to T0+30'. */
  async function examTaken(t: TestConvex) {
    const { admin, ada, examId, questionIds } = await examStarted(t, 1);
    vi.setSystemTime(T0 + 30 * MIN);
    await ada.as.mutation(api.exams.submitExamAnswersV2, { examId, answers: [{ questionId: questionIds[0]!, selectedAnswer: "a" }] });
    const created = (await t.run((ctx) => ctx.db.get("exams", examId)))!._creationTime;
    return { admin, ada, examId, created };
  }
  const stretchOutOfBand = (t: TestConvex, examId: Id<"exams">) => t.run((ctx) => ctx.db.patch("exams", examId, { durationMs: 90 * MIN }));

  it("absorbed by an update of another field: recorded, and state-at names the window, not 90 minutes", async () => {
    const t = newConvexTest();
    const { admin, ada, examId, created } = await examTaken(t);
    vi.setSystemTime(T0 + 2 * HOUR);
    await stretchOutOfBand(t, examId);
    vi.setSystemTime(T0 + 3 * HOUR);
    await admin.as.mutation(api.examAdmin.updateExam, { examId, title: "Renamed" });

    const trail = await wholeTrail(admin, examId, 10);
    expect(trail.changes.map((c) => [c.operation, c.since, c.before, c.after])).toEqual([
      ["insert", undefined, null, expect.objectContaining({ durationMs: HOUR })],
      ["repair", created, { durationMs: HOUR }, { durationMs: 90 * MIN }],
      ["update", undefined, { title: "Exam" }, { title: "Renamed" }],
    ]);
    const during = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + 10 * MIN });
    expect(during.exam).toMatchObject({ title: "Exam", durationMs: HOUR });
    expect(during.exam!.uncertain).toEqual([{ field: "durationMs", from: created, to: T0 + 3 * HOUR, before: HOUR, after: 90 * MIN }]);
    const now = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + 4 * HOUR });
    expect(now.exam).toEqual({ title: "Renamed", durationMs: 90 * MIN, maxPauses: 1, questionIds: expect.any(Array) });
  });

  it("a pass of the header check after the attempt narrows the window: state-at during the attempt is certain again", async () => {
    const t = newConvexTest();
    const { admin, ada, examId } = await examTaken(t);
    vi.setSystemTime(T0 + HOUR);
    await t.mutation(internal.examAdmin.startHeaderCheckNow, {});
    await runScheduled(t);
    vi.setSystemTime(T0 + 2 * HOUR);
    await stretchOutOfBand(t, examId);
    vi.setSystemTime(T0 + 3 * HOUR);
    await admin.as.mutation(api.examAdmin.updateExam, { examId, maxPauses: 3 });
    const trail = await wholeTrail(admin, examId, 10);
    expect(trail.changes.find((c) => c.operation === "repair")).toMatchObject({
      since: T0 + HOUR,
      actor: { kind: "system", name: "exam write" },
    });
    const during = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + 10 * MIN });
    expect(during.exam).toEqual({ title: "Exam", durationMs: HOUR, maxPauses: 1, questionIds: expect.any(Array) });
    const later = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + 150 * MIN });
    expect(later.exam).toMatchObject({ durationMs: HOUR, maxPauses: 1 });
    expect(later.exam!.uncertain).toEqual([{ field: "durationMs", from: T0 + HOUR, to: T0 + 3 * HOUR, before: HOUR, after: 90 * MIN }]);
  });

  it("absorbed by the migration's sync of the header: recorded by it", async () => {
    const t = newConvexTest();
    const { admin, ada, examId, created } = await examTaken(t);
    vi.setSystemTime(T0 + 2 * HOUR);
    await stretchOutOfBand(t, examId);
    vi.setSystemTime(T0 + 3 * HOUR);
    await t.mutation(internal.migrations.migrateExamParticipants, { examId }); // re-runs the exam: syncs its header first
    const trail = await wholeTrail(admin, examId, 10);
    expect(trail.changes.find((c) => c.operation === "repair")).toMatchObject({
      since: created,
      at: T0 + 3 * HOUR,
      actor: { kind: "system", name: "migration" },
      before: { durationMs: HOUR },
      after: { durationMs: 90 * MIN },
    });
    const during = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + 10 * MIN });
    expect(during.exam).toMatchObject({ durationMs: HOUR });
    expect(during.exam!.uncertain).toEqual([{ field: "durationMs", from: created, to: T0 + 3 * HOUR, before: HOUR, after: 90 * MIN }]);
  });
});
