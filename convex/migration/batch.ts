/**
 * One batch of the V1 → V2 migration (and of its cleanup pass), inside one
 * mutation: exams in creation order, each V1 array entry imported through the
 * exam API's own legacy import path (same deterministic idempotency keys, which
 * name an entry by its user, startedAt and rank, never by position), the
 * batch stopping before any per-transaction limit reaches half and resuming
 * next call at (exam, array position) from `migrationProgress` if the entry
 * there is the one it stopped at (else the exam's step starts over).
 *
 * @example
 * const report = await runMigrationBatch(ctx, { batchSize: 5, dryRun: false, clearAfterMigration: false });
 * // { examsMigrated, participantsMigrated, answersMigrated, examsRemaining, isDone, ... }
 */
import { v, type Infer } from "convex/values";
import { literals, nullable, vRequired } from "convex-helpers/validators";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { vMigrationPass, type MigrationPass, type V1Participant } from "../lib/validators";
import schema from "../schema";
import { vIssue, type Issue } from "../lib/issues";
import { decide, replay, type AttemptState } from "../events/decider";
import { findByIdempotencyKey, readStream } from "../events/store";
import { loadAnswers } from "../projections/tables";
import { PendingCounters } from "../projections/counters";
import { answerRowOf, rowOfCurrentShape } from "../projections/attempt";
import { importLegacyEntries, legacyImportKey, loadAttempt, rollForwardLegacyEntry, type LegacyEntry } from "../attempts/writePath";
import { errorCode } from "../lib/errors";
import { WORK_BOUNDS } from "../lib/limits";
import { legacyMirrorGloballyEnabled, mirrorEnabledFor } from "../projections/mirrorJob";
import { MIGRATION_SYNC, markLegacyBackfilled, syncExamHeader } from "../headers/examHeaders";
import { getExamHeader } from "../lib/examHeaders";
import { NO_USAGE, ONE_DOCUMENT_READ, addUsage, fitsBudget, transactionUsage, type Usage } from "../lib/budget";
import {
  answeredQuestionIds,
  approximateBytes,
  attemptCostEstimate,
  headerSyncEstimate,
  examFindings,
  entryIndexesByUser,
  participantFindings,
} from "./plan";
import { compareV1Entry, removedEntryFindings } from "../projections/verification";
import { entryRanks } from "../lib/v1Entry";
import { sameValue } from "../lib/values";
import { drainExamMirror } from "../projections/mirrorJob";

const DEFAULT_BATCH_SIZE = 5;

/** A batch call's options from its arguments (defaults, batchSize checked). */
export function batchOptions(args: { batchSize?: number; clearAfterMigration?: boolean; dryRun?: boolean }) {
  const batchSize = args.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a whole number ≥ 1, got ${batchSize}`);
  return { batchSize, clearAfterMigration: args.clearAfterMigration ?? false, dryRun: args.dryRun ?? false };
}

const progressFields = schema.tables.migrationProgress.validator.fields;
export const vPass = vMigrationPass;
export type Pass = MigrationPass;
export type Progress = Doc<"migrationProgress">;
type Cursor = NonNullable<Progress["current"]>;

export type BatchOptions = {
  batchSize: number;
  dryRun: boolean;
  clearAfterMigration: boolean;
  /** Only this exam, from `fromIndex` (default 0), leaving the pass's cursor alone. */
  examId?: Id<"exams">;
  fromIndex?: number;
  /** Fault injection, passed only by tests (tests/support/migration.ts); the Convex functions never pass it. */
  faults?: MigrationFaults;
};

export type MigrationFaults = {
  /** Called before each V1 entry is imported: a throw aborts the batch's transaction (nothing it wrote is kept). */
  beforeEntry?: (examId: Id<"exams">, sourceIndex: number) => void;
  /** Called inside the import of one entry, before anything is written: a ConvexError here quarantines the entry. */
  importEntry?: (examId: Id<"exams">, sourceIndex: number) => void;
};

/** Findings listed in one result at most (all are counted). */
export const MAX_LISTED_FINDINGS = 200;

export const vBatchReport = v.object({
  pass: vPass,
  dryRun: v.boolean(),
  /** Exams finished by this call. */
  examsMigrated: v.number(),
  /** V1 entries turned into events by this call (would be, in a dry run). */
  participantsMigrated: v.number(),
  /** Answer rows written by this call (would be). */
  answersMigrated: v.number(),
  eventsWritten: v.number(),
  /** Entries already imported (by an earlier run or on the fly), or mirror copies of live attempts: nothing written. */
  alreadyMigrated: v.number(),
  /** Entries changed in V1 after their stream existed (old code after a rollback), rolled forward into the log. */
  rolledForward: v.number(),
  /** Entries that could not be imported: kept in migrationQuarantine, the batch went on. */
  quarantined: v.number(),
  /** Exams with V1 entries still to visit (this pass), and whether that count reached the end of the table. */
  examsRemaining: v.number(),
  examsRemainingExact: v.boolean(),
  isDone: v.boolean(),
  stoppedBecause: literals("done", "batch_size", "budget"),
  stoppedInsideExam: nullable(vRequired(progressFields.current).pick("examId", "step", "nextIndex")),
  examsCleared: v.array(v.id("exams")),
  examsNotCleared: v.array(v.object({ examId: v.id("exams"), reason: v.string() })),
  findings: v.array(vIssue),
  findingsTotal: v.number(),
});
export type BatchReport = Infer<typeof vBatchReport>;

/** What the call has used, with the writes a dry run would have made. */
async function usedSoFar(ctx: QueryCtx, pending: Usage): Promise<Usage> {
  return addUsage(pending, await transactionUsage(ctx));
}

export async function loadProgress(ctx: QueryCtx, pass: Pass): Promise<Progress | null> {
  return ctx.db
    .query("migrationProgress")
    .withIndex("by_pass", (q) => q.eq("pass", pass))
    .unique();
}

/** The next exam created after `afterCreationTime` (creation times are unique within a table). */
export async function nextExam(ctx: QueryCtx, afterCreationTime: number | undefined): Promise<Doc<"exams"> | null> {
  return ctx.db
    .query("exams")
    .withIndex("by_creation_time", (q) => (afterCreationTime === undefined ? q : q.gt("_creationTime", afterCreationTime)))
    .first();
}

/** State shared by the exams of one batch. */
type Batch = {
  ctx: MutationCtx;
  options: BatchOptions;
  report: BatchReport;
  /** Writes a dry run would have made: they count against the budget as if made. */
  pending: Usage;
  /** Entries handled by this call: the first one is always attempted, so every call makes progress. */
  handled: number;
  /** The questions this call has read (their points, for the findings), by id; null: no such question. */
  questions: Map<string, { points?: number } | null>;
  /** Dry run: attempt states as this call's simulated imports left them. */
  simulated: Map<string, AttemptState>;
  /** Counter changes of this call's imports, written once at its end. */
  counters: PendingCounters;
  /** An exam this call found with no events and no rows (so its streams need no reads until written), and the users it imported there. */
  untouchedExam?: Id<"exams">;
  importedUsers: Set<string>;
  mirrorGlobal?: boolean;
  /** Whether the exam being processed keeps its V1 array current (mirror on): only then can a difference come from old code. */
  arrayCurrent: boolean;
};

function note(batch: Batch, findings: Issue[]) {
  batch.report.findingsTotal += findings.length;
  const room = MAX_LISTED_FINDINGS - batch.report.findings.length;
  if (room > 0) batch.report.findings.push(...findings.slice(0, room));
}

/** Whether one more step costing `more` fits (the first step of a call always runs). */
async function fits(batch: Batch, more: Usage): Promise<boolean> {
  if (batch.handled === 0) return true;
  if (batch.handled >= WORK_BOUNDS.migrationEntriesPerCall) return false; // the call's JavaScript time
  return fitsBudget(await usedSoFar(batch.ctx, batch.pending), more);
}

/**
 * Imports one V1 entry (identified by its user's startedAt and `rank`, wherever it stands). For the
 * user's first entry (`userEntries`: all of the user's, in array order) of an exam whose array is
 * current, the attempt is then rolled forward to it and imported entries the array no longer holds are reported.
 */
async function importEntry(batch: Batch, examId: Id<"exams">, entry: Required<LegacyEntry>, userEntries: readonly V1Participant[] | null) {
  const { ctx, report } = batch;
  const { participant, sourceIndex, rank } = entry;
  const isFirst = userEntries !== null;
  const stream = { examId, userId: participant.userId };
  let events: number;
  let rolled = false;
  if (batch.options.dryRun) {
    const key = legacyImportKey(examId, participant.userId, participant.startedAt, rank);
    if ((await findByIdempotencyKey(ctx, key)) !== null) {
      events = 0;
    } else {
      const state = batch.simulated.get(participant.userId) ?? (await loadAttempt(ctx, stream)).state;
      const decided = decide({ type: "ImportLegacyParticipant", data: { participant, sourceIndex, rank } }, state);
      batch.simulated.set(participant.userId, replay(decided, state));
      events = decided.length;
      const bytes = approximateBytes(participant);
      const answers = participant.answers.length;
      const rows = isFirst && events > 0 ? 2 + answers : 0; // participation, counter, answers
      batch.pending = addUsage(batch.pending, {
        ...NO_USAGE,
        documentsWritten: events + rows,
        bytesWritten: 2 * bytes * Math.min(1, events),
      });
    }
  } else {
    const streamKnownEmpty = batch.untouchedExam === examId && !batch.importedUsers.has(participant.userId);
    batch.importedUsers.add(participant.userId);
    const imported = await importLegacyEntries(ctx, stream, [entry], undefined, {
      counters: batch.counters,
      streamKnownEmpty,
    });
    events = imported.eventsWritten;
    if (isFirst && batch.arrayCurrent) {
      // The attempt as the import just left it, when the import loaded it (no second read).
      const state = imported.state ?? (await loadAttempt(ctx, stream)).state;
      note(batch, removedEntryFindings({ examId, userId: participant.userId }, state.legacyEntries, userEntries));
      const change = await rollForwardLegacyEntry(ctx, stream, entry, { counters: batch.counters, state });
      if (change.eventsWritten > 0) {
        rolled = true;
        report.rolledForward += 1;
        report.eventsWritten += change.eventsWritten;
        note(batch, [
          {
            kind: "changed_after_import",
            examId,
            userId: participant.userId,
            sourceIndex,
            message: `the V1 entry changed after its stream existed (${change.changed.join(", ")}): rolled forward into the log (origin legacy_rollforward)`,
          },
        ]);
      }
    }
  }
  if (events === 0) {
    if (!rolled) report.alreadyMigrated += 1;
    return;
  }
  report.participantsMigrated += 1;
  report.eventsWritten += events;
  if (isFirst) report.answersMigrated += participant.answers.length;
}

async function mirrorGlobal(batch: Batch): Promise<boolean> {
  batch.mirrorGlobal ??= await legacyMirrorGloballyEnabled(batch.ctx);
  return batch.mirrorGlobal;
}

/** Records an entry that cannot be imported (once per position) and reports it; the batch goes on. */
async function quarantine(batch: Batch, examId: Id<"exams">, participant: V1Participant, sourceIndex: number, error: unknown) {
  const reason = `${errorCode(error)}: ${error instanceof Error ? error.message : String(error)}`;
  batch.report.quarantined += 1;
  note(batch, [
    {
      kind: "quarantined_participant",
      examId,
      userId: participant.userId,
      sourceIndex,
      message: `not imported (${reason}); kept in migrationQuarantine, the V1 entry is untouched`,
    },
  ]);
  if (batch.options.dryRun) return;
  const existing = await batch.ctx.db
    .query("migrationQuarantine")
    .withIndex("by_exam_and_index", (q) => q.eq("examId", examId).eq("sourceIndex", sourceIndex))
    .first();
  if (existing === null)
    await batch.ctx.db.insert("migrationQuarantine", { examId, userId: participant.userId, sourceIndex, reason, at: Date.now() });
}

/** Whether the exam has no event and no row yet (two empty index ranges, which then stay empty for this transaction unless it writes). */
async function hasNoAttempts(ctx: QueryCtx, examId: Id<"exams">): Promise<boolean> {
  const event = await ctx.db
    .query("examEvents")
    .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", examId))
    .first();
  if (event !== null) return false;
  const row = await ctx.db
    .query("examParticipations")
    .withIndex("by_exam_and_user", (q) => q.eq("examId", examId))
    .first();
  return row === null;
}

/** Reads the questions (an exam's, or an entry's answers') that this call has not read yet. */
async function loadQuestions(batch: Batch, ids: readonly string[]) {
  for (const id of new Set(ids)) {
    if (batch.questions.has(id)) continue;
    const questionId = batch.ctx.db.normalizeId("questions", id);
    const doc = questionId === null ? null : await batch.ctx.db.get("questions", questionId);
    batch.questions.set(id, doc === null ? null : { points: doc.points });
  }
}

/**
 * The issues of one user's V1 entries against their V2 rows (cleanup's check before clearing), checked
 * with the user's first entry, and the imported entries the array no longer holds (findings).
 */
export async function verifyEntry(
  ctx: QueryCtx,
  examId: Id<"exams">,
  participants: readonly V1Participant[],
  sourceIndex: number,
  entriesByUser: ReadonlyMap<string, readonly number[]>,
): Promise<{ issues: Issue[]; findings: Issue[]; rows: number; answers: number }> {
  // rows/answers: every V2 row of the user (normally one) and all their answers, for the summary.
  const { userId } = participants[sourceIndex]!;
  const indexes = entriesByUser.get(userId)!;
  if (indexes[0] !== sourceIndex) return { issues: [], findings: [], rows: 0, answers: 0 };
  const entries = indexes.map((i) => ({ participant: participants[i]!, sourceIndex: i }));
  const rows = await ctx.db
    .query("examParticipations")
    .withIndex("by_exam_and_user", (q) => q.eq("examId", examId).eq("userId", userId))
    .take(5);
  const answersOfRows = await Promise.all(rows.map(async (row) => (await loadAnswers(ctx, row._id)).map(answerRowOf)));
  const answers = answersOfRows[0] ?? [];
  const [row] = rows;
  // A row of an earlier version knows its imports by position only: the log says which entries they were.
  const imported =
    row === undefined
      ? []
      : rowOfCurrentShape(row)
        ? (row.legacyEntries ?? [])
        : replay(await readStream(ctx, { examId, userId })).legacyEntries;
  const issues = compareV1Entry({ examId, entries, imported, rows, answers });
  const findings = removedEntryFindings(
    { examId, userId },
    imported,
    entries.map((e) => e.participant),
  );
  return { issues, findings, rows: rows.length, answers: answersOfRows.reduce((n, a) => n + a.length, 0) };
}

/**
 * Works on one exam from `at` until it is finished (true) or the budget is spent
 * (false; `at` then says where to resume). `fresh`: the exam starts in this call.
 */
async function processExam(batch: Batch, exam: Doc<"exams">, at: Cursor, fresh: boolean): Promise<boolean> {
  const { ctx, options, report } = batch;
  const examId = exam._id;
  const participants = exam.participants ?? [];
  let missingQuestions: string[] = [];
  if (fresh) {
    // The header and question list, and the exam's questions for the findings, once per exam.
    if (!(await fits(batch, headerSyncEstimate(exam.questionIds.length)))) return false;
    if (!options.dryRun) await syncExamHeader(ctx, exam, MIGRATION_SYNC);
    await loadQuestions(batch, exam.questionIds);
    missingQuestions = exam.questionIds.filter((id) => batch.questions.get(id) === null);
    batch.handled += 1;
  }
  const byUser = entryIndexesByUser(participants);
  const ranks = entryRanks(participants);
  // A call that stopped inside this exam resumes at its array position only if the entry there is still the one it
  // stopped at: other code (old code after a rollback) may have removed entries since. Otherwise the step starts over
  // (what it did before writes nothing again).
  const stoppedAt = (): Cursor["nextEntry"] => {
    const p = participants[at.nextIndex]!;
    return { userId: p.userId, startedAt: p.startedAt, rank: ranks[at.nextIndex]! };
  };
  if (at.nextEntry !== undefined) {
    if (at.nextIndex >= participants.length || !sameValue(stoppedAt(), at.nextEntry)) {
      Object.assign(at, { nextIndex: 0, issues: 0 });
      delete at.firstIssue;
    }
    delete at.nextEntry;
  }
  const examQuestions = new Set<string>(exam.questionIds);
  if (at.step === "import" && at.nextIndex === 0) {
    note(batch, examFindings(examId, participants, approximateBytes(exam), exam.questionIds, missingQuestions));
  }
  const definition0 = await getExamHeader(ctx, examId);
  batch.arrayCurrent = definition0 !== null && mirrorEnabledFor(definition0) && (await mirrorGlobal(batch));

  if (at.step === "import" && at.nextIndex < participants.length && !options.dryRun && (await hasNoAttempts(ctx, examId))) {
    Object.assign(batch, { untouchedExam: examId, importedUsers: new Set() });
  }
  for (; at.step === "import" && at.nextIndex < participants.length; at.nextIndex++) {
    const participant = participants[at.nextIndex]!;
    const unread = answeredQuestionIds(participant).filter((id) => !batch.questions.has(id));
    const estimate = attemptCostEstimate(approximateBytes(participant), participant.answers.length, unread.length);
    // A roll-forward may replay the stream and rewrite the attempt once more.
    const more = batch.arrayCurrent ? addUsage(estimate, { ...estimate, databaseQueries: 2 }) : estimate;
    if (!(await fits(batch, more))) {
      at.nextEntry = stoppedAt();
      return false;
    }
    options.faults?.beforeEntry?.(examId, at.nextIndex);
    await loadQuestions(batch, unread);
    const indexes = byUser.get(participant.userId)!;
    note(
      batch,
      participantFindings(examId, examQuestions, participant, at.nextIndex, indexes[0]!, (id) => batch.questions.get(id) ?? null),
    );
    try {
      options.faults?.importEntry?.(examId, at.nextIndex);
      const userEntries = indexes[0] === at.nextIndex ? indexes.map((i) => participants[i]!) : null;
      await importEntry(batch, examId, { participant, sourceIndex: at.nextIndex, rank: ranks[at.nextIndex]! }, userEntries);
    } catch (e) {
      // A rejected command writes nothing (events are validated before the append): keep the entry aside and go on.
      if (errorCode(e) === undefined) throw e;
      await quarantine(batch, examId, participant, at.nextIndex, e);
    }
    batch.handled += 1;
  }
  // Every V1 entry is in the log: the exam API stops looking for legacy entries of this exam.
  if (at.step === "import" && !options.dryRun) await markLegacyBackfilled(ctx, examId);
  if (!options.clearAfterMigration) return true;

  if (at.step === "import") Object.assign(at, { step: "verify", nextIndex: 0, issues: 0 });
  // The array must hold every live event before it is compared with the rows (and cleared): drain the mirror first.
  if (at.nextIndex === 0 && !options.dryRun) {
    const drained = await drainExamMirror(ctx, examId, await getExamHeader(ctx, examId)); // markLegacyBackfilled may have changed it
    if (!drained.isDone) return false;
    if (drained.examWritten) return processExam(batch, (await ctx.db.get("exams", examId))!, at, false);
  }
  const definition = await getExamHeader(ctx, examId);
  if (definition?.legacyCleared === true && participants.length === 0) return true;
  for (; at.nextIndex < participants.length; at.nextIndex++) {
    const participant = participants[at.nextIndex]!;
    if (!(await fits(batch, { ...attemptCostEstimate(0, participant.answers.length), bytesWritten: 0, documentsWritten: 0 }))) {
      at.nextEntry = stoppedAt();
      return false;
    }
    const { issues } = await verifyEntry(ctx, examId, participants, at.nextIndex, byUser);
    if (issues.length > 0 && at.firstIssue === undefined) at.firstIssue = issues[0]!.message;
    at.issues += issues.length;
    batch.handled += 1;
  }
  if (participants.length > 0 && batch.simulated.size > 0 && at.issues === 0) {
    report.examsNotCleared.push({ examId, reason: "dry run: the exam is not migrated yet, so it cannot verify" });
  } else if (at.issues > 0) {
    report.examsNotCleared.push({ examId, reason: `${at.issues} verification issue(s), e.g. ${at.firstIssue}` });
  } else {
    if (!options.dryRun) {
      if (participants.length > 0) await ctx.db.patch("exams", examId, { participants: [] });
      const def = definition ?? (await syncExamHeader(ctx, exam, MIGRATION_SYNC));
      if (!def.legacyCleared) await ctx.db.patch("examHeaders", def._id, { legacyCleared: true });
    }
    report.examsCleared.push(examId);
  }
  return true;
}

function emptyReport(pass: Pass, dryRun: boolean): BatchReport {
  return {
    pass,
    dryRun,
    examsMigrated: 0,
    participantsMigrated: 0,
    answersMigrated: 0,
    eventsWritten: 0,
    alreadyMigrated: 0,
    rolledForward: 0,
    quarantined: 0,
    examsRemaining: 0,
    examsRemainingExact: true,
    isDone: false,
    stoppedBecause: "done",
    stoppedInsideExam: null,
    examsCleared: [],
    examsNotCleared: [],
    findings: [],
    findingsTotal: 0,
  };
}

/** Whether an exam still has something for this pass to do. */
function needsPass(exam: Doc<"exams">): boolean {
  return (exam.participants ?? []).length > 0;
}

/** Counts the exams after `after` that the pass still has to visit, as far as the read budget allows. */
async function countRemaining(batch: Batch, after: number | undefined, report: BatchReport) {
  let cursor = after;
  for (;;) {
    if (!fitsBudget(await usedSoFar(batch.ctx, NO_USAGE), ONE_DOCUMENT_READ)) {
      report.examsRemainingExact = false;
      return;
    }
    const exam = await nextExam(batch.ctx, cursor);
    if (exam === null) return;
    if (needsPass(exam)) report.examsRemaining += 1;
    cursor = exam._creationTime;
  }
}

/** One call of migrateExamParticipants: see the module comment. */
export async function runMigrationBatch(ctx: MutationCtx, options: BatchOptions): Promise<BatchReport> {
  const pass: Pass = options.clearAfterMigration ? "cleanup" : "migrate";
  const report = emptyReport(pass, options.dryRun);
  const batch: Batch = {
    ctx,
    options,
    report,
    pending: NO_USAGE,
    handled: 0,
    questions: new Map(),
    simulated: new Map(),
    counters: new PendingCounters(),
    importedUsers: new Set(),
    arrayCurrent: false,
  };

  if (options.examId !== undefined) {
    const exam = await ctx.db.get("exams", options.examId);
    if (exam === null) throw new Error(`Exam ${options.examId} does not exist.`);
    const at: Cursor = { examId: exam._id, step: "import", nextIndex: options.fromIndex ?? 0, issues: 0 };
    const finished = await processExam(batch, exam, at, at.nextIndex === 0);
    await batch.counters.flush(ctx);
    report.examsMigrated = finished ? 1 : 0;
    report.isDone = finished;
    report.examsRemaining = finished ? 0 : 1;
    report.stoppedBecause = finished ? "done" : "budget";
    report.stoppedInsideExam = finished ? null : { examId: exam._id, step: at.step, nextIndex: at.nextIndex };
    return report;
  }

  const progress = await loadProgress(ctx, pass);
  let after = progress?.afterCreationTime;
  // A pass that reached the end starts over: entries that old code changed since (rollback option 2) are rolled forward.
  // (Not in a dry run: it keeps no cursor, so it would start over on every call.)
  if (!options.dryRun && progress?.current === undefined && after !== undefined && (await nextExam(ctx, after)) === null) after = undefined;
  let current: Cursor | undefined = progress?.current;
  let started = 0;
  let waiting: Doc<"exams"> | null = null; // the exam the call stopped before or inside
  for (;;) {
    if (batch.handled > 0 && !fitsBudget(await usedSoFar(ctx, batch.pending), ONE_DOCUMENT_READ)) {
      report.stoppedBecause = "budget";
      break;
    }
    const exam = await nextExam(ctx, after);
    if (exam === null) {
      report.isDone = true;
      break;
    }
    const resume = current?.examId === exam._id ? current : undefined;
    if (resume === undefined && !needsPass(exam)) {
      after = exam._creationTime; // nothing to migrate or clear
      continue;
    }
    if (started >= options.batchSize) {
      report.stoppedBecause = "batch_size";
      waiting = exam;
      break;
    }
    started += 1;
    const at: Cursor = resume ? { ...resume } : { examId: exam._id, step: "import", nextIndex: 0, issues: 0 };
    if (await processExam(batch, exam, at, resume === undefined)) {
      report.examsMigrated += 1;
      after = exam._creationTime;
      current = undefined;
    } else {
      current = at;
      waiting = exam;
      report.stoppedBecause = "budget";
      report.stoppedInsideExam = { examId: exam._id, step: at.step, nextIndex: at.nextIndex };
      break;
    }
  }
  if (!report.isDone) {
    // The exam the call stopped at (or inside) is first in line; the rest are counted as far as the budget allows.
    report.examsRemaining = 1;
    const from = waiting?._creationTime;
    if (from === undefined) report.examsRemainingExact = false;
    else await countRemaining(batch, from, report);
  }

  await batch.counters.flush(ctx);
  if (!options.dryRun) {
    const totals = progress?.totals ?? { exams: 0, participants: 0, answers: 0, batches: 0 };
    const changed = after !== progress?.afterCreationTime || JSON.stringify(current) !== JSON.stringify(progress?.current);
    const worked = report.participantsMigrated > 0 || report.examsMigrated > 0;
    if (changed || worked) {
      const fields = {
        afterCreationTime: after,
        current,
        totals: {
          exams: totals.exams + report.examsMigrated,
          participants: totals.participants + report.participantsMigrated,
          answers: totals.answers + report.answersMigrated,
          batches: totals.batches + 1,
        },
      };
      if (progress === null) await ctx.db.insert("migrationProgress", { pass, ...fields });
      else await ctx.db.patch("migrationProgress", progress._id, fields);
    }
  }
  return report;
}
