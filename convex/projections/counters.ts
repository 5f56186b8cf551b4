/**
 * An exam's participant counters: 64 shards (a student's action writes one, chosen by their id's hash),
 * and the summary the exam list reads, folded from them by a job of their own (projections/counterFold.ts)
 * that each shard write of a student's action schedules. Every writer of rows keeps them exact
 * (writeAttemptRows' delta, at once or batched in PendingCounters, whose flush sets the summary too); the
 * rebuild resets them from the rows, and verify compares them with the rows.
 *
 * @example
 * const pending = new PendingCounters();
 * await writeAttemptRows(ctx, stream, stored, rows, pending); // many attempts...
 * await pending.flush(ctx);                                  // one read and write per shard touched
 */
import type { Infer } from "convex/values";
import { internal } from "../_generated/api";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { COUNTER_SHARDS, CREATION_SETTLE_MS } from "../lib/limits";
import schema from "../schema";
import type { StreamId } from "../events/store";
import type { AttemptRows } from "./attempt";

/** Which counter shard a user's attempts count in. */
export function counterShard(userId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % COUNTER_SHARDS;
}

export const vCounts = schema.tables.examCounterShards.validator.pick("participants", "completed", "answers");
export type Counts = Infer<typeof vCounts>;

export const NO_COUNTS: Counts = { participants: 0, completed: 0, answers: 0 };

/** a + sign·b, field by field. */
export function addCounts(a: Counts, b: Counts, sign: 1 | -1 = 1): Counts {
  return {
    participants: a.participants + sign * b.participants,
    completed: a.completed + sign * b.completed,
    answers: a.answers + sign * b.answers,
  };
}

export function sameCounts(a: Counts, b: Counts): boolean {
  return a.participants === b.participants && a.completed === b.completed && a.answers === b.answers;
}

function isZero(c: Counts): boolean {
  return sameCounts(c, NO_COUNTS);
}

/** What one attempt's rows count for in its exam's counters. */
export function countsOfAttempt(participation: { completedAt?: number } | null, answers: number): Counts {
  if (participation === null) return NO_COUNTS;
  return { participants: 1, completed: Number(participation.completedAt !== undefined), answers };
}

/**
 * Counter changes of several attempts written in one transaction, applied together
 * by {@link PendingCounters.flush} (one read per exam instead of one per attempt).
 * Whoever passes one to {@link writeAttemptRows} must flush it (or overwrite the
 * exam's counters) before its transaction ends.
 */
export class PendingCounters {
  private readonly byExam = new Map<Id<"exams">, Map<number, Counts>>();

  add(stream: StreamId, delta: Counts) {
    if (isZero(delta)) return;
    let shards = this.byExam.get(stream.examId);
    if (shards === undefined) this.byExam.set(stream.examId, (shards = new Map()));
    const shard = counterShard(stream.userId);
    shards.set(shard, addCounts(shards.get(shard) ?? NO_COUNTS, delta));
  }

  /** Forgets an exam's changes (its caller has set the exam's counters outright). */
  discard(examId: Id<"exams">) {
    this.byExam.delete(examId);
  }

  async flush(ctx: MutationCtx) {
    for (const [examId, deltas] of this.byExam) {
      const docs = await ctx.db
        .query("examCounterShards")
        .withIndex("by_exam_and_shard", (q) => q.eq("examId", examId))
        .take(COUNTER_SHARDS * 4);
      let changed = false;
      for (const [shard, delta] of deltas) {
        if (isZero(delta)) continue;
        await applyCounterDelta(ctx, { examId, shard }, docs.find((d) => d.shard === shard) ?? null, delta);
        changed = true;
      }
      // A batch writer (migration, rebuild) has just read every shard of the exam: it sets the summary to their
      // sum, so an exam the migration filled is listed from one document at once. Students leave theirs to the fold.
      if (changed) {
        const before = docs.reduce<Counts>((sum, d) => addCounts(sum, d), NO_COUNTS);
        await setCounterSummary(
          ctx,
          examId,
          [...deltas.values()].reduce<Counts>((sum, d) => addCounts(sum, d), before),
        );
      }
    }
    this.byExam.clear();
  }
}

async function applyCounterDelta(
  ctx: MutationCtx,
  at: { examId: Id<"exams">; shard: number },
  doc: Doc<"examCounterShards"> | null,
  delta: Counts,
) {
  if (doc === null) await ctx.db.insert("examCounterShards", { ...at, ...delta });
  else await ctx.db.patch("examCounterShards", doc._id, addCounts(doc, delta));
}

/**
 * Each shard write schedules the exam's fold this far ahead: past the settle time of the write's own
 * transaction, so that the fold sees it, and a fold that ran at least that long after the write (of any
 * write of the exam up to a second later) stands for it: the summary lags the shards by this much.
 */
export const COUNTER_FOLD_DELAY_MS = CREATION_SETTLE_MS + 1_000;

/** Applies one attempt's counter change at once (one shard read and write) and schedules the exam's fold. */
export async function bumpCounters(ctx: MutationCtx, stream: StreamId, delta: Counts) {
  if (isZero(delta)) return;
  const shard = counterShard(stream.userId);
  const doc = await ctx.db
    .query("examCounterShards")
    .withIndex("by_exam_and_shard", (q) => q.eq("examId", stream.examId).eq("shard", shard))
    .unique();
  await applyCounterDelta(ctx, { examId: stream.examId, shard }, doc, delta);
  await ctx.scheduler.runAfter(COUNTER_FOLD_DELAY_MS, internal.projections.counterFold.foldExamCounters, {
    examId: stream.examId,
    after: Date.now(),
  });
}

/** The sum of an exam's counter shards (as many reads as the exam has shards). */
export async function sumCounterShards(ctx: QueryCtx, examId: Id<"exams">): Promise<Counts> {
  const shards = await ctx.db
    .query("examCounterShards")
    .withIndex("by_exam_and_shard", (q) => q.eq("examId", examId))
    .take(COUNTER_SHARDS * 4);
  return shards.reduce<Counts>((sum, shard) => addCounts(sum, shard), NO_COUNTS);
}

async function loadSummary(ctx: QueryCtx, examId: Id<"exams">): Promise<Doc<"examCountSummaries"> | null> {
  return ctx.db
    .query("examCountSummaries")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .unique();
}

/**
 * Participant, completed and answer counts of an exam (V2 rows): its summary, one small read, never the
 * participants nor the shards. The summary follows students' actions when the fold their shard write
 * scheduled runs (COUNTER_FOLD_DELAY_MS after it); batch writers set it from the shards they read.
 * An exam never folded yet has no summary: its shards are summed.
 */
export async function countParticipants(ctx: QueryCtx, examId: Id<"exams">): Promise<Counts> {
  const summary = await loadSummary(ctx, examId);
  return summary === null ? sumCounterShards(ctx, examId) : pickCounts(summary);
}

function pickCounts(c: Counts): Counts {
  return { participants: c.participants, completed: c.completed, answers: c.answers };
}

/** Sets the summary to `counts` (written only if it differs). */
export async function setCounterSummary(
  ctx: MutationCtx,
  examId: Id<"exams">,
  counts: Counts,
  now: number = Date.now(),
  read?: Doc<"examCountSummaries"> | null,
): Promise<boolean> {
  const summary = read === undefined ? await loadSummary(ctx, examId) : read;
  if (summary === null) {
    if (isZero(counts)) return false;
    await ctx.db.insert("examCountSummaries", { examId, ...counts, foldedAt: now });
    return true;
  }
  if (sameCounts(summary, counts)) return false;
  await ctx.db.patch("examCountSummaries", summary._id, { ...counts, foldedAt: now });
  return true;
}

/**
 * Folds the exam's shards into its summary (the counters' job). `after`: the time of the shard write that asked
 * for it; a summary folded at least CREATION_SETTLE_MS later already counts it (that write had committed), and
 * the shards are not read. Returns whether it wrote.
 */
export async function foldCounterSummary(
  ctx: MutationCtx,
  examId: Id<"exams">,
  { after = -Infinity, now = Date.now() }: { after?: number; now?: number } = {},
): Promise<boolean> {
  const summary = await loadSummary(ctx, examId);
  if (summary !== null && summary.foldedAt >= after + CREATION_SETTLE_MS) return false;
  return setCounterSummary(ctx, examId, await sumCounterShards(ctx, examId), now, summary);
}

/** Adds one attempt's rows to the counts per shard a walk gathers. */
export function countRows(counts: Record<number, Counts>, shard: number, rows: AttemptRows) {
  counts[shard] = addCounts(counts[shard] ?? NO_COUNTS, countsOfAttempt(rows.participation, rows.answers.length));
}

/** Sets an exam's counter shards to the counts of its rebuilt rows. */
export async function resetCounters(ctx: MutationCtx, examId: Id<"exams">, counts: Record<number, Counts>): Promise<number> {
  const shards = await ctx.db
    .query("examCounterShards")
    .withIndex("by_exam_and_shard", (q) => q.eq("examId", examId))
    .take(COUNTER_SHARDS * 4);
  let written = 0;
  for (let shard = 0; shard < COUNTER_SHARDS; shard++) {
    const want = counts[shard] ?? NO_COUNTS;
    const [have, ...extra] = shards.filter((s) => s.shard === shard);
    for (const e of extra) await ctx.db.delete("examCounterShards", e._id);
    written += extra.length;
    const empty = want.participants === 0 && want.answers === 0;
    if (have === undefined) {
      if (empty) continue;
      await ctx.db.insert("examCounterShards", { examId, shard, ...want });
    } else if (empty) {
      await ctx.db.delete("examCounterShards", have._id); // absent counts as zero
    } else if (!sameCounts(have, want)) {
      await ctx.db.patch("examCounterShards", have._id, want);
    } else continue;
    written += 1;
  }
  const total = Object.values(counts).reduce<Counts>((sum, c) => addCounts(sum, c), NO_COUNTS);
  if (await setCounterSummary(ctx, examId, total)) written += 1;
  return written;
}

/** Where an exam's counter shards differ from the counts of its rows (verify; writes nothing). */
export function counterMismatches(examId: Id<"exams">, counts: Record<number, Counts>, shards: readonly Doc<"examCounterShards">[]) {
  const issues: { kind: "counter_mismatch"; examId: Id<"exams">; field: string; expected: Counts; actual: Counts; message: string }[] = [];
  for (let shard = 0; shard < COUNTER_SHARDS; shard++) {
    const want = counts[shard] ?? NO_COUNTS;
    const haveDocs = shards.filter((s) => s.shard === shard);
    const have = haveDocs.reduce<Counts>((sum, d) => addCounts(sum, d), NO_COUNTS);
    if (haveDocs.length <= 1 && sameCounts(have, want)) {
      continue;
    }
    issues.push({
      kind: "counter_mismatch",
      examId,
      field: `shard ${shard}`,
      expected: want,
      actual: have,
      message: `${examId}: counter shard ${shard} says ${JSON.stringify(have)}, the rows give ${JSON.stringify(want)}`,
    });
  }
  return issues;
}
