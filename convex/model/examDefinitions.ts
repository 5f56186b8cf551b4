/**
 * The one copy of an exam's facts that per-student V2 paths read instead of the
 * exam document (which carries the whole legacy participants array until
 * cleanup): `examDefinitions`, one slim document per exam with its title,
 * question ids, timing and pauses allowed, plus the legacy* flags.
 *
 * Who keeps it current: every mutation of this codebase is built with
 * lib/functions.ts, whose `ctx.db` ({@link withExamCopies}) rewrites the
 * definition in the same transaction as any write to `exams` (a write of
 * `participants` alone is not an edit and costs nothing) and records every
 * exam and question change in `examChanges`. Edits made around it (the
 * dashboard, `npx convex import`, other code) are found by
 * `examAdmin:verifyExamCopies` and healed by `examAdmin:repairExamCopies`
 * (scheduled, see convex/crons.ts) and, for the exam at hand, by a V2 write
 * before it rejects a student on a copied fact. Question content is never
 * copied: sessions, grading and results read the live `questions` documents.
 *
 * @example
 * const definition = await ensureExamDefinition(ctx, examId); // created from the exam document if missing
 * const { stale } = await syncDefinition(ctx, examId, exam);   // heal: only differences written
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { domainError } from "../lib/errors";

export type ExamDefinition = Doc<"examDefinitions">;
export type QuestionSheetRow = Doc<"examQuestions">;

export async function getExamDefinition(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">): Promise<ExamDefinition | null> {
  return ctx.db
    .query("examDefinitions")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .unique();
}

/** Whether the exam's V1 array can hold no attempt missing from V2 (cleared, or fully imported). */
export function legacyArrayImported(definition: ExamDefinition | null): boolean {
  return definition !== null && (definition.legacyCleared || definition.legacyBackfilled === true);
}

/** The exam's question sheet in exam order (one index range; never the exam document). */
export async function loadQuestionSheet(ctx: QueryCtx, examId: Id<"exams">): Promise<QuestionSheetRow[]> {
  return ctx.db
    .query("examQuestions")
    .withIndex("by_exam_and_position", (q) => q.eq("examId", examId))
    .collect();
}

/** One row of the sheet: whether `questionId` is a question of the exam (one small read). */
export async function sheetRowOf(
  ctx: QueryCtx,
  examId: Id<"exams">,
  questionId: Id<"questions">,
): Promise<QuestionSheetRow | null> {
  return ctx.db
    .query("examQuestions")
    .withIndex("by_exam_and_question", (q) => q.eq("examId", examId).eq("questionId", questionId))
    .first();
}

type SheetFields = Omit<QuestionSheetRow, "_id" | "_creationTime">;

/** The sheet as the exam and its question documents say it is now (deleted questions have no row). Never stored. */
async function wantedSheet(ctx: QueryCtx, exam: Doc<"exams">): Promise<SheetFields[]> {
  const questions = await Promise.all(exam.questionIds.map((id) => ctx.db.get("questions", id)));
  return questions.flatMap((q, position) =>
    q === null
      ? []
      : [{ examId: exam._id, position, questionId: q._id, text: q.text, options: q.options, ...(q.points === undefined ? {} : { points: q.points }) }],
  );
}

/** Rows of the retired `examQuestions` copy left by older code: deleted, so no stale copy of a question remains. */
async function dropQuestionSheet(ctx: MutationCtx, examId: Id<"exams">): Promise<void> {
  for (const row of await loadQuestionSheet(ctx, examId)) await ctx.db.delete("examQuestions", row._id);
}

/** The exam fields a definition copies. */
export const COPIED_FIELDS = ["title", "questionIds", "durationMs", "maxPauses"] as const;
export type CopiedField = (typeof COPIED_FIELDS)[number];
export type ExamFacts = Pick<Doc<"exams">, CopiedField>;

export function examFactsOf(exam: ExamFacts): ExamFacts {
  const { title, questionIds, durationMs, maxPauses } = exam;
  return { title, questionIds, durationMs, maxPauses };
}

/** The copied fields on which `definition` and the exam differ (a definition without questionIds is stale in it). */
export function staleFields(definition: ExamDefinition, exam: ExamFacts): CopiedField[] {
  return COPIED_FIELDS.filter((k) => JSON.stringify(definition[k]) !== JSON.stringify(exam[k]));
}

/** The exam's facts as its definition holds them (null for a row that predates `questionIds`). */
export function factsOfDefinition(definition: ExamDefinition): ExamFacts | null {
  if (definition.questionIds === undefined) return null;
  return examFactsOf({ ...definition, questionIds: definition.questionIds });
}

/** Ids the definition listed that the exam no longer does, added to those already retired (an id back in the exam leaves the list). */
function formerIdsAfter(definition: ExamDefinition | null, questionIds: readonly Id<"questions">[]): Id<"questions">[] {
  const now = new Set<string>(questionIds);
  const former = [...(definition?.formerQuestionIds ?? []), ...(definition?.questionIds ?? [])];
  return [...new Set(former)].filter((id) => !now.has(id));
}

/**
 * Makes the exam's definition a copy of `exam` (created if absent), writing only
 * if a copied field differs. Returns the definition and the fields that were stale.
 */
export async function syncDefinition(
  ctx: Pick<MutationCtx, "db">,
  examId: Id<"exams">,
  exam: ExamFacts,
): Promise<{ definition: ExamDefinition; stale: CopiedField[]; before: ExamDefinition | null }> {
  const existing = await getExamDefinition(ctx, examId);
  const facts = examFactsOf(exam);
  const fields = { ...facts, questionCount: facts.questionIds.length, formerQuestionIds: formerIdsAfter(existing, facts.questionIds) };
  if (existing === null) {
    const id = await ctx.db.insert("examDefinitions", { examId, ...fields, legacyMirror: true, legacyCleared: false });
    return { definition: (await ctx.db.get("examDefinitions", id))!, stale: [...COPIED_FIELDS], before: null };
  }
  const stale = staleFields(existing, facts);
  if (stale.length === 0 && existing.questionCount === fields.questionCount) return { definition: existing, stale, before: existing };
  const patch = { ...fields, maxScore: undefined };
  await ctx.db.patch("examDefinitions", existing._id, patch);
  const { maxScore: _m, ...kept } = existing;
  return { definition: { ...kept, ...fields }, stale, before: existing };
}

/**
 * Copies an exam's own fields into its definition (created on first use) and
 * drops any sheet rows older code left. Writes only differences.
 */
export async function syncExamDefinition(ctx: MutationCtx, exam: Doc<"exams">): Promise<ExamDefinition> {
  await dropQuestionSheet(ctx, exam._id);
  return (await syncDefinition(ctx, exam._id, exam)).definition;
}

/** {@link syncExamDefinition}, also returning the exam's questions as a student sees them now (the migration grades from it). */
export async function syncExamDefinitionAndSheet(
  ctx: MutationCtx,
  exam: Doc<"exams">,
): Promise<{ definition: ExamDefinition; sheet: SheetFields[] }> {
  const sheet = await wantedSheet(ctx, exam);
  return { sheet, definition: await syncExamDefinition(ctx, exam) };
}

/** The exam's definition (and sheet), created from the exam document the first time it is needed. */
export async function ensureExamDefinition(ctx: MutationCtx, examId: Id<"exams">): Promise<ExamDefinition> {
  const existing = await getExamDefinition(ctx, examId);
  if (existing !== null && existing.questionIds !== undefined) return existing;
  const exam = await ctx.db.get("exams", examId);
  if (exam === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  return syncExamDefinition(ctx, exam);
}

/**
 * Records that every V1 entry of the exam is in the log (the migration calls it
 * when it finishes an exam): from then on a student's first write and the V2
 * per-student reads no longer read the exam document to look for a legacy entry.
 */
export async function markLegacyBackfilled(ctx: MutationCtx, examId: Id<"exams">): Promise<void> {
  const definition = await ensureExamDefinition(ctx, examId);
  if (definition.legacyBackfilled !== true) {
    await ctx.db.patch("examDefinitions", definition._id, { legacyBackfilled: true });
  }
}
