/**
 * The record of exam and question changes (`examChanges`, docs/audit.md): written
 * by the keeper and by every path that syncs a header from its exam document, read
 * by the audit trail.
 *
 * - A record always fits: when its fields before and after are too large for one
 *   document (a question text of 600 KB, before and after), they are kept as JSON
 *   in continuation documents of the same table (`partOf`, `part`, `chunk`), which
 *   the head names (`parts`) and {@link readChange} joins back.
 * - An out-of-band edit absorbed by a sync is a "repair" record whose `since` says
 *   from when the exam was last known to match its header: the edit happened
 *   between `since` and `at`, when is not known ({@link lastKnownMatch}).
 *
 * @example
 * await recordChange(ctx, { questionId }, "update", { text: before }, { text: after });
 * const { before, after } = await readChange(ctx, head);
 */
import { convexToJson, jsonToConvex, type JSONValue, type Value } from "convex/values";
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import type { Actor } from "../lib/validators";
import { CREATION_SETTLE_MS } from "../lib/limits";
import type { Usage } from "../lib/budget";
import { sameValue } from "../lib/values";
import { loadHeaderPass } from "../lib/examHeaders";

type Ctx = Pick<MutationCtx, "db"> & Partial<Pick<MutationCtx, "auth">>;
export type ChangeOperation = Doc<"examChanges">["operation"];
export type ChangeTarget = { examId: Id<"exams"> } | { questionId: Id<"questions"> };

/**
 * Values kept in the head while their JSON is at most this many characters (≤ 3 bytes each in UTF-8: far
 * below Convex's 1 MiB document); longer, in continuation documents of at most CHUNK_CHARS each.
 */
export const INLINE_CHARS = 20_000;
const CHUNK_CHARS = 256 * 1024;

/** Characters of JSON an id takes in a record (32-character Convex ids, quoted, a comma). */
const ID_CHARS = 36;

/**
 * Worst case of what a sync that absorbs an edit adds for an exam of `questionIds` ids: the two reads that
 * name `since`, and the record (before and after: the ids and the small fields), its head and pieces.
 */
export function absorbCost(questionIds: number): Usage {
  const chars = 2 * (questionIds * ID_CHARS + 1024);
  const documents = chars <= INLINE_CHARS ? 1 : 1 + Math.ceil(chars / CHUNK_CHARS);
  // Ids and numbers are ASCII in JSON: a byte a character, and a small field's text at most 3 (the 1 KiB each side allows).
  return { bytesRead: 2 * 1024, documentsRead: 2, databaseQueries: 2, bytesWritten: chars + 4 * 1024, documentsWritten: documents };
}

/** The signed-in caller as an actor, or the system for internal functions. */
async function actorOf(ctx: Ctx): Promise<Actor> {
  const identity = (await ctx.auth?.getUserIdentity()) ?? null;
  if (identity !== null) {
    const user = await ctx.db
      .query("users")
      .withIndex("by_token", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
      .unique();
    if (user !== null) return { kind: "user", userId: user._id };
  }
  return { kind: "system", name: "internal mutation" };
}

/** The fields of `keys` that differ between two versions of a document, before and after (null for a side that does not exist). */
export function changedFields<K extends string>(
  keys: readonly K[],
  before: Partial<Record<K, unknown>> | null,
  after: Partial<Record<K, unknown>> | null,
): { before: Partial<Record<K, unknown>> | null; after: Partial<Record<K, unknown>> | null; changed: K[] } {
  const changed = keys.filter((k) => (before === null) !== (after === null) || !sameValue(before?.[k], after?.[k]));
  const pick = (doc: Partial<Record<K, unknown>> | null) =>
    doc === null
      ? null
      : (Object.fromEntries(changed.flatMap((k) => (doc[k] === undefined ? [] : [[k, doc[k]]]))) as Partial<Record<K, unknown>>);
  return { before: pick(before), after: pick(after), changed };
}

/** Pieces of at most `size` characters, never splitting a surrogate pair (each piece stays valid Unicode). */
function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let start = 0; start < text.length;) {
    let end = Math.min(start + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/**
 * Records one change. `since`: for an edit made around the keeper, the time from which the exam was last
 * known to match its header (the edit happened after it, at or before now).
 */
export async function recordChange(
  ctx: Ctx,
  target: ChangeTarget,
  operation: ChangeOperation,
  before: unknown,
  after: unknown,
  options: { actor?: Actor; since?: number } = {},
): Promise<void> {
  const values = { before: (before ?? null) as Value, after: (after ?? null) as Value };
  const head = {
    ...target,
    operation,
    actor: options.actor ?? (await actorOf(ctx)),
    at: Date.now(),
    ...(options.since === undefined ? {} : { since: options.since }),
  };
  const json = JSON.stringify(convexToJson(values));
  if (json.length <= INLINE_CHARS) {
    await ctx.db.insert("examChanges", { ...head, ...values });
    return;
  }
  const pieces = chunks(json, CHUNK_CHARS);
  const headId = await ctx.db.insert("examChanges", { ...head, before: null, after: null, parts: pieces.length });
  for (const [part, chunk] of pieces.entries()) {
    await ctx.db.insert("examChanges", {
      operation,
      actor: head.actor,
      at: head.at,
      before: null,
      after: null,
      partOf: headId,
      part,
      chunk,
    });
  }
}

/** A record's fields before and after, whole (joined from its continuation documents: one index range). */
export async function readChange(ctx: Pick<QueryCtx, "db">, head: Doc<"examChanges">): Promise<{ before: unknown; after: unknown }> {
  if (head.parts === undefined) return { before: head.before, after: head.after };
  const parts = await ctx.db
    .query("examChanges")
    .withIndex("by_part", (q) => q.eq("partOf", head._id))
    .take(head.parts);
  const values = jsonToConvex(JSON.parse(parts.map((p) => p.chunk ?? "").join("")) as JSONValue) as { before: Value; after: Value };
  return { before: values.before, after: values.after };
}

/**
 * From when the exam is known to have matched its header: the latest of its creation, its latest recorded
 * change (the keeper and every sync leave header and document equal), and the start of the last pass of
 * the header check that visited it (an exam created a settle time before a pass started is visited by it;
 * a running pass has visited the exams up to its cursor). Two reads.
 */
export async function lastKnownMatch(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">, examCreationTime: number): Promise<number> {
  const [latest, pass] = await Promise.all([
    ctx.db
      .query("examChanges")
      .withIndex("by_exam_and_at", (q) => q.eq("examId", examId))
      .order("desc")
      .first(),
    loadHeaderPass(ctx),
  ]);
  const visited = (startedAt: number | undefined, through: number) =>
    startedAt !== undefined && examCreationTime <= Math.min(through, startedAt - CREATION_SETTLE_MS) ? startedAt : -Infinity;
  const check = pass?.headerCheck;
  return Math.max(
    examCreationTime,
    latest?.at ?? -Infinity,
    visited(check?.lastPass?.startedAt, Infinity),
    visited(check?.running?.startedAt, pass?.afterCreationTime ?? -Infinity),
  );
}
