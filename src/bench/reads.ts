/**
 * What every read function of the exam API costs, V1 against V2, on the
 * migration guide's dataset (15 exams, 234 participants, 46,800 answers),
 * measured before cleanup, while the exam documents still hold their arrays.
 * Every V1 participant is first imported into V2 (the backfill's own path,
 * importLegacyEntries) so both APIs describe the same attempts.
 *
 * "Returned documents" are what a read must return and so cannot avoid: the
 * question documents of a session (the live `questions`, both APIs), and for results the live `questions` (both APIs: correct answers)
 * plus the student's own answer documents. The 50× target is checked without them.
 *
 * @example
 * const section = await bench(); // rows: function, V1/V2 documents and bytes read, ratio, target met
 */
import * as e from "../../convex/exams";
import type { Id } from "../../convex/_generated/dataModel";
import { importLegacyEntries } from "../../convex/model/attempts";
import { markLegacyBackfilled, syncExamDefinition } from "../../convex/model/examDefinitions";
import { loadQuestions } from "../../convex/model/examSources";
import { loadAnswers, loadParticipation } from "../../convex/projections/store";
import { generateV1Dataset, GUIDE_DATASET, insertDataset } from "../dataset/generate";
import { createEmbeddedConvex, measureCall, measureRun, type BenchRow, type BenchSection, type CallCost, type EmbeddedConvex } from "../runtime/embedded";

/** Imports every V1 participant of every exam into V2, one exam per transaction. */
async function backfill(t: EmbeddedConvex, examIds: Id<"exams">[]) {
  for (const examId of examIds) {
    await t.run(async (ctx) => {
      const exam = (await ctx.db.get("exams", examId))!;
      await syncExamDefinition(ctx, exam);
      const byUser = new Map<Id<"users">, { participant: (typeof participants)[number]; sourceIndex: number }[]>();
      const participants = exam.participants ?? [];
      participants.forEach((participant, sourceIndex) => {
        byUser.set(participant.userId, [...(byUser.get(participant.userId) ?? []), { participant, sourceIndex }]);
      });
      for (const [userId, entries] of byUser) await importLegacyEntries(ctx, { examId, userId }, entries);
    });
  }
}

/** What a read must return besides its own bookkeeping: "questions" (session) or "questions+answers" (results). */
type Returns = "none" | "questions" | "questions+answers";
type Pair = { name: string; perStudent: boolean; returns: Returns; args: object; v1: unknown; v2: unknown };

export async function bench(): Promise<BenchSection> {
  const t = createEmbeddedConvex();
  const dataset = generateV1Dataset(GUIDE_DATASET);
  const ids = await insertDataset(t, dataset);
  const examIds = dataset.exams.map((e) => ids.exams.get(e.key)!);
  await backfill(t, examIds);

  // A student who completed the first exam, as the caller.
  const examKey = dataset.exams[0]!.key;
  const student = dataset.exams[0]!.participants.find((p) => p.completedAt !== undefined)!;
  const user = dataset.users.find((u) => u.key === student.userKey)!;
  const as = t.withIdentity({ tokenIdentifier: user.tokenIdentifier, subject: user.key });
  const examId = ids.exams.get(examKey)!;
  const questionIds = dataset.exams[0]!.questionKeys.map((k) => ids.questions.get(k)!);
  const pairs: Pair[] = [
    { name: "getExamSession", perStudent: true, returns: "questions", args: { examId }, v1: e.getExamSession, v2: e.getExamSessionV2 },
    { name: "getParticipantExamResults", perStudent: true, returns: "questions+answers", args: { examId }, v1: e.getParticipantExamResults, v2: e.getParticipantExamResultsV2 },
    { name: "getPauseStatus", perStudent: true, returns: "none", args: { examId }, v1: e.getPauseStatus, v2: e.getPauseStatusV2 },
    { name: "validateQuestionAccess", perStudent: true, returns: "none", args: { examId, questionId: questionIds[0]! }, v1: e.validateQuestionAccess, v2: e.validateQuestionAccessV2 },
    { name: "getMyDashboardStats", perStudent: true, returns: "none", args: {}, v1: e.getMyDashboardStats, v2: e.getMyDashboardStatsV2 },
    { name: "getMyRecentExams", perStudent: true, returns: "none", args: {}, v1: e.getMyRecentExams, v2: e.getMyRecentExamsV2 },
    { name: "getExamLeaderboard (top 10)", perStudent: false, returns: "none", args: { examId, limit: 10 }, v1: e.getExamLeaderboard, v2: e.getExamLeaderboardV2 },
    { name: "getAllExamsMetadata", perStudent: false, returns: "none", args: {}, v1: e.getAllExamsMetadata, v2: e.getAllExamsMetadataV2 },
  ];
  // What session and results must return, measured alone: left out of the 50× comparison.
  const questionCost = (await measureRun(t, (ctx) => loadQuestions(ctx, questionIds))).cost;
  const participationId = (await t.run((ctx) => loadParticipation(ctx, { examId, userId: ids.users.get(user.key)! })))!._id;
  const answerCost = (await measureRun(t, (ctx) => loadAnswers(ctx, participationId))).cost;
  const returnedBytes = (returns: Returns, which: "V1" | "V2"): number => {
    if (returns === "questions") return questionCost.bytesRead; // both read the live question documents
    // V1 reads its answers inside the exam document (no separate answer documents to leave out).
    if (returns === "questions+answers") return questionCost.bytesRead + (which === "V2" ? answerCost.bytesRead : 0);
    return 0;
  };

  const rows: BenchRow[] = [];
  const failures: string[] = [];
  for (const pair of pairs) {
    const v1 = await measureCall(as, pair.v1 as never, pair.args as never);
    const v2 = await measureCall(as, pair.v2 as never, pair.args as never);
    if (JSON.stringify(v1.result) !== JSON.stringify(v2.result)) failures.push(`${pair.name}: V1 and V2 results differ`);
    const own = (c: CallCost, which: "V1" | "V2") => c.bytesRead - returnedBytes(pair.returns, which);
    const ratio = own(v1.cost, "V1") / Math.max(1, own(v2.cost, "V2"));
    const leaderboard = pair.name.startsWith("getExamLeaderboard");
    const met = pair.perStudent ? ratio >= 50 : leaderboard ? v2.cost.documentsRead <= 36 : null;
    rows.push({
      function: pair.name,
      "V1 docs": v1.cost.documentsRead,
      "V2 docs": v2.cost.documentsRead,
      "V1 bytes": v1.cost.bytesRead,
      "V2 bytes": v2.cost.bytesRead,
      "returned docs": pair.returns,
      "V1 bytes w/o returned": own(v1.cost, "V1"),
      "V2 bytes w/o returned": own(v2.cost, "V2"),
      "V1/V2 w/o returned": Number(ratio.toFixed(1)),
      target: pair.perStudent ? "≥ 50×" : leaderboard ? "≤ 36 docs" : "-",
      met: met === null ? "-" : met ? "yes" : "NO",
    });
    if (pair.perStudent && ratio < 50) failures.push(`${pair.name}: V2 reads only ${ratio.toFixed(1)}× fewer bytes than V1 (target ≥ 50×)`);
    if (leaderboard && v2.cost.documentsRead > 36) failures.push(`leaderboard V2 reads ${v2.cost.documentsRead} documents`);
  }

  // The legacy mirror's price on a write: a new student starting exam e0 with the mirror on, then off.
  // Then, mirror off, on an exam marked backfilled: the first write skips the legacy-entry lookup in the exam document.
  const newcomers = ["on", "off", "backfilled"];
  await t.run(async (ctx) =>
    Promise.all(newcomers.map((k) => ctx.db.insert("users", { name: `New ${k}`, tokenIdentifier: `bench|new-${k}`, role: "student" }))),
  );
  const startCost = async (k: string) =>
    (await measureCall(t.withIdentity({ tokenIdentifier: `bench|new-${k}` }), e.startExamV2 as never, { examId } as never)).cost;
  const mirrored = await startCost("on");
  await t.run(async (ctx) => {
    const def = (await ctx.db.query("examDefinitions").withIndex("by_exam", (q) => q.eq("examId", examId)).unique())!;
    await ctx.db.patch("examDefinitions", def._id, { legacyMirror: false });
  });
  const unmirrored = await startCost("off");
  await t.run((ctx) => markLegacyBackfilled(ctx, examId));
  const backfilled = await startCost("backfilled");
  for (const [label, cost] of [
    ["startExamV2, mirror on", mirrored],
    ["startExamV2, mirror off", unmirrored],
    ["startExamV2, mirror off, exam backfilled", backfilled],
  ] as const) {
    rows.push({ function: label, "V2 docs": cost.documentsRead, "V2 bytes": cost.bytesRead, "V2 docs written": cost.documentsWritten, "V2 bytes written": cost.bytesWritten });
  }

  return {
    title: "Exam API reads: V1 against V2 per call (guide dataset, arrays not cleared)",
    rows,
    notes: [
      `Caller: a student who completed ${examKey}. Returned documents left out of "w/o returned": session the ${questionIds.length} live questions (${questionCost.bytesRead} bytes, both APIs); results the questions (both) plus, for V2, the student's ${answerCost.documentsRead} answer documents (${answerCost.bytesRead} bytes).`,
      "V2 reads no copy of a question: session the exam's question list (one document) and the live questions; results the answered questions' live documents, points available from the definition.",
      "Targets: per-student reads V2 ≥ 50× fewer bytes than V1 (without question documents); leaderboard top 10 ≤ a few dozen documents.",
      ...(failures.length === 0 ? ["All targets met; V1 and V2 returned equal results for every function."] : failures.map((f) => `MISSED: ${f}`)),
    ],
  };
}
