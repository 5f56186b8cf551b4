/**
 * Reads of the copies of an exam's facts that every layer needs: its definition
 * (title, timing, points available, the digest of its question facts, the legacy
 * flags) and its question list. Written only by copies/examDefinitions.ts.
 *
 * @example
 * const definition = await getExamDefinition(ctx, examId); // null: no copy yet
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";

export type ExamDefinition = Doc<"examDefinitions">;

export async function getExamDefinition(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">): Promise<ExamDefinition | null> {
  return ctx.db
    .query("examDefinitions")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .unique();
}

/** The exam's question list (ids in order, and ids removed since): what sessions and submissions read. */
export async function getQuestionList(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">): Promise<Doc<"examQuestionLists"> | null> {
  return ctx.db
    .query("examQuestionLists")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .unique();
}
