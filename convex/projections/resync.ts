/**
 * The mirror's resync (legacyMirror:setExamLegacyMirror turning an exam's mirror on): the exam's V1 array
 * rewritten from the V2 rows, each user's first entry replaced, users missing from it appended, nothing
 * reordered. Each participant costs one index range (their answers), so an exam one call cannot read
 * whole is resynced in pages, walking its rows by user id, in two passes:
 *
 * 1. measure: how many bytes and entries the array would have (Convex's sizes add up entry by entry); the
 *    totals ride in the cursor and nothing is written, so a refusal (it would not fit in 1 MiB less
 *    MIRROR_SIZE_MARGIN_BYTES, or in 8,192 entries) changes nothing.
 * 2. write: each page merges its entries into the array (one rewrite of the exam document per page). The
 *    mirror's switch stays as it was until the last page: an exam whose mirror was off is not served from
 *    its half-written array; one whose array V1 trusts (mirror on, watermark at the latest event) gets
 *    the entries it already holds. The last page turns the mirror on, clears a failure, and sets the
 *    watermark MIRROR_SETTLE_MS before the pass began: every event up to there was committed before the
 *    pass read its rows, and the job it schedules replays the attempts of every later one. The array is
 *    current (V1 may serve from it) once that job has run. Entries may grow between the passes: a write
 *    page whose array would no longer fit refuses too, keeping the entries earlier pages refreshed and
 *    the switch as it was.
 *
 * An exam whose rows one call can read is resynced in that call, in one transaction, its watermark at its
 * latest event (current at once). Every page stops once its reads pass LOOP_SHARES.resyncReads.
 *
 * @example
 * let page = await resyncPage(ctx, examId, header, null);          // then again with page.continueCursor until isDone
 */
import { getConvexSize, getDocumentSize, v, type Infer, type Value } from "convex/values";
import { literals } from "convex-helpers/validators";
import { internal } from "../_generated/api";
import type { Id } from "../_generated/dataModel";
import type { MutationCtx } from "../_generated/server";
import type { V1Participant } from "../lib/validators";
import { CONVEX_LIMITS } from "../lib/limits";
import { LOOP_SHARES, READ_METRICS, budgetSpent } from "../lib/budget";
import { domainError } from "../lib/errors";
import type { ExamHeader } from "../lib/examHeaders";
import { sameValue } from "../lib/values";
import { entryOfState } from "../lib/v1Entry";
import { stateFromRows } from "./attempt";
import { loadAnswers } from "./tables";
import { MIRROR_RUN_DELAY_MS, MIRROR_SETTLE_MS, documentLimitProblem, markMirrorCurrent, setWatermark, sizeProblem } from "./mirrorJob";

export const vResyncCursor = v.object({
  pass: literals("measure", "write"),
  /** The pass has done every participant up to this user id (absent: none yet). */
  after: v.optional(v.id("users")),
  /** Measure: bytes the array grows by (each new entry less the first entry it replaces), and entries appended. */
  bytes: v.number(),
  appended: v.number(),
  /** Write: when the pass's first page ran. */
  since: v.optional(v.number()),
});
export type ResyncCursor = Infer<typeof vResyncCursor>;

export type ResyncPage = {
  /** Whether the mirror is on after this call (a resync turns it on in its last page). */
  legacyMirror: boolean;
  /** Entries merged into the array by this call. */
  entriesWritten: number;
  isDone: boolean;
  /** Where the next call goes on (null once done). */
  continueCursor: ResyncCursor | null;
};

function refuse(problem: string): never {
  throw domainError("INVALID_ARGUMENT", `Cannot mirror this exam: ${problem}.`);
}

/** One page of the resync (see the module comment); `cursor` null starts it. Throws a coded error, writing nothing, when it refuses. */
export async function resyncPage(
  ctx: MutationCtx,
  examId: Id<"exams">,
  header: ExamHeader,
  cursor: ResyncCursor | null,
  now: number = Date.now(),
): Promise<ResyncPage> {
  if (header.legacyCleared) throw domainError("INVALID_ARGUMENT", "This exam's array was cleared by cleanup; the mirror stays off.");
  const exam = (await ctx.db.get("exams", examId))!;
  const before = exam.participants ?? [];
  const page = await readEntries(ctx, examId, cursor?.after);
  const done = async (entriesWritten: number): Promise<ResyncPage> => {
    await ctx.db.patch("examHeaders", header._id, { legacyMirror: true, legacyMirrorFailure: undefined });
    return { legacyMirror: true, entriesWritten, isDone: true, continueCursor: null };
  };

  if (cursor === null && page.isDone) {
    // The whole exam in one transaction: the array holds every attempt's rows, so every event.
    const { participants, changed } = merged(before, page.entries);
    const problem = documentLimitProblem({ ...exam, participants });
    if (problem !== null) refuse(problem);
    if (changed) await ctx.db.patch("exams", examId, { participants });
    await markMirrorCurrent(ctx, examId, now);
    return done(page.entries.length);
  }

  if (cursor === null || cursor.pass === "measure") {
    const firstIndex = firstIndexes(before);
    let bytes = cursor?.bytes ?? 0;
    let appended = cursor?.appended ?? 0;
    for (const entry of page.entries) {
      const i = firstIndex.get(entry.userId);
      bytes += getConvexSize(entry) - (i === undefined ? 0 : getConvexSize(before[i]!));
      if (i === undefined) appended += 1;
    }
    const entries = before.length + appended;
    // Entries are only ever added: past the limit, no later page can bring the count back.
    if (page.isDone || entries > CONVEX_LIMITS.arrayElements) {
      const problem = sizeProblem(getDocumentSize(exam as Record<string, Value>) + bytes, entries);
      if (problem !== null) refuse(problem);
    }
    const continueCursor: ResyncCursor = page.isDone
      ? { pass: "write", bytes: 0, appended: 0 }
      : { pass: "measure", after: page.last, bytes, appended };
    return { legacyMirror: header.legacyMirror, entriesWritten: 0, isDone: false, continueCursor };
  }

  const since = cursor.since ?? now;
  const { participants, changed } = merged(before, page.entries);
  if (changed) {
    const problem = documentLimitProblem({ ...exam, participants });
    if (problem !== null) refuse(problem);
    await ctx.db.patch("exams", examId, { participants });
  }
  if (!page.isDone) {
    return {
      legacyMirror: header.legacyMirror,
      entriesWritten: page.entries.length,
      isDone: false,
      continueCursor: { pass: "write", after: page.last, bytes: 0, appended: 0, since },
    };
  }
  await setWatermark(ctx, examId, since - MIRROR_SETTLE_MS, now);
  await ctx.scheduler.runAfter(MIRROR_RUN_DELAY_MS, internal.legacyMirror.runExamMirror, { examId });
  return done(page.entries.length);
}

/** The rows' entries after user `after`, while the page's read budget lasts. */
async function readEntries(ctx: MutationCtx, examId: Id<"exams">, after: Id<"users"> | undefined) {
  const entries: V1Participant[] = [];
  let last = after;
  let isDone = true;
  const rows = ctx.db
    .query("examParticipations")
    .withIndex("by_exam_and_user", (q) => (after === undefined ? q.eq("examId", examId) : q.eq("examId", examId).gt("userId", after)));
  for await (const row of rows) {
    if (entries.length > 0 && (await budgetSpent(ctx, LOOP_SHARES.resyncReads, READ_METRICS))) {
      isDone = false;
      break;
    }
    entries.push(entryOfState(row.userId, stateFromRows(row, await loadAnswers(ctx, row._id)))!);
    last = row.userId;
  }
  return { entries, last, isDone };
}

/** Each user's first position in the array. */
function firstIndexes(participants: readonly V1Participant[]): Map<Id<"users">, number> {
  const out = new Map<Id<"users">, number>();
  participants.forEach((p, i) => {
    if (!out.has(p.userId)) out.set(p.userId, i);
  });
  return out;
}

/** The array with each entry in place of its user's first entry (appended if absent), and whether anything changed. */
function merged(before: readonly V1Participant[], entries: readonly V1Participant[]) {
  const participants = [...before];
  const firstIndex = firstIndexes(before);
  let changed = false;
  for (const entry of entries) {
    const i = firstIndex.get(entry.userId);
    if (i !== undefined && sameValue(participants[i], entry)) continue;
    if (i === undefined) firstIndex.set(entry.userId, participants.push(entry) - 1);
    else participants[i] = entry;
    changed = true;
  }
  return { participants, changed };
}
