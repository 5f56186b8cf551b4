/**
 * What per-student V2 paths need of an exam (title, questions, timing), kept
 * in `examDefinitions` so they never read the exam document, which carries the
 * whole legacy participants array until cleanup.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { domainError } from "../lib/errors";

export type ExamDefinition = Doc<"examDefinitions">;

export async function getExamDefinition(ctx: QueryCtx, examId: Id<"exams">): Promise<ExamDefinition | null> {
  return ctx.db
    .query("examDefinitions")
    .withIndex("by_exam", (q) => q.eq("examId", examId))
    .unique();
}

/**
 * Copies an exam's own fields into its definition (created on first use; refreshed
 * by the migration). Reads the exam document once: the only place V2 writes do.
 */
export async function syncExamDefinition(ctx: MutationCtx, exam: Doc<"exams">): Promise<ExamDefinition> {
  const existing = await getExamDefinition(ctx, exam._id);
  const fields = {
    title: exam.title,
    questionIds: exam.questionIds,
    durationMs: exam.durationMs,
    maxPauses: exam.maxPauses,
  };
  if (existing === null) {
    const id = await ctx.db.insert("examDefinitions", {
      examId: exam._id,
      ...fields,
      legacyMirror: true,
      legacyCleared: false,
    });
    return (await ctx.db.get("examDefinitions", id))!;
  }
  const changed = (Object.keys(fields) as (keyof typeof fields)[]).some(
    (k) => JSON.stringify(existing[k]) !== JSON.stringify(fields[k]),
  );
  if (!changed) return existing;
  await ctx.db.patch("examDefinitions", existing._id, fields);
  return { ...existing, ...fields };
}

/** The exam's definition, created from the exam document the first time it is needed. */
export async function ensureExamDefinition(ctx: MutationCtx, examId: Id<"exams">): Promise<ExamDefinition> {
  const existing = await getExamDefinition(ctx, examId);
  if (existing !== null) return existing;
  const exam = await ctx.db.get("exams", examId);
  if (exam === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  return syncExamDefinition(ctx, exam);
}
