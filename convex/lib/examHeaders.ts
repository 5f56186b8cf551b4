/**
 * Reads of an exam's header (title, timing, pauses allowed, its migration and
 * mirror state) and question list, which every layer needs. Written only by
 * headers/examHeaders.ts.
 *
 * @example
 * const header = await getExamHeader(ctx, examId); // null: none yet
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";

export type ExamHeader = Doc<"examHeaders">;

export async function getExamHeader(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">): Promise<ExamHeader | null> {
  return ctx.db
    .query("examHeaders")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .first(); // a duplicate made around the keeper is read past, and removed by the header check
}

/** The exam's question list (ids in order, and ids removed since): what sessions and submissions read. */
export async function getQuestionList(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">): Promise<Doc<"examQuestionLists"> | null> {
  return ctx.db
    .query("examQuestionLists")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .first();
}

/**
 * How far every exam is known to have a header: the creation time up to which the last full pass of the
 * header check found and healed every exam (undefined: no pass has finished). Lists read the documents of
 * exams created after it. Written by the header check (headers/keeper.ts).
 */
export async function headersThrough(ctx: Pick<QueryCtx, "db">): Promise<number | undefined> {
  return (await loadHeaderPass(ctx))?.headerCheck?.headersThrough;
}

/** The header check's state: the "headers" document of `migrationProgress` (written only by headers/check.ts). */
export async function loadHeaderPass(ctx: Pick<QueryCtx, "db">): Promise<Doc<"migrationProgress"> | null> {
  return ctx.db
    .query("migrationProgress")
    .withIndex("by_pass", (q) => q.eq("pass", "headers"))
    .unique();
}

/**
 * The exam's header and question list as every read takes them (the first), and up to `n` copies of each
 * beyond it (made around the keeper: a dashboard copy), from the same two index ranges.
 */
export async function headerWithCopies(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">, n = 8) {
  const [headers, lists] = await Promise.all([
    ctx.db
      .query("examHeaders")
      .withIndex("by_exam", (q) => q.eq("examId", examId))
      .take(n + 1),
    ctx.db
      .query("examQuestionLists")
      .withIndex("by_exam", (q) => q.eq("examId", examId))
      .take(n + 1),
  ]);
  return {
    stored: { header: headers[0] ?? null, list: lists[0] ?? null },
    extra: { headers: headers.slice(1), lists: lists.slice(1) },
  };
}
