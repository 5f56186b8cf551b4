/**
 * The legacy mirror projector: after every live write, rewrites the user's
 * entry in `exams.participants` exactly as the V1 code would have left it, so
 * the operators can switch the frontend back to V1 or redeploy the old code
 * with nothing lost. Runs in the write's own mutation (called by executeCommand).
 *
 * The array is "current" (V1 may serve an exam from it) only while the exam's
 * mirror is on, never failed, the array not cleared and the global switch on.
 * Otherwise the V1 functions serve that exam from the V2 tables.
 *
 * @example
 * const outcome = await mirrorLegacyEntry(ctx, { examId, userId }, state);
 * // "written" | "off" | "failed" (the exam is flagged; the student's action still succeeds)
 */
import { getDocumentSize, type Value } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import type { V1Participant } from "../lib/validators";
import { CONVEX_LIMITS } from "../lib/limits";
import type { AttemptState } from "../events/decider";
import type { StreamId } from "../events/store";
import { ensureExamDefinition, type ExamDefinition } from "../model/examDefinitions";
import { entryOfFacts } from "../model/examViews";

/** Room left under Convex's 1 MiB document limit for our size estimate's error. */
export const MIRROR_SIZE_MARGIN_BYTES = 32 * 1024;

/** The global switch (absent = on). One small document read. */
export async function legacyMirrorGloballyEnabled(ctx: QueryCtx): Promise<boolean> {
  const doc = await ctx.db
    .query("examApiSettings")
    .withIndex("by_key", (q) => q.eq("key", "legacyMirror"))
    .unique();
  return doc?.enabled ?? true;
}

/** Whether the mirror may write this exam's array (per-exam switch, not cleared, not failed). */
export function mirrorEnabledFor(definition: ExamDefinition): boolean {
  return definition.legacyMirror && !definition.legacyCleared && definition.legacyMirrorFailure === undefined;
}

/**
 * Whether an exam's embedded array describes every attempt, so V1 may serve it.
 * An exam the new backend never touched (no definition) has only its array.
 * The global switch is read only when the definition alone says yes (or pass it in, read once).
 */
export async function arrayIsCurrent(
  ctx: QueryCtx,
  definition: ExamDefinition | null,
  globallyEnabled?: boolean,
): Promise<boolean> {
  if (definition === null) return true;
  return mirrorEnabledFor(definition) && (globallyEnabled ?? (await legacyMirrorGloballyEnabled(ctx)));
}

/** The array with `entry` in place of the user's FIRST entry (appended if absent). Never reorders. */
export function withEntry(participants: readonly V1Participant[], entry: V1Participant): V1Participant[] {
  const index = participants.findIndex((p) => p.userId === entry.userId);
  if (index === -1) return [...participants, entry];
  const out = [...participants];
  out[index] = entry;
  return out;
}

/** Why an exam document could not be stored (estimated with a safety margin), or null if it fits. */
export function documentLimitProblem(exam: Omit<Doc<"exams">, "_id" | "_creationTime"> & Partial<Doc<"exams">>): string | null {
  const entries = exam.participants?.length ?? 0;
  if (entries > CONVEX_LIMITS.arrayElements) {
    return `participants would have ${entries} entries (limit ${CONVEX_LIMITS.arrayElements})`;
  }
  const bytes = getDocumentSize(exam as Record<string, Value>);
  if (bytes + MIRROR_SIZE_MARGIN_BYTES > CONVEX_LIMITS.documentBytes) {
    return `exam document would be ${bytes} bytes (limit ${CONVEX_LIMITS.documentBytes} minus a ${MIRROR_SIZE_MARGIN_BYTES}-byte margin)`;
  }
  return null;
}

export type MirrorOutcome = "written" | "off" | "failed";

/**
 * Mirrors the attempt in `state` into the exam's array. Never throws for a
 * document that would be too big: it flags the exam and lets the write succeed.
 * While the global switch is off, the exam's own switch is turned off on its
 * first write (its array goes stale), so turning the global switch back on
 * never makes V1 trust an array that missed writes.
 */
export async function mirrorLegacyEntry(
  ctx: MutationCtx,
  stream: StreamId,
  state: AttemptState,
  now: number = Date.now(),
): Promise<MirrorOutcome> {
  const definition = await ensureExamDefinition(ctx, stream.examId);
  if (!mirrorEnabledFor(definition)) return "off";
  if (!(await legacyMirrorGloballyEnabled(ctx))) {
    await ctx.db.patch("examDefinitions", definition._id, { legacyMirror: false });
    return "off";
  }
  if (state.participation === null) return "off";
  const exam = await ctx.db.get("exams", stream.examId);
  if (exam === null) return "off";
  const entry = entryOfFacts(stream.userId, { ...state.participation, answers: state.answers });
  const participants = withEntry(exam.participants ?? [], entry);
  const problem = documentLimitProblem({ ...exam, participants });
  if (problem !== null) {
    await ctx.db.patch("examDefinitions", definition._id, {
      legacyMirrorFailure: { userId: stream.userId, reason: problem, at: now },
    });
    return "failed";
  }
  await ctx.db.patch("exams", exam._id, { participants });
  return "written";
}
