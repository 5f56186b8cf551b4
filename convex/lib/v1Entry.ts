/**
 * The V1 entry mappers, in one place: the decider's state of a V1 array entry,
 * and back to the entry the V1 code would have written (the state of V2 rows:
 * stateFromRows in projections/attempt.ts); and what identifies an entry.
 * Used by the reads (V1 and V2 sources), the legacy mirror job and its repair,
 * the legacy import, the migration and its verification.
 *
 * @example
 * const entry = entryOfState(userId, replay(events));    // → the V1 array entry (null: not started)
 * const first = firstEntryOf(exam.participants, userId); // V1: the first entry wins
 * const shown = stateOfEntry(first);                     // what the views show of it
 * const ranks = entryRanks(exam.participants ?? []);     // with (user, startedAt): each entry's identity
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

/**
 * A V1 entry imported into an attempt, as the attempt keeps it: its `startedAt` (with the exam and the
 * user, what identifies the entry) and its array position at the import (a report's pointer only:
 * positions shift when other code removes an entry).
 */
export type ImportedEntry = { startedAt: number; sourceIndex: number };

/** A `startedAt` as text, equal exactly when the values are (as Convex compares them: NaN = NaN, -0 ≠ 0). */
export function startedAtKey(startedAt: number): string {
  return Object.is(startedAt, -0) ? "-0" : String(startedAt);
}

/**
 * Each entry's rank among the entries before it of the same user and `startedAt` (0 for all but
 * duplicates): with the user and `startedAt`, what identifies a V1 entry wherever it moves.
 */
export function entryRanks(participants: readonly Pick<V1Participant, "userId" | "startedAt">[]): number[] {
  const seen = new Map<string, number>();
  return participants.map((p) => {
    const key = `${p.userId}:${startedAtKey(p.startedAt)}`;
    const rank = seen.get(key) ?? 0;
    seen.set(key, rank + 1);
    return rank;
  });
}

/** How many of the imported entries have this `startedAt`: an entry of a lower rank is one of them. */
export function importedWith(imported: readonly Pick<ImportedEntry, "startedAt">[], startedAt: number): number {
  const key = startedAtKey(startedAt);
  return imported.filter((e) => startedAtKey(e.startedAt) === key).length;
}

/**
 * The imported entries that a user's V1 entries (all of them, in array order) no longer hold:
 * removed from the array since their import. Of imported entries with one `startedAt`, the last
 * ones are the missing ones (entries of one user and one `startedAt` differ only by rank).
 */
export function removedEntries<E extends Pick<ImportedEntry, "startedAt">>(
  imported: readonly E[],
  entries: readonly Pick<V1Participant, "startedAt">[],
): E[] {
  const left = new Map<string, number>();
  for (const e of entries) left.set(startedAtKey(e.startedAt), (left.get(startedAtKey(e.startedAt)) ?? 0) + 1);
  return imported.filter((e) => {
    const key = startedAtKey(e.startedAt);
    const n = left.get(key) ?? 0;
    left.set(key, n - 1);
    return n <= 0;
  });
}
