/**
 * Exam authoring (CONTRACT §6), admins only, and the operators' commands that
 * keep the exam copies honest. Every write goes through copies/functions.ts, whose
 * `ctx.db` rewrites the exam's copies in the same transaction and records the
 * change (who, when, the fields before and after) for the audit trail.
 *
 * @example
 * const questionId = await convex.mutation(api.examAdmin.createQuestion, { text: "2+2?", options: ["3", "4"], correctAnswer: "4" });
 * const examId = await convex.mutation(api.examAdmin.createExam, { title: "Maths", questionIds: [questionId], durationMs: 1_800_000, maxPauses: 2 });
 * // operators: npx convex run examAdmin:verifyExamCopies '{}'   (follow continueCursor until isDone)
 * //            npx convex run examAdmin:repairExamCopies '{}'   (the same walk, healing; also scheduled: convex/crons.ts)
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalQuery, query, type QueryCtx } from "./_generated/server";
import { internalMutation, mutation } from "./copies/functions";
import { requireAdmin } from "./lib/auth";
import { domainError } from "./lib/errors";
import { CONVEX_LIMITS } from "./lib/limits";
import { healExamCopy, parseCopyCursor, staleCopiesOf, walkExamCopies, type CopyCursor } from "./copies/examCopies";
import { refreshResultsPage } from "./projections/results";

// ---------------------------------------------------------------- validation (one rule per fact)

function invalid(message: string): never {
  throw domainError("INVALID_ARGUMENT", message);
}

type QuestionFields = Pick<Doc<"questions">, "text" | "options" | "correctAnswer" | "points">;
type ExamFields = Pick<Doc<"exams">, "title" | "questionIds" | "durationMs" | "maxPauses">;

function checkQuestion(q: QuestionFields): void {
  if (q.text.trim() === "") invalid("A question needs a text.");
  if (q.options.length < 2) invalid("A question needs at least two options.");
  if (new Set(q.options).size !== q.options.length) invalid("A question's options must differ from each other.");
  if (!q.options.includes(q.correctAnswer)) invalid(`The correct answer "${q.correctAnswer}" is not one of the options.`);
  if (q.points !== undefined && !(Number.isFinite(q.points) && q.points >= 0)) invalid("points must be a finite number ≥ 0.");
}

async function checkExam(ctx: QueryCtx, e: ExamFields, before?: ExamFields): Promise<void> {
  if (e.title.trim() === "") invalid("An exam needs a title.");
  if (!(Number.isInteger(e.durationMs) && e.durationMs > 0)) invalid("durationMs must be a whole number of milliseconds > 0.");
  if (!(Number.isInteger(e.maxPauses) && e.maxPauses >= 0)) invalid("maxPauses must be a whole number ≥ 0.");
  if (e.questionIds.length > CONVEX_LIMITS.arrayElements) invalid(`An exam holds at most ${CONVEX_LIMITS.arrayElements} questions.`);
  if (new Set(e.questionIds).size !== e.questionIds.length) invalid("A question is listed twice.");
  // Ids the exam already lists may dangle (a deleted question stays listed, as in V1); new ones must exist.
  const kept = new Set<string>(before?.questionIds ?? []);
  for (const id of e.questionIds) {
    if (!kept.has(id) && (await ctx.db.get("questions", id)) === null) invalid(`Question ${id} does not exist.`);
  }
}

async function loadQuestion(ctx: QueryCtx, questionId: Id<"questions">): Promise<Doc<"questions">> {
  const q = await ctx.db.get("questions", questionId);
  if (q === null) throw domainError("NOT_FOUND", `Question ${questionId} does not exist.`);
  return q;
}

async function loadExam(ctx: QueryCtx, examId: Id<"exams">): Promise<Doc<"exams">> {
  const exam = await ctx.db.get("exams", examId);
  if (exam === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  return exam;
}

/** Only the fields given (an absent one is left as it is). */
function given<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------- questions

const questionArgs = { text: v.string(), options: v.array(v.string()), correctAnswer: v.string(), points: v.optional(v.number()) };

export const createQuestion = mutation({
  args: questionArgs,
  returns: v.id("questions"),
  handler: async (ctx, args) => {
    await requireAdmin(ctx);
    checkQuestion(args);
    return ctx.db.insert("questions", given(args) as QuestionFields);
  },
});

export const updateQuestion = mutation({
  args: {
    questionId: v.id("questions"),
    text: v.optional(v.string()),
    options: v.optional(v.array(v.string())),
    correctAnswer: v.optional(v.string()),
    points: v.optional(v.number()),
  },
  returns: v.null(),
  handler: async (ctx, { questionId, ...fields }) => {
    await requireAdmin(ctx);
    const before = await loadQuestion(ctx, questionId);
    const change = given(fields);
    checkQuestion({ ...before, ...change });
    await ctx.db.patch("questions", questionId, change);
    return null;
  },
});

export const deleteQuestion = mutation({
  args: { questionId: v.id("questions") },
  returns: v.null(),
  handler: async (ctx, { questionId }) => {
    await requireAdmin(ctx);
    await loadQuestion(ctx, questionId);
    await ctx.db.delete("questions", questionId); // exams keep the dangling id, as V1 did
    return null;
  },
});

// ---------------------------------------------------------------- exams

export const createExam = mutation({
  args: { title: v.string(), questionIds: v.array(v.id("questions")), durationMs: v.number(), maxPauses: v.number() },
  returns: v.id("exams"),
  handler: async (ctx, args) => {
    await requireAdmin(ctx);
    await checkExam(ctx, args);
    return ctx.db.insert("exams", args);
  },
});

export const updateExam = mutation({
  args: {
    examId: v.id("exams"),
    title: v.optional(v.string()),
    questionIds: v.optional(v.array(v.id("questions"))),
    durationMs: v.optional(v.number()),
    maxPauses: v.optional(v.number()),
  },
  returns: v.null(),
  handler: async (ctx, { examId, ...fields }) => {
    await requireAdmin(ctx);
    const before = await loadExam(ctx, examId);
    const change = given(fields);
    await checkExam(ctx, { ...before, ...change }, before);
    await ctx.db.patch("exams", examId, change); // never `participants`: that array is the students'
    return null;
  },
});

export const deleteExam = mutation({
  args: { examId: v.id("exams") },
  returns: v.null(),
  handler: async (ctx, { examId }) => {
    await requireAdmin(ctx);
    const exam = await loadExam(ctx, examId);
    const [event, row] = await Promise.all([
      ctx.db
        .query("examEvents")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .first(),
      ctx.db
        .query("examParticipations")
        .withIndex("by_exam_and_user", (q) => q.eq("examId", examId))
        .first(),
    ]);
    if ((exam.participants?.length ?? 0) > 0 || event !== null || row !== null) {
      throw domainError("CONFLICT", "This exam has attempts (V1 or V2): it cannot be deleted.");
    }
    await ctx.db.delete("exams", examId);
    return null;
  },
});

const vEditableQuestion = v.union(
  v.object({
    questionId: v.id("questions"),
    text: v.string(),
    options: v.array(v.string()),
    correctAnswer: v.string(),
    points: v.optional(v.number()),
  }),
  v.object({ questionId: v.id("questions"), deleted: v.literal(true) }),
);

export const getExamForEditing = query({
  args: { examId: v.id("exams") },
  returns: v.object({
    examId: v.id("exams"),
    title: v.string(),
    questionIds: v.array(v.id("questions")),
    durationMs: v.number(),
    maxPauses: v.number(),
    questions: v.array(vEditableQuestion),
  }),
  handler: async (ctx, { examId }) => {
    await requireAdmin(ctx);
    const exam = await loadExam(ctx, examId);
    const questions = await Promise.all(
      exam.questionIds.map(async (questionId) => {
        const q = await ctx.db.get("questions", questionId);
        if (q === null) return { questionId, deleted: true as const };
        return {
          questionId,
          text: q.text,
          options: q.options,
          correctAnswer: q.correctAnswer,
          ...(q.points === undefined ? {} : { points: q.points }),
        };
      }),
    );
    const { title, questionIds, durationMs, maxPauses } = exam;
    return { examId, title, questionIds, durationMs, maxPauses, questions };
  },
});

// ---------------------------------------------------------------- copies: verify and repair (operators)

const vStaleCopy = v.object({ examId: v.id("exams"), field: v.string(), copy: v.any(), live: v.any() });
const copyWalkArgs = { cursor: v.optional(v.union(v.string(), v.null())) };
const copyWalkResult = v.object({
  isValid: v.boolean(),
  /** Every stale copy found by this call, by exam and field. */
  stale: v.array(vStaleCopy),
  checked: v.number(),
  isDone: v.boolean(),
  continueCursor: v.union(v.string(), v.null()),
});

const cursorOut = (next: CopyCursor | null) => ({ isDone: next === null, continueCursor: next === null ? null : JSON.stringify(next) });

/**
 * Names every stale copy of an exam's facts by exam and field (a missing
 * definition, copies of a deleted exam). Writes nothing. Resumable: call again
 * with `continueCursor` until `isDone`; the copies are current when every call returned `isValid`.
 */
export const verifyExamCopies = internalQuery({
  args: copyWalkArgs,
  returns: copyWalkResult,
  handler: async (ctx, { cursor }) => {
    const { stale, checked, next } = await walkExamCopies(ctx, parseCopyCursor(cursor), (examId, exam) => staleCopiesOf(ctx, examId, exam));
    return { isValid: stale.length === 0, stale, checked, ...cursorOut(next) };
  },
});

/** The same walk, healing each stale copy (recorded in the audit trail as a "repair" by the system). */
export const repairExamCopies = internalMutation({
  args: copyWalkArgs,
  returns: copyWalkResult,
  handler: async (ctx, { cursor }) => {
    const { stale, checked, next } = await walkExamCopies(ctx, parseCopyCursor(cursor), (examId, exam) => healExamCopy(ctx, examId, exam));
    return { isValid: stale.length === 0, stale, checked, ...cursorOut(next) };
  },
});

/** The scheduled pass (convex/crons.ts): one batch, then the next batch scheduled until the walk is done. */
export const runExamCopyRepair = internalMutation({
  args: copyWalkArgs,
  returns: v.null(),
  handler: async (ctx, { cursor }) => {
    const { next } = await walkExamCopies(ctx, parseCopyCursor(cursor), (examId, exam) => healExamCopy(ctx, examId, exam));
    if (next !== null) await ctx.scheduler.runAfter(0, internal.examAdmin.runExamCopyRepair, { cursor: JSON.stringify(next) });
    return null;
  },
});

// ---------------------------------------------------------------- result copies: refresh (scheduled)

/**
 * Rewrites the exam's result copies taken under older question facts (projections/results.ts), one
 * budgeted page per call, the next page scheduled until none is left. Scheduled by the edit that changed
 * the facts, and by the copy repair; safe at any time (a current copy is left alone).
 */
export const refreshExamResults = internalMutation({
  args: { examId: v.id("exams") },
  returns: v.object({ refreshed: v.number(), isDone: v.boolean() }),
  handler: async (ctx, { examId }) => {
    const page = await refreshResultsPage(ctx, examId);
    if (!page.isDone) await ctx.scheduler.runAfter(0, internal.examAdmin.refreshExamResults, { examId });
    return page;
  },
});
