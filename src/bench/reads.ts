/**
 * What every read function of the exam API costs, V1 against V2, on the
 * migration guide's dataset (15 exams, 234 participants, 46,800 answers),
 * measured before cleanup, while the exam documents still hold their arrays.
 * Every V1 participant is first imported into V2 (the backfill's own path,
 * importLegacyEntries) so both APIs describe the same attempts.
 *
 * @example
 * const section = await bench(); // rows: function, V1/V2 documents and bytes read, ratio
 */
import * as e from "../../convex/exams";
import type { Id } from "../../convex/_generated/dataModel";
import { importLegacyEntries } from "../../convex/model/attempts";
import { syncExamDefinition } from "../../convex/model/examDefinitions";
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

type Pair = { name: string; perStudent: boolean; loadsQuestions: boolean; args: object; v1: unknown; v2: unknown };

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
    { name: "getExamSession", perStudent: true, loadsQuestions: true, args: { examId }, v1: e.getExamSession, v2: e.getExamSessionV2 },
    { name: "getParticipantExamResults", perStudent: true, loadsQuestions: true, args: { examId }, v1: e.getParticipantExamResults, v2: e.getParticipantExamResultsV2 },
    { name: "getPauseStatus", perStudent: true, loadsQuestions: false, args: { examId }, v1: e.getPauseStatus, v2: e.getPauseStatusV2 },
    { name: "validateQuestionAccess", perStudent: true, loadsQuestions: false, args: { examId, questionId: questionIds[0]! }, v1: e.validateQuestionAccess, v2: e.validateQuestionAccessV2 },
    { name: "getMyDashboardStats", perStudent: true, loadsQuestions: false, args: {}, v1: e.getMyDashboardStats, v2: e.getMyDashboardStatsV2 },
    { name: "getMyRecentExams", perStudent: true, loadsQuestions: false, args: {}, v1: e.getMyRecentExams, v2: e.getMyRecentExamsV2 },
    { name: "getExamLeaderboard (top 10)", perStudent: false, loadsQuestions: false, args: { examId, limit: 10 }, v1: e.getExamLeaderboard, v2: e.getExamLeaderboardV2 },
    { name: "getAllExamsMetadata", perStudent: false, loadsQuestions: false, args: {}, v1: e.getAllExamsMetadata, v2: e.getAllExamsMetadataV2 },
  ];
  // The question documents both APIs must return for a session or results: left out of the comparison.
  const questionCost = (await measureRun(t, (ctx) => loadQuestions(ctx, questionIds))).cost;

  const rows: BenchRow[] = [];
  const failures: string[] = [];
  for (const pair of pairs) {
    const v1 = await measureCall(as, pair.v1 as never, pair.args as never);
    const v2 = await measureCall(as, pair.v2 as never, pair.args as never);
    if (JSON.stringify(v1.result) !== JSON.stringify(v2.result)) failures.push(`${pair.name}: V1 and V2 results differ`);
    const minusQuestions = (c: CallCost) => c.bytesRead - (pair.loadsQuestions ? questionCost.bytesRead : 0);
    const ratio = minusQuestions(v1.cost) / Math.max(1, minusQuestions(v2.cost));
    rows.push({
      function: pair.name,
      "V1 docs": v1.cost.documentsRead,
      "V2 docs": v2.cost.documentsRead,
      "V1 bytes": v1.cost.bytesRead,
      "V2 bytes": v2.cost.bytesRead,
      "V1 bytes w/o questions": minusQuestions(v1.cost),
      "V2 bytes w/o questions": minusQuestions(v2.cost),
      "V1/V2 bytes w/o questions": Number(ratio.toFixed(1)),
    });
    if (pair.perStudent && ratio < 50) failures.push(`${pair.name}: V2 reads only ${ratio.toFixed(1)}× fewer bytes than V1 (target ≥ 50×)`);
    if (pair.name.startsWith("getExamLeaderboard") && v2.cost.documentsRead > 36) failures.push(`leaderboard V2 reads ${v2.cost.documentsRead} documents`);
  }
  // What a completed student's results must return: their own answer documents (the floor for V2).
  const participationId = (await t.run((ctx) => loadParticipation(ctx, { examId, userId: ids.users.get(user.key)! })))!._id;
  const answerCost = (await measureRun(t, (ctx) => loadAnswers(ctx, participationId))).cost;

  // The legacy mirror's price on a write: a new student starting exam e0 with the mirror on, then off.
  await t.run(async (ctx) =>
    Promise.all(["on", "off"].map((k) => ctx.db.insert("users", { name: `New ${k}`, tokenIdentifier: `bench|new-${k}`, role: "student" }))),
  );
  const startCost = async (i: number) =>
    (await measureCall(t.withIdentity({ tokenIdentifier: `bench|new-${["on", "off"][i]}` }), e.startExamV2 as never, { examId } as never)).cost;
  const mirrored = await startCost(0);
  await t.run(async (ctx) => {
    const def = (await ctx.db.query("examDefinitions").withIndex("by_exam", (q) => q.eq("examId", examId)).unique())!;
    await ctx.db.patch("examDefinitions", def._id, { legacyMirror: false });
  });
  const unmirrored = await startCost(1);
  for (const [label, cost] of [["startExamV2, mirror on", mirrored], ["startExamV2, mirror off", unmirrored]] as const) {
    rows.push({ function: label, "V2 docs": cost.documentsRead, "V2 bytes": cost.bytesRead, "V2 docs written": cost.documentsWritten, "V2 bytes written": cost.bytesWritten });
  }

  return {
    title: "Exam API reads: V1 against V2 per call (guide dataset, arrays not cleared)",
    rows,
    notes: [
      `Caller: a student who completed ${examKey}; ${questionIds.length} question documents (${questionCost.bytesRead} bytes) are left out for session and results.`,
      `Floors: the exam's question-id list (in its definition) is ${questionIds.length} ids, which session and question access must read; results must read the student's own ${answerCost.documentsRead} answer documents (${answerCost.bytesRead} bytes).`,
      "Targets: per-student reads V2 ≥ 50× fewer bytes than V1 (without question documents); leaderboard top 10 ≤ a few dozen documents.",
      ...(failures.length === 0 ? ["All targets met; V1 and V2 returned equal results for every function."] : failures.map((f) => `MISSED: ${f}`)),
    ],
  };
}
