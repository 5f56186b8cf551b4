/**
 * The operator's functions to rebuild and verify the V2 projections from the log
 * (CONTRACT §4): thin, one budgeted page per call; the pages are
 * projections/replay.ts, the walk and its cursor projections/walk.ts, the
 * counters projections/counters.ts.
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
import { internalAction, internalQuery } from "../_generated/server";
import { internalMutation } from "../copies/functions";
import { COUNTER_SHARDS } from "../lib/limits";
import { counterMismatches, type Counts } from "./counters";
import { rebuildPage, verifyPage, type ProjectionIssue } from "./replay";

/** Rebuilds one page (see rebuildPage); pass `continueCursor` back as `cursor` until `isDone`. A bad cursor is INVALID_ARGUMENT. */
export const rebuildProjections = internalMutation({
  args: {
    examId: v.optional(v.id("exams")),
    cursor: v.optional(v.union(v.string(), v.null())),
    /** Stop after this many steps (streams, exams recounted, participations swept): to exercise resuming. */
    maxSteps: v.optional(v.number()),
  },
  handler: async (ctx, args) => rebuildPage(ctx, args),
});

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

/** One page of verifyProjections: streams replayed and compared with their rows, hash chains checked. */
export const verifyProjectionsPage = internalQuery({
  args: { examId: v.optional(v.id("exams")), cursor: v.optional(v.union(v.string(), v.null())) },
  handler: async (ctx, args) => verifyPage(ctx, args),
});

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
        issues.push(...counterMismatches(exam, counts, shards));
      }
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    return { isValid: issues.length === 0, issues, summary };
  },
});
