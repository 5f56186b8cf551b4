/**
 * The operator's functions to rebuild and verify the V2 projections from the log
 * (docs/operations.md): thin, one budgeted page per call; the pages are
 * projections/replay.ts, the walk and its cursor projections/walk.ts, the
 * counters projections/counters.ts.
 *
 * @example
 * let r = await ctx.runMutation(internal.projections.rebuild.rebuildProjections, {});
 * while (!r.isDone) r = await ctx.runMutation(internal.projections.rebuild.rebuildProjections, { cursor: r.continueCursor });
 * npx convex run --prod projections/rebuild:rebuildAllProjections
 * npx convex run --prod projections/rebuild:verifyProjections '{"examId": "..."}'
 */
import { v, type Infer } from "convex/values";
import { doc } from "convex-helpers/validators";
import { internal } from "../_generated/api";
import type { Doc } from "../_generated/dataModel";
import { internalAction, internalQuery } from "../_generated/server";
import { internalMutation } from "../headers/functions";
import { COUNTER_SHARDS } from "../lib/limits";
import { vIssue, type Issue } from "../lib/issues";
import schema from "../schema";
import { counterMismatches, vCounts } from "./counters";
import { rebuildPage, verifyPage } from "./replay";

const vSkippedStream = v.object({ examId: v.id("exams"), userId: v.id("users"), reason: v.string() });
const vRebuildTotals = {
  streamsRebuilt: v.number(),
  documentsWritten: v.number(),
  participationsRemoved: v.number(),
  orphanAnswersRemoved: v.number(),
};
const vRebuildPage = v.object({
  ...vRebuildTotals,
  skippedStreams: v.array(vSkippedStream),
  /** Exams whose rows were too many to recount in one transaction: their counters got the rebuild's exact deltas only. */
  examsCountersNotRecounted: v.array(v.id("exams")),
  isDone: v.boolean(),
  continueCursor: v.string(),
});

/** Rebuilds one page (see rebuildPage); pass `continueCursor` back as `cursor` until `isDone`. A bad cursor is INVALID_ARGUMENT. */
export const rebuildProjections = internalMutation({
  args: {
    examId: v.optional(v.id("exams")),
    cursor: v.optional(v.union(v.string(), v.null())),
    /** Stop after this many steps (streams, exams recounted, participations swept): to exercise resuming. */
    maxSteps: v.optional(v.number()),
  },
  returns: vRebuildPage,
  handler: async (ctx, args) => rebuildPage(ctx, args),
});

/** Runs rebuildProjections call after call until done (each call its own transaction). */
export const rebuildAllProjections = internalAction({
  args: { examId: v.optional(v.id("exams")) },
  returns: v.object({ calls: v.number(), ...vRebuildTotals, skippedStreams: v.array(vSkippedStream), isDone: v.boolean() }),
  handler: async (ctx, { examId }) => {
    const totals = {
      calls: 0,
      streamsRebuilt: 0,
      documentsWritten: 0,
      participationsRemoved: 0,
      orphanAnswersRemoved: 0,
    };
    const skippedStreams: Infer<typeof vSkippedStream>[] = [];
    let cursor: string | undefined;
    for (;;) {
      const r: Infer<typeof vRebuildPage> = await ctx.runMutation(internal.projections.rebuild.rebuildProjections, { examId, cursor });
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

const vProjectionSummary = v.object({ streams: v.number(), events: v.number(), participations: v.number(), answers: v.number() });
const vVerifyProjectionsPage = v.object({
  issues: v.array(vIssue),
  summary: vProjectionSummary,
  /** Exams the walk finished in this call, with the counts per shard their rows give. */
  examsLeft: v.array(v.object({ examId: v.id("exams"), counts: v.record(v.string(), vCounts) })),
  isDone: v.boolean(),
  continueCursor: v.string(),
});

/** One page of verifyProjections: streams replayed and compared with their rows, hash chains checked. */
export const verifyProjectionsPage = internalQuery({
  args: { examId: v.optional(v.id("exams")), cursor: v.optional(v.union(v.string(), v.null())) },
  returns: vVerifyProjectionsPage,
  handler: async (ctx, args) => verifyPage(ctx, args),
});

/** An exam's counter shards. */
export const countersOf = internalQuery({
  args: { examId: v.id("exams") },
  returns: v.array(doc(schema, "examCounterShards")),
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
  returns: v.object({ isValid: v.boolean(), issues: v.array(vIssue), summary: vProjectionSummary }),
  handler: async (ctx, { examId }) => {
    const issues: Issue[] = [];
    const summary = { streams: 0, events: 0, participations: 0, answers: 0 };
    let cursor: string | undefined;
    for (;;) {
      const page: Infer<typeof vVerifyProjectionsPage> = await ctx.runQuery(internal.projections.rebuild.verifyProjectionsPage, {
        examId,
        cursor,
      });
      issues.push(...page.issues);
      for (const k of Object.keys(summary) as (keyof typeof summary)[]) summary[k] += page.summary[k];
      for (const { examId: exam, counts } of page.examsLeft) {
        const shards: Doc<"examCounterShards">[] = await ctx.runQuery(internal.projections.rebuild.countersOf, { examId: exam });
        issues.push(...counterMismatches(exam, counts, shards));
      }
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    return { isValid: issues.length === 0, issues, summary };
  },
});
