/**
 * Rebuild and verify the V2 projections from the log (CONTRACT §4).
 * rebuildProjections replays each attempt's stream with projectStream (the one
 * definition) and writes the difference with writeAttemptRows, each attempt
 * inside one transaction (so students may keep writing); participation ids stay;
 * rows with no events are removed; duplicate rows and orphan answers too.
 * verifyProjections replays and compares, writing nothing.
 *
 * @example
 * let r = await ctx.runMutation(internal.projections.rebuild.rebuildProjections, {});
 * while (!r.isDone) r = await ctx.runMutation(internal.projections.rebuild.rebuildProjections, { cursor: r.continueCursor });
 * npx convex run --prod projections/rebuild:rebuildAllProjections
 * npx convex run --prod projections/rebuild:verifyProjections '{"examId": "..."}'
 */
import { v } from "convex/values";
import { internal } from "../_generated/api";
import type { Doc, Id } from "../_generated/dataModel";
import { internalAction, internalQuery, type MutationCtx, type QueryCtx } from "../_generated/server";
import { internalMutation } from "../copies/functions";
import { COUNTER_SHARDS } from "../lib/limits";
import { toRecordedEvent, type StreamId } from "../events/store";
import { checkChainBatch } from "../events/chain";
import { NO_USAGE, addUsage, costBetween, fitsBudget, maxUsage, transactionUsage as usage, type Usage } from "../lib/budget";
import { compareProjection, type VerificationIssue } from "./verification";
import { answerRowOf, projectStream, type AttemptRows } from "./attempt";
import {
  NO_COUNTS,
  PendingCounters,
  addCounts,
  countsOfAttempt,
  counterShard,
  loadAnswers,
  sameCounts,
  setCounterSummary,
  writeAttemptRows,
  type Counts,
} from "./tables";

type Cursor = {
  phase: "streams" | "orphans" | "recount";
  after: { examId: Id<"exams">; userId: Id<"users"> } | null;
  /** Counts per shard of the exam `after` is in, from the rows rebuilt so far (they reset its counters at its end). */
  counts: Record<number, Counts>;
  afterParticipationId?: Id<"examParticipations">;
  /** Exams the walk left after entering them in an earlier call: their counters are recounted, each in one transaction, before the walk goes on. */
  recount?: Id<"exams">[];
};

/** Room for one more stream: twice the costliest stream of this call so far, plus the next lookups. */
const LOOKUP_COST: Usage = { bytesRead: 64 * 1024, bytesWritten: 8 * 1024, documentsRead: 20, documentsWritten: 10, databaseQueries: 20 };

/** A stream with its events (by version) and its participation rows (oldest first; normally one). */
type ExamStream = { stream: StreamId; docs: Doc<"examEvents">[]; rows: Doc<"examParticipations">[] };

/** Reads a query document by document (in Convex, page by page as they are consumed). */
function iterate<T>(query: AsyncIterable<T>): AsyncIterator<T> {
  return query[Symbol.asyncIterator]();
}

async function pull<T>(it: AsyncIterator<T>): Promise<T | null> {
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
function streamsAfter(ctx: QueryCtx, onlyExam: Id<"exams"> | undefined, after: Cursor["after"]): () => Promise<ExamStream | null> {
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

/** The rows a stream's events give, or why they cannot be read (the stream is then left alone). */
function rowsFromEvents(docs: readonly Doc<"examEvents">[]): AttemptRows | string {
  try {
    return projectStream(docs.map(toRecordedEvent));
  } catch (error) {
    return `unreadable event: ${String(error)}`;
  }
}

function countRows(counts: Record<number, Counts>, shard: number, rows: AttemptRows) {
  counts[shard] = addCounts(counts[shard] ?? NO_COUNTS, countsOfAttempt(rows.participation, rows.answers.length));
}

/** Sets an exam's counter shards to the counts of its rebuilt rows. */
async function resetCounters(ctx: MutationCtx, examId: Id<"exams">, counts: Record<number, Counts>): Promise<number> {
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

/** Test-only: stop a call after this many steps (streams, exams left, participations swept), to exercise resuming. Never set in production. */
export const rebuildTestHooks: { maxStepsPerCall?: number } = {};

function parseCursor(cursor: string | null | undefined, firstPhase: Cursor["phase"] = "streams"): Cursor {
  if (!cursor) return { phase: firstPhase, after: null, counts: {} };
  return JSON.parse(cursor) as Cursor;
}

/**
 * Rebuilds the projections of every attempt (or of one exam), as many attempts
 * per call as fit in half of every transaction limit; pass `continueCursor` back
 * as `cursor` until `isDone`. Safe while students write: each attempt's rows and
 * its counter delta are written in one transaction, as a student's are. An exam
 * whose streams were all rebuilt in one call has its counters (and summary) reset
 * from its rows, which repairs damaged counters; an exam that spanned calls is
 * recounted at the start of the next call, in one transaction (counts gathered over
 * several transactions would miss students' writes in between), or, if its rows do
 * not fit in one, keeps the exact deltas and is listed in `examsCountersNotRecounted`.
 */
export const rebuildProjections = internalMutation({
  args: { examId: v.optional(v.id("exams")), cursor: v.optional(v.union(v.string(), v.null())) },
  handler: async (ctx, { examId, cursor }) => {
    const at = parseCursor(cursor, "orphans");
    const result = {
      streamsRebuilt: 0,
      documentsWritten: 0,
      participationsRemoved: 0,
      orphanAnswersRemoved: 0,
      skippedStreams: [] as { examId: Id<"exams">; userId: Id<"users">; reason: string }[],
      /** Exams whose rows were too many to recount in one transaction: their counters got the rebuild's exact deltas only. */
      examsCountersNotRecounted: [] as Id<"exams">[],
      isDone: false,
      continueCursor: "",
    };
    let costliest: Usage = NO_USAGE;
    let handled = 0;
    const roomFor = async () =>
      handled === 0 ||
      ((rebuildTestHooks.maxStepsPerCall === undefined || handled < rebuildTestHooks.maxStepsPerCall) &&
        fitsBudget(await usage(ctx), addUsage(addUsage(costliest, costliest), LOOKUP_COST)));

    if (at.phase === "orphans" && examId !== undefined) at.phase = "streams"; // one exam: its answers are reached through its rows
    if (at.phase === "orphans") {
      // Answers whose participation is gone, swept first: the streams phase never leaves any, and after the
      // projections were emptied there is nothing to read. One read of the answers in participation order, one get per participation.
      const answers = iterate(
        ctx.db
          .query("examAnswers")
          .withIndex("by_participation_and_question", (q) =>
            at.afterParticipationId === undefined ? q : q.gt("participationId", at.afterParticipationId),
          ),
      );
      let answer = await pull(answers);
      while (answer !== null && (await roomFor())) {
        const before = await usage(ctx);
        const { participationId } = answer;
        const group: Doc<"examAnswers">[] = [];
        for (; answer !== null && answer.participationId === participationId; answer = await pull(answers)) group.push(answer);
        if ((await ctx.db.get("examParticipations", participationId)) === null) {
          for (const orphan of group) await ctx.db.delete("examAnswers", orphan._id);
          result.orphanAnswersRemoved += group.length;
        }
        at.afterParticipationId = participationId;
        handled += 1;
        costliest = maxUsage(costliest, costBetween(before, await usage(ctx)));
      }
      if (answer === null) Object.assign(at, { phase: "streams", after: null, afterParticipationId: undefined });
    }

    // Counter changes of this call's attempts: written once at its end, or dropped when the exam's counters are reset.
    const pending = new PendingCounters();
    // Exams whose every stream this call has counted: only their counts are exact (one transaction), so only
    // they may be reset. An exam the walk entered in an earlier call keeps its counters and gets this call's
    // deltas: students may have written to its streams in between, and their deltas are already in the shards.
    const countedWhole = new Set<string>();
    while (at.recount !== undefined && at.recount.length > 0 && (await roomFor())) {
      const exam = at.recount[0]!;
      const recounted = await recountCounters(ctx, exam, handled === 0);
      if (recounted === "no_room") break;
      if (recounted === "too_big") result.examsCountersNotRecounted.push(exam);
      else result.documentsWritten += recounted;
      at.recount.shift();
      handled += 1;
    }
    const recountPending = () => at.recount !== undefined && at.recount.length > 0;
    const nextStream = streamsAfter(ctx, examId, at.after);
    while (at.phase === "streams" && !recountPending()) {
      if (!(await roomFor())) break;
      const before = await usage(ctx);
      const found = await nextStream();
      if (at.after !== null && found?.stream.examId !== at.after.examId) {
        // The walk has left an exam: its counters are set from its rebuilt rows, if all were counted here.
        if (countedWhole.has(at.after.examId)) {
          result.documentsWritten += await resetCounters(ctx, at.after.examId, at.counts);
          pending.discard(at.after.examId);
        } else {
          // Counts gathered over several calls would miss students' writes in between: recount in one transaction.
          at.recount = [...(at.recount ?? []), at.after.examId];
        }
        at.counts = {};
      }
      if (found === null) {
        at.phase = "recount";
        break;
      }
      const { stream } = found;
      if (at.after === null || at.after.examId !== stream.examId) countedWhole.add(stream.examId);
      const target = rowsFromEvents(found.docs);
      const [keep, ...extra] = found.rows;
      if (typeof target === "string") {
        result.skippedStreams.push({ ...stream, reason: target });
        if (keep) countRows(at.counts, counterShard(stream.userId), { participation: keep, answers: await loadAnswers(ctx, keep._id) });
      } else {
        for (const row of extra) {
          for (const answer of await loadAnswers(ctx, row._id)) await ctx.db.delete("examAnswers", answer._id);
          await ctx.db.delete("examParticipations", row._id);
          result.participationsRemoved += 1;
        }
        const stored = { row: keep ?? null, answers: keep === undefined ? [] : await loadAnswers(ctx, keep._id) };
        const written = await writeAttemptRows(ctx, stream, stored, target, pending);
        result.documentsWritten += written.documentsWritten;
        if (target.participation === null && keep !== undefined) result.participationsRemoved += 1;
        countRows(at.counts, counterShard(stream.userId), target);
        result.streamsRebuilt += 1;
      }
      at.after = stream;
      handled += 1;
      costliest = maxUsage(costliest, costBetween(before, await usage(ctx)));
    }
    await pending.flush(ctx);
    if (at.phase === "recount" && !recountPending()) result.isDone = true;
    if (result.isDone) return result;
    result.continueCursor = JSON.stringify(at);
    return result;
  },
});

/**
 * Sets an exam's counters from its rows, read in this one transaction (exact whatever students do
 * around it). "too_big" when its rows do not fit in the budget (`alone`: the call has done nothing else;
 * its counters then keep the rebuild's exact deltas); "no_room": try again in the next call.
 */
async function recountCounters(ctx: MutationCtx, examId: Id<"exams">, alone: boolean): Promise<number | "too_big" | "no_room"> {
  const counts: Record<number, Counts> = {};
  for await (const row of ctx.db.query("examParticipations").withIndex("by_exam_and_user", (q) => q.eq("examId", examId))) {
    if (!fitsBudget(await usage(ctx), LOOKUP_COST)) return alone ? "too_big" : "no_room";
    countRows(counts, counterShard(row.userId), { participation: row, answers: await loadAnswers(ctx, row._id) });
  }
  return resetCounters(ctx, examId, counts);
}

/** Runs rebuildProjections call after call until done (each call its own transaction). */
export const rebuildAllProjections = internalAction({
  args: { examId: v.optional(v.id("exams")) },
  handler: async (ctx, { examId }) => {
    const totals = { calls: 0, streamsRebuilt: 0, documentsWritten: 0, participationsRemoved: 0, orphanAnswersRemoved: 0 };
    const skippedStreams: { examId: Id<"exams">; userId: Id<"users">; reason: string }[] = [];
    let cursor: string | undefined;
    for (;;) {
      const r: {
        streamsRebuilt: number;
        documentsWritten: number;
        participationsRemoved: number;
        orphanAnswersRemoved: number;
        skippedStreams: { examId: Id<"exams">; userId: Id<"users">; reason: string }[];
        isDone: boolean;
        continueCursor: string;
      } = await ctx.runMutation(internal.projections.rebuild.rebuildProjections, { examId, cursor });
      totals.calls += 1;
      totals.streamsRebuilt += r.streamsRebuilt;
      totals.documentsWritten += r.documentsWritten;
      totals.participationsRemoved += r.participationsRemoved;
      totals.orphanAnswersRemoved += r.orphanAnswersRemoved;
      skippedStreams.push(...r.skippedStreams);
      if (r.isDone) return { ...totals, skippedStreams, isDone: true };
      cursor = r.continueCursor;
    }
  },
});

// ---------------------------------------------------------------- verification

type ProjectionIssue = VerificationIssue | { kind: string; examId: string; userId?: string; version?: number; message: string };

/** One page of verifyProjections: streams replayed and compared with their rows, hash chains checked. */
export const verifyProjectionsPage = internalQuery({
  args: { examId: v.optional(v.id("exams")), cursor: v.optional(v.union(v.string(), v.null())) },
  handler: async (ctx, { examId, cursor }) => {
    const at = parseCursor(cursor);
    const issues: ProjectionIssue[] = [];
    const summary = { streams: 0, events: 0, participations: 0, answers: 0 };
    const examsLeft: { examId: Id<"exams">; counts: Record<number, Counts> }[] = [];
    let costliest: Usage = NO_USAGE;
    let handled = 0;
    const roomFor = async () => handled === 0 || fitsBudget(await usage(ctx), addUsage(addUsage(costliest, costliest), LOOKUP_COST));
    // The log and the rows walked side by side (the rebuild's walk): one answers read per stream, no lookups.
    const nextStream = streamsAfter(ctx, examId, at.after);
    while (at.phase === "streams") {
      if (!(await roomFor())) return { issues, summary, examsLeft, isDone: false, continueCursor: JSON.stringify(at) };
      const before = await usage(ctx);
      const found = await nextStream();
      if (at.after !== null && found?.stream.examId !== at.after.examId) {
        examsLeft.push({ examId: at.after.examId, counts: at.counts });
        at.counts = {};
      }
      if (found === null) {
        if (examId !== undefined) return { issues, summary, examsLeft, isDone: true, continueCursor: "" };
        Object.assign(at, { phase: "orphans", after: null });
        break;
      }
      const { stream, docs, rows } = found;
      const where = { examId: stream.examId as string, userId: stream.userId as string };
      const expected = rowsFromEvents(docs);
      const chain = await checkChainBatch(
        docs.map((d) => ({ ...d, eventId: d._id })),
        null,
        true,
      );
      issues.push(...chain.issues);
      const answers = rows[0] === undefined ? [] : (await loadAnswers(ctx, rows[0]._id)).map(answerRowOf);
      if (typeof expected !== "string") {
        const stored = rows.map((r) => ({ _id: r._id as string, ...rowFields(r) }));
        issues.push(...compareProjection(where, expected, stored, answers));
      }
      summary.streams += 1;
      summary.events += docs.length;
      summary.participations += rows.length;
      summary.answers += answers.length;
      if (rows[0] !== undefined) countRows(at.counts, counterShard(stream.userId), { participation: rows[0], answers });
      at.after = stream;
      handled += 1;
      costliest = maxUsage(costliest, costBetween(before, await usage(ctx)));
    }
    while (at.phase === "orphans") {
      if (!(await roomFor())) return { issues, summary, examsLeft, isDone: false, continueCursor: JSON.stringify(at) };
      const before = await usage(ctx);
      const next = await ctx.db
        .query("examAnswers")
        .withIndex("by_participation_and_question", (q) =>
          at.afterParticipationId === undefined ? q : q.gt("participationId", at.afterParticipationId),
        )
        .first();
      if (next === null) break;
      if ((await ctx.db.get("examParticipations", next.participationId)) === null) {
        const orphans = await loadAnswers(ctx, next.participationId);
        issues.push({
          kind: "orphan_answers",
          examId: "unknown",
          actual: orphans.length,
          message: `${orphans.length} answer row(s) of participation ${next.participationId}, which does not exist`,
        });
      }
      at.afterParticipationId = next.participationId;
      handled += 1;
      costliest = maxUsage(costliest, costBetween(before, await usage(ctx)));
    }
    return { issues, summary, examsLeft, isDone: true, continueCursor: "" };
  },
});

function rowFields(row: Doc<"examParticipations">) {
  const { _id: _i, _creationTime: _c, examId: _e, userId: _u, ...fields } = row;
  return fields;
}

/** An exam's counter shards. */
export const countersOf = internalQuery({
  args: { examId: v.id("exams") },
  handler: async (ctx, { examId }) =>
    ctx.db
      .query("examCounterShards")
      .withIndex("by_exam_and_shard", (q) => q.eq("examId", examId))
      .take(COUNTER_SHARDS * 4),
});

/**
 * Replays every stream (or one exam's) and compares the result with the stored
 * rows, checks each stream's hash chain, the exams' counters, and (whole run)
 * answers without a participation. Writes nothing.
 */
export const verifyProjections = internalAction({
  args: { examId: v.optional(v.id("exams")) },
  handler: async (ctx, { examId }) => {
    const issues: ProjectionIssue[] = [];
    const summary = { streams: 0, events: 0, participations: 0, answers: 0 };
    let cursor: string | undefined;
    for (;;) {
      const page: {
        issues: ProjectionIssue[];
        summary: typeof summary;
        examsLeft: { examId: Id<"exams">; counts: Record<number, Counts> }[];
        isDone: boolean;
        continueCursor: string;
      } = await ctx.runQuery(internal.projections.rebuild.verifyProjectionsPage, { examId, cursor });
      issues.push(...page.issues);
      for (const k of Object.keys(summary) as (keyof typeof summary)[]) summary[k] += page.summary[k];
      for (const { examId: exam, counts } of page.examsLeft) {
        const shards: Doc<"examCounterShards">[] = await ctx.runQuery(internal.projections.rebuild.countersOf, { examId: exam });
        for (let shard = 0; shard < COUNTER_SHARDS; shard++) {
          const want = counts[shard] ?? NO_COUNTS;
          const haveDocs = shards.filter((s) => s.shard === shard);
          const have = haveDocs.reduce<Counts>((sum, d) => addCounts(sum, d), NO_COUNTS);
          if (haveDocs.length <= 1 && sameCounts(have, want)) {
            continue;
          }
          issues.push({
            kind: "counter_mismatch",
            examId: exam,
            field: `shard ${shard}`,
            expected: want,
            actual: have,
            message: `${exam}: counter shard ${shard} says ${JSON.stringify(have)}, the rows give ${JSON.stringify(want)}`,
          });
        }
      }
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    return { isValid: issues.length === 0, issues, summary };
  },
});
