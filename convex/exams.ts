/**
 * The exam API (CONTRACT §3): the 12 V1 functions and their V2 twins. Each
 * pair shares one handler, one args validator and one return validator; the
 * twins differ only in where reads come from (model/examSources.ts) and in the
 * `origin` their writes are logged with. Every write is a command through
 * executeCommand (decide → append → project → legacy mirror, one mutation).
 *
 * @example
 * const session = await ctx.runMutation(api.exams.startExamV2, { examId });
 * await ctx.runMutation(api.exams.submitExamAnswersV2, { examId, answers: [{ questionId, selectedAnswer: "a" }] });
 */
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { mutation, query, type MutationCtx, type QueryCtx } from "./_generated/server";
import { requireUser } from "./lib/auth";
import { domainError } from "./lib/errors";
import { vSubmittedAnswer, type Origin, type SubmittedAnswer } from "./lib/validators";
import type { AttemptCommand, GradingQuestion } from "./events/decider";
import { readStreamHead, type StreamId } from "./events/store";
import { executeCommand, importLegacyEntries, type LegacyEntry } from "./model/attempts";
import { ensureExamDefinition, legacyArrayImported, loadQuestionSheet, type ExamDefinition } from "./model/examDefinitions";
import { infoOf, loadQuestions, v1Source, v2Source, type ExamSource } from "./model/examSources";
import {
  clampLimit,
  compareRanked,
  dashboardStatsView,
  examMetadataView,
  leaderboardView,
  LIMITS,
  maxScoreOf,
  pauseStatusView,
  questionAccessView,
  recentExamsView,
  resultsView,
  sessionView,
  vDashboardStats,
  vExamMetadataList,
  vExamSession,
  vLeaderboard,
  vParticipantResults,
  vPauseStatus,
  vQuestionAccess,
  vRecentExams,
  type AttemptFacts,
} from "./model/examViews";

// ------------------------------------------------------------------ arguments (one definition per pair)

const examArgs = { examId: v.id("exams") };
const submitArgs = { examId: v.id("exams"), answers: v.array(vSubmittedAnswer) };
const resultsArgs = { examId: v.id("exams"), userId: v.optional(v.id("users")) };
const questionAccessArgs = { examId: v.id("exams"), questionId: v.id("questions") };
const leaderboardArgs = { examId: v.id("exams"), limit: v.optional(v.number()) };
const recentArgs = { limit: v.optional(v.number()) };

// ------------------------------------------------------------------ the write path

/**
 * Runs one of the caller's commands: the exam's definition (created on first
 * use), the caller's legacy V1 entries imported if their stream is still empty,
 * then the command decided at the server's time.
 */
async function runCommand(
  ctx: MutationCtx,
  examId: Id<"exams">,
  origin: Origin,
  build: (definition: ExamDefinition, at: number) => Promise<AttemptCommand> | AttemptCommand,
) {
  const user = await requireUser(ctx);
  const definition = await ensureExamDefinition(ctx, examId);
  const stream = { examId, userId: user._id };
  await importLegacyAttempt(ctx, stream, definition);
  const at = Date.now();
  const result = await executeCommand(ctx, {
    stream,
    command: await build(definition, at),
    actor: { kind: "user", userId: user._id },
    origin,
  });
  const p = result.state.participation;
  const facts: AttemptFacts | null = p === null ? null : { ...p, answers: result.state.answers };
  return { user, definition, facts, at };
}

/**
 * A participant who exists only in the V1 array: their entries go into the log first (same keys as the backfill).
 * Once the exam is cleared or marked backfilled, no V1 entry can be missing from the log: the exam document is not read.
 */
async function importLegacyAttempt(ctx: MutationCtx, stream: StreamId, definition: ExamDefinition) {
  if (legacyArrayImported(definition) || (await readStreamHead(ctx, stream)) !== null) return;
  const exam = await ctx.db.get("exams", stream.examId);
  const entries: LegacyEntry[] = (exam?.participants ?? []).flatMap((participant, sourceIndex) =>
    participant.userId === stream.userId ? [{ participant, sourceIndex }] : [],
  );
  if (entries.length > 0) await importLegacyEntries(ctx, stream, entries);
}

function gradingQuestions(questions: Awaited<ReturnType<typeof loadQuestions>>): GradingQuestion[] {
  return questions.flatMap((q) =>
    q === null ? [] : [{ questionId: q._id, options: q.options, correctAnswer: q.correctAnswer, ...(q.points === undefined ? {} : { points: q.points }) }],
  );
}

function startExamHandler(origin: Origin) {
  return async (ctx: MutationCtx, { examId }: { examId: Id<"exams"> }) => {
    const { definition, facts, at } = await runCommand(ctx, examId, origin, (_d, at) => ({ type: "StartExam", data: { at } }));
    return sessionView(infoOf(definition), await loadQuestionSheet(ctx, examId), facts, at);
  };
}

function submitHandler(origin: Origin) {
  return async (ctx: MutationCtx, { examId, answers }: { examId: Id<"exams">; answers: SubmittedAnswer[] }) => {
    let questions: Awaited<ReturnType<typeof loadQuestions>> = [];
    const { user, definition, facts } = await runCommand(ctx, examId, origin, async (d, at) => {
      // Ids from the sheet; grading reads the live question documents (authoritative answers, options, points).
      questions = await loadQuestions(ctx, (await loadQuestionSheet(ctx, examId)).map((row) => row.questionId));
      const { durationMs, maxPauses } = d;
      return { type: "SubmitAnswers", data: { at, answers, questions: gradingQuestions(questions), durationMs, maxPauses } };
    });
    return resultsView(infoOf(definition), { maxScore: maxScoreOf(questions), questions }, user._id, facts!);
  };
}

function pauseHandler(origin: Origin, type: "PauseExam" | "ResumeExam") {
  return async (ctx: MutationCtx, { examId }: { examId: Id<"exams"> }) => {
    const { definition, facts } = await runCommand(ctx, examId, origin, (d, at) =>
      type === "PauseExam"
        ? { type, data: { at, durationMs: d.durationMs, maxPauses: d.maxPauses } }
        : { type, data: { at } },
    );
    return pauseStatusView(infoOf(definition), facts);
  };
}

// ------------------------------------------------------------------ reads (one handler per pair, parameterised by source)

function sessionHandler(source: ExamSource) {
  return async (ctx: QueryCtx, { examId }: { examId: Id<"exams"> }) => {
    const user = await requireUser(ctx);
    const exam = await source.exam(ctx, examId);
    const attempt = await exam.attempt(user._id, { withAnswers: false });
    return sessionView(exam.info, await exam.questions(), attempt, Date.now());
  };
}

function resultsHandler(source: ExamSource) {
  return async (ctx: QueryCtx, args: { examId: Id<"exams">; userId?: Id<"users"> }) => {
    const me = await requireUser(ctx);
    const userId = args.userId ?? me._id;
    const isAdmin = me.role === "admin";
    if (userId !== me._id && !isAdmin) throw domainError("FORBIDDEN", "You may only see your own results.");
    const exam = await source.exam(ctx, args.examId);
    const attempt = await exam.attempt(userId, { withAnswers: true });
    if (attempt === null) throw domainError("NOT_FOUND", "There is no attempt at this exam.");
    if (attempt.completedAt === undefined && !isAdmin) {
      throw domainError("NOT_COMPLETED", "Results are shown once you have completed the exam.");
    }
    return resultsView(exam.info, await exam.resultQuestions(attempt.answers.map((a) => a.questionId)), userId, attempt);
  };
}

function pauseStatusHandler(source: ExamSource) {
  return async (ctx: QueryCtx, { examId }: { examId: Id<"exams"> }) => {
    const user = await requireUser(ctx);
    const exam = await source.exam(ctx, examId);
    return pauseStatusView(exam.info, await exam.attempt(user._id, { withAnswers: false }));
  };
}

function questionAccessHandler(source: ExamSource) {
  return async (ctx: QueryCtx, { examId, questionId }: { examId: Id<"exams">; questionId: Id<"questions"> }) => {
    const user = await requireUser(ctx);
    const exam = await source.exam(ctx, examId);
    const [inExam, attempt] = await Promise.all([exam.hasQuestion(questionId), exam.attempt(user._id, { withAnswers: false })]);
    return questionAccessView(exam.info, inExam, attempt, Date.now());
  };
}

function leaderboardHandler(source: ExamSource) {
  return async (ctx: QueryCtx, { examId, limit }: { examId: Id<"exams">; limit?: number }) => {
    await requireUser(ctx);
    const n = clampLimit(limit, LIMITS.leaderboardDefault, LIMITS.leaderboardMax);
    const top = [...(await source.ranked(ctx, examId, n))].sort(compareRanked).slice(0, n);
    const users = await Promise.all(top.map((a) => ctx.db.get("users", a.userId))); // names of the top only
    return leaderboardView(top, n, new Map(users.flatMap((u) => (u === null ? [] : [[u._id as string, u.name]]))));
  };
}

function metadataHandler(source: ExamSource) {
  return async (ctx: QueryCtx) => {
    await requireUser(ctx);
    return (await source.allExams(ctx)).map(({ info, counts }) => examMetadataView(info, counts));
  };
}

function dashboardHandler(source: ExamSource) {
  return async (ctx: QueryCtx) => {
    const user = await requireUser(ctx);
    const attempts = await source.myAttempts(ctx, user._id, LIMITS.attemptsPerUser);
    return dashboardStatsView(attempts.map((a) => a.facts));
  };
}

function recentHandler(source: ExamSource) {
  return async (ctx: QueryCtx, { limit }: { limit?: number }) => {
    const user = await requireUser(ctx);
    const n = clampLimit(limit, LIMITS.recentDefault, LIMITS.recentMax);
    return recentExamsView(await source.myAttempts(ctx, user._id, n), n);
  };
}

// ------------------------------------------------------------------ V1

export const startExam = mutation({ args: examArgs, returns: vExamSession, handler: startExamHandler("live_v1") });
export const submitExamAnswers = mutation({ args: submitArgs, returns: vParticipantResults, handler: submitHandler("live_v1") });
export const startPause = mutation({ args: examArgs, returns: vPauseStatus, handler: pauseHandler("live_v1", "PauseExam") });
export const resumeFromPause = mutation({ args: examArgs, returns: vPauseStatus, handler: pauseHandler("live_v1", "ResumeExam") });
export const getExamSession = query({ args: examArgs, returns: vExamSession, handler: sessionHandler(v1Source) });
export const getParticipantExamResults = query({ args: resultsArgs, returns: vParticipantResults, handler: resultsHandler(v1Source) });
export const getPauseStatus = query({ args: examArgs, returns: vPauseStatus, handler: pauseStatusHandler(v1Source) });
export const validateQuestionAccess = query({ args: questionAccessArgs, returns: vQuestionAccess, handler: questionAccessHandler(v1Source) });
export const getExamLeaderboard = query({ args: leaderboardArgs, returns: vLeaderboard, handler: leaderboardHandler(v1Source) });
export const getAllExamsMetadata = query({ args: {}, returns: vExamMetadataList, handler: metadataHandler(v1Source) });
export const getMyDashboardStats = query({ args: {}, returns: vDashboardStats, handler: dashboardHandler(v1Source) });
export const getMyRecentExams = query({ args: recentArgs, returns: vRecentExams, handler: recentHandler(v1Source) });

// ------------------------------------------------------------------ V2

export const startExamV2 = mutation({ args: examArgs, returns: vExamSession, handler: startExamHandler("live_v2") });
export const submitExamAnswersV2 = mutation({ args: submitArgs, returns: vParticipantResults, handler: submitHandler("live_v2") });
export const startPauseV2 = mutation({ args: examArgs, returns: vPauseStatus, handler: pauseHandler("live_v2", "PauseExam") });
export const resumeFromPauseV2 = mutation({ args: examArgs, returns: vPauseStatus, handler: pauseHandler("live_v2", "ResumeExam") });
export const getExamSessionV2 = query({ args: examArgs, returns: vExamSession, handler: sessionHandler(v2Source) });
export const getParticipantExamResultsV2 = query({ args: resultsArgs, returns: vParticipantResults, handler: resultsHandler(v2Source) });
export const getPauseStatusV2 = query({ args: examArgs, returns: vPauseStatus, handler: pauseStatusHandler(v2Source) });
export const validateQuestionAccessV2 = query({ args: questionAccessArgs, returns: vQuestionAccess, handler: questionAccessHandler(v2Source) });
export const getExamLeaderboardV2 = query({ args: leaderboardArgs, returns: vLeaderboard, handler: leaderboardHandler(v2Source) });
export const getAllExamsMetadataV2 = query({ args: {}, returns: vExamMetadataList, handler: metadataHandler(v2Source) });
export const getMyDashboardStatsV2 = query({ args: {}, returns: vDashboardStats, handler: dashboardHandler(v2Source) });
export const getMyRecentExamsV2 = query({ args: recentArgs, returns: vRecentExams, handler: recentHandler(v2Source) });
