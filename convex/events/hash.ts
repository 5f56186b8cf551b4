/**
 * Tamper evidence for the log: each event's hash covers its content and the
 * previous event's hash in its stream, so an edit, removal or insertion made
 * outside the application breaks the chain from that point on. SHA-256 from
 * @noble/hashes: audited, synchronous, plain JS (runs in Convex's runtime).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";

const encoder = new TextEncoder();

/** `"key":` for the field names events repeat (answers' questionId, selectedAnswer, …). */
const quotedKeys = new Map<string, string>();
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    if (quotedKeys.size < 1024) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/** JSON with object keys sorted at every depth and undefined fields dropped: the same value, the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    // NaN and ±Infinity (V1 may store them) as Convex's JSON spells non-finite floats: never equal to null or a string.
    if (typeof value === "number" && !Number.isFinite(value)) return `{"$float":"${String(value)}"}`;
    return JSON.stringify(value) ?? "null";
  }
  // Built by concatenation, not with intermediate arrays: it runs over every event's data on each append.
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      if (i in value) out += canonicalJson(value[i]); // a hole stays empty, as Array.prototype.join leaves it
    }
    return out + "]";
  }
  const record = value as Record<string, unknown>;
  let out = "{";
  for (const key of Object.keys(record).sort()) {
    const field = record[key];
    if (field === undefined) continue;
    if (out.length > 1) out += ",";
    out += quotedKey(key) + canonicalJson(field);
  }
  return out + "}";
}

/** The fields of a stored event that its hash covers (everything but the hash and Convex's system fields). */
export type HashedEventContent = {
  examId: string;
  userId: string;
  version: number;
  type: string;
  schemaVersion: number;
  data: unknown;
  actor: unknown;
  origin: string;
  commandId: string;
  idempotencyKey?: string;
  recordedAt: number;
  prevHash: string;
};

/** The names of {@link HashedEventContent}'s fields: what an event's hash covers, in one list. */
export const HASHED_EVENT_FIELDS = [
  "examId",
  "userId",
  "version",
  "type",
  "schemaVersion",
  "data",
  "actor",
  "origin",
  "commandId",
  "idempotencyKey",
  "recordedAt",
  "prevHash",
] as const satisfies readonly (keyof HashedEventContent)[];

/** The part of a stored event (or of any record holding its fields) that its hash covers. */
export function hashedContentOf(fields: Partial<Record<keyof HashedEventContent, unknown>>): HashedEventContent {
  return Object.fromEntries(HASHED_EVENT_FIELDS.filter((k) => fields[k] !== undefined).map((k) => [k, fields[k]])) as HashedEventContent;
}

/** SHA-256 of a value's canonical JSON, hex. */
export function contentHash(value: unknown): string {
  return bytesToHex(sha256(encoder.encode(canonicalJson(value))));
}

/** The hash an event must carry, given its content (which includes the previous event's hash). */
export async function eventHash(content: HashedEventContent): Promise<string> {
  return contentHash(hashedContentOf(content));
}
