/**
 * The exam headers: the slim `examHeaders` and the question list, syncExamHeader
 * writing only differences, grading against the live questions, and V2
 * per-student reads / first writes that cost the same however big the exam
 * document (with its legacy array) grows.
 */
import { describe, expect, it } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import * as exams from "../convex/exams";
import type { V1Participant } from "../convex/lib/validators";
import { markLegacyBackfilled, syncExamHeader } from "../convex/headers/examHeaders";
import { measureCall, measureRun } from "../src/runtime/embedded";
import { legacyEntry, newConvexTest, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);

useFakeClock(T0);

/** syncExamHeader of the exam's current document, with the documents it wrote. */
async function resync(t: TestConvex, examId: Id<"exams">) {
  return measureRun(t, async (ctx) => syncExamHeader(ctx, (await ctx.db.get("exams", examId))!));
}

/** Entries of `n` other users with `answers` answers each: they make the exam document big. */
async function bigArray(t: TestConvex, questionId: Id<"questions">, n: number, answers: number): Promise<V1Participant[]> {
  const userIds = await t.run(async (ctx) =>
    Promise.all(
      Array.from({ length: n }, (_, i) => ctx.db.insert("users", { name: `Legacy ${i}`, tokenIdentifier: `legacy|${i}`, role: "student" })),
    ),
  );
  return userIds.map((userId) =>
    legacyEntry(userId, T0 - 60_000, {
      answers: Array.from({ length: answers }, () => ({ questionId, selectedAnswer: "x".repeat(40), isCorrect: false })),
    }),
  );
}

describe("the exam header and question list (the exam's own small facts)", () => {
  it("hold the exam's own fields only, nothing of its questions; a session reads the questions by id", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 4, points: (i) => (i === 2 ? 3 : undefined) });
    const session = await ada.as.mutation(api.exams.startExamV2, { examId });
    const [header, list] = await t.run(async (ctx) => [
      await ctx.db
        .query("examHeaders")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
      await ctx.db
        .query("examQuestionLists")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
    ]);
    const exam = (await t.run((ctx) => ctx.db.get("exams", examId)))!;
    expect(header).toMatchObject({
      examCreationTime: exam._creationTime,
      title: exam.title,
      questionCount: 4,
      durationMs: exam.durationMs,
    });
    expect(list).toMatchObject({ questionIds, formerQuestionIds: [] });
    expect(JSON.stringify([header, list])).not.toMatch(/correctAnswer|text|points/);
    expect(session.questions.map((q) => q.points)).toEqual([1, 1, 3, 1]);
    // What a session reads: the caller, the header, the list, the attempt (row, stream head) and each question by id.
    const read = await measureCall(ada.as, exams.getExamSessionV2 as never, { examId } as never);
    expect(read.cost.documentsRead).toBe(4 + questionIds.length);
  });

  it("syncExamHeader writes only differences and heals what was edited behind it", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 3 });
    const [q0, q1, q2] = questionIds as [Id<"questions">, Id<"questions">, Id<"questions">];
    expect((await resync(t, examId)).cost.documentsWritten).toBe(3); // seeded around the keeper: header and list created, and what they found recorded
    expect((await resync(t, examId)).cost.documentsWritten).toBe(0); // nothing changed: nothing written

    // Edited behind the keeper: the exam's questions and duration, and a question's answer (read live, never copied).
    await t.run(async (ctx) => {
      await ctx.db.patch("questions", q0, { correctAnswer: "b" });
      await ctx.db.patch("exams", examId, { questionIds: [q0, q2], durationMs: 60_000 });
    });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    // Until healed, V2 shows the header as it was, all of a piece; the questions as they are.
    const before = await ada.as.query(api.exams.getExamSessionV2, { examId });
    expect(before.questions.map((q) => q.questionId)).toEqual([q0, q1, q2]);
    expect(before.durationMs).not.toBe(60_000);
    expect((await resync(t, examId)).cost.documentsWritten).toBe(3); // header, list, the record of the edit it absorbed
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

describe("reads and writes that never read the exam document", () => {
  it("a first write on an exam marked backfilled does not read the exam document", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const bob = await seedUser(t, "bob");
    const { examId, questionIds } = await seedExam(t, { questions: 2 });
    const participants = await bigArray(t, questionIds[0]!, 40, 40);
    await t.run(async (ctx) => {
      await ctx.db.patch("exams", examId, { participants });
      const definition = await syncExamHeader(ctx, (await ctx.db.get("exams", examId))!);
      await ctx.db.patch("examHeaders", definition._id, { legacyMirror: false }); // the mirror reads it by design
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
