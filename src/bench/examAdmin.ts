/**
 * What each exam-authoring function costs, with the header it keeps current in
 * the same transaction, on an exam of 20 questions whose V1 array holds 1,000
 * participants (the exam document an update must read); and what one batch and
 * one pass of the header check cost. Deterministic documents and bytes from
 * ctx.meta.getTransactionMetrics().
 */
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import * as examAdmin from "../../convex/examAdmin";
import * as exams from "../../convex/exams";
import { HEADER_CHECK_INTERVAL_MINUTES, WORK_BOUNDS } from "../../convex/lib/limits";
import { createEmbeddedConvex, measureCall, type BenchRow, type BenchSection, type CallCost } from "../runtime/embedded";

const QUESTIONS = 20;
const PARTICIPANTS = 1_000;
/** V2 attempts completed before the last text edit (the first is the student measured above). */
const COMPLETED = 50;
const PASS_EXAMS = 200;

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
  const measure = async <A extends Record<string, unknown>>(
    what: string,
    as: typeof admin,
    fn: Parameters<typeof measureCall>[1],
    args: A,
  ) => {
    const { result, cost } = await measureCall(as, fn as never, args as never);
    rows.push(row(what, cost));
    return result as unknown;
  };

  const questionIds: Id<"questions">[] = [];
  for (let i = 0; i < QUESTIONS; i++) {
    const args = { text: `Question ${i + 1}`, options: ["A", "B", "C", "D"], correctAnswer: "A" };
    // One row is enough: every createQuestion costs the same.
    const id =
      i === 0
        ? await measure("createQuestion", admin, examAdmin.createQuestion, args)
        : (await measureCall(admin, examAdmin.createQuestion, args)).result;
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
  await measure("updateQuestion (text)", admin, examAdmin.updateQuestion, {
    questionId: questionIds[0]!,
    text: "Edited",
  });
  await measure("updateQuestion (points)", admin, examAdmin.updateQuestion, {
    questionId: questionIds[0]!,
    points: 3,
  });
  await measure("updateExam (title)", admin, examAdmin.updateExam, { examId, title: "Renamed" });
  await measure("updateExam (questionIds: one removed)", admin, examAdmin.updateExam, { examId, questionIds: questionIds.slice(1) });
  await measure("getExamForEditing", admin, examAdmin.getExamForEditing, { examId });
  await measure("deleteQuestion", admin, examAdmin.deleteQuestion, { questionId: questionIds[0]! });
  const empty = (await measure("createExam (no questions)", admin, examAdmin.createExam, {
    title: "Empty",
    questionIds: [],
    durationMs: 60_000,
    maxPauses: 0,
  })) as Id<"exams">;
  await measure("deleteExam", admin, examAdmin.deleteExam, { examId: empty });
  // An edit made around the backend, then the verifier and one repair batch find and heal it.
  await t.run((ctx) => ctx.db.patch("exams", examId, { durationMs: 7_200_000 }));
  await measure("verifyExamHeaders (one batch: 1 exam)", admin, examAdmin.verifyExamHeaders, {});
  await measure("repairExamHeaders (one batch: 1 exam healed)", admin, examAdmin.repairExamHeaders, {});
  // V2 writes read the header, the list and the questions by id, never the exam document.
  await measure("startExamV2", asStudent, exams.startExamV2, { examId });
  await measure("submitExamAnswersV2", asStudent, exams.submitExamAnswersV2, {
    examId,
    answers: questionIds.slice(1).map((questionId) => ({ questionId, selectedAnswer: "A" })),
  });
  // Once students have completed the exam, a text edit costs the same: no exam holds anything of a question.
  for (let i = 1; i < COMPLETED; i++) {
    await t.run((ctx) => ctx.db.insert("users", { name: `C${i}`, tokenIdentifier: `bench|c${i}`, role: "student" }));
    const student = t.withIdentity({ tokenIdentifier: `bench|c${i}`, subject: `c${i}` });
    await student.mutation(api.exams.startExamV2, { examId });
    const answers = questionIds.slice(1).map((questionId) => ({ questionId, selectedAnswer: "A" }));
    await student.mutation(api.exams.submitExamAnswersV2, { examId, answers });
  }
  await measure(`updateQuestion (text, ${COMPLETED} attempts completed)`, admin, examAdmin.updateQuestion, {
    questionId: questionIds[1]!,
    text: "Edited after the exam",
  });

  // The convergence bound: a whole repair pass over PASS_EXAMS exams, a tenth of them edited around the backend.
  const pass = createEmbeddedConvex();
  await pass.run(async (ctx) => {
    const questionId = await ctx.db.insert("questions", { text: "Q", options: ["A", "B"], correctAnswer: "A" });
    for (let i = 0; i < PASS_EXAMS; i++)
      await ctx.db.insert("exams", { title: `E${i}`, questionIds: [questionId], durationMs: 60_000, maxPauses: 0 });
  });
  type Batch = { stale: unknown[]; continueCursor: string | null };
  const repairBatch = async (cursor: string | null) =>
    measureCall<{ cursor?: string | null }, Batch>(pass, examAdmin.repairExamHeaders as never, { cursor });
  // A first pass creates every exam's header (all were created out of band).
  for (let c: string | null = (await repairBatch(null)).result.continueCursor; c !== null;)
    c = (await repairBatch(c)).result.continueCursor;
  let cursor: string | null = null;
  await pass.run(async (ctx) => {
    const all = await ctx.db.query("exams").take(PASS_EXAMS);
    for (const exam of all.filter((_, i) => i % 10 === 0)) await ctx.db.patch("exams", exam._id, { durationMs: 120_000 });
  });
  let batches = 0;
  let healed = 0;
  let maxDocs = 0;
  let maxBytes = 0;
  const started = performance.now();
  do {
    const { result, cost }: { result: Batch; cost: CallCost } = await repairBatch(cursor);
    batches++;
    healed += result.stale.length;
    maxDocs = Math.max(maxDocs, cost.documentsRead);
    maxBytes = Math.max(maxBytes, cost.bytesRead);
    cursor = result.continueCursor;
  } while (cursor !== null);
  const ms = performance.now() - started;
  rows.push({
    function: `repair pass over ${PASS_EXAMS} exams (${healed} stale fields healed): largest batch`,
    "docs read": maxDocs,
    "bytes read": maxBytes,
    batches,
    "pass ms": Math.round(ms),
  });
  return {
    title: `Exam authoring and the header check: cost per call (exam of ${QUESTIONS} questions, V1 array of ${PARTICIPANTS.toLocaleString("en-US")} participants)`,
    rows,
    notes: [
      "Every authoring write keeps the exam's header and question list current and records an examChanges entry in the same transaction; a question write touches no exam.",
      "An exam update reads the exam document once (the change's `before`); a participants-only write (mirror, cleanup) reads nothing more.",
      "Last row: the largest batch's reads, the number of batches of the pass, and its wall time on this machine (embedded convex-test; a ratio, not a production figure).",
      `Header check: a batch visits up to ${WORK_BOUNDS.headerCheckExams} exams, stopping before half of any Convex limit; a pass starts every ${HEADER_CHECK_INTERVAL_MINUTES} minutes by default (examAdmin:setHeaderCheckInterval).`,
    ],
  };
}
