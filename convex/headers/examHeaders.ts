/**
 * The exam's own small fields, kept apart from its document (which carries the
 * whole legacy participants array until cleanup): a header (`examHeaders`: title,
 * question count, timing, pauses allowed, and the exam's migration and mirror
 * state) and its question list (`examQuestionLists`: the question ids, and ids
 * removed since). Nothing in them is computed from question documents: a
 * question edit never touches an exam's header.
 *
 * Who keeps them: every mutation of this codebase is built with
 * headers/functions.ts, whose `ctx.db` ({@link withExamHeaders}, headers/keeper.ts)
 * syncs them in the same transaction as any write to an exam's own fields.
 * Edits made around it (the dashboard, `npx convex import`, other code) are found
 * and healed by the scheduled header check (headers/keeper.ts), within the
 * bound docs/exam-api.md states.
 *
 * @example
 * const header = await ensureExamHeader(ctx, examId); // created from the exam document if missing
 * const { stale } = await syncHeader(ctx, examId, exam, { by: "header check" }); // heal: only differences written, what it absorbed recorded
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { domainError } from "../lib/errors";
import { CONVEX_LIMITS } from "../lib/limits";
import { sameValue } from "../lib/values";
import { getExamHeader, getQuestionList, type ExamHeader } from "../lib/examHeaders";
import { changedFields, lastKnownMatch, recordChange } from "./changes";

/** Whether the exam's V1 array can hold no attempt missing from V2 (cleared, or fully imported). */
export function legacyArrayImported(header: ExamHeader | null): boolean {
  return header !== null && (header.legacyCleared || header.legacyBackfilled === true);
}

/** The exam fields the header and question list hold. */
export const HEADER_FIELDS = ["title", "questionIds", "durationMs", "maxPauses"] as const;
export type HeaderField = (typeof HEADER_FIELDS)[number];
export type HeaderFields = Pick<Doc<"exams">, HeaderField>;

export function headerFieldsOf(exam: HeaderFields): HeaderFields {
  const { title, questionIds, durationMs, maxPauses } = exam;
  return { title, questionIds, durationMs, maxPauses };
}

/** The exam's fields as its header and list hold them (null when either is missing). */
export function fieldsOfHeader(header: ExamHeader | null, list: Doc<"examQuestionLists"> | null): HeaderFields | null {
  if (header === null || list === null) return null;
  return headerFieldsOf({ ...header, questionIds: list.questionIds });
}

/** The exam's header and question list as they are. */
export async function loadHeader(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">) {
  const [header, list] = await Promise.all([getExamHeader(ctx, examId), getQuestionList(ctx, examId)]);
  return { header, list };
}
export type StoredHeader = Awaited<ReturnType<typeof loadHeader>>;

/** Which of the exam's fields its header or list holds otherwise (compared as Convex compares values). */
export function staleFields(stored: StoredHeader, exam: HeaderFields): HeaderField[] {
  const held = fieldsOfHeader(stored.header, stored.list);
  if (held === null || stored.header!.questionCount !== exam.questionIds.length) {
    return held === null
      ? [...HEADER_FIELDS]
      : ["questionIds", ...HEADER_FIELDS.filter((f) => f !== "questionIds" && !sameValue(held[f], exam[f]))];
  }
  return HEADER_FIELDS.filter((f) => !sameValue(held[f], exam[f]));
}

/** Ids once in the exam and no longer (an id back in the exam leaves the list). */
function formerIdsAfter(list: Doc<"examQuestionLists"> | null, questionIds: readonly Id<"questions">[]): Id<"questions">[] {
  const now = new Set<string>(questionIds);
  const former = [...new Set([...(list?.formerQuestionIds ?? []), ...(list?.questionIds ?? [])])].filter((id) => !now.has(id));
  // An array holds at most 8,192 values: the oldest removals go first (an answer to one is then INVALID_ANSWER,
  // for a session that showed it more than 8,192 removed questions ago).
  return former.slice(Math.max(0, former.length - CONVEX_LIMITS.arrayElements)) as Id<"questions">[];
}

/** An exam document's header facts and creation time: what a header is synced from. */
/** An exam as a header is synced from it: its own fields, creation time and (to know whether it has V1 entries) its array. */
export type ExamNow = HeaderFields & Pick<Doc<"exams">, "_creationTime" | "participants">;

/**
 * Records, as a "repair" by `by`, what the header held otherwise than the exam document `was`: an edit made
 * around the keeper, absorbed now. When it was made is not known: `since` names the time from which the exam
 * was last known to match (its creation, if it had no header). Writes nothing when they agree.
 */
export async function recordAbsorbed(
  ctx: Pick<MutationCtx, "db">,
  examId: Id<"exams">,
  stored: StoredHeader,
  was: ExamNow,
  by: string,
): Promise<void> {
  const held = fieldsOfHeader(stored.header, stored.list);
  const diff = changedFields(HEADER_FIELDS, held, headerFieldsOf(was));
  if (diff.changed.length === 0) return;
  const since = held === null ? was._creationTime : await lastKnownMatch(ctx, examId, was._creationTime);
  await recordChange(ctx, { examId }, "repair", diff.before, diff.after, { actor: { kind: "system", name: by }, since });
}

/**
 * Makes the exam's header and question list agree with `exam` (two small reads),
 * creating what is missing and writing only what differs. Returns the header, what
 * was stale, and what they held before. `absorb`: what the header held otherwise
 * than the document `was` (default: `exam`) is recorded as a repair by `by`
 * ({@link recordAbsorbed}); null only for an exam the caller itself has just created.
 */
export async function syncHeader(
  ctx: Pick<MutationCtx, "db">,
  examId: Id<"exams">,
  exam: ExamNow,
  absorb: { by: string; was?: ExamNow } | null,
): Promise<{ header: ExamHeader; stale: HeaderField[]; before: StoredHeader }> {
  const before = await loadHeader(ctx, examId);
  if (absorb !== null) await recordAbsorbed(ctx, examId, before, absorb.was ?? exam, absorb.by);
  const stale = staleFields(before, exam);
  const { title, questionIds, durationMs, maxPauses } = exam;
  const fields = { examCreationTime: exam._creationTime, title, questionCount: questionIds.length, durationMs, maxPauses };
  let header = before.header;
  if (header === null) {
    // An exam with no V1 entry has none to import: its lists and first writes need never read its array.
    const backfilled = (exam.participants?.length ?? 0) === 0 ? { legacyBackfilled: true } : {};
    const id = await ctx.db.insert("examHeaders", { examId, ...fields, legacyMirror: true, legacyCleared: false, ...backfilled });
    header = (await ctx.db.get("examHeaders", id))!;
  } else if (
    stale.some((f) => f !== "questionIds") ||
    header.questionCount !== questionIds.length ||
    header.examCreationTime !== exam._creationTime
  ) {
    await ctx.db.patch("examHeaders", header._id, fields);
    header = { ...header, ...fields };
  }
  if (before.list === null || stale.includes("questionIds")) {
    const list = { questionIds, formerQuestionIds: formerIdsAfter(before.list, questionIds) };
    if (before.list === null) await ctx.db.insert("examQuestionLists", { examId, ...list });
    else await ctx.db.patch("examQuestionLists", before.list._id, list);
  }
  return { header, stale, before };
}

/** Deletes an exam's header and question list (the exam was deleted; its log stays). */
export async function deleteHeader(ctx: Pick<MutationCtx, "db">, examId: Id<"exams">): Promise<StoredHeader> {
  const stored = await loadHeader(ctx, examId);
  if (stored.header !== null) await ctx.db.delete("examHeaders", stored.header._id);
  if (stored.list !== null) await ctx.db.delete("examQuestionLists", stored.list._id);
  return stored;
}

/** What a sync absorbs is recorded as made by this, unless its caller names itself. */
export const HEADER_SYNC = "header sync";
/** What the migration's syncs absorb is recorded as made by this. */
export const MIGRATION_SYNC = "migration";

/**
 * Syncs an exam's header and list with its document (created on first use), recording what it absorbed
 * as a repair by `by`. Writes only differences.
 */
export async function syncExamHeader(ctx: Pick<MutationCtx, "db">, exam: Doc<"exams">, by: string = HEADER_SYNC): Promise<ExamHeader> {
  return (await syncHeader(ctx, exam._id, exam, { by })).header;
}

/** The exam's header and question list, created from the exam document when either is missing. */
export async function ensureExamHeader(
  ctx: Pick<MutationCtx, "db">,
  examId: Id<"exams">,
  by: string = HEADER_SYNC,
): Promise<{ header: ExamHeader; list: Doc<"examQuestionLists"> }> {
  const { header, list } = await loadHeader(ctx, examId);
  if (header !== null && list !== null) return { header, list };
  const exam = await ctx.db.get("exams", examId);
  if (exam === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  const synced = await syncHeader(ctx, examId, exam, { by });
  return { header: synced.header, list: (await getQuestionList(ctx, examId))! };
}

/**
 * Records that every V1 entry of the exam is in the log (the migration calls it
 * when it finishes an exam): from then on a student's first write and the V2
 * per-student reads no longer read the exam document to look for a legacy entry.
 */
export async function markLegacyBackfilled(ctx: Pick<MutationCtx, "db">, examId: Id<"exams">): Promise<void> {
  const { header } = await ensureExamHeader(ctx, examId, MIGRATION_SYNC);
  if (header.legacyBackfilled !== true) await ctx.db.patch("examHeaders", header._id, { legacyBackfilled: true });
}
