/**
 * What per-student V2 paths need of an exam, kept out of the exam document
 * (which carries the whole legacy participants array until cleanup):
 *
 * - `examDefinitions`: one slim document per exam (title, question count,
 *   timing, pauses allowed, legacy* flags) — what pause status, the dashboard
 *   and recent exams read;
 * - `examQuestions`: the exam's question sheet, one row per question as a
 *   student may see it (text, options, points; never the correct answer) —
 *   what the session returns and question access looks up one row of.
 *
 * Both are copies: syncExamDefinition refreshes them (first V2 write, the
 * migration, `legacyMirror:syncExamDefinitions`). Grading always reads the live
 * `questions` documents.
 *
 * @example
 * const definition = await syncExamDefinition(ctx, exam); // definition + sheet, only differences written
 * const rows = await loadQuestionSheet(ctx, examId);      // session questions, in exam order
 * await markLegacyBackfilled(ctx, examId);                // after the migration imported every V1 entry
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { domainError } from "../lib/errors";
import { pointsOf } from "../events/decider";

export type ExamDefinition = Doc<"examDefinitions">;
export type QuestionSheetRow = Doc<"examQuestions">;

export async function getExamDefinition(ctx: QueryCtx, examId: Id<"exams">): Promise<ExamDefinition | null> {
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

/** The sheet as the exam and its question documents say it should be (deleted questions have no row). */
async function wantedSheet(ctx: QueryCtx, exam: Doc<"exams">): Promise<SheetFields[]> {
  const questions = await Promise.all(exam.questionIds.map((id) => ctx.db.get("questions", id)));
  return questions.flatMap((q, position) =>
    q === null
      ? []
      : [{ examId: exam._id, position, questionId: q._id, text: q.text, options: q.options, ...(q.points === undefined ? {} : { points: q.points }) }],
  );
}

const SHEET_FIELDS = ["questionId", "text", "options", "points"] as const;

/** Brings the sheet in line with the exam, writing only differences (insert / patch / delete by position). */
async function syncQuestionSheet(ctx: MutationCtx, exam: Doc<"exams">): Promise<SheetFields[]> {
  const [wanted, existing] = await Promise.all([wantedSheet(ctx, exam), loadQuestionSheet(ctx, exam._id)]);
  const byPosition = new Map(existing.map((row) => [row.position, row]));
  for (const row of wanted) {
    const current = byPosition.get(row.position);
    byPosition.delete(row.position);
    if (current === undefined) {
      await ctx.db.insert("examQuestions", row);
    } else if (SHEET_FIELDS.some((k) => JSON.stringify(current[k]) !== JSON.stringify(row[k]))) {
      await ctx.db.replace("examQuestions", current._id, row);
    }
  }
  for (const stale of byPosition.values()) await ctx.db.delete("examQuestions", stale._id);
  return wanted;
}

/**
 * Copies an exam's own fields into its definition and its questions into its
 * sheet (created on first use; refreshed by the migration and the operator
 * command). Reads the exam's question documents and sheet; writes only differences.
 */
export async function syncExamDefinition(ctx: MutationCtx, exam: Doc<"exams">): Promise<ExamDefinition> {
  return (await syncExamDefinitionAndSheet(ctx, exam)).definition;
}

/** {@link syncExamDefinition}, also returning the sheet it wrote (the migration grades from it without reading the questions again). */
export async function syncExamDefinitionAndSheet(
  ctx: MutationCtx,
  exam: Doc<"exams">,
): Promise<{ definition: ExamDefinition; sheet: SheetFields[] }> {
  const sheet = await syncQuestionSheet(ctx, exam);
  return { sheet, definition: await syncDefinition(ctx, exam, sheet) };
}

async function syncDefinition(ctx: MutationCtx, exam: Doc<"exams">, sheet: SheetFields[]): Promise<ExamDefinition> {
  const existing = await getExamDefinition(ctx, exam._id);
  const fields = {
    title: exam.title,
    questionCount: exam.questionIds.length,
    maxScore: sheet.reduce((sum, q) => sum + pointsOf(q), 0),
    durationMs: exam.durationMs,
    maxPauses: exam.maxPauses,
  };
  if (existing === null) {
    const id = await ctx.db.insert("examDefinitions", {
      examId: exam._id,
      ...fields,
      legacyMirror: true,
      legacyCleared: false,
    });
    return (await ctx.db.get("examDefinitions", id))!;
  }
  const changed = (Object.keys(fields) as (keyof typeof fields)[]).some((k) => existing[k] !== fields[k]);
  if (!changed) return existing;
  await ctx.db.patch("examDefinitions", existing._id, fields);
  return { ...existing, ...fields };
}

/** The exam's definition (and sheet), created from the exam document the first time it is needed. */
export async function ensureExamDefinition(ctx: MutationCtx, examId: Id<"exams">): Promise<ExamDefinition> {
  const existing = await getExamDefinition(ctx, examId);
  if (existing !== null) return existing;
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
