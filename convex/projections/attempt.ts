/**
 * The one definition of how an attempt's stream becomes its V2 rows. Pure:
 * used by the inline projector on every write, and by rebuild and verify.
 *
 * @example
 * const rows = projectStream(await readStream(ctx, { examId, userId }));
 * // rows.participation: the examParticipations fields, rows.answers: the examAnswers fields
 */
import type { Doc } from "../_generated/dataModel";
import type { V1Answer } from "../lib/validators";
import { initialState, rankingScore, replay, type AttemptState, type ParticipationFacts } from "../events/decider";
import type { ImportedEntry } from "../lib/v1Entry";
import type { RecordedEvent } from "../events/store";

/** The last event a row reflects. */
export type StreamHead = { version: number; hash: string };

/** `examParticipations` fields other than examId and userId. */
export type ParticipationRow = ParticipationFacts & {
  version: number;
  lastEventHash: string;
  rankScore?: number;
  rankTieBreak?: number;
  legacyEntries?: ImportedEntry[];
};

/** `examAnswers` fields other than participationId. */
export type AnswerRow = V1Answer & { position: number };

export type AttemptRows = { participation: ParticipationRow | null; answers: AnswerRow[] };

/** The rows an attempt in `state`, last changed by the event `head`, is stored as. */
export function attemptRows(state: AttemptState, head: StreamHead): AttemptRows {
  const p = state.participation;
  if (p === null) return { participation: null, answers: [] };
  const completed = p.completedAt !== undefined;
  const participation: ParticipationRow = {
    ...p,
    version: head.version,
    lastEventHash: head.hash,
    ...(completed ? { rankScore: rankingScore(p.score), rankTieBreak: -(p.completedAt as number) } : {}),
    ...(state.legacyEntries.length > 0 ? { legacyEntries: state.legacyEntries.map((e) => ({ ...e })) } : {}),
  };
  const answers = state.answers.map((a, position) => ({ ...a, position }));
  return { participation, answers };
}

/** Replays a stream into its rows (empty stream: no rows). */
export function projectStream(events: readonly RecordedEvent[]): AttemptRows {
  const last = events[events.length - 1];
  if (last === undefined) return { participation: null, answers: [] };
  return attemptRows(replay(events), { version: last.metadata.version, hash: last.metadata.hash });
}

/** A participation row's facts (bookkeeping fields dropped): what its attempt's state holds. */
export function participationOf(row: Doc<"examParticipations">): ParticipationFacts {
  const { score, startedAt, completedAt, isPaused, pausedAt, pauseCount, totalPausedMs } = row;
  const participation: ParticipationFacts = { score, startedAt, isPaused, pauseCount, totalPausedMs };
  if (completedAt !== undefined) participation.completedAt = completedAt;
  if (pausedAt !== undefined) participation.pausedAt = pausedAt;
  return participation;
}

/**
 * Whether a stored row has the shape {@link attemptRows} writes. A row written by an earlier version
 * lists its imported V1 entries by array position only (`legacySourceIndexes`): its state is the log's
 * (replay), and its next write or a rebuild gives it this shape.
 */
export function rowOfCurrentShape(row: Doc<"examParticipations">): boolean {
  return row.legacySourceIndexes === undefined;
}

/** The state stored rows describe: the inverse of {@link attemptRows}. */
export function stateFromRows(row: Doc<"examParticipations"> | null, answers: readonly Doc<"examAnswers">[]): AttemptState {
  if (row === null) return initialState();
  return {
    participation: participationOf(row),
    answers: [...answers]
      .sort((a, b) => a.position - b.position)
      .map(({ questionId, selectedAnswer, isCorrect }) => ({ questionId, selectedAnswer, isCorrect })),
    legacyEntries: row.legacyEntries ?? [],
  };
}

/** The fields of a stored participation row that {@link attemptRows} produces. */
export function participationRowOf(doc: Doc<"examParticipations">): ParticipationRow {
  const { _id: _i, _creationTime: _c, examId: _e, userId: _u, ...row } = doc;
  return row;
}

/** The fields of a stored answer row that {@link attemptRows} produces. */
export function answerRowOf(doc: Doc<"examAnswers">): AnswerRow {
  const { questionId, selectedAnswer, isCorrect, position } = doc;
  return { questionId, selectedAnswer, isCorrect, position };
}
