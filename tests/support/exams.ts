/**
 * Test support for the exam API: the 12 V1/V2 pairs by name, a call that
 * returns either the result or the error code, and "every read function" for
 * one caller, so suites can compare V1 with V2 and V1 arrays with V2 tables.
 *
 * @example
 * const reads = await readEverything(ada.as, "v2", { examId, questionIds, userIds });
 */
import { vi } from "vitest";
import { CREATION_SETTLE_MS } from "../../convex/lib/limits";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { errorCode } from "../../convex/lib/errors";
import { entryOfState, firstEntries } from "../../convex/lib/v1Entry";
import { stateFromRows } from "../../convex/projections/attempt";
import type { V1Participant } from "../../convex/lib/validators";
import type { TestConvex } from "./convex";

export type Api = "v1" | "v2";
type Caller = Pick<ReturnType<TestConvex["withIdentity"]>, "query" | "mutation">;

/** The exam functions by V1 name; `fn(name, "v2")` is the twin. */
export const READS = [
  "getExamSession",
  "getParticipantExamResults",
  "getPauseStatus",
  "validateQuestionAccess",
  "getExamLeaderboard",
  "getAllExamsMetadata",
  "getMyDashboardStats",
  "getMyRecentExams",
] as const;
export const WRITES = ["startExam", "submitExamAnswers", "startPause", "resumeFromPause"] as const;
export type ReadName = (typeof READS)[number];
export type WriteName = (typeof WRITES)[number];
export type ExamFunctionName = ReadName | WriteName;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function fn(name: ExamFunctionName, which: Api): any {
  const exams = api.exams as Record<string, unknown>;
  return exams[which === "v1" ? name : `${name}V2`];
}

/** The result, or `{ error: code }` (`"UNCODED: message"` for an error without a code, e.g. a validator's). */
export async function attempt(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return await call();
  } catch (error) {
    return { error: errorCode(error) ?? `UNCODED: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export async function callRead(as: Caller, name: ReadName, which: Api, args: object): Promise<unknown> {
  return attempt(() => as.query(fn(name, which), args));
}

export async function callWrite(as: Caller, name: WriteName, which: Api, args: object): Promise<unknown> {
  return attempt(() => as.mutation(fn(name, which), args));
}

export type ReadScope = { examId: Id<"exams">; questionIds: Id<"questions">[]; userIds: Id<"users">[] };

/**
 * Every read function, as `as` sees it (results of every user in `userIds`, each question's access).
 * `perStudentOnly` leaves out the aggregates (leaderboard, exam list, dashboard, recent), which V2
 * serves from its tables only: equal to V1 once every V1 participant is in them (after the backfill).
 */
export async function readEverything(
  as: Caller,
  which: Api,
  scope: ReadScope,
  o: { perStudentOnly?: boolean } = {},
): Promise<Record<string, unknown>> {
  const { examId, questionIds, userIds } = scope;
  const out: Record<string, unknown> = {
    session: await callRead(as, "getExamSession", which, { examId }),
    pause: await callRead(as, "getPauseStatus", which, { examId }),
    ownResults: await callRead(as, "getParticipantExamResults", which, { examId }),
  };
  if (!o.perStudentOnly) {
    out.leaderboard = await callRead(as, "getExamLeaderboard", which, { examId, limit: 3 });
    out.metadata = await callRead(as, "getAllExamsMetadata", which, {});
    out.dashboard = await callRead(as, "getMyDashboardStats", which, {});
    out.recent = await callRead(as, "getMyRecentExams", which, {});
  }
  for (const [i, questionId] of questionIds.entries()) {
    out[`access${i}`] = await callRead(as, "validateQuestionAccess", which, { examId, questionId });
  }
  for (const userId of userIds) {
    out[`results:${userId}`] = await callRead(as, "getParticipantExamResults", which, { examId, userId });
  }
  return out;
}

/** Runs a whole pass of the scheduled header check (what the cron does after deploy): every exam gets its header, and lists their mark. */
export async function runHeaderCheckPass(t: TestConvex): Promise<void> {
  // The pass vouches only for exams created a settle time before it starts: on a real clock that time has passed.
  vi.setSystemTime(Date.now() + CREATION_SETTLE_MS + 1_000);
  const { startedAt } = await t.mutation(internal.examAdmin.startHeaderCheckNow, {});
  if (startedAt === undefined) throw new Error("a header check pass is already running");
  for (let i = 0; i < 10_000; i++) {
    await t.mutation(internal.examAdmin.runHeaderCheck, { startedAt });
    if ((await t.query(internal.examAdmin.headerCheckStatus, {})).running === null) return;
  }
  throw new Error("the header check pass did not finish");
}

/** What the V1 array and the V2 tables say about each user's attempt on an exam (first array entry per user). */
export async function arrayAndTables(
  t: TestConvex,
  examId: Id<"exams">,
): Promise<{ array: Record<string, V1Participant>; tables: Record<string, V1Participant> }> {
  return t.run(async (ctx) => {
    const exam = await ctx.db.get("exams", examId);
    const array = Object.fromEntries(firstEntries(exam?.participants).map((p) => [p.userId as string, p]));
    const tables: Record<string, V1Participant> = {};
    const rows = await ctx.db
      .query("examParticipations")
      .withIndex("by_exam_and_user", (q) => q.eq("examId", examId))
      .collect();
    for (const row of rows) {
      const answers = await ctx.db
        .query("examAnswers")
        .withIndex("by_participation_and_question", (q) => q.eq("participationId", row._id))
        .collect();
      tables[row.userId] = entryOfState(row.userId, stateFromRows(row, answers))!;
    }
    return { array, tables };
  });
}
