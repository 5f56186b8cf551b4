/**
 * Exam authoring (docs/exam-api.md, "Exam edits"), admins only, and the
 * operators' commands of the header check. Every write goes through
 * headers/functions.ts, whose `ctx.db` syncs the exam's header in the same
 * transaction and records the change (who, when, the fields before and after)
 * for the audit trail.
 *
 * @example
 * const questionId = await convex.mutation(api.examAdmin.createQuestion, { text: "2+2?", options: ["3", "4"], correctAnswer: "4" });
 * const examId = await convex.mutation(api.examAdmin.createExam, { title: "Maths", questionIds: [questionId], durationMs: 1_800_000, maxPauses: 2 });
 * // operators: npx convex run examAdmin:verifyExamHeaders '{}'   (follow continueCursor until isDone)
 * //            npx convex run examAdmin:repairExamHeaders '{}'   (the same walk, healing; also scheduled: convex/crons.ts)
 * //            npx convex run examAdmin:headerCheckStatus '{}'   (the scheduled pass: interval, last pass, bytes read per day)
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalQuery, query, type QueryCtx } from "./_generated/server";
import { internalMutation, mutation } from "./headers/functions";
import { requireAdmin } from "./lib/auth";
import { loadQuestions } from "./reads/examSources";
import { domainError } from "./lib/errors";
import { CONVEX_LIMITS, WORK_BOUNDS } from "./lib/limits";
import { healExamHeader, parseHeaderCursor, staleHeaderOf, walkExamHeaders, type HeaderCursor } from "./headers/keeper";
import {
  headerCheckStatusOf,
  runHeaderCheckBatch,
  setHeaderCheckMinutes,
  startHeaderCheck,
  vHeaderCheckStatus,
  vStarted,
} from "./headers/check";

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
  // Ids the exam already lists may dangle (a deleted question stays listed, as in V1); new ones must exist,
  // each read once: at most WORK_BOUNDS.newQuestionIdsPerEdit per call (add more with further edits).
  const kept = new Set<string>(before?.questionIds ?? []);
  const added = e.questionIds.filter((id) => !kept.has(id));
  if (added.length > WORK_BOUNDS.newQuestionIdsPerEdit) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `One edit may add at most ${WORK_BOUNDS.newQuestionIdsPerEdit} questions (WORK_BOUNDS.newQuestionIdsPerEdit), this one adds ${added.length}: add the rest with updateExam.`,
    );
  }
  for (const id of added) {
    if ((await ctx.db.get("questions", id)) === null) invalid(`Question ${id} does not exist.`);
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
    const docs = await loadQuestions(ctx, exam.questionIds);
    const questions = exam.questionIds.map((questionId, i) => {
      const q = docs[i]!;
      if (q === null) return { questionId, deleted: true as const };
      return {
        questionId,
        text: q.text,
        options: q.options,
        correctAnswer: q.correctAnswer,
        ...(q.points === undefined ? {} : { points: q.points }),
      };
    });
    const { title, questionIds, durationMs, maxPauses } = exam;
    return { examId, title, questionIds, durationMs, maxPauses, questions };
  },
});

// ---------------------------------------------------------------- the header check (operators, and scheduled)

const vStaleHeader = v.object({ examId: v.id("exams"), field: v.string(), held: v.any(), live: v.any() });
const headerWalkArgs = { cursor: v.optional(v.union(v.string(), v.null())) };
const headerWalkResult = v.object({
  isValid: v.boolean(),
  /** Every stale header found by this call, by exam and field. */
  stale: v.array(vStaleHeader),
  checked: v.number(),
  isDone: v.boolean(),
  continueCursor: v.union(v.string(), v.null()),
});

const cursorOut = (next: HeaderCursor | null) => ({ isDone: next === null, continueCursor: next === null ? null : JSON.stringify(next) });

/**
 * Names every exam whose header disagrees with it, by field (a missing header, a header of a deleted
 * exam). Writes nothing. Resumable: call again with `continueCursor` until `isDone`.
 */
export const verifyExamHeaders = internalQuery({
  args: headerWalkArgs,
  returns: headerWalkResult,
  handler: async (ctx, { cursor }) => {
    const { stale, checked, next } = await walkExamHeaders(ctx, parseHeaderCursor(cursor), (examId, exam) =>
      staleHeaderOf(ctx, examId, exam),
    );
    return { isValid: stale.length === 0, stale, checked, ...cursorOut(next) };
  },
});

/** The same walk, healing each stale header (recorded in the audit trail as a "repair" by the system). */
export const repairExamHeaders = internalMutation({
  args: headerWalkArgs,
  returns: headerWalkResult,
  handler: async (ctx, { cursor }) => {
    const { stale, checked, next } = await walkExamHeaders(ctx, parseHeaderCursor(cursor), (examId, exam) =>
      healExamHeader(ctx, examId, exam),
    );
    return { isValid: stale.length === 0, stale, checked, ...cursorOut(next) };
  },
});

/** The cron's tick (convex/crons.ts): a pass of the header check when one is due (headers/check.ts startHeaderCheck). */
export const tickHeaderCheck = internalMutation({
  args: {},
  returns: vStarted,
  handler: (ctx) => startHeaderCheck(ctx, { now: false }),
});

/** An operator's pass of the header check now (after an import, say), unless one is running; it runs in the background. */
export const startHeaderCheckNow = internalMutation({
  args: {},
  returns: vStarted,
  handler: (ctx) => startHeaderCheck(ctx, { now: true }),
});

/** One batch of the running pass; the next is scheduled until the walk is done (headers/check.ts runHeaderCheckBatch). */
export const runHeaderCheck = internalMutation({
  args: { startedAt: v.number() },
  returns: v.null(),
  handler: async (ctx, { startedAt }) => {
    if (await runHeaderCheckBatch(ctx, startedAt)) await ctx.scheduler.runAfter(0, internal.examAdmin.runHeaderCheck, { startedAt });
    return null;
  },
});

/** Sets how often the scheduled header check starts a pass (whole minutes, at least one tick of the cron). */
export const setHeaderCheckInterval = internalMutation({
  args: { minutes: v.number() },
  returns: v.object({ intervalMinutes: v.number() }),
  handler: (ctx, { minutes }) => setHeaderCheckMinutes(ctx, minutes),
});

/** The scheduled header check: its interval, the running and last pass, what it reads per day, its convergence bound. */
export const headerCheckStatus = internalQuery({
  args: {},
  returns: vHeaderCheckStatus,
  handler: (ctx) => headerCheckStatusOf(ctx),
});
