/**
 * The V1 entry mappers, in one place: an attempt's facts from a V1 array entry
 * or from its V2 row, and back to the entry the V1 code would have written.
 * Used by the reads (V1 and V2 sources), the legacy mirror job and its repair.
 *
 * @example
 * const facts = factsOfRow(row, answers);               // V2 row + answer rows → facts
 * const entry = entryOfFacts(row.userId, facts);         // → the V1 array entry
 * const first = firstEntryOf(exam.participants, userId); // V1: the first entry wins
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { V1Answer, V1Participant } from "./validators";
import type { ParticipationFacts } from "../events/decider";

/** One attempt as both sources describe it: the participant's facts and graded answers (V1 array order). */
export type AttemptFacts = ParticipationFacts & { answers: V1Answer[] };

/** The attempt an embedded V1 array holds for a user: the FIRST entry wins, as in the legacy code. */
export function firstEntryOf(participants: readonly V1Participant[] | undefined, userId: Id<"users">): V1Participant | null {
  return participants?.find((p) => p.userId === userId) ?? null;
}

/** The first entry of every user, in array order (later duplicates are ignored, as V1's `find` did). */
export function firstEntries(participants: readonly V1Participant[] | undefined): V1Participant[] {
  const seen = new Set<string>();
  const out: V1Participant[] = [];
  for (const p of participants ?? []) {
    if (seen.has(p.userId)) continue;
    seen.add(p.userId);
    out.push(p);
  }
  return out;
}

export function factsOfEntry(entry: V1Participant): AttemptFacts {
  const { userId: _userId, ...facts } = entry;
  return facts;
}

/** Participation facts of a V2 row (its bookkeeping fields dropped). */
export function factsOfRow(row: Doc<"examParticipations">, answers: readonly Doc<"examAnswers">[] = []): AttemptFacts {
  const { score, startedAt, completedAt, isPaused, pausedAt, pauseCount, totalPausedMs } = row;
  return {
    score,
    startedAt,
    isPaused,
    pauseCount,
    totalPausedMs,
    ...(completedAt === undefined ? {} : { completedAt }),
    ...(pausedAt === undefined ? {} : { pausedAt }),
    answers: [...answers]
      .sort((a, b) => a.position - b.position)
      .map(({ questionId, selectedAnswer, isCorrect }) => ({ questionId, selectedAnswer, isCorrect })),
  };
}

/** The V1 array entry an attempt is stored as (what the V1 code would have written). */
export function entryOfFacts(userId: Id<"users">, facts: AttemptFacts): V1Participant {
  const { score, answers, startedAt, completedAt, isPaused, pausedAt, pauseCount, totalPausedMs } = facts;
  return {
    userId,
    score,
    answers,
    startedAt,
    ...(completedAt === undefined ? {} : { completedAt }),
    isPaused,
    ...(pausedAt === undefined ? {} : { pausedAt }),
    pauseCount,
    totalPausedMs,
  };
}
