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
import { internalMutation, internalQuery } from "./_generated/server";
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

/**
 * Creates (or refreshes) the definition of every exam, a page at a time: the V2
 * exam list (getAllExamsMetadataV2) shows only exams that have one. Exam documents
 * can be 1 MiB each until cleanup, so pages are small.
 */
export const syncExamDefinitions = internalMutation({
  args: { cursor: v.optional(v.union(v.string(), v.null())), numItems: v.optional(v.number()) },
  handler: async (ctx, { cursor, numItems }) => {
    const page = await ctx.db
      .query("exams")
      .paginate({ cursor: cursor ?? null, numItems: Math.max(1, Math.min(numItems ?? 4, 4)) });
    for (const exam of page.page) await syncExamDefinition(ctx, exam);
    return { synced: page.page.length, isDone: page.isDone, continueCursor: page.continueCursor };
  },
});
