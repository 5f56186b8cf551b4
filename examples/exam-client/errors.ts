/**
 * What the page says for each error code (convex/lib/errors.ts; docs/exam-api.md says when each is thrown).
 * A `Record` over every code: a code added to the backend fails the typecheck until the client says what
 * it shows. Malformed ids are rejected by Convex's argument validation, without a code: the fallback.
 */
import { ConvexError } from "convex/values";
import type { DomainErrorData, ErrorCode } from "../../convex/lib/errors";

const MESSAGES: Record<ErrorCode, string> = {
  NOT_AUTHENTICATED: "Please sign in again.",
  FORBIDDEN: "This is not your attempt.",
  NOT_FOUND: "This exam does not exist (any more).",
  ALREADY_COMPLETED: "You have already submitted this exam.",
  NOT_IN_PROGRESS: "Start the exam first.",
  NOT_COMPLETED: "Results are shown once you have submitted.",
  PAUSED: "The exam is paused: resume it first.",
  NOT_PAUSED: "The exam is not paused.",
  NO_PAUSES_LEFT: "You have used all your pauses.",
  TIME_UP: "Time is up: the exam no longer accepts this.",
  INVALID_ANSWER: "One of the answers is not an option of its question: reload the exam.",
  INVALID_ARGUMENT: "The page sent something the server refused: reload it.",
  // Two writes to one attempt are serialized by Convex (one re-runs); this would mean a decision on an old state.
  CONCURRENCY_CONFLICT: "Your attempt changed meanwhile: try again.",
  // A work bound of the server (more than 4,000 questions in one exam, 1,000 attempts on the dashboard): tell the operators.
  LIMIT_EXCEEDED: "This exam is too large to be served: please tell the exam's organisers.",
  // Not met by a student's calls (an event refused by the log, an exam with attempts being deleted).
  INVALID_EVENT: "Something went wrong on the server: please try again.",
  CONFLICT: "Something went wrong on the server: please try again.",
};

/** The coded error a call rejected with, or null for any other error (network, argument validation). */
export function domainErrorOf(error: unknown): DomainErrorData | null {
  if (!(error instanceof ConvexError)) return null;
  const data: unknown = error.data;
  if (typeof data !== "object" || data === null || !("code" in data) || typeof data.code !== "string") return null;
  return data.code in MESSAGES ? (data as DomainErrorData) : null;
}

/** What to show a student for an error of any of the exam functions. */
export function studentMessage(error: unknown): string {
  const coded = domainErrorOf(error);
  return coded === null ? "The server could not be reached or refused the request: reload the page." : MESSAGES[coded.code];
}
