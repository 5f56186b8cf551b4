/**
 * Tamper evidence, pure: checks stored events against their hash chain, one
 * batch at a time, and a stream's projection row against the chain's head.
 * Knows nothing of Convex: the caller reads the events (in stream and version
 * order) and the rows, and carries {@link OpenStream} from batch to batch.
 *
 * @example
 * let open: OpenStream | null = null;
 * for (const page of pagesInStreamOrder) {
 *   const checked = await checkChainBatch(page, open, isLastPage);
 *   issues.push(...checked.issues);
 *   for (const head of checked.closed) issues.push(...checkProjectionHead(head, rowOf(head)));
 *   open = checked.open;
 * }
 */
import { parseStoredEvent } from "./catalog";
import { eventHash, type HashedEventContent } from "./hash";
import type { Issue, IssueKind } from "../lib/issues";

/** A stored event as the check needs it: its hashed content, its stored hash and its id. */
export type ChainEvent = HashedEventContent & { eventId: string; hash: string };

/** The last accepted event of the stream being checked, carried across batches. */
export type OpenStream = {
  examId: string;
  userId: string;
  version: number;
  hash: string;
  eventId: string;
  events: number;
};

/** A stream whose events have all been checked: its head is what its projection row must reflect. */
export type ClosedStream = OpenStream;

export type ChainBatchResult = { issues: Issue[]; closed: ClosedStream[]; open: OpenStream | null };

function sameStream(open: OpenStream | null, event: ChainEvent): open is OpenStream {
  return open !== null && open.examId === event.examId && open.userId === event.userId;
}

function issueAt(kind: IssueKind, event: ChainEvent, message: string): Issue {
  return { kind, examId: event.examId, userId: event.userId, version: event.version, eventId: event.eventId, message };
}

/** The issues of one event, given the accepted event before it in its stream (null: it opens the stream). */
async function checkEvent(event: ChainEvent, prev: OpenStream | null): Promise<{ issues: Issue[]; accepted: boolean }> {
  const issues: Issue[] = [];
  const at = `v${event.version} (${event.type}, ${event.eventId})`;
  if ((await eventHash(event)) !== event.hash) {
    issues.push(issueAt("hash_mismatch", event, `${at}: content does not match its hash: edited outside the application.`));
  }
  try {
    parseStoredEvent(event);
  } catch (error) {
    issues.push(issueAt("unreadable_event", event, `${at}: the catalog cannot read it: ${String(error)}`));
  }
  const prevVersion = prev?.version ?? 0;
  const expected = prevVersion + 1;
  if (prev !== null && event.version === prev.version) {
    issues.push(
      issueAt("duplicate_version", event, `${at}: a second event with version ${event.version} (first: ${prev.eventId}): inserted.`),
    );
    return { issues, accepted: false };
  }
  if (!Number.isInteger(event.version) || event.version < expected) {
    issues.push(issueAt("unexpected_version", event, `${at}: version ${event.version} cannot follow v${prevVersion}: inserted.`));
    return { issues, accepted: false };
  }
  if (event.version > expected) {
    const missing = event.version - 1 === expected ? `v${expected}` : `v${expected}–v${event.version - 1}`;
    issues.push(issueAt("missing_versions", event, `${at}: ${missing} missing before it: removed.`));
  } else if (event.prevHash !== (prev?.hash ?? "")) {
    const before = prev === null ? "the stream's start (empty)" : `the hash of v${prev.version} (${prev.eventId})`;
    issues.push(issueAt("broken_link", event, `${at}: prevHash is not ${before}: the event before it was replaced, or this one inserted.`));
  }
  return { issues, accepted: true };
}

/**
 * Checks a batch of events given in (examId, userId, version) order. `open` is
 * the stream left open by the previous batch; `isLast` closes the final stream.
 */
export async function checkChainBatch(events: readonly ChainEvent[], open: OpenStream | null, isLast: boolean): Promise<ChainBatchResult> {
  const issues: Issue[] = [];
  const closed: ClosedStream[] = [];
  let current = open;
  for (const event of events) {
    if (!sameStream(current, event)) {
      if (current !== null) closed.push(current);
      current = null;
    }
    const checked = await checkEvent(event, current);
    issues.push(...checked.issues);
    if (checked.accepted) {
      current = {
        examId: event.examId,
        userId: event.userId,
        version: event.version,
        hash: event.hash,
        eventId: event.eventId,
        events: (current?.events ?? 0) + 1,
      };
    } else if (current === null) {
      // An unacceptable first event still opens its stream (its row is then compared with "no head").
      current = { examId: event.examId, userId: event.userId, version: 0, hash: "", eventId: event.eventId, events: 1 };
    } else {
      current = { ...current, events: current.events + 1 };
    }
  }
  if (isLast && current !== null) {
    closed.push(current);
    current = null;
  }
  return { issues, closed, open: current };
}

/** The projection row fields that tie it to the chain. */
export type ProjectionHead = { version: number; lastEventHash: string };

/**
 * Compares a stream's projection row with the chain's head. The removal of a
 * stream's LAST event leaves a valid shorter chain: only this check sees it.
 */
export function checkProjectionHead(head: ClosedStream, row: ProjectionHead | null): Issue[] {
  const where = { examId: head.examId, userId: head.userId, version: head.version, eventId: head.eventId };
  if (row === null) {
    return [
      { kind: "missing_projection_row", ...where, message: `The stream has events up to v${head.version} but no examParticipations row.` },
    ];
  }
  if (row.version === head.version && row.lastEventHash === head.hash) return [];
  const extra =
    row.version > head.version
      ? "events after the head were removed, or the row was edited"
      : row.version < head.version
        ? "events were appended outside the application, or the row was edited"
        : "the head event was replaced, or the row was edited";
  return [
    {
      kind: "projection_head_mismatch",
      ...where,
      message: `The examParticipations row reflects v${row.version} (hash ${row.lastEventHash.slice(0, 12)}…) but the chain's head is v${head.version} (hash ${head.hash.slice(0, 12)}…): ${extra}.`,
    },
  ];
}

/** A projection row must have a stream: null head means its events are gone (or the row was inserted). */
export function checkRowHasEvents(row: { examId: string; userId: string; version: number }, head: { version: number } | null): Issue[] {
  if (head !== null) return [];
  return [
    {
      kind: "projection_row_without_events",
      examId: row.examId,
      userId: row.userId,
      version: row.version,
      message: `An examParticipations row at v${row.version} has no events: its stream was deleted, or the row inserted.`,
    },
  ];
}
