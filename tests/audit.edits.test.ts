/**
 * The audit trail and exam edits: §6 changes in getExamAuditTrail (who, when,
 * fields before and after, each exactly once across pages), the exam facts in
 * force at a moment in getParticipationStateAt, and no grading shown to a
 * student before their attempt is completed, whatever duplicates V1 holds.
 */
import { describe, expect, it, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { V1Participant } from "../convex/lib/validators";
import { newConvexTest, seedExam, seedUser, useFakeClock } from "./support/convex";

const T0 = Date.UTC(2026, 4, 1, 9, 0, 0);
const MIN = 60_000;
useFakeClock(T0);

describe("grading never leaks through the audit trail", () => {
  it("a completed duplicate V1 entry of an uncompleted attempt shows no isCorrect, score or correct answer to the student", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const admin = await seedUser(t, "admin", "admin");
    const { examId, questionIds } = await seedExam(t, { questions: 2 });
    const entry = (completed: boolean): V1Participant => ({
      userId: ada.userId,
      score: completed ? 2 : 0,
      answers: completed ? questionIds.map((questionId) => ({ questionId, selectedAnswer: "a", isCorrect: true })) : [],
      startedAt: T0 - 10 * MIN,
      ...(completed ? { completedAt: T0 - 5 * MIN } : {}),
      isPaused: false,
      pauseCount: 0,
      totalPausedMs: 0,
    });
    await t.run((ctx) => ctx.db.patch("exams", examId, { participants: [entry(false), entry(true)] }));
    await ada.as.mutation(api.exams.startExamV2, { examId }); // imports both entries: the first is the attempt
    const history = await ada.as.query(api.audit.getParticipationHistory, { examId, paginationOpts: { numItems: 10, cursor: null } });
    expect(history.page.map((e) => e.type)).toEqual(["LegacyParticipantImported", "LegacyDuplicateImported"]);
    expect(JSON.stringify(history.page)).not.toMatch(/isCorrect|"score"|correctAnswer/);
    const stateAt = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + MIN });
    expect(JSON.stringify(stateAt)).not.toMatch(/isCorrect|"score"|correctAnswer/);
    await expect(ada.as.query(api.exams.getParticipantExamResultsV2, { examId })).rejects.toThrow(/completed/);
    await expect(ada.as.query(api.exams.getParticipantExamResults, { examId })).rejects.toThrow(/completed/);
    // An admin sees everything.
    const asAdmin = await admin.as.query(api.audit.getParticipationHistory, {
      examId,
      userId: ada.userId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(JSON.stringify(asAdmin.page)).toMatch(/isCorrect/);
    // Once the student completes, their own grading is theirs to see.
    await ada.as.mutation(api.exams.submitExamAnswersV2, { examId, answers: [{ questionId: questionIds[0]!, selectedAnswer: "a" }] });
    const after = await ada.as.query(api.audit.getParticipationHistory, { examId, paginationOpts: { numItems: 10, cursor: null } });
    expect(JSON.stringify(after.page)).toMatch(/isCorrect/);
  });
});

describe("exam edits in the audit trail", () => {
  it("getExamAuditTrail returns every §6 change once, with who, when and the fields before and after, across pages", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const ada = await seedUser(t, "ada");
    const q0 = await admin.as.mutation(api.examAdmin.createQuestion, { text: "Q0", options: ["a", "b"], correctAnswer: "a" });
    const examId = await admin.as.mutation(api.examAdmin.createExam, {
      title: "Exam",
      questionIds: [q0],
      durationMs: 30 * MIN,
      maxPauses: 1,
    });
    vi.setSystemTime(T0 + MIN);
    await ada.as.mutation(api.exams.startExamV2, { examId });
    vi.setSystemTime(T0 + 2 * MIN);
    await admin.as.mutation(api.examAdmin.updateExam, { examId, durationMs: 60 * MIN });
    vi.setSystemTime(T0 + 3 * MIN);
    await ada.as.mutation(api.exams.startPauseV2, { examId });
    vi.setSystemTime(T0 + 4 * MIN);
    await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: q0, correctAnswer: "b" });
    await t.run((ctx) => ctx.db.patch("exams", examId, { title: "Renamed behind our back" }));

    for (const numItems of [1, 10]) {
      const changes: { operation: string; before: unknown; after: unknown; actor: unknown }[] = [];
      const events: string[] = [];
      let cursor: string | null = null;
      for (;;) {
        const page: { page: { type: string }[]; examChanges: typeof changes; isDone: boolean; continueCursor: string } =
          await admin.as.query(api.audit.getExamAuditTrail, { examId, paginationOpts: { numItems, cursor } });
        events.push(...page.page.map((e) => e.type));
        changes.push(...page.examChanges);
        if (page.isDone) break;
        cursor = page.continueCursor;
      }
      expect(events).toEqual(["ExamStarted", "ExamPaused"]);
      // The out-of-band title edit is not there: nothing saw it yet.
      // The exam's own changes first, then each question's, each in the order recorded.
      expect(changes.map((c) => [c.operation, c.before, c.after])).toEqual([
        ["insert", null, { title: "Exam", questionIds: [q0], durationMs: 30 * MIN, maxPauses: 1 }],
        ["update", { durationMs: 30 * MIN }, { durationMs: 60 * MIN }],
        ["insert", null, { text: "Q0", options: ["a", "b"], correctAnswer: "a" }],
        ["update", { correctAnswer: "a" }, { correctAnswer: "b" }],
      ]);
      expect(changes.every((c) => JSON.stringify(c.actor) === JSON.stringify({ kind: "user", userId: admin.userId }))).toBe(true);
    }
  });

  it("getParticipationStateAt names the exam facts in force at `at`", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const ada = await seedUser(t, "ada");
    const q0 = await admin.as.mutation(api.examAdmin.createQuestion, { text: "Q0", options: ["a", "b"], correctAnswer: "a" });
    const q1 = await admin.as.mutation(api.examAdmin.createQuestion, { text: "Q1", options: ["a", "b"], correctAnswer: "a" });
    const examId = await admin.as.mutation(api.examAdmin.createExam, {
      title: "Exam",
      questionIds: [q0],
      durationMs: 30 * MIN,
      maxPauses: 1,
    });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    vi.setSystemTime(T0 + 10 * MIN);
    await admin.as.mutation(api.examAdmin.updateExam, { examId, durationMs: 45 * MIN, maxPauses: 2, questionIds: [q0, q1] });
    vi.setSystemTime(T0 + 20 * MIN);
    const before = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + 5 * MIN });
    const after = await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 + 15 * MIN });
    expect(before.exam).toEqual({ title: "Exam", durationMs: 30 * MIN, maxPauses: 1, questionIds: [q0] });
    expect(after.exam).toEqual({ title: "Exam", durationMs: 45 * MIN, maxPauses: 2, questionIds: [q0, q1] });
    expect((await ada.as.query(api.audit.getParticipationStateAt, { examId, at: T0 - MIN })).exam).toBeNull();
  });
});
