/**
 * The attempt decider: one exam attempt (exam + user) as three plain functions,
 * in the style of Emmett. It knows nothing of Convex: commands carry the exam's
 * fields they need (duration, pauses allowed, questions), and the caller supplies the time.
 *
 * @example
 * const events = decide({ type: "StartExam", data: { at: now } }, initialState());
 * const state = events.reduce(evolve, initialState());
 */
import { produce } from "immer";
import type { Id } from "../_generated/dataModel";
import type { AttemptStatus, SubmittedAnswer, V1Answer, V1Participant } from "../lib/validators";
import { domainError } from "../lib/errors";
import { SUBMIT_GRACE_MS } from "../lib/limits";
import type { ExamEvent } from "./catalog";
import { sameValue } from "../lib/values";
import { V1_FACT_FIELDS, importedWith, splitEntry, type ImportedEntry, type ParticipationFacts, type ShownAttempt } from "../lib/v1Entry";

export type { ParticipationFacts, ShownAttempt };

export type AttemptState = {
  /** null until the attempt starts (or is imported). */
  participation: ParticipationFacts | null;
  /** Graded answers in submission (or V1 array) order, duplicates kept. */
  answers: V1Answer[];
  /** Every V1 entry imported into this attempt, in import order (first = the attempt): what roll-forward tells entries apart by. */
  legacyEntries: ImportedEntry[];
};

/** A question as grading needs it. */
export type GradingQuestion = {
  questionId: Id<"questions">;
  options: string[];
  correctAnswer: string;
  points?: number;
  /** No longer in the exam (removed or deleted since the student saw it): an answer is kept, isCorrect false, worth nothing. */
  retired?: boolean;
};

/** The exam's timing rules, as of the command. */
export type ExamTiming = { durationMs: number; maxPauses: number };

export type AttemptCommand =
  | { type: "StartExam"; data: { at: number } }
  | { type: "PauseExam"; data: { at: number } & ExamTiming }
  | { type: "ResumeExam"; data: { at: number } }
  | {
      type: "SubmitAnswers";
      data: { at: number; answers: SubmittedAnswer[]; questions: GradingQuestion[] } & ExamTiming;
    }
  /** `rank`: the entry's rank among the user's entries of the same `startedAt` (lib/v1Entry.ts entryRanks); with them, its identity. */
  | { type: "ImportLegacyParticipant"; data: { participant: V1Participant; sourceIndex: number; rank: number } }
  /** Brings an attempt in line with its V1 entry when something else (old code) changed the entry. */
  | { type: "ReconcileLegacyEntry"; data: { participant: V1Participant; sourceIndex: number } };

export function initialState(): AttemptState {
  return { participation: null, answers: [], legacyEntries: [] };
}

export function statusOf(state: AttemptState): AttemptStatus {
  return statusOfFacts(state.participation);
}

/** The status of an attempt's facts (null: not started), as every view reports it. */
export function statusOfFacts(p: ParticipationFacts | null): AttemptStatus {
  if (p === null) return "not_started";
  if (p.completedAt !== undefined) return "completed";
  return p.isPaused ? "paused" : "in_progress";
}

/** Time used so far: wall time since start minus finished pauses minus the running pause. */
export function elapsedMs(p: ParticipationFacts, now: number): number {
  const end = p.completedAt ?? now;
  const runningPause = p.isPaused && p.pausedAt !== undefined ? Math.max(0, end - p.pausedAt) : 0;
  return Math.max(0, end - p.startedAt - p.totalPausedMs - runningPause);
}

/** Time left of `durationMs`, never negative. Pauses do not count. */
export function remainingMs(p: ParticipationFacts, durationMs: number, now: number): number {
  return Math.max(0, durationMs - elapsedMs(p, now));
}

/**
 * The score an attempt ranks by (the leaderboard index's rankScore and V1's sort alike): a
 * non-finite score, which V1 can store (NaN from unset points), after every finite one.
 */
export function rankingScore(score: number): number {
  return Number.isFinite(score) ? score : -Infinity;
}

/** Points a question is worth (V1 default: 1). */
export function pointsOf(question: { points?: number }): number {
  return question.points ?? 1;
}

/** Grades submitted answers against the exam's questions. Throws INVALID_ANSWER for a bad submission. */
export function gradeAnswers(answers: SubmittedAnswer[], questions: GradingQuestion[]): { answers: V1Answer[]; score: number } {
  const byId = new Map(questions.map((q) => [q.questionId as string, q]));
  const seen = new Set<string>();
  let score = 0;
  const graded = answers.map((answer) => {
    const question = byId.get(answer.questionId);
    if (question === undefined) {
      throw domainError("INVALID_ANSWER", `Question ${answer.questionId} is not part of this exam.`);
    }
    if (seen.has(answer.questionId)) {
      throw domainError("INVALID_ANSWER", `Question ${answer.questionId} is answered twice.`);
    }
    seen.add(answer.questionId);
    if (question.retired === true) return { questionId: answer.questionId, selectedAnswer: answer.selectedAnswer, isCorrect: false };
    if (!question.options.includes(answer.selectedAnswer)) {
      throw domainError("INVALID_ANSWER", `"${answer.selectedAnswer}" is not an option of question ${answer.questionId}.`);
    }
    const isCorrect = answer.selectedAnswer === question.correctAnswer;
    if (isCorrect) score += pointsOf(question);
    return { questionId: answer.questionId, selectedAnswer: answer.selectedAnswer, isCorrect };
  });
  return { answers: graded, score };
}

function requireRunning(state: AttemptState, action: string): ParticipationFacts {
  const p = state.participation;
  switch (statusOf(state)) {
    case "not_started":
      throw domainError("NOT_IN_PROGRESS", `Start the exam before you ${action}.`);
    case "completed":
      throw domainError("ALREADY_COMPLETED", `This exam is already completed; you cannot ${action}.`);
    default:
      return p as ParticipationFacts;
  }
}

/** Turns a command into events, or throws a domain error. Never has side effects. */
export function decide(command: AttemptCommand, state: AttemptState): ExamEvent[] {
  switch (command.type) {
    case "StartExam": {
      const status = statusOf(state);
      if (status === "completed") throw domainError("ALREADY_COMPLETED", "This exam is already completed.");
      if (status !== "not_started") return []; // starting again returns the same session
      return [{ type: "ExamStarted", data: { startedAt: command.data.at } }];
    }
    case "PauseExam": {
      const p = requireRunning(state, "pause");
      const { at, durationMs, maxPauses } = command.data;
      if (p.isPaused) throw domainError("PAUSED", "The exam is already paused.");
      if (remainingMs(p, durationMs, at) <= 0) throw domainError("TIME_UP", "Time is up.");
      if (p.pauseCount >= maxPauses) throw domainError("NO_PAUSES_LEFT", `All ${maxPauses} pauses are used.`);
      return [{ type: "ExamPaused", data: { pausedAt: at } }];
    }
    case "ResumeExam": {
      const p = requireRunning(state, "resume");
      if (!p.isPaused) throw domainError("NOT_PAUSED", "The exam is not paused.");
      const pausedMs = Math.max(0, command.data.at - (p.pausedAt ?? command.data.at));
      return [{ type: "ExamResumed", data: { resumedAt: command.data.at, pausedMs } }];
    }
    case "SubmitAnswers": {
      const p = requireRunning(state, "submit");
      const { at, durationMs, answers, questions } = command.data;
      if (p.isPaused) throw domainError("PAUSED", "Resume the exam before submitting.");
      if (durationMs - elapsedMs(p, at) < -SUBMIT_GRACE_MS) throw domainError("TIME_UP", "Time is up.");
      const graded = gradeAnswers(answers, questions);
      return [{ type: "AnswersSubmitted", data: { submittedAt: at, ...graded } }];
    }
    case "ImportLegacyParticipant": {
      const { participant, sourceIndex, rank } = command.data;
      // Already imported, wherever it stood then: entries are told apart by startedAt and rank, never by position.
      const imported = importedWith(state.legacyEntries, participant.startedAt);
      if (rank < imported) return [];
      // An attempt born live has no V1 entry of its own; its V1 entry is the mirror's copy.
      if (state.participation !== null && state.legacyEntries.length === 0) return [];
      // Entries of one startedAt are told apart by rank only: each goes in after those before it.
      if (rank > imported) {
        throw domainError(
          "CONFLICT",
          `Entry ${rank + 1} of startedAt ${participant.startedAt} comes before entry ${imported + 1} is imported.`,
        );
      }
      if (state.participation === null) {
        return [{ type: "LegacyParticipantImported", data: { participant, sourceIndex } }];
      }
      return [{ type: "LegacyDuplicateImported", data: { participant, sourceIndex } }];
    }
    case "ReconcileLegacyEntry": {
      const { participant, sourceIndex } = command.data;
      // Nothing to reconcile before the import, nor when the attempt already is the entry.
      if (state.participation === null || entryDifferences(state, participant).length === 0) return [];
      return [{ type: "LegacyEntryChanged", data: { participant, sourceIndex } }];
    }
  }
}

/** The fields (and "answers") in which a V1 entry differs from the attempt: empty when the attempt is the entry. */
export function entryDifferences(state: AttemptState, participant: V1Participant): string[] {
  const p = state.participation;
  if (p === null) return ["(no attempt)"];
  const differs = (a: unknown, b: unknown) => !sameValue(a, b);
  const fields: string[] = V1_FACT_FIELDS.filter((f) => differs(p[f], participant[f]));
  if (differs(state.answers, participant.answers)) fields.push("answers");
  return fields;
}

/** Applies one event to the state. Pure; unknown facts are never invented. */
export function evolve(state: AttemptState, event: ExamEvent): AttemptState {
  return produce(state, (draft) => {
    switch (event.type) {
      case "ExamStarted":
        draft.participation = {
          score: 0,
          startedAt: event.data.startedAt,
          isPaused: false,
          pauseCount: 0,
          totalPausedMs: 0,
        };
        draft.answers = [];
        return;
      case "ExamPaused":
        if (draft.participation === null) return;
        draft.participation.isPaused = true;
        draft.participation.pausedAt = event.data.pausedAt;
        draft.participation.pauseCount += 1;
        return;
      case "ExamResumed":
        if (draft.participation === null) return;
        draft.participation.isPaused = false;
        delete draft.participation.pausedAt;
        draft.participation.totalPausedMs += event.data.pausedMs;
        return;
      case "AnswersSubmitted":
        if (draft.participation === null) return;
        draft.participation.completedAt = event.data.submittedAt;
        draft.participation.score = event.data.score;
        draft.answers = event.data.answers;
        return;
      case "LegacyParticipantImported": {
        const { facts, answers } = splitEntry(event.data.participant);
        draft.participation = facts;
        draft.answers = answers;
        draft.legacyEntries.push({ startedAt: event.data.participant.startedAt, sourceIndex: event.data.sourceIndex });
        return;
      }
      case "LegacyDuplicateImported":
        draft.legacyEntries.push({ startedAt: event.data.participant.startedAt, sourceIndex: event.data.sourceIndex });
        return;
      case "LegacyEntryChanged": {
        const { facts, answers } = splitEntry(event.data.participant);
        draft.participation = facts;
        draft.answers = answers;
        return;
      }
    }
  });
}

/** The state after a whole stream. */
export function replay(events: readonly ExamEvent[], from: AttemptState = initialState()): AttemptState {
  return events.reduce(evolve, from);
}
