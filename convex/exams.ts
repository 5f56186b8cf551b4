/**
 * The exam API (docs/exam-api.md): the 12 V1 functions and their V2 twins. Each
 * pair shares one handler, one args validator and one return validator; the
 * twins differ only in where reads come from (reads/examSources.ts) and in the
 * `origin` their writes are logged with. Every write is a command through
 * runStudentCommand (attempts/writePath.ts: legacy import → load → decide →
 * append → project → legacy mirror, one mutation).
 *
 * @example
 * const session = await ctx.runMutation(api.exams.startExamV2, { examId });
 * await ctx.runMutation(api.exams.submitExamAnswersV2, { examId, answers: [{ questionId, selectedAnswer: "a" }] });
 */
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { query, type MutationCtx, type QueryCtx } from "./_generated/server";
import { mutation } from "./headers/functions";
import { requireUser } from "./lib/auth";
import { domainError } from "./lib/errors";
import { LIST_LIMITS, MAX_ATTEMPTS_PER_USER } from "./lib/limits";
import { vSubmittedAnswer, type Origin, type SubmittedAnswer } from "./lib/validators";
import { runStudentCommand } from "./attempts/writePath";
import { loadQuestions, v1Source, v2Source, type ExamSource } from "./reads/examSources";
import {
  compareRanked,
  dashboardStatsView,
  examMetadataView,
  gradedAnswersOf,
  gradingQuestionsOf,
  leaderboardView,
  maxScoreOf,
  parseLimit,
  pauseStatusView,
  questionAccessView,
  recentExamsView,
  resultsView,
  sessionView,
  sheetOfDocs,
  vDashboardStats,
  vExamMetadataList,
  vExamSession,
  vLeaderboard,
  vParticipantResults,
  vPauseStatus,
  vQuestionAccess,
  vRecentExams,
} from "./reads/examViews";

// ------------------------------------------------------------------ arguments (one definition per pair)

const examArgs = { examId: v.id("exams") };
const submitArgs = { examId: v.id("exams"), answers: v.array(vSubmittedAnswer) };
const resultsArgs = { examId: v.id("exams"), userId: v.optional(v.id("users")) };
const questionAccessArgs = { examId: v.id("exams"), questionId: v.id("questions") };
const leaderboardArgs = { examId: v.id("exams"), limit: v.optional(v.number()) };
const recentArgs = { limit: v.optional(v.number()) };

// ------------------------------------------------------------------ writes (the write path: attempts/writePath.ts runStudentCommand)

function startExamHandler(origin: Origin) {
  return async (ctx: MutationCtx, { examId }: { examId: Id<"exams"> }) => {
    const { rules, attempt, at } = await runStudentCommand(ctx, examId, origin, (_r, at) => ({
      command: { type: "StartExam", data: { at } },
    }));
    return sessionView(rules.info, sheetOfDocs(await loadQuestions(ctx, rules.questionIds)), attempt, at);
  };
}

function submitHandler(origin: Origin) {
  return async (ctx: MutationCtx, { examId, answers }: { examId: Id<"exams">; answers: SubmittedAnswer[] }) => {
    // Grading uses the live question documents (both twins), with the question ids the twin's sessions show
    // (attempts/writePath.ts ExamRules): V2 never reads the exam document, which holds the whole legacy array.
    const { user, rules, attempt, questions } = await runStudentCommand(ctx, examId, origin, async (r, at) => {
      const questions = await loadQuestions(ctx, r.questionIds);
      const grading = gradingQuestionsOf(r.questionIds, questions, r.formerQuestionIds);
      const data = { at, answers, questions: grading, durationMs: r.durationMs, maxPauses: r.maxPauses };
      return { command: { type: "SubmitAnswers", data }, questions };
    });
    const answered = attempt.answers.map((a) => a.questionId).filter((id) => !rules.questionIds.includes(id));
    const others = await loadQuestions(ctx, [...new Set(answered)]);
    const answersShown = gradedAnswersOf(attempt.answers, [...questions, ...others]);
    return resultsView(rules.info, { attempt, maxScore: maxScoreOf(questions), answers: answersShown }, user._id);
  };
}

function pauseHandler(origin: Origin, type: "PauseExam" | "ResumeExam") {
  return async (ctx: MutationCtx, { examId }: { examId: Id<"exams"> }) => {
    const { rules, attempt } = await runStudentCommand(ctx, examId, origin, (r, at) => ({
      command: type === "PauseExam" ? { type, data: { at, durationMs: r.durationMs, maxPauses: r.maxPauses } } : { type, data: { at } },
    }));
    return pauseStatusView(rules.info, attempt);
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
    const results = await exam.results(userId, (participation) => {
      if (participation === null) throw domainError("NOT_FOUND", "There is no attempt at this exam.");
      if (participation.completedAt === undefined && !isAdmin) {
        throw domainError("NOT_COMPLETED", "Results are shown once you have completed the exam.");
      }
    });
    return resultsView(exam.info, results, userId);
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
    const n = parseLimit(limit, LIST_LIMITS.leaderboard);
    if (n === 0) return [];
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
    const attempts = await source.myAttempts(ctx, user._id, MAX_ATTEMPTS_PER_USER + 1);
    if (attempts.length > MAX_ATTEMPTS_PER_USER) {
      throw domainError(
        "LIMIT_EXCEEDED",
        `More than ${MAX_ATTEMPTS_PER_USER} attempts (MAX_ATTEMPTS_PER_USER): the dashboard cannot be complete.`,
      );
    }
    return dashboardStatsView(attempts.map((a) => a.participation));
  };
}

function recentHandler(source: ExamSource) {
  return async (ctx: QueryCtx, { limit }: { limit?: number }) => {
    const user = await requireUser(ctx);
    const n = parseLimit(limit, LIST_LIMITS.recent);
    if (n === 0) return [];
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
export const validateQuestionAccess = query({
  args: questionAccessArgs,
  returns: vQuestionAccess,
  handler: questionAccessHandler(v1Source),
});
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
export const validateQuestionAccessV2 = query({
  args: questionAccessArgs,
  returns: vQuestionAccess,
  handler: questionAccessHandler(v2Source),
});
export const getExamLeaderboardV2 = query({ args: leaderboardArgs, returns: vLeaderboard, handler: leaderboardHandler(v2Source) });
export const getAllExamsMetadataV2 = query({ args: {}, returns: vExamMetadataList, handler: metadataHandler(v2Source) });
export const getMyDashboardStatsV2 = query({ args: {}, returns: vDashboardStats, handler: dashboardHandler(v2Source) });
export const getMyRecentExamsV2 = query({ args: recentArgs, returns: vRecentExams, handler: recentHandler(v2Source) });
