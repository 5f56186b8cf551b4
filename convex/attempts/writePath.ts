/**
 * The one write path: every student action, from the V1 or the V2 API, and
 * every legacy import, is a command decided against the attempt's state,
 * appended to its stream, and projected into the V2 rows in the same mutation;
 * the V1 array follows through the exam's mirror job (projections/mirrorJob.ts).
 * A student's action, whole (rules, legacy import, one load, decide, append,
 * project, mirror, the state the view shows): {@link runStudentCommand}.
 *
 * @example
 * const { rules, attempt } = await runStudentCommand(ctx, examId, "live_v2", (_rules, at) => ({ command: { type: "StartExam", data: { at } } }));
 * await executeCommand(ctx, {
 *   stream: { examId, userId },
 *   command: { type: "StartExam", data: { at: Date.now() } },
 *   actor: { kind: "user", userId },
 *   origin: "live_v2",
 * });
 */
import type { Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import type { Actor, Origin, V1Participant } from "../lib/validators";
import { requireUser } from "../lib/auth";
import { decide, entryDifferences, initialState, replay, type AttemptCommand, type AttemptState } from "../events/decider";
import { appendToStream, findByIdempotencyKey, readStream, readStreamHead, type RecordedEvent, type StreamId } from "../events/store";
import { attemptRows, rowOfCurrentShape, stateFromRows, type StreamHead } from "../projections/attempt";
import { NO_STORED_ATTEMPT, loadStoredAttempt, writeAttemptRows, type StoredAttempt } from "../projections/tables";
import type { PendingCounters } from "../projections/counters";
import { afterLiveWrite } from "../projections/mirrorJob";
import { ensureExamHeader, legacyArrayImported } from "../headers/examHeaders";
import { getExamHeader, type ExamHeader } from "../lib/examHeaders";
import { infoOf, loadExamDoc } from "../reads/examSources";
import { entryRanks, startedAtKey } from "../lib/v1Entry";
import type { ExamInfo, QuestionDocs } from "../reads/examViews";

export type LoadedAttempt = {
  stored: StoredAttempt;
  /** The stream's last event ({ version: 0, hash: "" } for an empty stream). */
  head: StreamHead;
  state: AttemptState;
};

/**
 * An attempt's current state. Reads the stream head and the projected rows
 * (constant cost); replays the stream only if the rows do not reflect the head.
 */
export async function loadAttempt(ctx: QueryCtx, stream: StreamId): Promise<LoadedAttempt> {
  const [headDoc, stored] = await Promise.all([readStreamHead(ctx, stream), loadStoredAttempt(ctx, stream)]);
  const head = { version: headDoc?.version ?? 0, hash: headDoc?.hash ?? "" };
  let state: AttemptState;
  if (headDoc === null) state = initialState();
  else if (
    stored.row !== null &&
    stored.row.version === head.version &&
    stored.row.lastEventHash === head.hash &&
    rowOfCurrentShape(stored.row)
  ) {
    state = stateFromRows(stored.row, stored.answers);
  } else {
    state = replay(await readStream(ctx, stream)); // rows behind or damaged: the log decides
  }
  return { stored, head, state };
}

function emptyAttempt(): LoadedAttempt {
  return { stored: NO_STORED_ATTEMPT, head: { version: 0, hash: "" }, state: initialState() };
}

export type CommandInput = {
  stream: StreamId;
  command: AttemptCommand;
  actor: Actor;
  origin: Origin;
  /** A repeated key returns the first result and writes nothing. */
  idempotencyKey?: string;
  /** Shared by the events of this command; generated when absent. */
  commandId?: string;
  recordedAt?: number;
  /** Collects the counter changes for the caller to write once per transaction (a batch of commands); default: written at once. */
  counters?: PendingCounters;
  /**
   * The caller has read in this transaction that the stream has no events and no rows
   * (an empty range over its whole exam) and has not written to it since: the attempt is
   * not read again. Serializable transactions keep that read true until commit.
   */
  streamKnownEmpty?: boolean;
  /** The exam's definition as the caller read it in this transaction (handed to the mirror); read here when absent. */
  definition?: ExamHeader | null;
  /** The attempt as the caller loaded it in this transaction ({@link importLegacyAttempt}), unchanged since: not read again. */
  loaded?: LoadedAttempt;
};

export type CommandResult = {
  state: AttemptState;
  version: number;
  events: RecordedEvent[];
  participationId: Id<"examParticipations"> | null;
  /** The idempotency key was seen before: nothing was written. */
  duplicate: boolean;
};

/** Decides, appends and projects one command. Throws a domain error, writing nothing, if it is rejected. */
export async function executeCommand(ctx: MutationCtx, input: CommandInput): Promise<CommandResult> {
  const { stream, command, idempotencyKey } = input;
  const loaded = input.streamKnownEmpty === true ? emptyAttempt() : (input.loaded ?? (await loadAttempt(ctx, stream)));
  // A legacy import key names its stream and is appended only there: an empty stream has not seen it (no lookup).
  const unseen = idempotencyKey === undefined || (loaded.head.version === 0 && isLegacyImportKeyOf(idempotencyKey, stream));
  const earlier = unseen ? null : await findByIdempotencyKey(ctx, idempotencyKey);
  // Nothing to write: the attempt as loaded, with the first result of a repeated key if there was one.
  const unchanged = (result: Pick<CommandResult, "version" | "events" | "duplicate">): CommandResult => ({
    ...result,
    state: loaded.state,
    participationId: loaded.stored.row?._id ?? null,
  });
  if (earlier !== null) return unchanged({ version: earlier.version, events: earlier.events, duplicate: true });
  const events = decide(command, loaded.state);
  if (events.length === 0) return unchanged({ version: loaded.head.version, events: [], duplicate: false });
  const head = loaded.head.version === 0 ? null : loaded.head;
  const appended = await appendToStream(ctx, stream, loaded.head.version, events, {
    head,
    actor: input.actor,
    origin: input.origin,
    commandId: input.commandId ?? crypto.randomUUID(),
    idempotencyKey,
    recordedAt: input.recordedAt,
  });
  const state = replay(appended.events, loaded.state);
  const last = appended.events[appended.events.length - 1]!.metadata;
  const { participationId } = await writeAttemptRows(
    ctx,
    stream,
    loaded.stored,
    attemptRows(state, { version: last.version, hash: last.hash }),
    { counters: input.counters },
  );
  // The V1 array entry follows live writes (rollback safety) through the exam's mirror job (the counts fold on
  // their own: writeAttemptRows' shard write scheduled it). A legacy import's or roll-forward's source IS the
  // array entry: nothing to write back.
  const fromArray = input.origin === "legacy_import" || input.origin === "legacy_rollforward";
  if (!fromArray || input.counters === undefined) {
    await afterLiveWrite(ctx, stream.examId, input.definition !== undefined ? input.definition : await getExamHeader(ctx, stream.examId));
  }
  return { state, version: appended.version, events: appended.events, participationId, duplicate: false };
}

/**
 * The idempotency key of importing a V1 entry, named by what identifies it (its user's startedAt and
 * rank, never its position, which shifts when other code removes an entry): the same for the backfill
 * and on-the-fly imports. Earlier versions keyed by position (`legacy:<exam>:<user>:<index>`); those
 * keys are never looked up: the decider knows every imported entry from the log.
 */
export function legacyImportKey(examId: Id<"exams">, userId: Id<"users">, startedAt: number, rank: number): string {
  return `${legacyKeyPrefix({ examId, userId })}${startedAtKey(startedAt)}:${rank}`;
}

function legacyKeyPrefix(stream: StreamId): string {
  return `legacy:${stream.examId}:${stream.userId}:`;
}

function isLegacyImportKeyOf(key: string, stream: StreamId): boolean {
  return key.startsWith(legacyKeyPrefix(stream));
}

/**
 * The write path's first step for a student's action: a participant who exists only in the V1 array has
 * their entries put into the log first (same keys as the backfill). Once the exam is cleared or marked
 * backfilled, no V1 entry can be missing from the log: neither the stream nor the exam document is read.
 * Returns the attempt as it loaded it when nothing was imported, for the command that follows (one load).
 */
export async function importLegacyAttempt(ctx: MutationCtx, stream: StreamId, definition: ExamHeader): Promise<LoadedAttempt | undefined> {
  if (legacyArrayImported(definition)) return undefined;
  const loaded = await loadAttempt(ctx, stream);
  if (loaded.head.version > 0) return loaded;
  const exam = await ctx.db.get("exams", stream.examId);
  const entries: LegacyEntry[] = (exam?.participants ?? []).flatMap((participant, sourceIndex) =>
    participant.userId === stream.userId ? [{ participant, sourceIndex }] : [],
  );
  if (entries.length === 0) return loaded;
  await importLegacyEntries(ctx, stream, entries, undefined, { definition });
  return undefined; // the command loads the attempt the import left
}

/**
 * A V1 array entry, where it stands in the array, and its rank among the user's entries of the same
 * startedAt (lib/v1Entry.ts entryRanks; when absent, counted over the entries passed with it, which
 * must then be all of the user's).
 */
export type LegacyEntry = { participant: V1Participant; sourceIndex: number; rank?: number };

/**
 * Imports a user's V1 array entries into their attempt's stream, first entry first
 * (later ones are kept as duplicates). Safe to repeat: already imported entries,
 * and the mirror's copy of an attempt born live, write nothing.
 */
export async function importLegacyEntries(
  ctx: MutationCtx,
  stream: StreamId,
  entries: readonly LegacyEntry[],
  actor: Actor = { kind: "system", name: "legacy import" },
  batch: Pick<CommandInput, "counters" | "streamKnownEmpty" | "definition"> = {},
): Promise<{ eventsWritten: number; state: AttemptState | null }> {
  let eventsWritten = 0;
  let state: AttemptState | null = null;
  const sorted = [...entries].sort((a, b) => a.sourceIndex - b.sourceIndex);
  const ranks = entryRanks(sorted.map((e) => e.participant));
  for (const [i, { participant, sourceIndex, rank = ranks[i]! }] of sorted.entries()) {
    const idempotencyKey = legacyImportKey(stream.examId, stream.userId, participant.startedAt, rank);
    const streamKnownEmpty = i === 0 && batch.streamKnownEmpty === true;
    // An entry imported before (every entry, on a cleanup pass) costs one key lookup, not a load of the attempt and its answers.
    if (!streamKnownEmpty && (await findByIdempotencyKey(ctx, idempotencyKey)) !== null) continue;
    const result = await executeCommand(ctx, {
      stream,
      command: { type: "ImportLegacyParticipant", data: { participant, sourceIndex, rank } },
      actor,
      origin: "legacy_import",
      idempotencyKey,
      counters: batch.counters,
      streamKnownEmpty,
      definition: batch.definition,
    });
    if (!result.duplicate) eventsWritten += result.events.length;
    state = result.state;
  }
  return { eventsWritten, state };
}

/**
 * The fields in which `participant` differs from the attempt its stream replays to; none when it equals the
 * attempt as it stood before some of its latest events, all of them the student's own (live) actions: an array
 * entry the mirror has not brought up to them yet, which it will, and no change made to V1. Rolling such an entry
 * forward would undo the student's actions. One replay: the state before the trailing live events, then each.
 */
function changedFromLog(events: readonly RecordedEvent[], participant: V1Participant): string[] {
  let firstLive = events.length;
  while (firstLive > 0 && isLiveOrigin(events[firstLive - 1]!.metadata.origin)) firstLive--;
  let state = replay(events.slice(0, firstLive));
  for (let i = firstLive; i < events.length; i++) {
    if (entryDifferences(state, participant).length === 0) return [];
    state = replay([events[i]!], state);
  }
  return entryDifferences(state, participant);
}

const isLiveOrigin = (origin: Origin) => origin === "live_v1" || origin === "live_v2";

/**
 * Rolls a V1 entry forward into its attempt's stream when it differs from the attempt
 * (old code wrote the array after the stream existed: rollback option 2). Returns the
 * fields that differed (empty: nothing written). Only call it for the user's first entry
 * of an exam whose mirror keeps the array current, so a difference can only come from outside,
 * or from the mirror not having reached the student's latest actions (not rolled forward).
 */
export async function rollForwardLegacyEntry(
  ctx: MutationCtx,
  stream: StreamId,
  entry: LegacyEntry,
  batch: Pick<CommandInput, "counters"> & { state?: AttemptState | null } = {},
): Promise<{ eventsWritten: number; changed: string[] }> {
  // The attempt as the import just loaded it, when the caller has it (no second read).
  const state = batch.state ?? (await loadAttempt(ctx, stream)).state;
  if (state.participation === null || entryDifferences(state, entry.participant).length === 0) return { eventsWritten: 0, changed: [] };
  // Rows edited behind the log's back are the projection's damage (verifyProjections), not a change of V1: judge by the log.
  const changed = changedFromLog(await readStream(ctx, stream), entry.participant);
  if (changed.length === 0) return { eventsWritten: 0, changed };
  const result = await executeCommand(ctx, {
    stream,
    command: { type: "ReconcileLegacyEntry", data: { participant: entry.participant, sourceIndex: entry.sourceIndex } },
    actor: { kind: "system", name: "legacy roll-forward" },
    origin: "legacy_rollforward",
    counters: batch.counters,
  });
  return { eventsWritten: result.events.length, changed };
}

// ---------------------------------------------------------------- a student's action, whole

/**
 * The exam's fields a command is decided with and its answer is shown from: each
 * twin's writes read what its sessions read, so nobody is rejected for doing
 * what their session showed. V1: the exam document, as V1 did. V2: the exam's
 * header and question list (never the document, which holds the legacy array).
 */
export type ExamRules = {
  /** What the returned view shows. */
  info: ExamInfo;
  questionIds: Id<"questions">[];
  durationMs: number;
  maxPauses: number;
  /** Question ids once in the exam: an answer to one is kept, worth nothing. */
  formerQuestionIds: Id<"questions">[];
  header: ExamHeader;
};

async function rulesOf(ctx: MutationCtx, examId: Id<"exams">, origin: Origin): Promise<ExamRules> {
  const doc = origin === "live_v1" ? await loadExamDoc(ctx, examId) : null;
  const { header, list } = await ensureExamHeader(ctx, examId);
  const { questionIds, durationMs, maxPauses } = doc ?? { ...header, questionIds: list.questionIds };
  // Once in the exam: the list's former ids, and (V1, whose document may be ahead of a list not yet healed) the list's own.
  const now = new Set<string>(questionIds);
  const formerQuestionIds = [...new Set([...list.formerQuestionIds, ...list.questionIds])].filter((id) => !now.has(id));
  return { info: infoOf(doc ?? header), questionIds, durationMs, maxPauses, formerQuestionIds, header };
}

/** A command, built from the exam's rules, with the documents of the exam's questions (rules.questionIds) it graded with. */
type BuiltCommand = { command: AttemptCommand; questions?: QuestionDocs };

/**
 * Runs one of the caller's commands: the exam's rules (see ExamRules), the
 * caller's legacy V1 entries imported if their stream is still empty, then the
 * command decided at the server's time through executeCommand (load once, decide,
 * append, project, mirror).
 * Returns what the views need: the rules, the attempt's state after it, and the questions the command was built with.
 */
export async function runStudentCommand(
  ctx: MutationCtx,
  examId: Id<"exams">,
  origin: Origin,
  build: (rules: ExamRules, at: number) => Promise<BuiltCommand> | BuiltCommand,
) {
  const user = await requireUser(ctx);
  const rules = await rulesOf(ctx, examId, origin);
  const stream = { examId, userId: user._id };
  const loaded = await importLegacyAttempt(ctx, stream, rules.header);
  const at = Date.now();
  const built = await build(rules, at);
  const result = await executeCommand(ctx, {
    stream,
    command: built.command,
    actor: { kind: "user", userId: user._id },
    origin,
    definition: rules.header,
    loaded,
  });
  return { user, rules, attempt: result.state, at, questions: built.questions ?? [] };
}
