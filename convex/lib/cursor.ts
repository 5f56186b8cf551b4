/**
 * Reading back a `continueCursor` a resumable function returned: JSON of a known
 * shape (a zod schema), or INVALID_ARGUMENT before anything is done. One parser for
 * every resumable walk (rebuild and verify, the audit trail and chain check, the
 * exam-copy repair), so that a damaged cursor is never half-trusted.
 *
 * @example
 * const at = parseCursor(zMyCursor, args.cursor, "rebuildProjections");
 */
import type * as z from "zod/v4";
import { prettifyError } from "zod/v4";
import { domainError } from "./errors";

export function parseCursor<T>(schema: z.ZodType<T>, cursor: string, returnedBy: string): T {
  let json: unknown;
  try {
    json = JSON.parse(cursor);
  } catch {
    throw domainError(
      "INVALID_ARGUMENT",
      `cursor is not JSON: pass back the continueCursor ${returnedBy} returned (got ${JSON.stringify(cursor.slice(0, 80))}).`,
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw domainError(
      "INVALID_ARGUMENT",
      `cursor is not a continueCursor of ${returnedBy}: ${prettifyError(parsed.error).replace(/\n/g, " ")}`,
    );
  }
  return parsed.data;
}
