/**
 * The counters' own job: folds an exam's counter shards into its summary, what the exam lists read. Every
 * shard write of a student's action schedules it (projections/counters.ts, bumpCounters), whatever the
 * legacy mirror does; a fold that finds the summary folded after the write had committed reads nothing more.
 */
import { v } from "convex/values";
import { internalMutation } from "../headers/functions";
import { foldCounterSummary } from "./counters";

export const foldExamCounters = internalMutation({
  /** `after`: when the shard write that scheduled it ran. */
  args: { examId: v.id("exams"), after: v.number() },
  returns: v.object({ folded: v.boolean() }),
  handler: async (ctx, { examId, after }) => ({ folded: await foldCounterSummary(ctx, examId, { after }) }),
});
