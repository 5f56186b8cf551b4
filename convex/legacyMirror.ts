/**
 * Operator commands for the legacy mirror (projections/mirrorJob.ts), and the
 * mirror's scheduled job. Internal: run with `npx convex run`.
 *
 * @example
 * npx convex run legacyMirror:legacyMirrorStatus            # each exam's lag; follow continueCursor until isDone
 * npx convex run legacyMirror:drainLegacyMirror            # mirrors everything now; reports when every array is current
 * npx convex run legacyMirror:setExamLegacyMirror '{"examId":"…","enabled":false}'
 * npx convex run legacyMirror:setExamLegacyMirror '{"examId":"…","enabled":true}'   # resync; again with {"cursor": continueCursor} until isDone
 * npx convex run legacyMirror:setGlobalLegacyMirror '{"enabled":false}'
 * npx convex run legacyMirror:setLegacyMirrorSync '{"sync":true}'                 # every exam, zero lag
 * npx convex run legacyMirror:setLegacyMirrorSync '{"examId":"…","sync":true}'    # one exam
 */
import { v, type Infer } from "convex/values";
import { nullable, vRequired } from "convex-helpers/validators";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { internalAction, internalQuery, type QueryCtx } from "./_generated/server";
import { internalMutation } from "./headers/functions";
import { domainError } from "./lib/errors";
import { LOOP_SHARES, budgetSpent } from "./lib/budget";
import { ensureExamHeader } from "./headers/examHeaders";
import { getExamHeader } from "./lib/examHeaders";
import { resyncPage, vResyncCursor } from "./projections/resync";
import schema from "./schema";
import {
  drainExamMirror,
  legacyMirrorGloballyEnabled,
  legacyMirrorGloballySync,
  mirrorEnabledFor,
  mirrorLag,
  runSettledMirror,
  unmirroredCheck,
  vMirrorLag,
  vMirrorRunResult,
} from "./projections/mirrorJob";

/** A status, drain or sync page stops taking exams once any of its figures passes its share of a Convex limit. */
function pageBudgetSpent(ctx: QueryCtx, share: number = LOOP_SHARES.statusPage): Promise<boolean> {
  return budgetSpent(ctx, share);
}

function parseCursor(cursor: string | null | undefined): number {
  const after = cursor === undefined || cursor === null || cursor === "" ? -Infinity : Number(cursor);
  if (Number.isNaN(after)) throw domainError("INVALID_ARGUMENT", `Bad cursor ${cursor}.`);
  return after;
}

/** The next exam header after `after` (creation time), one at a time. */
async function nextHeader(ctx: QueryCtx, after: number) {
  const [header] = await ctx.db
    .query("examHeaders")
    .withIndex("by_creation_time", (q) => q.gt("_creationTime", after))
    .take(1);
  return header ?? null;
}

const headerFields = schema.tables.examHeaders.validator.fields;
const vMirrorStatus = v.object({
  globallyEnabled: v.boolean(),
  globallySync: v.boolean(),
  exams: v.array(
    v.object({
      examId: v.id("exams"),
      title: v.string(),
      legacyMirror: v.boolean(),
      legacyCleared: v.boolean(),
      /** The exam's own synchronous mode (null: the global default). */
      sync: nullable(vRequired(headerFields.legacyMirrorSync)),
      legacyMirrorFailure: headerFields.legacyMirrorFailure,
      arrayCurrent: v.boolean(),
      lag: vMirrorLag,
    }),
  ),
  isDone: v.boolean(),
  continueCursor: v.string(),
});

/**
 * The global switches and every exam's mirror state and lag: events past the array's watermark
 * (counted up to LAG_COUNT_CAP, `eventsAtLeast` beyond), the oldest one's time and age, whether the
 * array is current. A page ends once 15% of any limit is used: follow `continueCursor` until `isDone`.
 */
export const legacyMirrorStatus = internalQuery({
  args: { cursor: v.optional(v.union(v.string(), v.null())) },
  returns: vMirrorStatus,
  handler: async (ctx, { cursor }) => {
    const now = Date.now();
    const exams: Infer<typeof vMirrorStatus>["exams"] = [];
    let after = parseCursor(cursor);
    let isDone = true;
    for (;;) {
      if (exams.length > 0 && (await pageBudgetSpent(ctx))) {
        isDone = false;
        break;
      }
      const d = await nextHeader(ctx, after);
      if (d === null) break;
      after = d._creationTime;
      const lag = await mirrorLag(ctx, d.examId, { count: true, now });
      exams.push({
        examId: d.examId,
        title: d.title,
        legacyMirror: d.legacyMirror,
        legacyCleared: d.legacyCleared,
        sync: d.legacyMirrorSync ?? null,
        ...(d.legacyMirrorFailure === undefined ? {} : { legacyMirrorFailure: d.legacyMirrorFailure }),
        arrayCurrent: mirrorEnabledFor(d) && lag.current,
        lag,
      });
    }
    return {
      globallyEnabled: await legacyMirrorGloballyEnabled(ctx),
      globallySync: await legacyMirrorGloballySync(ctx),
      exams,
      isDone,
      continueCursor: String(after),
    };
  },
});

/** Which of `userIds` have live events on the exam that its array does not reflect yet (verification's pending entries). */
export const unmirroredUsers = internalQuery({
  args: { examId: v.id("exams"), userIds: v.array(v.id("users")) },
  returns: v.array(v.id("users")),
  handler: async (ctx, { examId, userIds }) => {
    const unmirrored = await unmirroredCheck(ctx, examId, await getExamHeader(ctx, examId));
    const out: Id<"users">[] = [];
    for (const userId of userIds) if (await unmirrored(userId)) out.push(userId);
    return out;
  },
});

/** The mirror job: scheduled by every student action (MIRROR_RUN_DELAY_MS ahead), and by a run that reached its budget. */
export const runExamMirror = internalMutation({
  args: { examId: v.id("exams") },
  returns: vMirrorRunResult,
  handler: async (ctx, { examId }) => runSettledMirror(ctx, examId, await getExamHeader(ctx, examId)),
});

const vDrainTotals = { examsDrained: v.number(), liveEvents: v.number(), entriesWritten: v.number(), examDocumentWrites: v.number() };
const vDrainPage = v.object({ ...vDrainTotals, isDone: v.boolean(), continueCursor: v.string() });

/** One page of drainLegacyMirror: exams from `cursor` mirrored to their latest event, while the budget lasts. */
export const drainLegacyMirrorPage = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())) },
  returns: vDrainPage,
  handler: async (ctx, { cursor }) => {
    const page = { examsDrained: 0, liveEvents: 0, entriesWritten: 0, examDocumentWrites: 0, isDone: true, continueCursor: "" };
    let after = parseCursor(cursor);
    for (;;) {
      if (page.examsDrained > 0 && (await pageBudgetSpent(ctx, LOOP_SHARES.drainPage))) {
        page.isDone = false;
        break;
      }
      const d = await nextHeader(ctx, after);
      if (d === null) break;
      const run = await drainExamMirror(ctx, d.examId, d);
      page.liveEvents += run.liveEvents;
      page.entriesWritten += run.entriesWritten;
      page.examDocumentWrites += Number(run.examWritten);
      if (!run.isDone) {
        page.isDone = false; // the same exam again, next page
        break;
      }
      page.examsDrained += 1;
      after = d._creationTime;
    }
    page.continueCursor = String(after);
    return page;
  },
});

/**
 * Mirrors every exam's log into its array now (rollback option 2 starts here), then reads the status
 * back: `arraysCurrent` is true when every exam whose mirror is on has its array at its latest event.
 * Exams with the mirror off, failed or cleared are listed in `notMirrored` (their arrays are not kept).
 */
export const drainLegacyMirror = internalAction({
  args: {},
  returns: v.object({
    calls: v.number(),
    ...vDrainTotals,
    /** True when every exam whose mirror is on has its array at its latest event. */
    arraysCurrent: v.boolean(),
    lagging: v.array(v.object({ examId: v.id("exams"), events: v.number() })),
    notMirrored: v.array(v.object({ examId: v.id("exams"), reason: v.string() })),
  }),
  handler: async (ctx) => {
    const totals = { calls: 0, examsDrained: 0, liveEvents: 0, entriesWritten: 0, examDocumentWrites: 0 };
    for (let cursor: string | undefined; ;) {
      const page: Infer<typeof vDrainPage> = await ctx.runMutation(internal.legacyMirror.drainLegacyMirrorPage, { cursor });
      totals.calls += 1;
      totals.examsDrained += page.examsDrained;
      totals.liveEvents += page.liveEvents;
      totals.entriesWritten += page.entriesWritten;
      totals.examDocumentWrites += page.examDocumentWrites;
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    const lagging: { examId: Id<"exams">; events: number }[] = [];
    const notMirrored: { examId: Id<"exams">; reason: string }[] = [];
    for (let cursor: string | undefined; ;) {
      const page: Infer<typeof vMirrorStatus> = await ctx.runQuery(internal.legacyMirror.legacyMirrorStatus, { cursor });
      for (const e of page.exams) {
        if (e.legacyCleared) notMirrored.push({ examId: e.examId, reason: "array cleared by cleanup" });
        else if (e.legacyMirrorFailure !== undefined) notMirrored.push({ examId: e.examId, reason: "mirror failed (document too big)" });
        else if (!e.legacyMirror) notMirrored.push({ examId: e.examId, reason: "mirror switched off" });
        else if (!e.arrayCurrent) lagging.push({ examId: e.examId, events: e.lag.events });
      }
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    return { ...totals, arraysCurrent: lagging.length === 0, lagging, notMirrored };
  },
});

/**
 * The mirror's synchronous mode, for one exam (`examId`) or as the global default. Synchronous: each
 * student action mirrors inside its own transaction (zero lag; every student of the exam then reads and
 * writes the exam document, as V1 did, and contends). `sync: null` with an `examId` returns the exam to
 * the global default. Asynchronous (default): the per-exam job mirrors, MIRROR_SETTLE_MS behind.
 */
export const setLegacyMirrorSync = internalMutation({
  args: { examId: v.optional(v.id("exams")), sync: v.union(v.boolean(), v.null()) },
  returns: v.object({ examId: v.optional(v.id("exams")), sync: v.union(v.boolean(), v.null()) }),
  handler: async (ctx, { examId, sync }) => {
    if (examId !== undefined) {
      const { header: header } = await ensureExamHeader(ctx, examId);
      await ctx.db.patch("examHeaders", header._id, { legacyMirrorSync: sync ?? undefined });
      // The first synchronous action folds whatever the job had not yet: nothing is skipped.
      return { examId, sync };
    }
    if (sync === null) throw domainError("INVALID_ARGUMENT", "The global mode is true or false; null applies to one exam only.");
    const doc = await ctx.db
      .query("examApiSettings")
      .withIndex("by_key", (q) => q.eq("key", "legacyMirrorSync"))
      .unique();
    if (doc === null) await ctx.db.insert("examApiSettings", { key: "legacyMirrorSync", enabled: sync });
    else await ctx.db.patch("examApiSettings", doc._id, { enabled: sync });
    return { sync };
  },
});

/**
 * Switches the mirror for all exams. Off: each exam's own switch turns off on its
 * next write (its array goes stale and V1 serves it from V2). On again: exams
 * not written meanwhile resume mirroring; the others need setExamLegacyMirror.
 */
export const setGlobalLegacyMirror = internalMutation({
  args: { enabled: v.boolean() },
  returns: v.object({ enabled: v.boolean() }),
  handler: async (ctx, { enabled }) => {
    const doc = await ctx.db
      .query("examApiSettings")
      .withIndex("by_key", (q) => q.eq("key", "legacyMirror"))
      .unique();
    if (doc === null) await ctx.db.insert("examApiSettings", { key: "legacyMirror", enabled });
    else await ctx.db.patch("examApiSettings", doc._id, { enabled });
    return { enabled };
  },
});

/**
 * Switches one exam's mirror. Turning it on resyncs the exam's array from the V2 tables (each user's first
 * entry replaced, users missing from it appended, nothing reordered) and clears a recorded failure; it
 * refuses with a coded error, changing nothing, if the array would not fit in the document or the exam was
 * cleaned up. An exam one call cannot read whole is resynced in pages (projections/resync.ts): call again
 * with `cursor: continueCursor` until `isDone`; the mirror turns on with the last page.
 */
export const setExamLegacyMirror = internalMutation({
  args: { examId: v.id("exams"), enabled: v.boolean(), cursor: v.optional(v.union(vResyncCursor, v.null())) },
  returns: v.object({
    examId: v.id("exams"),
    legacyMirror: v.boolean(),
    entriesWritten: v.number(),
    isDone: v.optional(v.boolean()),
    continueCursor: v.optional(v.union(vResyncCursor, v.null())),
  }),
  handler: async (ctx, { examId, enabled, cursor }) => {
    const { header } = await ensureExamHeader(ctx, examId);
    if (!enabled) {
      await ctx.db.patch("examHeaders", header._id, { legacyMirror: false });
      return { examId, legacyMirror: false, entriesWritten: 0, isDone: true, continueCursor: null };
    }
    return { examId, ...(await resyncPage(ctx, examId, header, cursor ?? null)) };
  },
});
