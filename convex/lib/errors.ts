import { ConvexError } from "convex/values";

/** Machine-readable error codes the frontend and the operators rely on (docs/exam-api.md). */
export const ERROR_CODES = [
  "NOT_AUTHENTICATED",
  "FORBIDDEN",
  "NOT_FOUND",
  "ALREADY_COMPLETED",
  "NOT_IN_PROGRESS",
  "NOT_COMPLETED",
  "PAUSED",
  "NOT_PAUSED",
  "NO_PAUSES_LEFT",
  "TIME_UP",
  "INVALID_ANSWER",
  "INVALID_ARGUMENT",
  "CONCURRENCY_CONFLICT",
  "INVALID_EVENT",
  "CONFLICT",
  "LIMIT_EXCEEDED",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export type DomainErrorData = { code: ErrorCode; message: string };

/**
 * The one way this backend rejects a call. Thrown before anything is written,
 * so a rejected call changes nothing.
 *
 * @example
 * throw domainError("PAUSED", "Resume the exam before submitting.");
 */
export function domainError(code: ErrorCode, message: string): ConvexError<DomainErrorData> {
  return new ConvexError({ code, message });
}

/** The code of an error thrown by {@link domainError}, or undefined for any other error. */
export function errorCode(error: unknown): ErrorCode | undefined {
  if (error instanceof ConvexError && typeof error.data === "object" && error.data !== null) {
    const code = (error.data as { code?: unknown }).code;
    return typeof code === "string" ? (code as ErrorCode) : undefined;
  }
  return undefined;
}
