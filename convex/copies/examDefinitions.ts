/**
 * The one copy of an exam's facts that per-student V2 paths read instead of the
 * exam document (which carries the whole legacy participants array until
 * cleanup): `examDefinitions`, one slim document per exam with its title,
 * question ids, timing and pauses allowed, plus the legacy* flags.
 *
 * Who keeps it current: every mutation of this codebase is built with
 * copies/functions.ts, whose `ctx.db` ({@link withExamCopies}) rewrites the
 * definition in the same transaction as any write to `exams` (a write of
 * `participants` alone is not an edit and costs nothing) and records every
 * exam and question change in `examChanges`. Edits made around it (the
 * dashboard, `npx convex import`, other code) are found by
 * `examAdmin:verifyExamCopies` and healed by `examAdmin:repairExamCopies`
 * (scheduled, see convex/crons.ts) and, for the exam at hand, by a V2 write
 * before it rejects a student on a copied fact.
 *
 * What a session shows of the questions (text, options, points; never the
 * correct answer) is copied too, into one `examQuestionSheets` document per
 * exam, so a session reads one document instead of one per question. Grading
 * reads the live `questions` documents: an answer key read from a stale copy
 * would be written into the log for good. Results read each attempt's result
 * copy (projections/results.ts), which holds the answered questions' text and
 * correct answers, while the definition's `questionFacts` ({@link questionFactsDigest})
 * says they are the questions' facts now; this module keeps that digest current
 * and schedules the refresh of the copies it makes stale.
 *
 * @example
 * const definition = await ensureExamDefinition(ctx, examId); // created from the exam document if missing
 * const { stale } = await syncDefinition(ctx, examId, exam);   // heal: only differences written
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { internal } from "../_generated/api";
import { getConvexSize } from "convex/values";
import { domainError } from "../lib/errors";
import { MAX_QUESTION_SHEET_BYTES } from "../lib/limits";
import { pointsOf } from "../events/decider";
import { sameCanonical } from "../events/hash";
import { getExamDefinition, getQuestionList, type ExamDefinition } from "../lib/examFacts";
import { digestAfterEdit, questionFactsDigest, refreshResultsPage } from "../projections/results";

export type QuestionSheetRow = Doc<"examQuestions">;
/** Question documents in the order of the ids they were read for (a deleted question is null). */
type QuestionDocs = (Doc<"questions"> | null)[];

/** Whether the exam's V1 array can hold no attempt missing from V2 (cleared, or fully imported). */
export function legacyArrayImported(definition: ExamDefinition | null): boolean {
  return definition !== null && (definition.legacyCleared || definition.legacyBackfilled === true);
}

/** The exam's membership rows in exam order (one per existing question: position and id only). */
export async function loadQuestionSheet(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">): Promise<QuestionSheetRow[]> {
  return ctx.db
    .query("examQuestions")
    .withIndex("by_exam_and_position", (q) => q.eq("examId", examId))
    .collect();
}

/** One membership row: whether `questionId` is an (existing) question of the exam (one small read). */
export async function sheetRowOf(ctx: QueryCtx, examId: Id<"exams">, questionId: Id<"questions">): Promise<QuestionSheetRow | null> {
  return ctx.db
    .query("examQuestions")
    .withIndex("by_exam_and_question", (q) => q.eq("examId", examId).eq("questionId", questionId))
    .first();
}

type SheetFields = { examId: Id<"exams">; position: number; questionId: Id<"questions">; text: string; options: string[]; points?: number };

/** The questions as the exam and its question documents say they are now (deleted questions left out). Never stored. */
function sheetOfQuestions(examId: Id<"exams">, questions: readonly (Doc<"questions"> | null)[]): SheetFields[] {
  return questions.flatMap((q, position) =>
    q === null
      ? []
      : [
          {
            examId,
            position,
            questionId: q._id,
            text: q.text,
            options: q.options,
            ...(q.points === undefined ? {} : { points: q.points }),
          },
        ],
  );
}

/** One question of an exam's sheet: what a session shows of it. */
export type SheetQuestion = Doc<"examQuestionSheets">["questions"][number];

/** The exam's question sheet, if it has one (absent: never written, or too large to keep). */
export async function getQuestionSheet(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">): Promise<Doc<"examQuestionSheets"> | null> {
  return ctx.db
    .query("examQuestionSheets")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .unique();
}

/** The sheet the exam's questions call for, or null when it would exceed MAX_QUESTION_SHEET_BYTES (sessions then read the questions). */
function wantedSheet(examId: Id<"exams">, sheet: readonly SheetFields[]): SheetQuestion[] | null {
  return sheetThatFits(examId, sheet.map(sheetQuestionOf));
}

/** What a session shows of one question. */
function sheetQuestionOf({ questionId, text, options, points }: SheetQuestion): SheetQuestion {
  return { questionId, text, options, ...(points === undefined ? {} : { points }) };
}

function sheetThatFits(examId: Id<"exams">, questions: SheetQuestion[]): SheetQuestion[] | null {
  return getConvexSize({ examId, questions }) <= MAX_QUESTION_SHEET_BYTES ? questions : null;
}

/**
 * A question held `count` times by the exam changed its text or correct answer: the exam's digest
 * is updated in place (one small read and write). False when the exam has no digest yet: the caller syncs the exam's copies.
 */
async function patchQuestionFacts(
  ctx: Pick<MutationCtx, "db">,
  examId: Id<"exams">,
  questionId: Id<"questions">,
  count: number,
  before: Pick<Doc<"questions">, "text" | "correctAnswer">,
  after: Pick<Doc<"questions">, "text" | "correctAnswer">,
): Promise<boolean> {
  const definition = await getExamDefinition(ctx, examId);
  if (definition?.questionFacts === undefined) return false;
  await ctx.db.patch("examDefinitions", definition._id, {
    questionFacts: digestAfterEdit(definition.questionFacts, questionId, count, before, after),
  });
  return true;
}

/** What keeping the copies current takes: writes, the transaction's metrics (the refresh's budget) and the scheduler (its rest). */
export type CopiesCtx = Pick<MutationCtx, "db" | "meta" | "scheduler">;

/**
 * How the result copies an edit made stale are rewritten: "inline", as many as fit in the edit's own
 * transaction (an edit through copies/functions.ts, the copy repair), the rest by the job; "scheduled",
 * all by the job (a student's transaction, a migration batch: their budgets are not the edit's).
 */
export type ResultRefresh = "inline" | "scheduled";

/** The exam's question facts changed: its stale result copies are rewritten (projections/results.ts), by examAdmin:refreshExamResults for what is not done inline. */
export async function refreshResults(ctx: CopiesCtx, examId: Id<"exams">, how: ResultRefresh): Promise<void> {
  if (how === "inline" && (await refreshResultsPage(ctx, examId)).isDone) return;
  await ctx.scheduler.runAfter(0, internal.examAdmin.refreshExamResults, { examId });
}

/**
 * A question held `count` times by the exam changed its text, options or correct answer (not its
 * points): the exam's sheet and digest are patched in place. False when either is missing: the caller
 * syncs the exam's copies.
 */
export async function patchQuestionCopies(
  ctx: CopiesCtx,
  examId: Id<"exams">,
  questionId: Id<"questions">,
  count: number,
  before: Doc<"questions">,
  after: Doc<"questions">,
): Promise<boolean> {
  if (before.text !== after.text || !same(before.options, after.options)) {
    if (!(await patchSheetQuestion(ctx, examId, { ...after, questionId }))) return false;
  }
  if (before.text !== after.text || before.correctAnswer !== after.correctAnswer) {
    if (!(await patchQuestionFacts(ctx, examId, questionId, count, before, after))) return false;
    await refreshResults(ctx, examId, "inline");
  }
  return true;
}

/**
 * A question's text or options changed: its entries in the exam's sheet are rewritten in place (one
 * read, one write; the sheet is dropped if it no longer fits) instead of re-reading the exam's every
 * question. False when the exam has no sheet: the caller syncs the exam's copies.
 */
async function patchSheetQuestion(ctx: Pick<MutationCtx, "db">, examId: Id<"exams">, question: SheetQuestion): Promise<boolean> {
  const sheet = await getQuestionSheet(ctx, examId);
  if (sheet === null) return false;
  const entry = sheetQuestionOf(question);
  const wanted = sheetThatFits(
    examId,
    sheet.questions.map((q) => (q.questionId === entry.questionId ? entry : q)),
  );
  if (wanted === null) await ctx.db.delete("examQuestionSheets", sheet._id);
  else await ctx.db.patch("examQuestionSheets", sheet._id, { questions: wanted });
  return true;
}

/** The exam fields copied (title, timing and pauses into the definition; question ids into the list and rows). */
export const COPIED_FIELDS = ["title", "questionIds", "durationMs", "maxPauses"] as const;
export type CopiedField = (typeof COPIED_FIELDS)[number];
export type ExamFacts = Pick<Doc<"exams">, CopiedField>;
/** What can be stale: a copied field, maxScore (derived from the questions' points), the membership rows, the question sheet, the digest of the questions' facts. */
export type CopyField = CopiedField | "maxScore" | "questionRows" | "questionSheet" | "questionFacts";
/** What verify can report stale besides: result copies taken under an older digest (attemptResults). */
export type StaleField = CopyField | "attemptResults";

export function examFactsOf(exam: ExamFacts): ExamFacts {
  const { title, questionIds, durationMs, maxPauses } = exam;
  return { title, questionIds, durationMs, maxPauses };
}

/** The exam's facts as its copies hold them (null when either copy is missing). */
export function factsOfCopies(definition: ExamDefinition | null, list: Doc<"examQuestionLists"> | null): ExamFacts | null {
  if (definition === null || list === null) return null;
  return examFactsOf({ ...definition, questionIds: list.questionIds });
}

/** The exam's copies as they are: definition, question list, question sheet, membership rows. */
export async function loadCopies(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">) {
  const [definition, list, sheet, rows] = await Promise.all([
    getExamDefinition(ctx, examId),
    getQuestionList(ctx, examId),
    getQuestionSheet(ctx, examId),
    loadQuestionSheet(ctx, examId),
  ]);
  return { definition, list, sheet, rows };
}
export type ExamCopies = Awaited<ReturnType<typeof loadCopies>>;

/** The copies as the exam and its question documents say they should be. */
function wantedCopies(examId: Id<"exams">, exam: ExamFacts, questions: readonly (Doc<"questions"> | null)[]) {
  const { title, questionIds, durationMs, maxPauses } = exam;
  return {
    definition: {
      title,
      questionCount: questionIds.length,
      maxScore: questions.reduce((sum, q) => sum + (q === null ? 0 : pointsOf(q)), 0),
      durationMs,
      maxPauses,
      questionFacts: questionFactsDigest(questionIds, questions),
    },
    questionIds,
    rows: questions.flatMap((q, position) => (q === null ? [] : [{ examId, position, questionId: q._id }])),
    sheet: wantedSheet(examId, sheetOfQuestions(examId, questions)),
  };
}
type WantedCopies = ReturnType<typeof wantedCopies>;

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const rowKey = (r: { position: number; questionId: string }) => `${r.position}:${r.questionId}`;

/** Which copied facts disagree with what the exam and its questions say. */
function staleOf(copies: ExamCopies, wanted: WantedCopies): CopyField[] {
  const d = copies.definition;
  const out: CopyField[] = [];
  for (const k of ["title", "durationMs", "maxPauses"] as const) if (d === null || d[k] !== wanted.definition[k]) out.push(k);
  if (
    copies.list === null ||
    !same(copies.list.questionIds, wanted.questionIds) ||
    d === null ||
    d.questionCount !== wanted.definition.questionCount
  ) {
    out.push("questionIds");
  }
  if (d === null || d.maxScore !== wanted.definition.maxScore) out.push("maxScore");
  if (d === null || d.questionFacts !== wanted.definition.questionFacts) out.push("questionFacts");
  const rows = copies.rows.map(rowKey).sort();
  const want = wanted.rows.map(rowKey).sort();
  if (!same(rows, want) || copies.rows.some((r) => r.text !== undefined)) out.push("questionRows");
  // Key order aside (stored documents come back with sorted keys).
  if (!sameCanonical(copies.sheet?.questions ?? null, wanted.sheet)) out.push("questionSheet");
  return out;
}

/** Ids once in the exam and no longer (an id back in the exam leaves the list). */
function formerIdsAfter(list: Doc<"examQuestionLists"> | null, questionIds: readonly Id<"questions">[]): Id<"questions">[] {
  const now = new Set<string>(questionIds);
  return [...new Set([...(list?.formerQuestionIds ?? []), ...(list?.questionIds ?? [])])].filter((id) => !now.has(id)) as Id<"questions">[];
}

/** Compares an exam's copies with the exam (reads its question documents); writes nothing. */
export async function staleCopies(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">, exam: ExamFacts) {
  const [copies, questions] = await Promise.all([
    loadCopies(ctx, examId),
    Promise.all(exam.questionIds.map((id) => ctx.db.get("questions", id))),
  ]);
  const wanted = wantedCopies(examId, exam, questions);
  return { copies, questions, wanted, stale: staleOf(copies, wanted) };
}

/**
 * Makes the exam's copies (definition, question list, sheet, membership rows) agree
 * with `exam` and its question documents, creating what is missing and writing
 * only what differs; if the question facts changed, the result copies follow (`refresh`).
 * Returns the definition and what was stale.
 */
export async function syncDefinition(
  ctx: CopiesCtx,
  examId: Id<"exams">,
  exam: ExamFacts,
  refresh: ResultRefresh = "scheduled",
): Promise<{ definition: ExamDefinition; stale: CopyField[]; before: ExamCopies; sheet: SheetFields[]; questions: QuestionDocs }> {
  const { copies, questions, wanted, stale } = await staleCopies(ctx, examId, exam);
  const sheet = sheetOfQuestions(examId, questions);
  let definition = copies.definition;
  if (definition === null) {
    const id = await ctx.db.insert("examDefinitions", { examId, ...wanted.definition, legacyMirror: true, legacyCleared: false });
    definition = (await ctx.db.get("examDefinitions", id))!;
  } else if (stale.some((f) => f !== "questionRows" && f !== "questionSheet")) {
    await ctx.db.patch("examDefinitions", definition._id, wanted.definition);
    definition = { ...definition, ...wanted.definition };
  }
  if (stale.includes("questionIds")) {
    const list = { questionIds: wanted.questionIds, formerQuestionIds: formerIdsAfter(copies.list, wanted.questionIds) };
    if (copies.list === null) await ctx.db.insert("examQuestionLists", { examId, ...list });
    else await ctx.db.patch("examQuestionLists", copies.list._id, list);
  }
  if (stale.includes("questionRows")) {
    const want = new Set(wanted.rows.map(rowKey));
    const have = new Set<string>();
    for (const row of copies.rows) {
      if (want.has(rowKey(row)) && row.text === undefined && !have.has(rowKey(row))) have.add(rowKey(row));
      else await ctx.db.delete("examQuestions", row._id);
    }
    for (const row of wanted.rows) if (!have.has(rowKey(row))) await ctx.db.insert("examQuestions", row);
  }
  if (stale.includes("questionSheet")) {
    if (wanted.sheet === null) await ctx.db.delete("examQuestionSheets", copies.sheet!._id);
    else if (copies.sheet === null) await ctx.db.insert("examQuestionSheets", { examId, questions: wanted.sheet });
    else await ctx.db.patch("examQuestionSheets", copies.sheet._id, { questions: wanted.sheet });
  }
  if (stale.includes("questionFacts") && copies.definition !== null) await refreshResults(ctx, examId, refresh);
  return { definition, stale, before: copies, sheet, questions };
}

/** Deletes every copy of an exam (the exam was deleted; its log stays). */
export async function deleteCopies(ctx: Pick<MutationCtx, "db">, examId: Id<"exams">): Promise<ExamCopies> {
  const copies = await loadCopies(ctx, examId);
  if (copies.definition !== null) await ctx.db.delete("examDefinitions", copies.definition._id);
  if (copies.list !== null) await ctx.db.delete("examQuestionLists", copies.list._id);
  if (copies.sheet !== null) await ctx.db.delete("examQuestionSheets", copies.sheet._id);
  for (const row of copies.rows) await ctx.db.delete("examQuestions", row._id);
  return copies;
}

/** Copies an exam's facts into its copies (created on first use). Writes only differences. */
export async function syncExamDefinition(ctx: MutationCtx, exam: Doc<"exams">): Promise<ExamDefinition> {
  return (await syncDefinition(ctx, exam._id, exam)).definition;
}

/**
 * {@link syncExamDefinition}, also returning the exam's questions as a student sees them now (the migration grades
 * from it) and their documents, in exam order (its result copies take their text and correct answers).
 */
export async function syncExamDefinitionAndSheet(
  ctx: MutationCtx,
  exam: Doc<"exams">,
): Promise<{ definition: ExamDefinition; sheet: SheetFields[]; questions: QuestionDocs }> {
  const { definition, sheet, questions } = await syncDefinition(ctx, exam._id, exam);
  return { definition, sheet, questions };
}

/** The exam's definition (and sheet), created from the exam document the first time it is needed. */
export async function ensureExamDefinition(ctx: MutationCtx, examId: Id<"exams">): Promise<ExamDefinition> {
  const existing = await getExamDefinition(ctx, examId);
  if (existing !== null) return existing;
  const exam = await ctx.db.get("exams", examId);
  if (exam === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  return syncExamDefinition(ctx, exam);
}

/** The exam's definition and question list, created from the exam document when either is missing. */
export async function ensureExamCopies(
  ctx: MutationCtx,
  examId: Id<"exams">,
): Promise<{ definition: ExamDefinition; list: Doc<"examQuestionLists"> }> {
  const [definition, list] = await Promise.all([getExamDefinition(ctx, examId), getQuestionList(ctx, examId)]);
  if (definition !== null && list !== null) return { definition, list };
  const exam = await ctx.db.get("exams", examId);
  if (exam === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  const synced = await syncDefinition(ctx, examId, exam);
  return { definition: synced.definition, list: (await getQuestionList(ctx, examId))! };
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
