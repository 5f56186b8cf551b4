/**
 * The student's guarantee for V1 with a question removed out of band. The V1 write decides with the
 * exam document's questionIds; every id its list holds or held (the list has not seen the removal until the
 * header check heals it) counts as one the student may have seen: the answer is kept, worth nothing, as V2 keeps it.
 */
import { describe, expect, it, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { newConvexTest, seedExam, seedUser, useFakeClock } from "./support/convex";
import { runHeaderCheckPass } from "./support/exams";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
useFakeClock(T0);

describe("V1 submit after a question removed out of band", () => {
  it("accepts the answers its session showed (the removed question's answer kept, worth nothing)", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 3 });
    await runHeaderCheckPass(t);
    const session = await ada.as.mutation(api.exams.startExam, { examId });
    expect(session.questions.map((q) => q.questionId)).toEqual(questionIds);
    await t.run((ctx) => ctx.db.patch("exams", examId, { questionIds: [questionIds[0]!, questionIds[2]!] })); // the dashboard
    vi.setSystemTime(Date.now() + 60_000);
    const answers = session.questions.map((q) => ({ questionId: q.questionId, selectedAnswer: "a" }));
    const result = await ada.as.mutation(api.exams.submitExamAnswers, { examId, answers }).catch((e: unknown) => String(e));
    expect(result).toMatchObject({ status: "completed", score: 2 });
  });
});
