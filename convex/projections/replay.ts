/**
 * Rebuild and verify the V2 projections from the log (docs/operations.md), one budgeted
 * page at a time; the Convex functions are projections/rebuild.ts. A rebuild page
 * replays each attempt's stream with projectStream (the one definition) and
 * writes the difference with writeAttemptRows, each attempt inside one
 * transaction (so students may keep writing); participation ids stay; rows with
 * no events are removed; duplicate rows and orphan answers too. A verify page
 * replays and compares, writing nothing. Both walk the log and the rows with
 * streamsAfter (projections/walk.ts).
 *
 * @example
 * const page = await rebuildPage(ctx, { examId, cursor });   // { streamsRebuilt, ..., isDone, continueCursor }
 * const check = await verifyPage(ctx, { cursor });          // { issues, summary, examsLeft, isDone, continueCursor }
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { NO_USAGE, addUsage, costBetween, fitsBudget, maxUsage, transactionUsage as usage, type Usage } from "../lib/budget";
import { toRecordedEvent } from "../events/store";
import { checkChainBatch } from "../events/chain";
import { WORK_BOUNDS } from "../lib/limits";
import { compareProjection } from "./verification";
import type { Issue } from "../lib/issues";
import { answerRowOf, participationRowOf, projectStream, type AttemptRows } from "./attempt";
import { deleteStoredAttempt, loadAnswers, storedAttemptOf, writeAttemptRows } from "./tables";
import { PendingCounters, countRows, counterShard, resetCounters, type Counts } from "./counters";
import { iterate, parseReplayCursor, pull, streamsAfter } from "./walk";

/** Room for one more stream: twice the costliest stream of this call so far, plus the next lookups. */
const LOOKUP_COST: Usage = { bytesRead: 64 * 1024, bytesWritten: 8 * 1024, documentsRead: 20, documentsWritten: 10, databaseQueries: 20 };

/** The rows a stream's events give, or why they cannot be read (the stream is then left alone). */
function rowsFromEvents(docs: readonly Doc<"examEvents">[]): AttemptRows | string {
  try {
    return projectStream(docs.map(toRecordedEvent));
  } catch (error) {
    return `unreadable event: ${String(error)}`;
  }
}

export type PageArgs = {
  /** Only this exam's streams (absent: the whole log). */
  examId?: Id<"exams">;
  /** The previous call's continueCursor (absent: from the start). */
  cursor?: string | null;
};

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
export async function rebuildPage(
  ctx: MutationCtx,
  {
    examId,
    cursor,
    maxSteps,
  }: PageArgs & {
    /** Stop after this many steps (streams, exams recounted, participations swept): tests exercise resuming with it. */
    maxSteps?: number;
  },
) {
  const at = parseReplayCursor(cursor, "orphans");
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
    (handled < (maxSteps ?? WORK_BOUNDS.streamsPerPage) &&
      fitsBudget(await usage(ctx), addUsage(addUsage(costliest, costliest), LOOKUP_COST)));

  if (at.phase === "orphans" && examId !== undefined) at.phase = "streams"; // one exam: its answers are reached through its rows
  /**
   * One orphan sweep from where the cursor stands: `docs` in participation order, grouped by
   * participation, one get per participation; `remove` deletes a group whose participation is gone.
   * True when the table is swept.
   */
  const sweep = async <D extends { participationId: Id<"examParticipations"> }>(
    docs: AsyncIterable<D>,
    remove: (group: D[]) => Promise<void>,
  ): Promise<boolean> => {
    const it = iterate(docs);
    let doc = await pull(it);
    while (doc !== null && (await roomFor())) {
      const before = await usage(ctx);
      const { participationId } = doc;
      const group: D[] = [];
      for (; doc !== null && doc.participationId === participationId; doc = await pull(it)) group.push(doc);
      if ((await ctx.db.get("examParticipations", participationId)) === null) await remove(group);
      at.afterParticipationId = participationId;
      handled += 1;
      costliest = maxUsage(costliest, costBetween(before, await usage(ctx)));
    }
    return doc === null;
  };
  if (at.phase === "orphans") {
    // Answers whose participation is gone, swept first: the streams phase never leaves any, and after the
    // projections were emptied there is nothing to read.
    const from = at.afterParticipationId;
    const answers = ctx.db
      .query("examAnswers")
      .withIndex("by_participation_and_question", (q) => (from === undefined ? q : q.gt("participationId", from)));
    const swept = await sweep(answers, async (group) => {
      for (const orphan of group) await ctx.db.delete("examAnswers", orphan._id);
      result.orphanAnswersRemoved += group.length;
    });
    if (swept) Object.assign(at, { phase: "streams", after: null, afterParticipationId: undefined });
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
        await deleteStoredAttempt(ctx, await storedAttemptOf(ctx, row));
        result.participationsRemoved += 1;
      }
      const stored = await storedAttemptOf(ctx, keep ?? null);
      const written = await writeAttemptRows(ctx, stream, stored, target, { counters: pending });
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
}

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

/** One page of the verification: streams replayed and compared with their rows, hash chains checked. */
export async function verifyPage(ctx: QueryCtx, { examId, cursor }: PageArgs) {
  const at = parseReplayCursor(cursor);
  const issues: Issue[] = [];
  const summary = { streams: 0, events: 0, participations: 0, answers: 0 };
  const examsLeft: { examId: Id<"exams">; counts: Record<number, Counts> }[] = [];
  let costliest: Usage = NO_USAGE;
  let handled = 0;
  const roomFor = async () =>
    handled === 0 ||
    (handled < WORK_BOUNDS.streamsPerPage && fitsBudget(await usage(ctx), addUsage(addUsage(costliest, costliest), LOOKUP_COST)));
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
      const stored = rows.map((r) => ({ _id: r._id as string, ...participationRowOf(r) }));
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
  /**
   * One orphan check per participation from where the cursor stands: `next` is the first document after a
   * participation id, `report` names the orphans of the participation of `doc`, which is gone. False when the budget ran out.
   */
  const check = async <D extends { participationId: Id<"examParticipations"> }>(
    next: (after: Id<"examParticipations"> | undefined) => Promise<D | null>,
    report: (doc: D) => Promise<Issue> | Issue,
  ): Promise<boolean> => {
    for (;;) {
      if (!(await roomFor())) return false;
      const before = await usage(ctx);
      const doc = await next(at.afterParticipationId);
      if (doc === null) return true;
      if ((await ctx.db.get("examParticipations", doc.participationId)) === null) issues.push(await report(doc));
      at.afterParticipationId = doc.participationId;
      handled += 1;
      costliest = maxUsage(costliest, costBetween(before, await usage(ctx)));
    }
  };
  const stopped = () => ({ issues, summary, examsLeft, isDone: false, continueCursor: JSON.stringify(at) });
  if (at.phase === "orphans") {
    const answersChecked = await check(
      (after) =>
        ctx.db
          .query("examAnswers")
          .withIndex("by_participation_and_question", (q) => (after === undefined ? q : q.gt("participationId", after)))
          .first(),
      async ({ participationId }) => {
        const orphans = await loadAnswers(ctx, participationId);
        return {
          kind: "orphan_answers",
          examId: "unknown",
          actual: orphans.length,
          message: `${orphans.length} answer row(s) of participation ${participationId}, which does not exist`,
        };
      },
    );
    if (!answersChecked) return stopped();
  }
  return { issues, summary, examsLeft, isDone: true, continueCursor: "" };
}
