/**
 * The V1 entry mappers, in one place: the decider's state of a V1 array entry,
 * and back to the entry the V1 code would have written (the state of V2 rows:
 * stateFromRows in projections/attempt.ts).
 * Used by the reads (V1 and V2 sources), the legacy mirror job and its repair.
 *
 * @example
 * const entry = entryOfState(userId, replay(events));    // → the V1 array entry (null: not started)
 * const first = firstEntryOf(exam.participants, userId); // V1: the first entry wins
 * const shown = stateOfEntry(first);                     // what the views show of it
 */
import type { Id } from "../_generated/dataModel";
import type { V1Answer, V1Participant } from "./validators";

/** Every V1 participant field except `userId` and `answers`: what `examParticipations` holds. */
export type ParticipationFacts = Omit<V1Participant, "userId" | "answers">;

/** An attempt as the views show it: the decider's state without its bookkeeping (a V1 entry gives this much). */
export type ShownAttempt = { participation: ParticipationFacts | null; answers: V1Answer[] };

/** A V1 entry's participation fields (everything but userId and answers): what an attempt's facts hold. */
export const V1_FACT_FIELDS = ["score", "startedAt", "completedAt", "isPaused", "pausedAt", "pauseCount", "totalPausedMs"] as const;

/** A V1 entry as the attempt's facts and its answers (what importing it sets the state to). */
export function splitEntry(entry: V1Participant): { facts: ParticipationFacts; answers: V1Answer[] } {
  const { userId: _userId, answers, ...facts } = entry;
  return { facts, answers };
}

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

/** A V1 entry as the decider's state shows it (what the views read, from either source). */
export function stateOfEntry(entry: V1Participant | null): ShownAttempt {
  if (entry === null) return { participation: null, answers: [] };
  const { facts, answers } = splitEntry(entry);
  return { participation: facts, answers };
}

/** The V1 array entry an attempt is stored as (what the V1 code would have written); null before it starts. */
export function entryOfState(userId: Id<"users">, state: ShownAttempt): V1Participant | null {
  if (state.participation === null) return null;
  const { score, startedAt, completedAt, isPaused, pausedAt, pauseCount, totalPausedMs } = state.participation;
  const answers = state.answers;
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
