/**
 * The ONE definition of every result shape the exam API returns: return
 * validators and pure view builders shared by the V1 functions and their V2
 * twins. V1 and V2 differ only in where they load an attempt from (the exam's
 * embedded array or the V2 tables); both hand the decider's state of it to these builders,
 * which is what makes "V1 equals V2 for the same history" hold by construction.
 *
 * @example
 * const view = sessionView(examInfo, sheetOfDocs(questions), attempt, Date.now());
 * // view.questions never carry correctAnswer; view.answers only once completed
 */
import { v, type Infer } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import { vAttemptStatus, vResultAnswer, type ResultAnswer, type V1Answer, type V1Participant } from "../lib/validators";
import {
  elapsedMs,
  pointsOf,
  rankingScore,
  remainingMs,
  statusOfFacts,
  type GradingQuestion,
  type ParticipationFacts,
  type ShownAttempt,
} from "../events/decider";
import { firstEntries } from "../lib/v1Entry";
import { domainError } from "../lib/errors";
import { LIST_LIMITS, MAX_ATTEMPTS_PER_USER, MAX_LISTED_EXAMS } from "../lib/limits";

/** What every view needs of an exam: an exam document or its examHeaders copy. */
export type ExamInfo = {
  examId: Id<"exams">;
  title: string;
  questionCount: number;
  durationMs: number;
  maxPauses: number;
};

/** Caps that keep every read bounded (defined once in lib/limits.ts). */
export const LIMITS = {
  leaderboardDefault: LIST_LIMITS.leaderboard.fallback,
  leaderboardMax: LIST_LIMITS.leaderboard.max,
  recentDefault: LIST_LIMITS.recent.fallback,
  recentMax: LIST_LIMITS.recent.max,
  attemptsPerUser: MAX_ATTEMPTS_PER_USER,
  exams: MAX_LISTED_EXAMS,
} as const;

/**
 * A list's `limit` argument: absent = `fallback`; 0 = nothing; above `max`,
 * clamped to `max` (documented in docs/exam-api.md); negative, fractional or
 * non-finite = INVALID_ARGUMENT.
 */
export function parseLimit(limit: number | undefined, { fallback, max }: { fallback: number; max: number }): number {
  if (limit === undefined) return fallback;
  if (!Number.isFinite(limit) || !Number.isInteger(limit) || limit < 0) {
    throw domainError("INVALID_ARGUMENT", `limit must be a whole number from 0 (got ${limit}); above ${max} it is clamped to ${max}.`);
  }
  return Math.min(max, limit);
}

// ---------------------------------------------------------------- session

const vQuestionView = v.object({
  questionId: v.id("questions"),
  text: v.string(),
  options: v.array(v.string()),
  points: v.number(),
});

export const vExamSession = v.object({
  examId: v.id("exams"),
  title: v.string(),
  durationMs: v.number(),
  maxPauses: v.number(),
  status: vAttemptStatus,
  startedAt: v.optional(v.number()),
  completedAt: v.optional(v.number()),
  /** Time left as of the query's run, pauses excluded (durationMs before the start, 0 once out of time). */
  remainingMs: v.number(),
  /** While in progress: the absolute deadline (ms since epoch; in the past once time is up), to count down without polling. Otherwise null. */
  endsAt: v.union(v.number(), v.null()),
  timeUp: v.boolean(),
  isPaused: v.boolean(),
  pausedAt: v.optional(v.number()),
  pauseCount: v.number(),
  pausesLeft: v.number(),
  totalPausedMs: v.number(),
  /** The questions, never with their correct answers (graded answers: getParticipantExamResults). */
  questions: v.array(vQuestionView),
  /** Only once completed. */
  score: v.optional(v.number()),
});
export type ExamSession = Infer<typeof vExamSession>;

/** Loaded question documents (missing ones, deleted since, are null). */
export type QuestionDocs = (Doc<"questions"> | null)[];

/** Question documents by id (deleted ones left out). */
export function questionsById(docs: QuestionDocs): Map<string, Doc<"questions">> {
  return new Map(docs.flatMap((q) => (q === null ? [] : [[q._id as string, q] as const])));
}

/** An answer as results show it: with its question's text and correct answer while that question exists. */
function gradedAnswer({ questionId, selectedAnswer, isCorrect }: V1Answer, question: Doc<"questions"> | undefined): ResultAnswer {
  if (question === undefined) return { questionId, selectedAnswer, isCorrect };
  return { questionId, selectedAnswer, isCorrect, questionText: question.text, correctAnswer: question.correctAnswer };
}

/** A question as a student may see it: a question document or its examQuestions row, never the correct answer. */
export type QuestionContent = { questionId: Id<"questions">; text: string; options: string[]; points?: number };

/** The content of loaded question documents, in order (deleted ones left out, as the sheet does). */
export function sheetOfDocs(questions: QuestionDocs): QuestionContent[] {
  return questions.flatMap((q) =>
    q === null ? [] : [{ questionId: q._id, text: q.text, options: q.options, ...(q.points === undefined ? {} : { points: q.points }) }],
  );
}

/**
 * What a submission is graded against: the exam's live questions, and as
 * `retired` every id the student may have seen that is no longer one of them
 * (removed from the exam, or its document deleted): an answer to one is kept,
 * isCorrect false, worth nothing. Any other id is INVALID_ANSWER.
 */
export function gradingQuestionsOf(
  questionIds: readonly Id<"questions">[],
  docs: QuestionDocs,
  mayHaveSeen: readonly Id<"questions">[],
): GradingQuestion[] {
  const live = docs.flatMap((q) =>
    q === null
      ? []
      : [
          {
            questionId: q._id,
            options: q.options,
            correctAnswer: q.correctAnswer,
            ...(q.points === undefined ? {} : { points: q.points }),
          },
        ],
  );
  const graded = new Set<string>(live.map((q) => q.questionId));
  const retired = [...new Set([...questionIds, ...mayHaveSeen])]
    .filter((id) => !graded.has(id))
    .map((questionId) => ({ questionId, options: [], correctAnswer: "", retired: true }));
  return [...live, ...retired];
}

function questionViews(questions: readonly QuestionContent[]) {
  return questions.map((q) => ({ questionId: q.questionId, text: q.text, options: q.options, points: pointsOf(q) }));
}

export function sessionView(exam: ExamInfo, questions: readonly QuestionContent[], shown: ShownAttempt, now: number): ExamSession {
  const attempt = shown.participation;
  const status = statusOfFacts(attempt);
  const remaining = attempt === null ? exam.durationMs : remainingMs(attempt, exam.durationMs, now);
  return {
    examId: exam.examId,
    title: exam.title,
    durationMs: exam.durationMs,
    maxPauses: exam.maxPauses,
    status,
    ...(attempt === null ? {} : { startedAt: attempt.startedAt }),
    ...(attempt?.completedAt === undefined ? {} : { completedAt: attempt.completedAt }),
    remainingMs: remaining,
    endsAt: status === "in_progress" ? attempt!.startedAt + attempt!.totalPausedMs + exam.durationMs : null,
    timeUp: attempt !== null && status !== "completed" && remaining <= 0,
    isPaused: attempt?.isPaused ?? false,
    ...(attempt?.pausedAt === undefined ? {} : { pausedAt: attempt.pausedAt }),
    pauseCount: attempt?.pauseCount ?? 0,
    pausesLeft: Math.max(0, exam.maxPauses - (attempt?.pauseCount ?? 0)),
    totalPausedMs: attempt?.totalPausedMs ?? 0,
    questions: questionViews(questions),
    ...(status === "completed" && attempt !== null ? { score: attempt.score } : {}),
  };
}

// ---------------------------------------------------------------- pause status

export const vPauseStatus = v.object({
  status: vAttemptStatus,
  isPaused: v.boolean(),
  pausedAt: v.optional(v.number()),
  pauseCount: v.number(),
  maxPauses: v.number(),
  pausesLeft: v.number(),
  totalPausedMs: v.number(),
});
export type PauseStatus = Infer<typeof vPauseStatus>;

export function pauseStatusView(exam: ExamInfo, shown: ShownAttempt): PauseStatus {
  const attempt = shown.participation;
  const pauseCount = attempt?.pauseCount ?? 0;
  return {
    status: statusOfFacts(attempt),
    isPaused: attempt?.isPaused ?? false,
    ...(attempt?.pausedAt === undefined ? {} : { pausedAt: attempt.pausedAt }),
    pauseCount,
    maxPauses: exam.maxPauses,
    pausesLeft: Math.max(0, exam.maxPauses - pauseCount),
    totalPausedMs: attempt?.totalPausedMs ?? 0,
  };
}

// ---------------------------------------------------------------- results

export const vParticipantResults = v.object({
  examId: v.id("exams"),
  userId: v.id("users"),
  title: v.string(),
  status: vAttemptStatus,
  score: v.number(),
  /** Points available: the sum over the exam's (existing) questions. */
  maxScore: v.number(),
  startedAt: v.number(),
  completedAt: v.optional(v.number()),
  pauseCount: v.number(),
  totalPausedMs: v.number(),
  answers: v.array(vResultAnswer),
});
export type ParticipantResults = Infer<typeof vParticipantResults>;

/** Points available on an exam: the sum over its existing questions (a deleted one is null and counts 0). */
export function maxScoreOf(examQuestions: QuestionDocs): number {
  return examQuestions.reduce((sum, q) => sum + (q === null ? 0 : pointsOf(q)), 0);
}

/** What results need of the questions: the exam's points available, and the answered questions' documents. */
export type ResultQuestions = { maxScore: number; questions: QuestionDocs };

/** The answers as results show them: each with its question's text and correct answer while the question exists. */
export function gradedAnswersOf(answers: readonly V1Answer[], questions: QuestionDocs): ResultAnswer[] {
  const byId = questionsById(questions);
  return answers.map((a) => gradedAnswer(a, byId.get(a.questionId)));
}

/** What the results view shows of an attempt: its facts, the points available and the graded answers. */
export type AttemptResults = { attempt: ShownAttempt; maxScore: number; answers: ResultAnswer[] };

/** An attempt that has started (callers answer NOT_FOUND for one that has not). */
export function resultsView(
  exam: ExamInfo,
  { attempt: shown, maxScore, answers }: AttemptResults,
  userId: Id<"users">,
): ParticipantResults {
  const attempt = shown.participation!;
  return {
    examId: exam.examId,
    userId,
    title: exam.title,
    status: statusOfFacts(attempt),
    score: attempt.score,
    maxScore,
    startedAt: attempt.startedAt,
    ...(attempt.completedAt === undefined ? {} : { completedAt: attempt.completedAt }),
    pauseCount: attempt.pauseCount,
    totalPausedMs: attempt.totalPausedMs,
    answers,
  };
}

// ---------------------------------------------------------------- question access

export const vQuestionAccess = v.object({ allowed: v.boolean(), reason: v.optional(v.string()) });
export type QuestionAccess = Infer<typeof vQuestionAccess>;

/** `inExam`: the question is one of the exam's (existing) questions. */
export function questionAccessView(exam: ExamInfo, inExam: boolean, shown: ShownAttempt, now: number): QuestionAccess {
  const attempt = shown.participation;
  if (!inExam) return { allowed: false, reason: "not_in_exam" };
  const status = statusOfFacts(attempt);
  if (status !== "in_progress") return { allowed: false, reason: status };
  if (exam.durationMs - elapsedMs(attempt!, now) <= 0) return { allowed: false, reason: "time_up" };
  return { allowed: true };
}

// ---------------------------------------------------------------- leaderboard

export const vLeaderboardEntry = v.object({
  rank: v.number(),
  userId: v.id("users"),
  name: v.string(),
  score: v.number(),
  completedAt: v.number(),
});
export const vLeaderboard = v.array(vLeaderboardEntry);
export type LeaderboardEntry = Infer<typeof vLeaderboardEntry>;

/** A completed attempt as the leaderboard ranks it. */
export type RankedAttempt = { userId: Id<"users">; score: number; completedAt: number };

/** Score desc (non-finite last), earlier completion first, then user id: a total order, the same for V1 and V2. */
export function compareRanked(a: RankedAttempt, b: RankedAttempt): number {
  const [sa, sb] = [rankingScore(a.score), rankingScore(b.score)];
  return (sa === sb ? 0 : sb > sa ? 1 : -1) || a.completedAt - b.completedAt || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0);
}

export function leaderboardView(attempts: readonly RankedAttempt[], limit: number, names: ReadonlyMap<string, string>): LeaderboardEntry[] {
  return [...attempts]
    .sort(compareRanked)
    .slice(0, limit)
    .map((a, i) => ({ rank: i + 1, userId: a.userId, name: names.get(a.userId) ?? "", score: a.score, completedAt: a.completedAt }));
}

// ---------------------------------------------------------------- metadata

export const vExamMetadata = v.object({
  examId: v.id("exams"),
  title: v.string(),
  questionCount: v.number(),
  durationMs: v.number(),
  maxPauses: v.number(),
  participantCount: v.number(),
  completedCount: v.number(),
});
export const vExamMetadataList = v.array(vExamMetadata);
export type ExamMetadata = Infer<typeof vExamMetadata>;

export function examMetadataView(exam: ExamInfo, counts: { participants: number; completed: number }): ExamMetadata {
  return {
    examId: exam.examId,
    title: exam.title,
    questionCount: exam.questionCount,
    durationMs: exam.durationMs,
    maxPauses: exam.maxPauses,
    participantCount: counts.participants,
    completedCount: counts.completed,
  };
}

/** Counts of an embedded array, one attempt per user (first entry), like the V2 rows. */
export function countEntries(participants: readonly V1Participant[] | undefined): { participants: number; completed: number } {
  const firsts = firstEntries(participants);
  return { participants: firsts.length, completed: firsts.filter((p) => p.completedAt !== undefined).length };
}

export function byExamId(a: { examId: string }, b: { examId: string }): number {
  return a.examId < b.examId ? -1 : a.examId > b.examId ? 1 : 0;
}

// ---------------------------------------------------------------- the caller's own attempts

/** One of the caller's attempts, on any exam. */
export type MyAttempt = { examId: Id<"exams">; title: string; participation: ParticipationFacts };

export const vDashboardStats = v.object({
  examsStarted: v.number(),
  examsCompleted: v.number(),
  averageScore: v.union(v.number(), v.null()),
  bestScore: v.union(v.number(), v.null()),
});
export type DashboardStats = Infer<typeof vDashboardStats>;

export function dashboardStatsView(attempts: readonly ParticipationFacts[]): DashboardStats {
  const completed = attempts.filter((a) => a.completedAt !== undefined);
  // A non-finite score (V1 dirt: NaN, ±Infinity) counts as completed but stays out of the average and the best.
  const scores = completed.map((a) => a.score).filter(Number.isFinite);
  return {
    examsStarted: attempts.length,
    examsCompleted: completed.length,
    averageScore: scores.length === 0 ? null : scores.reduce((s, x) => s + x, 0) / scores.length,
    bestScore: scores.length === 0 ? null : Math.max(...scores),
  };
}

export const vRecentExam = v.object({
  examId: v.id("exams"),
  title: v.string(),
  status: vAttemptStatus,
  score: v.number(),
  startedAt: v.number(),
  completedAt: v.optional(v.number()),
});
export const vRecentExams = v.array(vRecentExam);
export type RecentExam = Infer<typeof vRecentExam>;

/** Newest first; equal start times by exam id (a total order, the same for V1 and V2). */
export function compareRecent(a: { startedAt: number; examId: string }, b: { startedAt: number; examId: string }): number {
  return b.startedAt - a.startedAt || byExamId(a, b);
}

export function recentExamsView(attempts: readonly MyAttempt[], limit: number): RecentExam[] {
  return attempts
    .map(({ examId, title, participation: p }) => ({
      examId,
      title,
      status: statusOfFacts(p),
      score: p.score,
      startedAt: p.startedAt,
      ...(p.completedAt === undefined ? {} : { completedAt: p.completedAt }),
    }))
    .sort(compareRecent)
    .slice(0, limit);
}
