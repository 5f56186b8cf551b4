/**
 * The legacy mirror: folds the log into each exam's V1 array (`exams.participants`),
 * every attempt's entry exactly as the V1 code would have left it, so that the
 * operators can switch the frontend back to V1 or redeploy the old code with
 * nothing lost.
 *
 * It runs as a per-exam job, off the students' write path: a student's action
 * writes its own stream, rows and one counter shard, and schedules a run when the
 * exam's mirror is on ({@link afterLiveWrite}); it never reads the exam document.
 * A run reads the exam's events past its watermark (`examMirrorStates.mirroredThrough`,
 * written only here), loads each of their attempts once, rewrites the exam document
 * at most once and moves the watermark, all in one transaction: one run serves every
 * action since the last one, the runs scheduled behind it find nothing past the
 * watermark and write nothing, and two runs of one exam serialize on the watermark
 * document (never more than one effective run at a time). A run that reaches its
 * budget schedules the rest; an aborted run changes nothing and the next one redoes
 * it. The counts the exam list reads are not the mirror's: a job of their own folds
 * them (projections/counterFold.ts), mirror on or off.
 *
 * A run folds only events older than MIRROR_SETTLE_MS: an event's `_creationTime`
 * is set when its transaction runs, so a watermark at "now" could pass an event
 * whose transaction commits a moment later. The settle time is far beyond any
 * transaction Convex lets run, and keeps the job's read range clear of the
 * events students are appending (no conflict between them). Drains (operator,
 * cleanup) and the synchronous mode read and write to the end instead, and
 * conflict; their watermark too stays MIRROR_SETTLE_MS behind their own time, so
 * it never passes an event another transaction commits after their read
 * (tests/legacyMirror.test.ts, both orders).
 *
 * The array is "current" (V1 may serve an exam from it alone) only while the
 * mirror is on, never failed, the array not cleared, the global switch on and
 * the watermark at or past the exam's latest event; otherwise the V1 functions
 * serve the exam from the V2 rows (reads/examSources.ts).
 *
 * @example
 * await afterLiveWrite(ctx, examId, header);           // in the student's transaction: schedules a run (or mirrors, in sync mode)
 * const run = await runMirror(ctx, examId, header, { upTo: Date.now() - MIRROR_SETTLE_MS });
 * const lag = await mirrorLag(ctx, examId);               // { current, events, oldestAt, ... }
 */
import { getDocumentSize, v, type Infer, type Value } from "convex/values";
import { literals, nullable } from "convex-helpers/validators";
import { internal } from "../_generated/api";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import type { V1Participant } from "../lib/validators";
import { CONVEX_LIMITS } from "../lib/limits";
import { LOOP_SHARES, READ_METRICS, budgetSpent } from "../lib/budget";
import { sameValue } from "../lib/values";
import { replay } from "../events/decider";
import { readStream, type StreamId } from "../events/store";
import { entryOfState } from "../lib/v1Entry";
// The exam's header: its mirror switches and failure. The callers read it and pass it in.
import type { ExamHeader } from "../lib/examHeaders";

/** Room left under Convex's 1 MiB document limit for our size estimate's error. */
export const MIRROR_SIZE_MARGIN_BYTES = 32 * 1024;

/** A run folds only events at least this old (see the module comment). */
export const MIRROR_SETTLE_MS = 5_000;

/** Each action schedules its run this far ahead: past the settle time of its own events (whose times come a moment after the action's start). */
export const MIRROR_RUN_DELAY_MS = MIRROR_SETTLE_MS + 1_000;

/** A run stops taking attempts once any of its reads passes this share of a Convex limit (events: half of it). */
const RUN_READ_SHARE = LOOP_SHARES.mirrorRunReads;

/** What a caller may inject into one run (tests: fault injection and smaller runs; production passes none). */
export type MirrorRunFaults = {
  /** Called at each step of the run; a throw aborts the run's transaction (nothing it wrote is kept). */
  beforeStep?: (step: "events" | "attempt" | "exam" | "watermark", examId: Id<"exams">) => void;
  /** Stop the run after this many events (resumed by the run it schedules). */
  maxEvents?: number;
};

async function setting(ctx: QueryCtx, key: "legacyMirror" | "legacyMirrorSync"): Promise<boolean | undefined> {
  const doc = await ctx.db
    .query("examApiSettings")
    .withIndex("by_key", (q) => q.eq("key", key))
    .unique();
  return doc?.enabled;
}

/** The global switch (absent = on). One small document read. */
export async function legacyMirrorGloballyEnabled(ctx: QueryCtx): Promise<boolean> {
  return (await setting(ctx, "legacyMirror")) ?? true;
}

/** The global synchronous mode (absent = off: the per-exam job mirrors). */
export async function legacyMirrorGloballySync(ctx: QueryCtx): Promise<boolean> {
  return (await setting(ctx, "legacyMirrorSync")) ?? false;
}

/** Whether the mirror may write this exam's array (per-exam switch, not cleared, not failed). */
export function mirrorEnabledFor(header: ExamHeader): boolean {
  return header.legacyMirror && !header.legacyCleared && header.legacyMirrorFailure === undefined;
}

export async function loadMirrorState(ctx: QueryCtx, examId: Id<"exams">): Promise<Doc<"examMirrorStates"> | null> {
  return ctx.db
    .query("examMirrorStates")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .unique();
}

/** The exam's events created after `after` (and up to `upTo`), oldest first. */
function eventsAfter(ctx: QueryCtx, examId: Id<"exams">, after: number, upTo: number = Infinity) {
  return ctx.db.query("examEvents").withIndex("by_exam", (q) => {
    const from = q.eq("examId", examId).gt("_creationTime", after);
    return Number.isFinite(upTo) ? from.lte("_creationTime", upTo) : from;
  });
}

/** Events of the lag counted one by one at most (more are reported as `eventsAtLeast`). */
export const LAG_COUNT_CAP = 100;

export const vMirrorLag = v.object({
  /** The array reflects the exam's latest event (nothing past the watermark). */
  current: v.boolean(),
  /** Live events past the watermark: what the array is behind by. */
  events: v.number(),
  /** Legacy imports past the watermark: already in the array (their source), a run only passes them. */
  importsToPass: v.number(),
  /** The count reached LAG_COUNT_CAP events: there may be more. */
  eventsAtLeast: v.boolean(),
  /** Creation time of the oldest live event not yet in the array, and its age at `now`. */
  oldestAt: nullable(v.number()),
  ageMs: nullable(v.number()),
  mirroredThrough: nullable(v.number()),
});
export type MirrorLag = Infer<typeof vMirrorLag>;

/** How far the exam's array is behind its log: one state read, one event read when current, up to LAG_COUNT_CAP + 1 otherwise. */
export async function mirrorLag(ctx: QueryCtx, examId: Id<"exams">, o: { count?: boolean; now?: number } = {}): Promise<MirrorLag> {
  const state = await loadMirrorState(ctx, examId);
  const mirroredThrough = state?.mirroredThrough ?? null;
  const behind = eventsAfter(ctx, examId, mirroredThrough ?? -Infinity);
  const events = o.count === true ? await behind.take(LAG_COUNT_CAP + 1) : await behind.take(1);
  const counted = events.slice(0, LAG_COUNT_CAP);
  const live = counted.filter((e) => e.origin !== "legacy_import");
  const oldestAt = live[0]?._creationTime ?? null;
  const now = o.now ?? Date.now();
  return {
    current: events.length === 0,
    events: live.length,
    importsToPass: counted.length - live.length,
    eventsAtLeast: events.length > LAG_COUNT_CAP,
    oldestAt,
    ageMs: oldestAt === null ? null : Math.max(0, now - oldestAt),
    mirroredThrough,
  };
}

/**
 * Whether an exam's embedded array describes every attempt, so V1 may serve it from the array alone.
 * An exam the new backend never touched (no header) has only its array.
 * The global switch is read only when the header alone says yes (or pass it in, read once).
 */
export async function arrayIsCurrent(ctx: QueryCtx, header: ExamHeader | null, globallyEnabled?: boolean): Promise<boolean> {
  if (header === null) return true;
  if (!mirrorEnabledFor(header)) return false;
  if (!(globallyEnabled ?? (await legacyMirrorGloballyEnabled(ctx)))) return false;
  return (await mirrorLag(ctx, header.examId)).current;
}

/** The array with `entry` in place of the user's FIRST entry (appended if absent). Never reorders. */
export function withEntry(participants: readonly V1Participant[], entry: V1Participant): V1Participant[] {
  const index = participants.findIndex((p) => p.userId === entry.userId);
  if (index === -1) return [...participants, entry];
  const out = [...participants];
  out[index] = entry;
  return out;
}

/** Why an exam document could not be stored (with a safety margin), or null if it fits. */
export function documentLimitProblem(exam: Omit<Doc<"exams">, "_id" | "_creationTime"> & Partial<Doc<"exams">>): string | null {
  return sizeProblem(getDocumentSize(exam as Record<string, Value>), exam.participants?.length ?? 0);
}

/** Why an exam document of `bytes` (Convex's size) with `entries` array entries could not be stored, or null if it fits. */
export function sizeProblem(bytes: number, entries: number): string | null {
  if (entries > CONVEX_LIMITS.arrayElements) {
    return `participants would have ${entries} entries (limit ${CONVEX_LIMITS.arrayElements})`;
  }
  if (bytes + MIRROR_SIZE_MARGIN_BYTES > CONVEX_LIMITS.documentBytes) {
    return `exam document would be ${bytes} bytes (limit ${CONVEX_LIMITS.documentBytes} minus a ${MIRROR_SIZE_MARGIN_BYTES}-byte margin)`;
  }
  return null;
}

export const vMirrorOutcome = literals("mirrored", "off", "failed", "cleared");
export type MirrorOutcome = Infer<typeof vMirrorOutcome>;

export const vMirrorRunResult = v.object({
  outcome: vMirrorOutcome,
  /** Events passed by this run (live ones and legacy imports). */
  eventsRead: v.number(),
  /** Live events among them (their attempts' entries were written). */
  liveEvents: v.number(),
  entriesWritten: v.number(),
  /** Whether this run wrote the exam document (at most once per run). */
  examWritten: v.boolean(),
  mirroredThrough: nullable(v.number()),
  /** False: the run reached its budget and scheduled the rest. */
  isDone: v.boolean(),
});
export type MirrorRunResult = Infer<typeof vMirrorRunResult>;

function readBudgetSpent(ctx: QueryCtx, share: number = RUN_READ_SHARE): Promise<boolean> {
  return budgetSpent(ctx, share, READ_METRICS);
}

/**
 * One run of the exam's mirror job (see the module comment): events created after the watermark and
 * up to `upTo` (Infinity: to the end), each of their attempts' entries written from the attempt's
 * current state, the exam document rewritten once if anything changed, the watermark moved.
 * Writes nothing when there is nothing past the watermark. `schedule` (default true): a run that
 * reached its budget schedules the rest. `header`: the exam's, as the caller read it in this transaction.
 */
export async function runMirror(
  ctx: MutationCtx,
  examId: Id<"exams">,
  header: ExamHeader | null,
  o: { upTo: number; now?: number; schedule?: boolean; faults?: MirrorRunFaults },
): Promise<MirrorRunResult> {
  const now = o.now ?? Date.now();
  const result: MirrorRunResult = {
    outcome: "mirrored",
    eventsRead: 0,
    liveEvents: 0,
    entriesWritten: 0,
    examWritten: false,
    mirroredThrough: null,
    isDone: true,
  };
  if (header === null) return { ...result, outcome: "off" }; // no event was ever appended through the exam API
  if (header.legacyCleared) return { ...result, outcome: "cleared" };
  if (header.legacyMirrorFailure !== undefined) return { ...result, outcome: "failed" };
  if (!header.legacyMirror) return { ...result, outcome: "off" };
  if (!(await legacyMirrorGloballyEnabled(ctx))) {
    // The array is about to miss events: the exam's own switch goes off, so that switching the global
    // one back on never makes V1 trust it (setExamLegacyMirror resyncs it).
    await ctx.db.patch("examHeaders", header._id, { legacyMirror: false });
    return { ...result, outcome: "off" };
  }

  const state = await loadMirrorState(ctx, examId);
  const after = state?.mirroredThrough ?? -Infinity;
  // 1. The settled events past the watermark, and for each attempt the last version among them.
  const passed: { at: number; live: boolean }[] = [];
  const attempts = new Map<Id<"users">, { firstEvent: number; toVersion: number }>();
  let isDone = true;
  o.faults?.beforeStep?.("events", examId);
  for await (const event of eventsAfter(ctx, examId, after, o.upTo)) {
    const maxEvents = o.faults?.maxEvents;
    if (
      passed.length > 0 &&
      ((maxEvents !== undefined && passed.length >= maxEvents) || (await readBudgetSpent(ctx, RUN_READ_SHARE / 2)))
    ) {
      isDone = false;
      break;
    }
    // A legacy import's source is the array entry itself: it is passed, never written back.
    const live = event.origin !== "legacy_import";
    if (live) {
      const seen = attempts.get(event.userId);
      if (seen === undefined) attempts.set(event.userId, { firstEvent: passed.length, toVersion: event.version });
      else seen.toVersion = Math.max(seen.toVersion, event.version);
    }
    passed.push({ at: event._creationTime, live });
  }
  // 2. Each attempt replayed from its stream up to that version: only settled events are read, never what
  //    students are writing now (rows, stream heads), so a student acting again does not disturb the run.
  const entries = new Map<Id<"users">, V1Participant | null>();
  for (const [userId, { firstEvent, toVersion }] of attempts) {
    if (entries.size > 0 && (await readBudgetSpent(ctx))) {
      // Out of budget: the watermark stops before this attempt's first event (later ones of loaded attempts are re-read next run).
      passed.splice(firstEvent);
      isDone = false;
      break;
    }
    o.faults?.beforeStep?.("attempt", examId);
    entries.set(userId, await entryAt(ctx, { examId, userId }, toVersion));
  }
  result.eventsRead = passed.length;
  result.liveEvents = passed.filter((e) => e.live).length;
  if (result.eventsRead === 0) return result; // nothing past the watermark: nothing written
  const through = passed[passed.length - 1]!.at;
  // Done: everything up to `upTo` is in (a finite upTo is the watermark, so the next run starts there). A run to
  // the end (a drain, the synchronous mode) wrote what it read, but its watermark too stays MIRROR_SETTLE_MS behind
  // `now`: a transaction that began before this one may still commit an event created before the last one read.
  const settled = (o.now ?? Date.now()) - MIRROR_SETTLE_MS;
  const mirroredThrough = isDone && Number.isFinite(o.upTo) ? Math.max(after, o.upTo) : Math.max(after, Math.min(through, settled));
  result.mirroredThrough = mirroredThrough;
  result.isDone = isDone;

  const wanted = [...entries.values()].filter((e): e is V1Participant => e !== null);
  if (wanted.length > 0) {
    o.faults?.beforeStep?.("exam", examId);
    const exam = await ctx.db.get("exams", examId);
    if (exam !== null) {
      const before = exam.participants ?? [];
      let participants = before;
      for (const entry of wanted) {
        const current = participants.find((p) => p.userId === entry.userId);
        if (current !== undefined && sameValue(current, entry)) continue;
        participants = withEntry(participants, entry);
        result.entriesWritten += 1;
      }
      if (result.entriesWritten > 0) {
        const problem = documentLimitProblem({ ...exam, participants });
        if (problem !== null) {
          // The student's actions stand; the exam is flagged and V1 serves it from V2 from now on.
          await ctx.db.patch("examHeaders", header._id, {
            legacyMirrorFailure: { userId: wanted[0]!.userId, reason: problem, at: now },
          });
          return { ...result, outcome: "failed", entriesWritten: 0, isDone: true };
        }
        await ctx.db.patch("exams", examId, { participants });
        result.examWritten = true;
      }
    }
  }
  o.faults?.beforeStep?.("watermark", examId);
  const fields = {
    mirroredThrough,
    lastRunAt: now,
    eventsMirrored: (state?.eventsMirrored ?? 0) + result.liveEvents,
    runs: (state?.runs ?? 0) + Number(result.examWritten),
  };
  if (state === null) await ctx.db.insert("examMirrorStates", { examId, ...fields });
  else await ctx.db.patch("examMirrorStates", state._id, fields);
  if (!isDone && o.schedule !== false) await ctx.scheduler.runAfter(0, internal.legacyMirror.runExamMirror, { examId });
  // A run to the end held its watermark behind events it wrote: the job moves it on once they are settled
  // (not after a drain, whose caller drives: it reports the exam lagging and is run again).
  else if (isDone && mirroredThrough < through && o.schedule !== false) {
    await ctx.scheduler.runAfter(MIRROR_RUN_DELAY_MS, internal.legacyMirror.runExamMirror, { examId });
  }
  return result;
}

/** The V1 entry of an attempt as it stood at `toVersion` (null: no participation, or a stream the catalog cannot read, left as it is). */
async function entryAt(ctx: QueryCtx, stream: StreamId, toVersion: number): Promise<V1Participant | null> {
  let attempt;
  try {
    attempt = replay(await readStream(ctx, stream, toVersion));
  } catch {
    return null; // rebuild/verify report unreadable streams; the array keeps what it had
  }
  return entryOfState(stream.userId, attempt);
}

/** The scheduled run: folds what has settled. */
export async function runSettledMirror(
  ctx: MutationCtx,
  examId: Id<"exams">,
  header: ExamHeader | null,
  faults?: MirrorRunFaults,
): Promise<MirrorRunResult> {
  const now = Date.now();
  return runMirror(ctx, examId, header, { upTo: now - MIRROR_SETTLE_MS, now, faults });
}

/**
 * Mirrors everything the exam's log holds, now, in this transaction (cleanup before it verifies, the
 * operator's drain): true when the array is current (or the mirror is off for the exam), false when
 * the budget ran out first (call again).
 */
export async function drainExamMirror(ctx: MutationCtx, examId: Id<"exams">, header: ExamHeader | null): Promise<MirrorRunResult> {
  return runMirror(ctx, examId, header, { upTo: Infinity, schedule: false });
}

/** Whether the exam mirrors inside each student's own transaction (per exam, or the global setting). */
async function mirrorsSynchronously(ctx: QueryCtx, header: ExamHeader | null): Promise<boolean> {
  return header?.legacyMirrorSync ?? (await legacyMirrorGloballySync(ctx));
}

/**
 * The mirror's part of a student's action, after its events and rows are written. Asynchronous
 * (default): schedules the exam's job, which writes nothing another student's action writes.
 * Synchronous: the run happens here, reading and rewriting the exam document and reading the
 * exam's latest events and counter shards, as V1 did; every student of the exam then contends.
 * `header`: as the write path read it (the exam API has set it up; a direct import may not have: null).
 */
export async function afterLiveWrite(ctx: MutationCtx, examId: Id<"exams">, header: ExamHeader | null): Promise<void> {
  if (await mirrorsSynchronously(ctx, header)) {
    // Read again: an earlier run in this transaction (a legacy import's) may have switched the exam's mirror
    // off or flagged it; the run must see that, not the header the write path read first.
    const current = header === null ? null : await ctx.db.get("examHeaders", header._id);
    await runMirror(ctx, examId, current, { upTo: Infinity });
    return;
  }
  // Mirror off, failed or cleared (switched off with the global switch too, by a run): nothing to run. The counts fold on their own.
  if (header === null || !mirrorEnabledFor(header)) return;
  await ctx.scheduler.runAfter(MIRROR_RUN_DELAY_MS, internal.legacyMirror.runExamMirror, { examId });
}

/**
 * Sets the watermark to the exam's latest event, at most MIRROR_SETTLE_MS before `now` (after the array was
 * rewritten from the V2 rows in this transaction, so it holds every event committed so far).
 */
export async function markMirrorCurrent(ctx: MutationCtx, examId: Id<"exams">, now: number = Date.now()): Promise<void> {
  const [latest] = await ctx.db
    .query("examEvents")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .order("desc")
    .take(1);
  const state = await loadMirrorState(ctx, examId);
  // No event yet: nothing to claim. (`now` would claim an event a later transaction creates in this same millisecond.)
  // As a drain's, held MIRROR_SETTLE_MS behind `now`: an event another transaction may still commit stays ahead of it.
  const through = Math.min(latest?._creationTime ?? 0, now - MIRROR_SETTLE_MS);
  await setWatermark(ctx, examId, Math.max(through, state?.mirroredThrough ?? 0, 0), now, state); // 0: before every event
  // Held behind events the array already holds: the job moves the watermark on once they are settled.
  if (latest !== undefined && latest._creationTime > through) {
    await ctx.scheduler.runAfter(MIRROR_RUN_DELAY_MS, internal.legacyMirror.runExamMirror, { examId });
  }
}

/** Sets the exam's watermark to `mirroredThrough` (back too: the job then passes the later events again). */
export async function setWatermark(
  ctx: MutationCtx,
  examId: Id<"exams">,
  mirroredThrough: number,
  now: number = Date.now(),
  read?: Doc<"examMirrorStates"> | null,
): Promise<void> {
  const state = read === undefined ? await loadMirrorState(ctx, examId) : read;
  if (state === null) await ctx.db.insert("examMirrorStates", { examId, mirroredThrough, lastRunAt: now, eventsMirrored: 0, runs: 0 });
  else await ctx.db.patch("examMirrorStates", state._id, { mirroredThrough, lastRunAt: now });
}

/** Whether a stream has events the array does not reflect yet (verification calls these entries pending). */
export async function streamHasUnmirroredEvents(
  ctx: QueryCtx,
  stream: { examId: Id<"exams">; userId: Id<"users"> },
  mirroredThrough: number | null,
): Promise<boolean> {
  const head = await ctx.db
    .query("examEvents")
    .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", stream.examId).eq("userId", stream.userId))
    .order("desc")
    .first();
  return head !== null && head.origin !== "legacy_import" && head._creationTime > (mirroredThrough ?? -Infinity);
}

/**
 * For verification: whether a user's entry may still differ from their rows only because the mirror
 * has not reached their latest events (the mirror is on for the exam and their stream's head is a live
 * event past the watermark). Such entries are pending, not issues.
 */
export async function unmirroredCheck(
  ctx: QueryCtx,
  examId: Id<"exams">,
  header: ExamHeader | null,
): Promise<(userId: Id<"users">) => Promise<boolean>> {
  if (header === null || !mirrorEnabledFor(header)) return async () => false;
  const mirroredThrough = (await loadMirrorState(ctx, examId))?.mirroredThrough ?? null;
  return (userId) => streamHasUnmirroredEvents(ctx, { examId, userId }, mirroredThrough);
}
