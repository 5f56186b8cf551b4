/**
 * Tamper evidence for the log: each event's hash covers its content and the
 * previous event's hash in its stream, so an edit, removal or insertion made
 * outside the application breaks the chain from that point on.
 */

/** JSON with object keys sorted at every depth and undefined fields dropped: the same value, the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`Cannot hash ${value}`);
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
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

/** The hash an event must carry, given its content (which includes the previous event's hash). */
export async function eventHash(content: HashedEventContent): Promise<string> {
  const { examId, userId, version, type, schemaVersion, data, actor, origin, commandId, idempotencyKey, recordedAt, prevHash } =
    content;
  return sha256Hex(
    canonicalJson({ examId, userId, version, type, schemaVersion, data, actor, origin, commandId, idempotencyKey, recordedAt, prevHash }),
  );
}
