/**
 * What every read function of the exam API costs, V1 against V2, on the
 * migration guide's dataset (15 exams, 234 participants, 46,800 answers),
 * measured before cleanup, while the exam documents still hold their arrays.
 * Every V1 participant is first imported into V2 (the backfill's own path,
 * importLegacyEntries) so both APIs describe the same attempts.
 *
 * Both sides are measured the same way: the raw bytes and documents a call
 * reads (ctx.meta.getTransactionMetrics(), every document counts) and the
 * bytes it returns (getConvexSize of its result). Ratios stand beside them.
 * Target for every V2 per-student read: at most 1.25 × what it returns + 2 KB
 * (the caller's user document and the attempt's head are the floor of an
 * authenticated call).
 *
 * @example
 * const section = await bench(); // rows: function, V1/V2 documents and bytes read, bytes returned, ratios, target met
 */
import { convexToJson, getConvexSize, jsonToConvex, type Value } from "convex/values";
import * as e from "../../convex/exams";
import type { Id } from "../../convex/_generated/dataModel";
import { importLegacyEntries } from "../../convex/attempts/writePath";
import { markLegacyBackfilled, syncExamHeader } from "../../convex/headers/examHeaders";
import { generateV1Dataset, GUIDE_DATASET, insertDataset } from "../dataset/generate";
import { createEmbeddedConvex, measureCall, type BenchRow, type BenchSection, type EmbeddedConvex } from "../runtime/embedded";

/** Bytes of a function's result as Convex counts them (what the client receives). */
export function returnedBytes(result: unknown): number {
  return getConvexSize(jsonToConvex(convexToJson(result as Value)));
}

/** The floor a V2 per-student read is held to: what it returns, with a quarter more, plus 2 KB of bookkeeping. */
export const READ_FLOOR = { perReturnedByte: 1.25, fixedBytes: 2048 };
const floorOf = (returned: number) => READ_FLOOR.perReturnedByte * returned + READ_FLOOR.fixedBytes;

/** Imports every V1 participant of every exam into V2, one exam per transaction. */
async function backfill(t: EmbeddedConvex, examIds: Id<"exams">[]) {
  for (const examId of examIds) {
    await t.run(async (ctx) => {
      const exam = (await ctx.db.get("exams", examId))!;
      await syncExamHeader(ctx, exam);
      const byUser = new Map<Id<"users">, { participant: (typeof participants)[number]; sourceIndex: number }[]>();
      const participants = exam.participants ?? [];
      participants.forEach((participant, sourceIndex) => {
        byUser.set(participant.userId, [...(byUser.get(participant.userId) ?? []), { participant, sourceIndex }]);
      });
      for (const [userId, entries] of byUser) await importLegacyEntries(ctx, { examId, userId }, entries);
    });
  }
}

type Pair = { name: string; perStudent: boolean; args: object; v1: unknown; v2: unknown };

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
    { name: "getExamSession", perStudent: true, args: { examId }, v1: e.getExamSession, v2: e.getExamSessionV2 },
    {
      name: "getParticipantExamResults",
      perStudent: true,
      args: { examId },
      v1: e.getParticipantExamResults,
      v2: e.getParticipantExamResultsV2,
    },
    { name: "getPauseStatus", perStudent: true, args: { examId }, v1: e.getPauseStatus, v2: e.getPauseStatusV2 },
    {
      name: "validateQuestionAccess",
      perStudent: true,
      args: { examId, questionId: questionIds[0]! },
      v1: e.validateQuestionAccess,
      v2: e.validateQuestionAccessV2,
    },
    { name: "getMyDashboardStats", perStudent: true, args: {}, v1: e.getMyDashboardStats, v2: e.getMyDashboardStatsV2 },
    { name: "getMyRecentExams", perStudent: true, args: {}, v1: e.getMyRecentExams, v2: e.getMyRecentExamsV2 },
    {
      name: "getExamLeaderboard (top 10)",
      perStudent: false,
      args: { examId, limit: 10 },
      v1: e.getExamLeaderboard,
      v2: e.getExamLeaderboardV2,
    },
    { name: "getAllExamsMetadata", perStudent: false, args: {}, v1: e.getAllExamsMetadata, v2: e.getAllExamsMetadataV2 },
  ];
  const rows: BenchRow[] = [];
  const failures: string[] = [];
  for (const pair of pairs) {
    const v1 = await measureCall(as, pair.v1 as never, pair.args as never);
    const v2 = await measureCall(as, pair.v2 as never, pair.args as never);
    if (JSON.stringify(v1.result) !== JSON.stringify(v2.result)) failures.push(`${pair.name}: V1 and V2 results differ`);
    const returned = returnedBytes(v2.result); // equal results: the same for V1
    const floor = floorOf(returned);
    const met = pair.perStudent ? v2.cost.bytesRead <= floor : null;
    rows.push({
      function: pair.name,
      "V1 docs": v1.cost.documentsRead,
      "V2 docs": v2.cost.documentsRead,
      "V1 bytes read": v1.cost.bytesRead,
      "V2 bytes read": v2.cost.bytesRead,
      "bytes returned": returned,
      "V1/V2 read": Number((v1.cost.bytesRead / Math.max(1, v2.cost.bytesRead)).toFixed(1)),
      "V2 read/returned": Number((v2.cost.bytesRead / Math.max(1, returned)).toFixed(2)),
      "V2 floor (1.25×+2 KB)": pair.perStudent ? Math.round(floor) : "-",
      met: met === null ? "-" : met ? "yes" : "NO",
    });
    if (met === false)
      failures.push(`${pair.name}: V2 reads ${v2.cost.bytesRead} bytes to return ${returned} (floor ${Math.round(floor)})`);
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
    const def = (await ctx.db
      .query("examHeaders")
      .withIndex("by_exam", (q) => q.eq("examId", examId))
      .unique())!;
    await ctx.db.patch("examHeaders", def._id, { legacyMirror: false });
  });
  const unmirrored = await startCost("off");
  await t.run((ctx) => markLegacyBackfilled(ctx, examId));
  const backfilled = await startCost("backfilled");
  for (const [label, cost] of [
    ["startExamV2, mirror on", mirrored],
    ["startExamV2, mirror off", unmirrored],
    ["startExamV2, mirror off, exam backfilled", backfilled],
  ] as const) {
    rows.push({
      function: label,
      "V2 docs": cost.documentsRead,
      "V2 bytes": cost.bytesRead,
      "V2 docs written": cost.documentsWritten,
      "V2 bytes written": cost.bytesWritten,
    });
  }

  return {
    title: "Exam API reads: V1 against V2 per call (guide dataset, arrays not cleared)",
    rows,
    notes: [
      `Caller: a student who completed ${examKey}. Bytes read are every document the call read, raw, on both sides; bytes returned are getConvexSize of the result (V1 and V2 return equal results).`,
      "Target: every V2 per-student read reads at most 1.25 × the bytes it returns + 2 KB.",
      ...(failures.length === 0
        ? ["All targets met; V1 and V2 returned equal results for every function."]
        : failures.map((f) => `MISSED: ${f}`)),
    ],
  };
}
