/**
 * What each of the exam API's twelve functions reads, V1 against V2, on the
 * migration guide's dataset (15 exams of 222 questions) holding 10 and 1,000
 * participants, after the migration and before cleanup (the exam documents
 * still hold their arrays). The claim: a V2 per-student call reads the same
 * documents and bytes at both sizes, because it reads the caller's own attempt,
 * the exam's header and question list and the questions by id, never the
 * other attempts. A difference is a failure of the section.
 *
 * Both sides are measured the same way: the raw documents and bytes a call
 * reads (ctx.meta.getTransactionMetrics(), every document counts), and the
 * bytes a query returns (getConvexSize of its result).
 *
 * @example
 * const section = await bench(); // npm run bench -- --only reads
 */
import { convexToJson, getConvexSize, jsonToConvex, type Value } from "convex/values";
import * as e from "../../convex/exams";
import { internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { counterShard } from "../../convex/projections/counters";
import { CREATION_SETTLE_MS } from "../../convex/lib/limits";
import { generateV1Dataset, GUIDE_DATASET, insertDataset, type DatasetParticipant, type V1Dataset } from "../dataset/generate";
import {
  createEmbeddedConvex,
  measureCall,
  type BenchRow,
  type BenchSection,
  type CallCost,
  type EmbeddedConvex,
} from "../runtime/embedded";

/** Bytes of a function's result as Convex counts them (what the client receives). */
export function returnedBytes(result: unknown): number {
  return getConvexSize(jsonToConvex(convexToJson(result as Value)));
}

/** Participants in the whole dataset. */
export const READ_SIZES = [10, 1_000] as const;

/**
 * The guide's dataset with `participants` in all: its first participants in
 * order (u0, the caller, is the first of exam e0) and, past the guide's 234,
 * more who each completed one answer, spread over the 15 exams (the guide's
 * 200 answers each would not fit Convex's 1 MiB per exam document).
 */
export function guideDatasetWith(participants: number): V1Dataset {
  const dataset = generateV1Dataset(GUIDE_DATASET);
  const index = (userKey: string) => Number(userKey.slice(1));
  for (const exam of dataset.exams) exam.participants = exam.participants.filter((p) => index(p.userKey) < participants);
  const byKey = new Map(dataset.questions.map((q) => [q.key, q]));
  for (let i = GUIDE_DATASET.participants; i < participants; i++) {
    const exam = dataset.exams[i % dataset.exams.length]!;
    const userKey = `u${i}`;
    dataset.users.push({ key: userKey, name: `Student ${i + 1}`, tokenIdentifier: `rehearsal|${userKey}`, role: "student" });
    const question = byKey.get(exam.questionKeys[0]!)!;
    const startedAt = Date.UTC(2026, 0, 12, 9, 0, 0) + i * 1_000;
    const entry: DatasetParticipant = {
      userKey,
      score: question.points ?? 1,
      answers: [{ questionKey: question.key, selectedAnswer: question.correctAnswer, isCorrect: true }],
      startedAt,
      completedAt: startedAt + 600_000,
      isPaused: false,
      pauseCount: 0,
      totalPausedMs: 0,
    };
    exam.participants.push(entry);
  }
  return dataset;
}

type Measured = { cost: CallCost; returned: number | null; result: unknown };
type Side = "V1" | "V2";
/** One function of the API: its V1 and V2 twins, whether it is about the caller's own attempt, and how to call it. */
type Twin = { name: string; perStudent: boolean; write: boolean; v1: unknown; v2: unknown };

const TWINS: Twin[] = [
  { name: "startExam", perStudent: true, write: true, v1: e.startExam, v2: e.startExamV2 },
  { name: "startPause", perStudent: true, write: true, v1: e.startPause, v2: e.startPauseV2 },
  { name: "resumeFromPause", perStudent: true, write: true, v1: e.resumeFromPause, v2: e.resumeFromPauseV2 },
  { name: "submitExamAnswers (all 222)", perStudent: true, write: true, v1: e.submitExamAnswers, v2: e.submitExamAnswersV2 },
  { name: "getExamSession", perStudent: true, write: false, v1: e.getExamSession, v2: e.getExamSessionV2 },
  { name: "getParticipantExamResults", perStudent: true, write: false, v1: e.getParticipantExamResults, v2: e.getParticipantExamResultsV2 },
  { name: "getPauseStatus", perStudent: true, write: false, v1: e.getPauseStatus, v2: e.getPauseStatusV2 },
  { name: "validateQuestionAccess", perStudent: true, write: false, v1: e.validateQuestionAccess, v2: e.validateQuestionAccessV2 },
  { name: "getMyDashboardStats", perStudent: true, write: false, v1: e.getMyDashboardStats, v2: e.getMyDashboardStatsV2 },
  { name: "getMyRecentExams", perStudent: true, write: false, v1: e.getMyRecentExams, v2: e.getMyRecentExamsV2 },
  { name: "getExamLeaderboard (top 10)", perStudent: false, write: false, v1: e.getExamLeaderboard, v2: e.getExamLeaderboardV2 },
  { name: "getAllExamsMetadata", perStudent: false, write: false, v1: e.getAllExamsMetadata, v2: e.getAllExamsMetadataV2 },
];

/**
 * Users who have not taken the exam, each of whose counter shard the exam already holds (as most starts
 * on an exam of more than 64 students find it): a start first in its shard reads two documents fewer
 * (the shard, read and patched), which would make the sizes differ by where a user id happens to hash.
 */
async function newcomersInFilledShards<K extends string>(t: EmbeddedConvex, examId: Id<"exams">, keys: K[]): Promise<Record<K, string>> {
  const filled = new Set(
    await t.run(async (ctx) =>
      (
        await ctx.db
          .query("examCounterShards")
          .withIndex("by_exam_and_shard", (q) => q.eq("examId", examId))
          .collect()
      ).map((s) => s.shard),
    ),
  );
  const found = {} as Record<K, string>;
  for (let i = 0, next = 0; next < keys.length; i++) {
    const n = String(i).padStart(5, "0"); // one length for all: the caller's user document is read by every call
    const tokenIdentifier = `bench|newcomer-${n}`;
    const userId = await t.run((ctx) => ctx.db.insert("users", { name: `Newcomer ${n}`, tokenIdentifier, role: "student" }));
    if (filled.has(counterShard(userId))) found[keys[next++]!] = tokenIdentifier;
    if (i > 10_000) throw new Error("no newcomer hashes to a filled counter shard");
  }
  return found;
}

const LISTED_BEFORE_CHECK = "getAllExamsMetadata, before the first header check pass";

/**
 * A pass of the scheduled header check (examAdmin:startHeaderCheckNow, its batches run by the embedded
 * scheduler), started as the cron would start it: at least a settle time after the exams were created
 * (the section's clock moved on by that much for the start only), so that it records every exam as headed.
 */
async function headerCheckPass(t: EmbeddedConvex) {
  const now = Date.now;
  Date.now = () => now() + CREATION_SETTLE_MS + 1_000;
  try {
    await t.mutation(internal.examAdmin.startHeaderCheckNow, {});
  } finally {
    Date.now = now;
  }
  for (;;) {
    const status = await t.query(internal.examAdmin.headerCheckStatus, {});
    if (status.running === null && status.headersThrough !== null) return;
    await new Promise((resolve) => setTimeout(resolve, 5)); // the scheduler runs each batch on a timer
  }
}

/** Migrates every exam (arrays kept), as the guide's step 4 does. */
async function migrate(t: EmbeddedConvex) {
  for (;;) {
    const progress = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    if (progress.isDone) return;
  }
}

/** Every function's cost on the guide's dataset with `participants`, V1 and V2 ("startExamV2, mirror off" besides). */
async function measureAt(participants: number): Promise<{ costs: Map<string, Record<Side, Measured>>; mismatches: string[] }> {
  const t = createEmbeddedConvex();
  const dataset = guideDatasetWith(participants);
  const ids = await insertDataset(t, dataset);
  await migrate(t);
  const exam = dataset.exams[0]!;
  const examId = ids.exams.get(exam.key)!;
  const questionIds = exam.questionKeys.map((k) => ids.questions.get(k)!);
  const caller = dataset.users.find((u) => u.key === "u0")!;
  // Writes: a newcomer per side (a V1 write and a V2 write of one user would be one attempt); reads: u0, who completed e0.
  const newcomers = await newcomersInFilledShards(t, examId, ["V1", "V2", "off"]);
  const as = (tokenIdentifier: string) => t.withIdentity({ tokenIdentifier });
  const argsOf = (name: string): object => {
    if (name.startsWith("submit")) return { examId, answers: questionIds.map((questionId) => ({ questionId, selectedAnswer: "A" })) };
    if (name === "validateQuestionAccess") return { examId, questionId: questionIds[0]! };
    if (name.startsWith("getExamLeaderboard")) return { examId, limit: 10 };
    if (name.startsWith("getMy") || name === "getAllExamsMetadata") return {};
    return { examId };
  };
  const costs = new Map<string, Record<Side, Measured>>();
  const mismatches: string[] = [];
  // The exam list reads the documents of exams no pass of the header check has recorded as headed: right after the migration, all.
  const listed = {} as Record<Side, Measured>;
  for (const [side, fn] of [
    ["V1", e.getAllExamsMetadata],
    ["V2", e.getAllExamsMetadataV2],
  ] as const) {
    const { result, cost } = await measureCall(as(caller.tokenIdentifier), fn as never, {} as never);
    listed[side] = { cost, result, returned: returnedBytes(result) };
  }
  await headerCheckPass(t);
  for (const twin of TWINS) {
    const measured = {} as Record<Side, Measured>;
    for (const side of ["V1", "V2"] as const) {
      const who = twin.write ? as(newcomers[side]) : as(caller.tokenIdentifier);
      const { result, cost } = await measureCall(who, (side === "V1" ? twin.v1 : twin.v2) as never, argsOf(twin.name) as never);
      measured[side] = { cost, result, returned: twin.write ? null : returnedBytes(result) };
    }
    if (!twin.write && JSON.stringify(measured.V1.result) !== JSON.stringify(measured.V2.result))
      mismatches.push(`${twin.name} at ${participants} participants: V1 and V2 results differ`);
    costs.set(twin.name, measured);
  }
  // The legacy mirror's share of a V2 write: the same start with the exam's mirror off.
  await t.run(async (ctx) => {
    const header = (await ctx.db
      .query("examHeaders")
      .withIndex("by_exam", (q) => q.eq("examId", examId))
      .unique())!;
    await ctx.db.patch("examHeaders", header._id, { legacyMirror: false });
  });
  const off = await measureCall(as(newcomers.off), e.startExamV2 as never, { examId } as never);
  costs.set("startExam, exam's mirror off", {
    V1: { cost: off.cost, result: null, returned: null },
    V2: { cost: off.cost, result: null, returned: null },
  });
  costs.set(LISTED_BEFORE_CHECK, listed);
  return { costs, mismatches };
}

export async function bench(): Promise<BenchSection> {
  const [small, large] = READ_SIZES;
  const at = new Map<number, Awaited<ReturnType<typeof measureAt>>>();
  for (const size of READ_SIZES) at.set(size, await measureAt(size));
  const failures = READ_SIZES.flatMap((s) => at.get(s)!.mismatches);
  const n = (size: number) => size.toLocaleString("en-US");
  const rows: BenchRow[] = [];
  for (const name of at.get(small)!.costs.keys()) {
    const s = at.get(small)!.costs.get(name)!;
    const l = at.get(large)!.costs.get(name)!;
    const twin = TWINS.find((t) => t.name === name);
    const mirrorOff = name !== LISTED_BEFORE_CHECK && twin === undefined;
    const same = s.V2.cost.documentsRead === l.V2.cost.documentsRead && s.V2.cost.bytesRead === l.V2.cost.bytesRead;
    if (twin?.perStudent && !same)
      failures.push(
        `${name}: V2 reads ${s.V2.cost.documentsRead} documents, ${s.V2.cost.bytesRead} bytes at ${n(small)} participants and ${l.V2.cost.documentsRead}, ${l.V2.cost.bytesRead} at ${n(large)}`,
      );
    rows.push({
      function: mirrorOff ? `${name} (V2 only)` : name,
      [`V1 docs @${n(small)}`]: mirrorOff ? "-" : s.V1.cost.documentsRead,
      [`V1 docs @${n(large)}`]: mirrorOff ? "-" : l.V1.cost.documentsRead,
      [`V2 docs @${n(small)}`]: s.V2.cost.documentsRead,
      [`V2 docs @${n(large)}`]: l.V2.cost.documentsRead,
      [`V1 bytes @${n(small)}`]: mirrorOff ? "-" : s.V1.cost.bytesRead,
      [`V1 bytes @${n(large)}`]: mirrorOff ? "-" : l.V1.cost.bytesRead,
      [`V2 bytes @${n(small)}`]: s.V2.cost.bytesRead,
      [`V2 bytes @${n(large)}`]: l.V2.cost.bytesRead,
      [`V1÷V2 bytes @${n(large)}`]: mirrorOff ? "-" : Number((l.V1.cost.bytesRead / Math.max(1, l.V2.cost.bytesRead)).toFixed(1)),
      "bytes returned": l.V2.returned ?? "-",
      "V2 same at both": twin?.perStudent ? (same ? "yes" : "NO") : same ? "(yes)" : "(no)",
    });
  }
  return {
    title: `Exam API: what each function reads, V1 against V2 (guide dataset with ${n(small)} and ${n(large)} participants, arrays not cleared)`,
    rows,
    failures,
    notes: [
      `Guide dataset (15 exams of 222 questions) after the migration, arrays kept: its first ${n(small)} participants, or its 234 and ${n(large - GUIDE_DATASET.participants)} more with one answer each (the guide's 200 each would not fit 1 MiB per exam).`,
      "Bytes and documents read: every document the call read, raw, on both sides (ctx.meta.getTransactionMetrics()); bytes returned: getConvexSize of a query's result (V1 and V2 return equal results).",
      "Reads: u0, who completed exam e0. Writes: a newcomer per side starts e0, pauses, resumes and submits every question (legacy mirror on, the default; last row: off), each in a counter shard the exam already holds (a start first in its shard reads 2 documents fewer).",
      'Per-student functions must read the same documents and bytes at both sizes through V2 ("V2 same at both"); the leaderboard and the exam list are shown in brackets, not held to it.',
      "Every row but the last is measured after a pass of the header check; the last: the exam list right after the migration, before any pass, when it reads the documents of every exam (exams created after the last pass's mark are read from their documents).",
      ...(failures.length === 0
        ? [
            "Every V2 per-student function read the same documents and bytes at both sizes; V1 and V2 returned equal results for every query.",
          ]
        : failures.map((f) => `FAILED: ${f}`)),
    ],
  };
}
