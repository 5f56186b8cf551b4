/**
 * What each exam-authoring function (CONTRACT §6) costs, with the copies it
 * keeps current in the same transaction, on an exam of 20 questions whose V1
 * array holds 1,000 participants (the exam document an update must read); and
 * what one batch of the copy repair and of its verifier costs. Deterministic
 * documents and bytes from ctx.meta.getTransactionMetrics().
 */
import type { Id } from "../../convex/_generated/dataModel";
import * as examAdmin from "../../convex/examAdmin";
import * as exams from "../../convex/exams";
import { COPY_BATCH } from "../../convex/model/examCopies";
import { EXAM_COPY_REPAIR_INTERVAL_MINUTES } from "../../convex/lib/limits";
import { createEmbeddedConvex, measureCall, type BenchRow, type BenchSection, type CallCost } from "../runtime/embedded";

const QUESTIONS = 20;
const PARTICIPANTS = 1_000;

const row = (what: string, c: CallCost): BenchRow => ({
  function: what,
  "docs read": c.documentsRead,
  "bytes read": c.bytesRead,
  "docs written": c.documentsWritten,
  "bytes written": c.bytesWritten,
});

export async function bench(): Promise<BenchSection> {
  const t = createEmbeddedConvex();
  await t.run((ctx) => ctx.db.insert("users", { name: "Admin", tokenIdentifier: "bench|admin", role: "admin" }));
  const admin = t.withIdentity({ tokenIdentifier: "bench|admin", subject: "admin" });
  await t.run((ctx) => ctx.db.insert("users", { name: "S", tokenIdentifier: "bench|s", role: "student" }));
  const asStudent = t.withIdentity({ tokenIdentifier: "bench|s", subject: "s" });
  const rows: BenchRow[] = [];
  const measure = async <A extends Record<string, unknown>>(what: string, as: typeof admin, fn: Parameters<typeof measureCall>[1], args: A) => {
    const { result, cost } = await measureCall(as, fn as never, args as never);
    rows.push(row(what, cost));
    return result as unknown;
  };

  const questionIds: Id<"questions">[] = [];
  for (let i = 0; i < QUESTIONS; i++) {
    const args = { text: `Question ${i + 1}`, options: ["A", "B", "C", "D"], correctAnswer: "A" };
    // One row is enough: every createQuestion costs the same.
    const id = i === 0 ? await measure("createQuestion", admin, examAdmin.createQuestion, args) : (await measureCall(admin, examAdmin.createQuestion, args)).result;
    questionIds.push(id as Id<"questions">);
  }
  const examId = (await measure("createExam (20 questions)", admin, examAdmin.createExam, {
    title: "Bench",
    questionIds,
    durationMs: 3_600_000,
    maxPauses: 2,
  })) as Id<"exams">;
  // The legacy array a real exam carries before cleanup: what an exam update reads.
  await t.run(async (ctx) => {
    const participants = [];
    for (let i = 0; i < PARTICIPANTS; i++) {
      const userId = await ctx.db.insert("users", { name: `P${i}`, tokenIdentifier: `bench|p${i}`, role: "student" });
      participants.push({ userId, score: 0, answers: [], startedAt: 1, isPaused: false, pauseCount: 0, totalPausedMs: 0 });
    }
    await ctx.db.patch("exams", examId, { participants });
  });
  await measure("updateQuestion (text: no copy to rewrite)", admin, examAdmin.updateQuestion, { questionId: questionIds[0]!, text: "Edited" });
  await measure("updateQuestion (points: the maxScore of its exams)", admin, examAdmin.updateQuestion, { questionId: questionIds[0]!, points: 3 });
  await measure("updateExam (title)", admin, examAdmin.updateExam, { examId, title: "Renamed" });
  await measure("updateExam (questionIds: one removed)", admin, examAdmin.updateExam, { examId, questionIds: questionIds.slice(1) });
  await measure("getExamForEditing", admin, examAdmin.getExamForEditing, { examId });
  await measure("deleteQuestion", admin, examAdmin.deleteQuestion, { questionId: questionIds[0]! });
  const empty = (await measure("createExam (no questions)", admin, examAdmin.createExam, { title: "Empty", questionIds: [], durationMs: 60_000, maxPauses: 0 })) as Id<"exams">;
  await measure("deleteExam", admin, examAdmin.deleteExam, { examId: empty });
  // An edit made around the backend, then the verifier and one repair batch find and heal it.
  await t.run((ctx) => ctx.db.patch("exams", examId, { durationMs: 7_200_000 }));
  await measure("verifyExamCopies (one batch: 1 exam)", admin, examAdmin.verifyExamCopies, {});
  await measure("repairExamCopies (one batch: 1 exam healed)", admin, examAdmin.repairExamCopies, {});
  // A V2 submit reads the live exam (grading uses the edited facts); a start reads only the copies.
  await measure("startExamV2 (copies only)", asStudent, exams.startExamV2, { examId });
  await measure("submitExamAnswersV2 (reads the live exam)", asStudent, exams.submitExamAnswersV2, {
    examId,
    answers: questionIds.slice(1).map((questionId) => ({ questionId, selectedAnswer: "A" })),
  });
  return {
    title: `Exam authoring (§6) and copy repair: cost per call (exam of ${QUESTIONS} questions, V1 array of ${PARTICIPANTS.toLocaleString("en-US")} participants)`,
    rows,
    notes: [
      "Every §6 write keeps the copies (examDefinitions, examQuestionLists, examQuestions membership rows) current and records an examChanges entry in the same transaction.",
      "An exam update reads the exam document once (the change's `before`); a participants-only write (mirror, cleanup) reads nothing more.",
      `Repair: a batch visits up to ${COPY_BATCH.exams} exams or ${COPY_BATCH.maximumBytesRead / 1024 / 1024} MiB of exam documents; scheduled every ${EXAM_COPY_REPAIR_INTERVAL_MINUTES} minutes (convex/crons.ts).`,
    ],
  };
}
