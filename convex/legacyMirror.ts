/**
 * Operator commands for the legacy mirror (projections/legacyMirror.ts) and the
 * exam definitions the V2 reads rely on. Internal: run with `npx convex run`.
 *
 * @example
 * npx convex run legacyMirror:legacyMirrorStatus
 * npx convex run legacyMirror:setExamLegacyMirror '{"examId":"…","enabled":false}'
 * npx convex run legacyMirror:setGlobalLegacyMirror '{"enabled":false}'
 * npx convex run legacyMirror:syncExamDefinitions '{}'   # repeat with the returned cursor until isDone
 */
import { v } from "convex/values";
import { internalQuery, type QueryCtx } from "./_generated/server";
import { internalMutation } from "./lib/functions";
import { domainError } from "./lib/errors";
import { CONVEX_LIMITS } from "./lib/limits";
import { ensureExamDefinition, syncExamDefinition } from "./model/examDefinitions";
import { entryOfFacts, factsOfRow, LIMITS } from "./model/examViews";
import { loadAnswers } from "./projections/store";
import { documentLimitProblem, legacyMirrorGloballyEnabled, withEntry } from "./projections/legacyMirror";

/** The global switch and every exam's mirror state. */
export const legacyMirrorStatus = internalQuery({
  args: {},
  handler: async (ctx) => {
    const defs = await ctx.db.query("examDefinitions").take(LIMITS.exams);
    return {
      globallyEnabled: await legacyMirrorGloballyEnabled(ctx),
      exams: defs.map((d) => ({
        examId: d.examId,
        title: d.title,
        legacyMirror: d.legacyMirror,
        legacyCleared: d.legacyCleared,
        ...(d.legacyMirrorFailure === undefined ? {} : { legacyMirrorFailure: d.legacyMirrorFailure }),
      })),
    };
  },
});

/**
 * Switches the mirror for all exams. Off: each exam's own switch turns off on its
 * next write (its array goes stale and V1 serves it from V2). On again: exams
 * not written meanwhile resume mirroring; the others need setExamLegacyMirror.
 */
export const setGlobalLegacyMirror = internalMutation({
  args: { enabled: v.boolean() },
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
 * Switches one exam's mirror. Turning it on rewrites the exam's array from the
 * V2 tables in this one transaction (every user's first entry replaced, users
 * missing from it appended, nothing reordered) and clears a recorded failure;
 * it refuses, changing nothing, if the array would not fit in the document or
 * the exam was cleaned up.
 */
export const setExamLegacyMirror = internalMutation({
  args: { examId: v.id("exams"), enabled: v.boolean() },
  handler: async (ctx, { examId, enabled }) => {
    const definition = await ensureExamDefinition(ctx, examId);
    if (!enabled) {
      await ctx.db.patch("examDefinitions", definition._id, { legacyMirror: false });
      return { examId, legacyMirror: false, entriesWritten: 0 };
    }
    if (definition.legacyCleared) {
      throw domainError("INVALID_ARGUMENT", "This exam's array was cleared by cleanup; the mirror stays off.");
    }
    const exam = (await ctx.db.get("exams", examId))!;
    const rows = await ctx.db
      .query("examParticipations")
      .withIndex("by_exam_and_user", (q) => q.eq("examId", examId))
      .take(CONVEX_LIMITS.arrayElements + 1);
    let participants = exam.participants ?? [];
    for (const row of rows) {
      participants = withEntry(participants, entryOfFacts(row.userId, factsOfRow(row, await loadAnswers(ctx, row._id))));
    }
    const problem = documentLimitProblem({ ...exam, participants });
    if (problem !== null) throw domainError("INVALID_ARGUMENT", `Cannot mirror this exam: ${problem}.`);
    await ctx.db.patch("exams", examId, { participants });
    await ctx.db.patch("examDefinitions", definition._id, { legacyMirror: true, legacyMirrorFailure: undefined });
    return { examId, legacyMirror: true, entriesWritten: rows.length };
  },
});

/** A page stops taking exams once any of its transaction's figures passes this share of Convex's limit. */
const SYNC_PAGE_BUDGET_SHARE = 0.25;

async function syncBudgetSpent(ctx: QueryCtx): Promise<boolean> {
  const m = await ctx.meta.getTransactionMetrics();
  const over = (used: number, limit: number) => used >= limit * SYNC_PAGE_BUDGET_SHARE;
  return (
    over(m.bytesRead.used, CONVEX_LIMITS.bytesRead) ||
    over(m.documentsRead.used, CONVEX_LIMITS.documentsRead) ||
    over(m.bytesWritten.used, CONVEX_LIMITS.bytesWritten) ||
    over(m.documentsWritten.used, CONVEX_LIMITS.documentsWritten) ||
    over(m.databaseQueries.used, CONVEX_LIMITS.databaseQueries)
  );
}

/**
 * Creates or refreshes the definition AND the question sheet of every exam
 * (existing ones too: run it after editing an exam or its questions), writing
 * only differences, a page at a time: the V2 exam list shows only exams that
 * have a definition. One exam (document up to 1 MiB until cleanup, plus its
 * questions and sheet) is taken at a time; the page ends at `numItems` exams
 * (default 8, max 32) or once a quarter of any Convex limit is used, so the
 * exam that crossed it still ends within half. `continueCursor` is the last
 * synced exam's creation time.
 */
export const syncExamDefinitions = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())), numItems: v.optional(v.number()) },
  handler: async (ctx, { cursor, numItems }) => {
    const max = Math.max(1, Math.min(Math.floor(numItems ?? 8), 32));
    let after = cursor === undefined || cursor === null || cursor === "" ? -Infinity : Number(cursor);
    if (Number.isNaN(after)) throw domainError("INVALID_ARGUMENT", `Bad cursor ${cursor}.`);
    let synced = 0;
    for (;;) {
      const [exam] = await ctx.db
        .query("exams")
        .withIndex("by_creation_time", (q) => q.gt("_creationTime", after))
        .take(1);
      if (exam === undefined) return { synced, isDone: true, continueCursor: String(after) };
      await syncExamDefinition(ctx, exam);
      synced += 1;
      after = exam._creationTime;
      if (synced >= max || (await syncBudgetSpent(ctx))) return { synced, isDone: false, continueCursor: String(after) };
    }
  },
});
