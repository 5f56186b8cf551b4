/**
 * The exam API (CONTRACT §3): the 12 V1 functions and their V2 twins. Each
 * pair shares one handler, one args validator and one return validator; the
 * twins differ only in where reads come from (reads/examSources.ts) and in the
 * `origin` their writes are logged with. Every write is a command through
 * executeCommand (decide → append → project → legacy mirror, one mutation).
 *
 * @example
 * const session = await ctx.runMutation(api.exams.startExamV2, { examId });
 * await ctx.runMutation(api.exams.submitExamAnswersV2, { examId, answers: [{ questionId, selectedAnswer: "a" }] });
 */
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { query, type MutationCtx, type QueryCtx } from "./_generated/server";
import { mutation } from "./copies/functions";
import { requireUser } from "./lib/auth";
import { domainError, errorCode } from "./lib/errors";
import { LIST_LIMITS, MAX_ATTEMPTS_PER_USER } from "./lib/limits";
import { vSubmittedAnswer, type Origin, type SubmittedAnswer } from "./lib/validators";
import type { AttemptCommand } from "./events/decider";
import { executeCommand, importLegacyAttempt } from "./attempts/writePath";
import { healExamFacts } from "./copies/examCopies";
import { ensureExamCopies, type ExamDefinition } from "./copies/examDefinitions";
import { factsOfState } from "./lib/v1Entry";
import { infoOf, loadExamDoc, loadQuestions, v1Source, v2Source, type ExamSource } from "./reads/examSources";
import {
  compareRanked,
  dashboardStatsView,
  examMetadataView,
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
  type ExamInfo,
  type QuestionDocs,
} from "./reads/examViews";

// ------------------------------------------------------------------ arguments (one definition per pair)

const examArgs = { examId: v.id("exams") };
const submitArgs = { examId: v.id("exams"), answers: v.array(vSubmittedAnswer) };
const resultsArgs = { examId: v.id("exams"), userId: v.optional(v.id("users")) };
const questionAccessArgs = { examId: v.id("exams"), questionId: v.id("questions") };
const leaderboardArgs = { examId: v.id("exams"), limit: v.optional(v.number()) };
const recentArgs = { limit: v.optional(v.number()) };

// ------------------------------------------------------------------ the write path

/**
 * The exam facts a command is decided with and its answer is shown from.
 * V1 writes use the live exam document (so a V1 read and a V1 write never
 * disagree); V2 writes use the definition copy, and before rejecting a student
 * on a copied fact they re-read the live document, heal the copy and accept
 * what either allows (the session the student saw, or the exam as it is now).
 */
type ExamRules = {
  /** What the returned view shows: the exam as the source read it. */
  info: ExamInfo;
  questionIds: Id<"questions">[];
  /** What the decider enforces (the more lenient of copy and live after a re-check). */
  durationMs: number;
  maxPauses: number;
  /** Question ids the student may have been shown: an answer to one no longer in the exam is kept, worth nothing. */
  shownQuestionIds: Id<"questions">[];
  formerQuestionIds: Id<"questions">[];
  definition: ExamDefinition;
};

/** The exam as its document says now; the copies are healed (and the edit recorded) if they disagreed. */
async function liveRules(ctx: MutationCtx, examId: Id<"exams">): Promise<ExamRules> {
  const doc = await loadExamDoc(ctx, examId);
  await healExamFacts(ctx, examId, doc);
  const { definition, list } = await ensureExamCopies(ctx, examId);
  const { questionIds, durationMs, maxPauses } = doc;
  return { info: infoOf(doc), questionIds, durationMs, maxPauses, shownQuestionIds: questionIds, formerQuestionIds: list.formerQuestionIds, definition };
}

/** The exam as its copies say (created from the document when missing). */
async function copiedRules(ctx: MutationCtx, examId: Id<"exams">): Promise<ExamRules> {
  const { definition, list } = await ensureExamCopies(ctx, examId);
  const { durationMs, maxPauses } = definition;
  const questionIds = list.questionIds;
  return { info: infoOf(definition), questionIds, durationMs, maxPauses, shownQuestionIds: questionIds, formerQuestionIds: list.formerQuestionIds, definition };
}

/** Live facts, with the copy's as a floor: nobody is rejected for what their session showed. */
function lenientRules(copy: ExamRules, live: ExamRules): ExamRules {
  return {
    ...live,
    durationMs: Math.max(copy.durationMs, live.durationMs),
    maxPauses: Math.max(copy.maxPauses, live.maxPauses),
    shownQuestionIds: [...new Set([...copy.shownQuestionIds, ...live.shownQuestionIds])],
  };
}

/** Rejections a stale copy could cause: worth re-checking against the live exam. */
const COPY_DEPENDENT_CODES = new Set(["TIME_UP", "NO_PAUSES_LEFT", "INVALID_ANSWER"]);

/** A command, built from the exam's rules, with the question documents it graded with (what the results view shows). */
type BuiltCommand = { command: AttemptCommand; questions?: QuestionDocs };

/**
 * Runs one of the caller's commands: the exam's rules (see ExamRules), the
 * caller's legacy V1 entries imported if their stream is still empty, then the
 * command decided at the server's time (the write path: attempts/writePath.ts).
 * Returns what the views need: the rules, the attempt's facts, and the questions the command was built with.
 */
async function runCommand(
  ctx: MutationCtx,
  examId: Id<"exams">,
  origin: Origin,
  build: (rules: ExamRules, at: number) => Promise<BuiltCommand> | BuiltCommand,
  { live }: { live: boolean } = { live: origin === "live_v1" },
) {
  const user = await requireUser(ctx);
  // A V2 write reads the copy first (what the student was shown), then the live exam, which heals the copy.
  const copy = origin === "live_v2" ? await copiedRules(ctx, examId) : null;
  let rules = live ? await liveRules(ctx, examId) : copy!;
  if (live && copy !== null) rules = lenientRules(copy, rules);
  const stream = { examId, userId: user._id };
  const loaded = await importLegacyAttempt(ctx, stream, rules.definition);
  const at = Date.now();
  let built: BuiltCommand | undefined;
  const execute = async () =>
    executeCommand(ctx, {
      stream,
      command: (built = await build(rules, at)).command,
      actor: { kind: "user", userId: user._id },
      origin,
      definition: rules.definition,
      loaded,
    });
  let result;
  try {
    result = await execute();
  } catch (error) {
    // Nothing is written before the decider rejects: re-deciding with the live facts is safe.
    if (live || !COPY_DEPENDENT_CODES.has(errorCode(error) ?? "")) throw error;
    rules = lenientRules(rules, await liveRules(ctx, examId));
    result = await execute();
  }
  const facts = factsOfState(result.state);
  return { user, rules, facts, at, questions: built?.questions ?? [] };
}

function startExamHandler(origin: Origin) {
  return async (ctx: MutationCtx, { examId }: { examId: Id<"exams"> }) => {
    const { rules, facts, at } = await runCommand(ctx, examId, origin, (_r, at) => ({ command: { type: "StartExam", data: { at } } }));
    return sessionView(rules.info, sheetOfDocs(await loadQuestions(ctx, rules.questionIds)), facts, at);
  };
}

function submitHandler(origin: Origin) {
  return async (ctx: MutationCtx, { examId, answers }: { examId: Id<"exams">; answers: SubmittedAnswer[] }) => {
    // Grading always uses the live question documents (both twins). V1 decides from the live exam; V2 from the
    // copies (kept current by every write through copies/functions.ts), and from the live exam only before it would
    // reject: a V2 student's action never reads the exam document, which holds the whole legacy array (issue 12).
    const { user, rules, facts, questions } = await runCommand(ctx, examId, origin, async (r, at) => {
      const questions = await loadQuestions(ctx, r.questionIds);
      const grading = gradingQuestionsOf(r.questionIds, questions, [...r.shownQuestionIds, ...r.formerQuestionIds]);
      const data = { at, answers, questions: grading, durationMs: r.durationMs, maxPauses: r.maxPauses };
      return { command: { type: "SubmitAnswers", data }, questions };
    });
    const answered = facts!.answers.map((a) => a.questionId).filter((id) => !rules.questionIds.includes(id));
    const others = await loadQuestions(ctx, [...new Set(answered)]);
    return resultsView(rules.info, { maxScore: maxScoreOf(questions), questions: [...questions, ...others] }, user._id, facts!);
  };
}

function pauseHandler(origin: Origin, type: "PauseExam" | "ResumeExam") {
  return async (ctx: MutationCtx, { examId }: { examId: Id<"exams"> }) => {
    const { rules, facts } = await runCommand(ctx, examId, origin, (r, at) => ({
      command: type === "PauseExam" ? { type, data: { at, durationMs: r.durationMs, maxPauses: r.maxPauses } } : { type, data: { at } },
    }));
    return pauseStatusView(rules.info, facts);
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
      throw domainError("LIMIT_EXCEEDED", `More than ${MAX_ATTEMPTS_PER_USER} attempts (MAX_ATTEMPTS_PER_USER): the dashboard cannot be complete.`);
    }
    return dashboardStatsView(attempts.map((a) => a.facts));
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
