/**
 * The V1 entry mappers, in one place: an attempt's facts from a V1 array entry
 * or from the decider's state, and back to the entry the V1 code would have
 * written (a V2 row's facts: factsOfRow in projections/attempt.ts).
 * Used by the reads (V1 and V2 sources), the legacy mirror job and its repair.
 *
 * @example
 * const facts = factsOfState(replay(events));            // the decider's state → facts (null: not started)
 * const entry = entryOfFacts(userId, facts!);            // → the V1 array entry
 * const first = firstEntryOf(exam.participants, userId); // V1: the first entry wins
 */
import type { Id } from "../_generated/dataModel";
import type { V1Answer, V1Participant } from "./validators";
import type { AttemptState, ParticipationFacts } from "../events/decider";

/** A V1 entry's participation fields (everything but userId and answers): what an attempt's facts hold. */
export const V1_FACT_FIELDS = ["score", "startedAt", "completedAt", "isPaused", "pausedAt", "pauseCount", "totalPausedMs"] as const;

/** A V1 entry as the attempt's facts and its answers (what importing it sets the state to). */
export function splitEntry(entry: V1Participant): { facts: ParticipationFacts; answers: V1Answer[] } {
  const { userId: _userId, answers, ...facts } = entry;
  return { facts, answers };
}

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

/** The facts of an attempt's state (null: not started): what the views show. */
export function factsOfState(state: AttemptState): AttemptFacts | null {
  return state.participation === null ? null : { ...state.participation, answers: state.answers };
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
