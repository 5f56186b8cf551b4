/**
 * The one walk of the log and the projection tables side by side, for the rebuild and verify
 * (projections/replay.ts), and the cursor they resume from, validated when it comes back.
 *
 * @example
 * const at = parseReplayCursor(cursor, "streams");   // ConvexError INVALID_ARGUMENT if it is not one of ours
 * const next = streamsAfter(ctx, examId, at.after);
 * for (let s = await next(); s !== null; s = await next()) ...;
 * return { continueCursor: JSON.stringify(at) };
 */
import * as z from "zod/v4";
import { convexToZod, zid } from "convex-helpers/server/zod4";
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { parseCursor } from "../lib/cursor";
import type { StreamId } from "../events/store";
import { vCounts, type Counts } from "./counters";

/** A shard's counts, from the one definition (the counter shards' schema fields). */
const zCounts = convexToZod(vCounts);

/** Where a rebuild or verify call stopped (its `continueCursor`, JSON). */
const zReplayCursor = z.object({
  phase: z.enum(["streams", "orphans", "recount"]),
  after: z.object({ examId: zid("exams"), userId: zid("users") }).nullable(),
  /** Counts per shard of the exam `after` is in, from the rows rebuilt so far (they reset its counters at its end). */
  counts: z.record(z.string().regex(/^\d+$/), zCounts),
  afterParticipationId: zid("examParticipations").optional(),
  /** Exams the walk left after entering them in an earlier call: their counters are recounted, each in one transaction, before the walk goes on. */
  recount: z.array(zid("exams")).optional(),
});

export type ReplayCursor = Omit<z.infer<typeof zReplayCursor>, "counts"> & { counts: Record<number, Counts> };

/** The cursor a call resumes from: a fresh one when absent; INVALID_ARGUMENT (nothing done) when it is not one this walk returned. */
export function parseReplayCursor(cursor: string | null | undefined, firstPhase: ReplayCursor["phase"] = "streams"): ReplayCursor {
  if (!cursor) return { phase: firstPhase, after: null, counts: {} };
  return parseCursor(zReplayCursor, cursor, "the previous rebuild or verify call");
}

/** A stream with its events (by version) and its participation rows (oldest first; normally one). */
export type ExamStream = { stream: StreamId; docs: Doc<"examEvents">[]; rows: Doc<"examParticipations">[] };

/** Reads a query document by document (in Convex, page by page as they are consumed). */
export function iterate<T>(query: AsyncIterable<T>): AsyncIterator<T> {
  return query[Symbol.asyncIterator]();
}

export async function pull<T>(it: AsyncIterator<T>): Promise<T | null> {
  const r = await it.next();
  return r.done === true ? null : r.value;
}

/** Orders streams by exam, then user (the order of both indexes). */
function compareStreams(a: StreamId, b: StreamId): number {
  if (a.examId !== b.examId) return a.examId < b.examId ? -1 : 1;
  return a.userId === b.userId ? 0 : a.userId < b.userId ? -1 : 1;
}

/** An exam's events or rows after `afterUser`, or (no exam) those of every exam after `afterExam`. */
function eventsAfter(ctx: QueryCtx, range: { examId?: Id<"exams">; afterUser?: Id<"users">; afterExam?: Id<"exams"> }) {
  return iterate(
    ctx.db.query("examEvents").withIndex("by_exam_and_user_and_version", (q) => {
      if (range.examId === undefined) return range.afterExam === undefined ? q : q.gt("examId", range.afterExam);
      return range.afterUser === undefined ? q.eq("examId", range.examId) : q.eq("examId", range.examId).gt("userId", range.afterUser);
    }),
  );
}

function rowsAfter(ctx: QueryCtx, range: { examId?: Id<"exams">; afterUser?: Id<"users">; afterExam?: Id<"exams"> }) {
  return iterate(
    ctx.db.query("examParticipations").withIndex("by_exam_and_user", (q) => {
      if (range.examId === undefined) return range.afterExam === undefined ? q : q.gt("examId", range.afterExam);
      return range.afterUser === undefined ? q.eq("examId", range.examId) : q.eq("examId", range.examId).gt("userId", range.afterUser);
    }),
  );
}

/**
 * The streams after `after` (only `onlyExam`'s if given), in exam then user order,
 * each with its events and rows: range reads of the log and of the rows walked side
 * by side (a merge join), at most two of each per call, instead of several lookups
 * per stream. Each call returns the next stream, or null at the end; it reads one
 * event and one row past the stream (the next one's first). The caller inserts or
 * removes rows only of streams the walk has passed, so the open reads are not disturbed.
 */
export function streamsAfter(
  ctx: QueryCtx,
  onlyExam: Id<"exams"> | undefined,
  after: ReplayCursor["after"],
): () => Promise<ExamStream | null> {
  // The rest of `after`'s exam, then (whole log) the exams after it.
  const ranges = [
    ...(after !== null ? [{ examId: after.examId, afterUser: after.userId }] : onlyExam !== undefined ? [{ examId: onlyExam }] : []),
    ...(onlyExam === undefined ? [{ afterExam: after?.examId }] : []),
  ];
  let events: AsyncIterator<Doc<"examEvents">> | null = null;
  let rows: AsyncIterator<Doc<"examParticipations">> | null = null;
  let event: Doc<"examEvents"> | null = null;
  let row: Doc<"examParticipations"> | null = null;
  const next = async (): Promise<ExamStream | null> => {
    if (events === null || rows === null) {
      const range = ranges.shift();
      if (range === undefined) return null;
      [events, rows] = [eventsAfter(ctx, range), rowsAfter(ctx, range)];
      [event, row] = [await pull(events), await pull(rows)];
    }
    if (event === null && row === null) {
      [events, rows] = [null, null];
      return next();
    }
    const stream = event === null || (row !== null && compareStreams(row, event) < 0) ? streamOfDoc(row!) : streamOfDoc(event);
    const found: ExamStream = { stream, docs: [], rows: [] };
    for (; event !== null && compareStreams(event, stream) === 0; event = await pull(events)) found.docs.push(event);
    for (; row !== null && compareStreams(row, stream) === 0; row = await pull(rows)) found.rows.push(row);
    return found;
  };
  return next;
}

function streamOfDoc({ examId, userId }: StreamId): StreamId {
  return { examId, userId };
}
