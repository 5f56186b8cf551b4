/**
 * The exam copies: the slim `examDefinitions`, the question list, and the
 * question sheet (what a session shows, one document; never a correct answer),
 * syncExamDefinition writing only differences,
 * grading against the live questions, and V2 per-student reads / first writes
 * that cost the same however big the exam document (with its legacy array) grows.
 */
import { describe, expect, it } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { MAX_QUESTION_SHEET_BYTES } from "../convex/lib/limits";
import type { Id } from "../convex/_generated/dataModel";
import * as examAdmin from "../convex/examAdmin";
import * as exams from "../convex/exams";
import type { V1Participant } from "../convex/lib/validators";
import { markLegacyBackfilled, syncExamDefinition } from "../convex/copies/examDefinitions";
import { measureCall, measureRun } from "../src/runtime/embedded";
import { newConvexTest, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);

useFakeClock(T0);

async function sheetOf(t: TestConvex, examId: Id<"exams">) {
  return t.run((ctx) =>
    ctx.db
      .query("examQuestions")
      .withIndex("by_exam_and_position", (q) => q.eq("examId", examId))
      .collect(),
  );
}

/** syncExamDefinition of the exam's current document, with the documents it wrote. */
async function resync(t: TestConvex, examId: Id<"exams">) {
  return measureRun(t, async (ctx) => syncExamDefinition(ctx, (await ctx.db.get("exams", examId))!));
}

/** Entries of `n` other users with `answers` answers each: they make the exam document big. */
async function bigArray(t: TestConvex, questionId: Id<"questions">, n: number, answers: number): Promise<V1Participant[]> {
  const userIds = await t.run(async (ctx) =>
    Promise.all(
      Array.from({ length: n }, (_, i) => ctx.db.insert("users", { name: `Legacy ${i}`, tokenIdentifier: `legacy|${i}`, role: "student" })),
    ),
  );
  return userIds.map((userId) => ({
    userId,
    score: 0,
    answers: Array.from({ length: answers }, () => ({ questionId, selectedAnswer: "x".repeat(40), isCorrect: false })),
    startedAt: T0 - 60_000,
    isPaused: false,
    pauseCount: 0,
    totalPausedMs: 0,
  }));
}

describe("the exam definition (the one copy of an exam's facts)", () => {
  it("copies no correct answer: the session reads the question sheet, one document, never a question", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 4, points: (i) => (i === 2 ? 3 : undefined) });
    const session = await ada.as.mutation(api.exams.startExamV2, { examId });
    const rows = await sheetOf(t, examId);
    expect(rows.map((r) => [r.position, r.questionId])).toEqual(questionIds.map((id, i) => [i, id]));
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(["_creationTime", "_id", "examId", "position", "questionId"]);
    const copies = await t.run(async (ctx) => [
      await ctx.db
        .query("examDefinitions")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
      await ctx.db
        .query("examQuestionLists")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
    ]);
    const sheet = await t.run((ctx) =>
      ctx.db
        .query("examQuestionSheets")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
    );
    expect(copies).toMatchObject([
      { questionCount: 4, maxScore: 6 },
      { questionIds, formerQuestionIds: [] },
    ]);
    expect(sheet?.questions).toEqual(session.questions.map(({ points, ...q }) => (points === 3 ? { ...q, points } : q)));
    expect(JSON.stringify([copies, sheet])).not.toMatch(/correctAnswer/);
    expect(JSON.stringify(session.questions)).not.toMatch(/correctAnswer/);
    expect(session.questions.map((q) => q.points)).toEqual([1, 1, 3, 1]);
    // What a session reads: the caller, the attempt, the definition and the sheet; no question document.
    const read = await measureCall(ada.as, exams.getExamSessionV2 as never, { examId } as never);
    expect(read.cost.documentsRead).toBe(4);
  });

  it("syncExamDefinition writes only differences, drops content rows older code left, and heals what was edited behind it", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 3 });
    const [q0, q1, q2] = questionIds as [Id<"questions">, Id<"questions">, Id<"questions">];
    await t.run((ctx) => ctx.db.insert("examQuestions", { examId, position: 0, questionId: q0, text: "old copy", options: ["a"] }));
    // definition + list + sheet + 3 membership rows, and the old content row replaced by a membership row
    expect((await resync(t, examId)).cost.documentsWritten).toBe(7);
    expect((await resync(t, examId)).cost.documentsWritten).toBe(0); // nothing changed: nothing written
    expect((await sheetOf(t, examId)).map((r) => r.text)).toEqual([undefined, undefined, undefined]);

    // Edited behind the wrapper: the question's text (copied into the sheet) and answer (read live), the exam's questions (copied).
    await t.run(async (ctx) => {
      await ctx.db.patch("questions", q0, { text: "Edited", correctAnswer: "b" });
      await ctx.db.patch("exams", examId, { questionIds: [q0, q2] });
    });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    // Until healed, V2 shows the copies as they were, all of a piece.
    expect((await ada.as.query(api.exams.getExamSessionV2, { examId })).questions.map((q) => q.text)).toEqual([
      "Question 1",
      "Question 2",
      "Question 3",
    ]);
    expect((await resync(t, examId)).cost.documentsWritten).toBe(6); // definition, list, sheet; rows of q1 and q2 out, q2 at 1 in
    const list = await t.run((ctx) =>
      ctx.db
        .query("examQuestionLists")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
    );
    expect(list).toMatchObject({ questionIds: [q0, q2], formerQuestionIds: [q1] });
    expect(await ada.as.query(api.exams.validateQuestionAccessV2, { examId, questionId: q1 })).toEqual({
      allowed: false,
      reason: "not_in_exam",
    });
    expect(await ada.as.query(api.exams.getExamSessionV2, { examId })).toEqual(await ada.as.query(api.exams.getExamSession, { examId }));
    const graded = await ada.as.mutation(api.exams.submitExamAnswersV2, { examId, answers: [{ questionId: q0, selectedAnswer: "b" }] });
    expect(graded.answers[0]).toMatchObject({ isCorrect: true, correctAnswer: "b" });
  });
});

describe("the question sheet (a copy of what a session shows)", () => {
  const sheetDoc = (t: TestConvex, examId: Id<"exams">) =>
    t.run((ctx) =>
      ctx.db
        .query("examQuestionSheets")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
    );

  it("an edit made behind its back is named by verifyExamCopies, shown as it was until healed, then healed by the repair", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 3 });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    await t.run((ctx) => ctx.db.patch("questions", questionIds[1]!, { text: "Edited behind our back", options: ["x", "y"] }));

    const verified = await t.query(internal.examAdmin.verifyExamCopies, { cursor: null });
    // The text is in the sheet, and in the digest that vouches for the result copies.
    expect(verified.stale.map((s: { field: string }) => s.field)).toEqual(["questionFacts", "questionSheet"]);
    const before = await ada.as.query(api.exams.getExamSessionV2, { examId });
    expect(before.questions[1]).toMatchObject({ text: "Question 2", options: ["a", "b", "c", "d"] });

    for (let cursor: string | null = null; ;) {
      const r: { isDone: boolean; continueCursor: string | null } = await t.mutation(internal.examAdmin.repairExamCopies, { cursor });
      if (r.isDone) break;
      cursor = r.continueCursor;
    }
    expect((await t.query(internal.examAdmin.verifyExamCopies, { cursor: null })).stale).toEqual([]);
    const after = await ada.as.query(api.exams.getExamSessionV2, { examId });
    expect(after.questions[1]).toMatchObject({ text: "Edited behind our back", options: ["x", "y"] });
    expect(after).toEqual(await ada.as.query(api.exams.getExamSession, { examId }));
  });

  it("a question edit through the backend rewrites the sheet of every exam holding it, in the same transaction", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 2 });
    const other = await admin.as.mutation(api.examAdmin.createExam, {
      title: "Other",
      questionIds: [questionIds[1]!],
      durationMs: 60_000,
      maxPauses: 0,
    });
    await t.run(async (ctx) => void (await syncExamDefinition(ctx, (await ctx.db.get("exams", examId))!)));
    await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: questionIds[1]!, text: "Shared, edited", points: 4 });
    for (const id of [examId, other]) {
      expect((await sheetDoc(t, id))?.questions.find((q) => q.questionId === questionIds[1])).toMatchObject({
        text: "Shared, edited",
        points: 4,
      });
    }
    expect((await ada.as.query(api.exams.getExamSessionV2, { examId: other })).questions).toEqual([
      { questionId: questionIds[1], text: "Shared, edited", options: ["a", "b", "c", "d"], points: 4 },
    ]);
  });

  it("a text or options edit patches each sheet in place: its cost does not grow with the exam's questions", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const cost = async (questions: number) => {
      const { examId, questionIds } = await seedExam(t, { questions });
      await t.run(async (ctx) => void (await syncExamDefinition(ctx, (await ctx.db.get("exams", examId))!)));
      const args = { questionId: questionIds[0]!, text: "Typo fixed", options: ["a", "b"] };
      const { cost } = await measureCall(admin.as, examAdmin.updateQuestion as never, args as never);
      const session = await admin.as.query(api.exams.getExamSessionV2, { examId });
      expect(session).toEqual(await admin.as.query(api.exams.getExamSession, { examId }));
      expect(session.questions[0]).toMatchObject({ text: "Typo fixed", options: ["a", "b"] });
      return cost.documentsRead;
    };
    expect(await cost(40)).toBe(await cost(2));
    expect((await t.query(internal.examAdmin.verifyExamCopies, { cursor: null })).stale).toEqual([]);
  });

  it("an exam whose sheet would pass MAX_QUESTION_SHEET_BYTES keeps none: its sessions read the live questions", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 3 });
    await t.run(async (ctx) => void (await syncExamDefinition(ctx, (await ctx.db.get("exams", examId))!)));
    expect(await sheetDoc(t, examId)).not.toBeNull();
    const long = "x".repeat(MAX_QUESTION_SHEET_BYTES / 2);
    for (const questionId of questionIds.slice(0, 2)) await admin.as.mutation(api.examAdmin.updateQuestion, { questionId, text: long });
    expect(await sheetDoc(t, examId)).toBeNull();
    expect((await t.query(internal.examAdmin.verifyExamCopies, { cursor: null })).stale).toEqual([]); // absent is what it should be
    const session = await ada.as.mutation(api.exams.startExamV2, { examId });
    expect(session.questions.map((q) => q.text.length)).toEqual([long.length, long.length, "Question 3".length]);
    expect(await ada.as.query(api.exams.getExamSessionV2, { examId })).toEqual(await ada.as.query(api.exams.getExamSession, { examId }));
    // Back under the limit: the sheet returns.
    await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: questionIds[0]!, text: "Short again" });
    expect((await sheetDoc(t, examId))?.questions.map((q) => q.text.length)).toEqual([
      "Short again".length,
      long.length,
      "Question 3".length,
    ]);
  });
});

describe("reads and writes that never read the exam document", () => {
  it("a first write on an exam marked backfilled does not read the exam document", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const bob = await seedUser(t, "bob");
    const { examId, questionIds } = await seedExam(t, { questions: 2 });
    const participants = await bigArray(t, questionIds[0]!, 40, 40);
    await t.run(async (ctx) => {
      await ctx.db.patch("exams", examId, { participants });
      const definition = await syncExamDefinition(ctx, (await ctx.db.get("exams", examId))!);
      await ctx.db.patch("examDefinitions", definition._id, { legacyMirror: false }); // the mirror reads it by design
    });
    const examBytes = (await measureRun(t, (ctx) => ctx.db.get("exams", examId))).cost.bytesRead;
    expect(examBytes).toBeGreaterThan(100_000);

    const notMarked = await measureCall(ada.as, exams.startExamV2 as never, { examId } as never);
    expect(notMarked.cost.bytesRead).toBeGreaterThanOrEqual(examBytes); // looked for a legacy entry of ada
    await t.run((ctx) => markLegacyBackfilled(ctx, examId));
    const marked = await measureCall(bob.as, exams.startExamV2 as never, { examId } as never);
    expect(marked.cost.bytesRead).toBeLessThan(10_000);
    expect(marked.cost.documentsRead).toBe(notMarked.cost.documentsRead - 1);
  });

  it("V2 per-student reads cost the same however big the exam document grows", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const newcomer = await seedUser(t, "newcomer");
    const { examId, questionIds } = await seedExam(t, { questions: 3 });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    await ada.as.mutation(api.exams.submitExamAnswersV2, {
      examId,
      answers: questionIds.map((questionId) => ({ questionId, selectedAnswer: "a" })),
    });
    await t.run((ctx) => markLegacyBackfilled(ctx, examId));

    const reads = [
      [exams.getExamSessionV2, { examId }],
      [exams.getPauseStatusV2, { examId }],
      [exams.validateQuestionAccessV2, { examId, questionId: questionIds[1] }],
      [exams.getParticipantExamResultsV2, { examId }],
      [exams.getMyDashboardStatsV2, {}],
      [exams.getMyRecentExamsV2, {}],
    ] as const;
    const costs = async () => {
      const out: number[] = [];
      for (const [fn, args] of reads) out.push((await measureCall(ada.as, fn as never, args as never)).cost.bytesRead);
      // A student who has not started: on a backfilled exam no legacy entry can exist, so no fallback read.
      out.push((await measureCall(newcomer.as, exams.getPauseStatusV2 as never, { examId } as never)).cost.bytesRead);
      return out;
    };
    const small = await costs();
    const participants = await bigArray(t, questionIds[0]!, 40, 40);
    await t.run(async (ctx) => {
      const exam = (await ctx.db.get("exams", examId))!;
      await ctx.db.patch("exams", examId, { participants: [...(exam.participants ?? []), ...participants] });
    });
    expect(await costs()).toEqual(small);
    expect(Math.max(...small)).toBeLessThan(5_000);
  });
});
