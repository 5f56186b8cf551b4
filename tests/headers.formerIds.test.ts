/**
 * The question list's `formerQuestionIds` holds the ids removed from the exam, newest last, and is
 * bounded: valid edits (each within WORK_BOUNDS.newQuestionIdsPerEdit and 8,192 questions) never build an array Convex
 * refuses to store (arrays hold at most 8,192 values; convex-test does not check it, so the test reads the list).
 */
import { describe, expect, it } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { CONVEX_LIMITS, WORK_BOUNDS } from "../convex/lib/limits";
import { newConvexTest, seedUser, useFakeClock, type TestConvex } from "./support/convex";

useFakeClock(Date.UTC(2026, 2, 2, 9, 0, 0));

async function insertQuestions(t: TestConvex, n: number): Promise<Id<"questions">[]> {
  return t.run(async (ctx) => {
    const out: Id<"questions">[] = [];
    for (let i = 0; i < n; i++) out.push(await ctx.db.insert("questions", { text: `Q${i}`, options: ["a", "b"], correctAnswer: "a" }));
    return out;
  });
}

describe("an exam's question list after many valid edits", () => {
  it("stays storable by Convex (every array ≤ 8,192 values) after replacing its questions five times", { timeout: 120_000 }, async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    const n = 1_900;
    expect(n).toBeLessThanOrEqual(WORK_BOUNDS.newQuestionIdsPerEdit);
    const examId = await admin.as.mutation(api.examAdmin.createExam, {
      title: "Rotating bank",
      questionIds: await insertQuestions(t, n),
      durationMs: 60_000,
      maxPauses: 0,
    });
    let lastButOne: Id<"questions">[] = [];
    for (let edit = 0; edit < 5; edit++) {
      lastButOne = await t.run(async (ctx) => (await ctx.db.get("exams", examId))!.questionIds);
      await admin.as.mutation(api.examAdmin.updateExam, { examId, questionIds: await insertQuestions(t, n) });
    }
    const list = await t.run(async (ctx) =>
      ctx.db
        .query("examQuestionLists")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
    );
    expect(list!.questionIds).toHaveLength(n);
    expect(list!.formerQuestionIds).toHaveLength(CONVEX_LIMITS.arrayElements); // 9,500 removed: the oldest dropped
    expect(list!.formerQuestionIds.slice(-n)).toEqual(lastButOne); // the newest removals kept, in order
  });
});
