/**
 * When each event of an attempt happened, and the attempt as it stood at a
 * moment, rebuilt with the projections' own pure functions (replay and
 * attemptRows). Pure: the caller reads the stream.
 *
 * Time of an event: live events carry the domain time in their data (equal to
 * their recordedAt for live commands). A legacy import is recorded at
 * migration time but describes an attempt that began at the V1 `startedAt`:
 * it counts from then, and between `startedAt` and the moment its snapshot is
 * known to hold (`completedAt`, else the import), V1 kept no history, so the
 * state is the snapshot clipped to `at` and flagged `exact: false`.
 *
 * @example
 * const at = attemptAt(await readStream(ctx, stream), Date.UTC(2026, 0, 1, 9, 30));
 * // at.status, at.rows.participation, at.version, at.eventsApplied, at.exact
 */
import type { ExamEvent } from "../events/catalog";
import type { AttemptStatus } from "../lib/validators";
import { replay, statusOf, type AttemptState } from "../events/decider";
import type { RecordedEvent } from "../events/store";
import { attemptRows, type AttemptRows } from "../projections/attempt";

/** The time the event's data says its fact happened; undefined for legacy imports (their data carries the V1 times). */
export function occurredAt(event: ExamEvent): number | undefined {
  switch (event.type) {
    case "ExamStarted":
      return event.data.startedAt;
    case "ExamPaused":
      return event.data.pausedAt;
    case "ExamResumed":
      return event.data.resumedAt;
    case "AnswersSubmitted":
      return event.data.submittedAt;
    case "LegacyParticipantImported":
    case "LegacyDuplicateImported":
    case "LegacyEntryChanged":
      return undefined;
  }
}

/** From when an event counts in the attempt's past. */
export function effectiveTime(event: RecordedEvent): number {
  if (event.type === "LegacyParticipantImported") return event.data.participant.startedAt;
  return occurredAt(event) ?? event.metadata.recordedAt;
}

/** What the log can say about an attempt imported from V1, when `at` falls before its snapshot is known to hold. */
export type LegacySnapshotGap = {
  /** The V1 startedAt: the attempt had begun by `at`. */
  startedAt: number;
  /** From this time on, the imported snapshot is the attempt's exact state (completedAt, else the import's recordedAt). */
  knownFrom: number;
  /** When the snapshot was imported. */
  importedAt: number;
  note: string;
};

export type AttemptAt = {
  status: AttemptStatus;
  state: AttemptState;
  /** The V2 rows the attempt had at `at`, by the same function the projections use. */
  rows: AttemptRows;
  /** The stream version reached by `at` (0: no event yet). */
  version: number;
  eventsApplied: number;
  /** False when `at` falls inside a legacy attempt's unrecorded past (see `legacy`). */
  exact: boolean;
  legacy?: LegacySnapshotGap;
};

/** Removes from an imported snapshot what is known to have happened after `at`. */
function clipSnapshot(state: AttemptState, at: number): AttemptState {
  const p = state.participation;
  if (p === null) return state;
  const clipped = { ...p };
  if (clipped.completedAt !== undefined && clipped.completedAt > at) {
    // V1 writes the answers, score and completedAt together, at submission.
    delete clipped.completedAt;
    clipped.score = 0;
    return { ...state, participation: clipped, answers: [] };
  }
  if (clipped.isPaused && clipped.pausedAt !== undefined && clipped.pausedAt > at) {
    clipped.isPaused = false;
    delete clipped.pausedAt;
    clipped.pauseCount = Math.max(0, clipped.pauseCount - 1);
  }
  return { ...state, participation: clipped };
}

/** The attempt as it stood at `at`, from its stream (all of it, or a version-ordered prefix reaching past `at`). */
export function attemptAt(events: readonly RecordedEvent[], at: number): AttemptAt {
  const applied: RecordedEvent[] = [];
  for (const event of events) {
    if (effectiveTime(event) > at) break; // a stream's state is sequential: later events need earlier ones
    applied.push(event);
  }
  let state = replay(applied);
  let legacy: LegacySnapshotGap | undefined;
  const last = applied[applied.length - 1];
  const lastImport = applied.findLast((e) => e.type === "LegacyParticipantImported");
  if (lastImport?.type === "LegacyParticipantImported") {
    const { participant } = lastImport.data;
    const importedAt = lastImport.metadata.recordedAt;
    const knownFrom = participant.completedAt ?? importedAt;
    if (at < knownFrom) {
      state = clipSnapshot(state, at);
      legacy = {
        startedAt: participant.startedAt,
        knownFrom,
        importedAt,
        note:
          "V1 kept no history: between startedAt and knownFrom only the imported snapshot is known. " +
          "What is known to come later (submission, a running pause) is removed; pause counts are the snapshot's.",
      };
    }
  }
  const rows = last === undefined ? attemptRows(state, { version: 0, hash: "" }) : attemptRows(state, last.metadata);
  return {
    status: statusOf(state),
    state,
    rows,
    version: last?.metadata.version ?? 0,
    eventsApplied: applied.length,
    exact: legacy === undefined,
    ...(legacy === undefined ? {} : { legacy }),
  };
}
