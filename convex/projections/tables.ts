/**
 * Reads and writes an attempt's V2 rows. The inline projector, rebuild and
 * cleanup all write through {@link writeAttemptRows}, so rows, participation ids,
 * and participant counters (projections/counters.ts) stay consistent whoever writes.
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { sameValue } from "../lib/values";
import type { StreamId } from "../events/store";
import { answerRowOf, participationRowOf, type AttemptRows } from "./attempt";
import { addCounts, bumpCounters, countsOfAttempt, type PendingCounters } from "./counters";

/** An attempt's rows as stored now. */
export type StoredAttempt = {
  row: Doc<"examParticipations"> | null;
  answers: Doc<"examAnswers">[];
};

export const NO_STORED_ATTEMPT: StoredAttempt = { row: null, answers: [] };

export async function loadParticipation(ctx: QueryCtx, stream: StreamId): Promise<Doc<"examParticipations"> | null> {
  return ctx.db
    .query("examParticipations")
    .withIndex("by_exam_and_user", (q) => q.eq("examId", stream.examId).eq("userId", stream.userId))
    .unique();
}

/** A participation's answers, in V1 array order. */
export async function loadAnswers(ctx: QueryCtx, participationId: Id<"examParticipations">): Promise<Doc<"examAnswers">[]> {
  const docs = await ctx.db
    .query("examAnswers")
    .withIndex("by_participation_and_question", (q) => q.eq("participationId", participationId))
    .collect();
  return docs.sort((a, b) => a.position - b.position);
}

export async function loadStoredAttempt(ctx: QueryCtx, stream: StreamId): Promise<StoredAttempt> {
  return storedAttemptOf(ctx, await loadParticipation(ctx, stream));
}

/** The answers stored with a participation row. */
export async function storedAttemptOf(ctx: QueryCtx, row: Doc<"examParticipations"> | null): Promise<StoredAttempt> {
  if (row === null) return NO_STORED_ATTEMPT;
  return { row, answers: await loadAnswers(ctx, row._id) };
}

/** Deletes a participation row with its answers. Returns the documents written. */
export async function deleteStoredAttempt(ctx: MutationCtx, stored: StoredAttempt): Promise<number> {
  for (const answer of stored.answers) await ctx.db.delete("examAnswers", answer._id);
  let written = stored.answers.length;
  if (stored.row !== null) {
    await ctx.db.delete("examParticipations", stored.row._id);
    written += 1;
  }
  return written;
}

/**
 * Makes the stored rows equal `rows`, writing only what differs. The participation
 * keeps its `_id` (rows are patched in place); answers are matched by position.
 * Counters are bumped at once, or collected in `counters` for the caller to flush.
 */
export async function writeAttemptRows(
  ctx: MutationCtx,
  stream: StreamId,
  stored: StoredAttempt,
  rows: AttemptRows,
  { counters }: { counters?: PendingCounters } = {},
): Promise<{ participationId: Id<"examParticipations"> | null; documentsWritten: number }> {
  const delta = addCounts(countsOfAttempt(rows.participation, rows.answers.length), countsOfAttempt(stored.row, stored.answers.length), -1);
  if (counters) counters.add(stream, delta);
  else await bumpCounters(ctx, stream, delta);
  let written = 0;
  const { row } = stored;
  if (rows.participation === null) return { participationId: null, documentsWritten: await deleteStoredAttempt(ctx, stored) };

  let participationId: Id<"examParticipations">;
  if (row === null) {
    participationId = await ctx.db.insert("examParticipations", { ...stream, ...rows.participation });
    written += 1;
  } else {
    participationId = row._id;
    if (!sameValue(participationRowOf(row), rows.participation)) {
      await ctx.db.replace("examParticipations", row._id, { ...stream, ...rows.participation });
      written += 1;
    }
  }

  const count = Math.max(stored.answers.length, rows.answers.length);
  for (let i = 0; i < count; i++) {
    const have = stored.answers[i];
    const want = rows.answers[i];
    if (want === undefined) {
      await ctx.db.delete("examAnswers", have!._id);
    } else if (have === undefined) {
      await ctx.db.insert("examAnswers", { participationId, ...want });
    } else if (have.participationId !== participationId || !sameValue(answerRowOf(have), want)) {
      await ctx.db.replace("examAnswers", have._id, { participationId, ...want });
    } else {
      continue;
    }
    written += 1;
  }
  return { participationId, documentsWritten: written };
}
