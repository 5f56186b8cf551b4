/**
 * A header or question list copied around the keeper (a dashboard duplicate): reads take the first and go on,
 * the header check names the copies and removes them, and nothing else changes.
 */
import { describe, expect, it } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { newConvexTest, seedExam, seedUser, useFakeClock } from "./support/convex";
import { runHeaderCheckPass } from "./support/exams";

useFakeClock(Date.UTC(2026, 2, 2, 9, 0, 0));

describe("a duplicated header", () => {
  it("is read past by V1 and V2, named by the verifier, removed by the header check", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const exam = await seedExam(t, { title: "Dup" });
    await runHeaderCheckPass(t);
    await t.run(async (ctx) => {
      for (const table of ["examHeaders", "examQuestionLists"] as const) {
        const { _id, _creationTime, ...copy } = (await ctx.db
          .query(table)
          .withIndex("by_exam", (q) => q.eq("examId", exam.examId))
          .first())!;
        await ctx.db.insert(table, copy as never);
      }
    });
    // Every read goes on: the first header and list are the exam's.
    await ada.as.mutation(api.exams.startExamV2, { examId: exam.examId });
    expect(await ada.as.query(api.exams.getExamSessionV2, { examId: exam.examId })).toEqual(
      await ada.as.query(api.exams.getExamSession, { examId: exam.examId }),
    );
    expect((await t.query(internal.examAdmin.verifyExamHeaders, {})).stale).toEqual([
      { examId: exam.examId, field: "header", held: "2 duplicate(s)", live: "one header and list" },
    ]);
    await runHeaderCheckPass(t);
    expect(await t.query(internal.examAdmin.verifyExamHeaders, {})).toMatchObject({ isValid: true });
    const left = await t.run(async (ctx) => [
      (await ctx.db.query("examHeaders").collect()).length,
      (await ctx.db.query("examQuestionLists").collect()).length,
    ]);
    expect(left).toEqual([1, 1]);
    expect((await ada.as.query(api.exams.getAllExamsMetadataV2, {})).map((m) => m.title)).toEqual(["Dup"]);
  });
});
