/**
 * The event store on Convex: append with an expected stream version, read a stream.
 *
 * @example
 * const { version } = await appendToStream(ctx, { examId, userId }, 0, [
 *   { type: "ExamStarted", data: { startedAt: Date.now() } },
 * ], { actor: { kind: "user", userId }, origin: "live_v2", commandId });
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import type { Actor, Origin } from "../lib/validators";
import { domainError } from "../lib/errors";
import { currentSchemaVersion, parseStoredEvent, validateNewEvent, type ExamEvent } from "./catalog";
import { eventHash } from "./hash";

/** One attempt's stream. */
export type StreamId = { examId: Id<"exams">; userId: Id<"users"> };

export type EventMetadata = {
  eventId: Id<"examEvents">;
  version: number;
  schemaVersion: number;
  recordedAt: number;
  actor: Actor;
  origin: Origin;
  commandId: string;
  idempotencyKey?: string;
  prevHash: string;
  hash: string;
};

/** An event read back from the log: `{ type, data, metadata }`, data upcast to the current version. */
export type RecordedEvent = ExamEvent & { metadata: EventMetadata };

export type AppendOptions = {
  actor: Actor;
  origin: Origin;
  commandId: string;
  idempotencyKey?: string;
  /** Server time of the append; defaults to Date.now(). */
  recordedAt?: number;
  /**
   * The stream's last event as the caller has read it in this transaction (null: the stream is empty),
   * having also looked up `idempotencyKey` (executeCommand does both): neither is read again. Mutations
   * are serializable, so what was read still holds. Absent: both are read here.
   */
  head?: Pick<Doc<"examEvents">, "version" | "hash"> | null;
};

export type AppendResult = {
  /** The stream's version after the append (or after the first append with this idempotency key). */
  version: number;
  events: RecordedEvent[];
  /** True when the idempotency key was seen before: nothing was written. */
  duplicate: boolean;
};

/** Reads a stored event document as a domain event with its metadata. */
export function toRecordedEvent(doc: Doc<"examEvents">): RecordedEvent {
  return { ...parseStoredEvent(doc), metadata: metadataOf(doc._id, doc) } as RecordedEvent;
}

function metadataOf(eventId: Id<"examEvents">, stored: Omit<EventMetadata, "eventId">): EventMetadata {
  const { version, schemaVersion, recordedAt, actor, origin, commandId, idempotencyKey, prevHash, hash } = stored;
  return { eventId, version, schemaVersion, recordedAt, actor, origin, commandId, idempotencyKey, prevHash, hash };
}

/** The last event of a stream (one index read), or null for an empty stream. */
export async function readStreamHead(ctx: QueryCtx, stream: StreamId): Promise<Doc<"examEvents"> | null> {
  return ctx.db
    .query("examEvents")
    .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", stream.examId).eq("userId", stream.userId))
    .order("desc")
    .first();
}

/** Every event of a stream in order, optionally only those up to `toVersion`. */
export async function readStream(ctx: QueryCtx, stream: StreamId, toVersion?: number): Promise<RecordedEvent[]> {
  const docs = await ctx.db
    .query("examEvents")
    .withIndex("by_exam_and_user_and_version", (q) => {
      const s = q.eq("examId", stream.examId).eq("userId", stream.userId);
      return toVersion === undefined ? s : s.lte("version", toVersion);
    })
    .collect();
  return docs.map(toRecordedEvent);
}

/** The events first appended with this idempotency key, or null if the key is new. */
export async function findByIdempotencyKey(ctx: QueryCtx, key: string): Promise<AppendResult | null> {
  const docs = await ctx.db
    .query("examEvents")
    .withIndex("by_idempotency_key", (q) => q.eq("idempotencyKey", key))
    .take(100);
  if (docs.length === 0) return null;
  const events = docs.map(toRecordedEvent).sort((a, b) => a.metadata.version - b.metadata.version);
  return { version: events[events.length - 1]!.metadata.version, events, duplicate: true };
}

/**
 * Appends events to a stream if its version is still `expectedVersion`.
 * A stale expected version throws CONCURRENCY_CONFLICT before anything is written;
 * a repeated idempotency key writes nothing and returns the first append's result.
 * Cost: one head read (+ one key lookup), none when the caller passes `head`; one write per event,
 * whatever the stream's length.
 */
export async function appendToStream(
  ctx: MutationCtx,
  stream: StreamId,
  expectedVersion: number,
  events: ExamEvent[],
  options: AppendOptions,
): Promise<AppendResult> {
  let head = options.head;
  if (head === undefined) {
    if (options.idempotencyKey !== undefined) {
      const earlier = await findByIdempotencyKey(ctx, options.idempotencyKey);
      if (earlier !== null) return earlier;
    }
    head = await readStreamHead(ctx, stream);
  }
  const currentVersion = head?.version ?? 0;
  if (currentVersion !== expectedVersion) {
    throw domainError(
      "CONCURRENCY_CONFLICT",
      `Stream ${stream.examId}/${stream.userId} is at version ${currentVersion}, expected ${expectedVersion}.`,
    );
  }
  const validated = events.map(validateNewEvent);
  const recordedAt = options.recordedAt ?? Date.now();
  let prevHash = head?.hash ?? "";
  const recorded: RecordedEvent[] = [];
  for (const [i, event] of validated.entries()) {
    const content = {
      examId: stream.examId,
      userId: stream.userId,
      version: expectedVersion + i + 1,
      type: event.type,
      schemaVersion: currentSchemaVersion(event.type),
      data: event.data,
      actor: options.actor,
      origin: options.origin,
      commandId: options.commandId,
      idempotencyKey: options.idempotencyKey,
      recordedAt,
      prevHash,
    };
    const hash = await eventHash(content);
    const eventId = await ctx.db.insert("examEvents", { ...content, hash });
    recorded.push({ ...event, metadata: metadataOf(eventId, { ...content, hash }) } as RecordedEvent);
    prevHash = hash;
  }
  return { version: expectedVersion + validated.length, events: recorded, duplicate: false };
}
