/**
 * The one shape of everything an operator check reports: a difference that
 * makes a run invalid (verifyMigrationIntegrity's and verifyProjections'
 * `issues`, verifyAuditChain's) and the dirty V1 data the migration copies
 * faithfully and lists as `findings`. Which list it is in says which; `kind`
 * says what, `message` says it in words naming the exam, the user and what differs.
 *
 * @example
 * const issue: Issue = { kind: "missing_answer", examId, userId, position: 3, message: `${examId}/${userId}: answer 3 is missing` };
 */
import { v, type Infer } from "convex/values";
import { literals } from "convex-helpers/validators";

export const vIssueKind = literals(
  // ---- V1 entry or replay vs stored rows (verifyMigrationIntegrity, verifyProjections)
  "missing_participation",
  "extra_participation",
  "duplicated_participation",
  "changed_field",
  "missing_answer",
  "extra_answer",
  "changed_answer",
  "duplicated_answer",
  "unaccounted_duplicate_entry",
  "orphan_answers",
  "counter_mismatch",
  // ---- hash chain and projection heads (verifyAuditChain, verifyProjections)
  /** The event's content no longer hashes to its stored hash: edited without recomputing the hash. */
  "hash_mismatch",
  /** The event's prevHash is not the hash of the event before it: that one was replaced, or this one inserted. */
  "broken_link",
  /** Versions are missing before this event: events were removed. */
  "missing_versions",
  /** A second event with a version already seen: an inserted event. */
  "duplicate_version",
  /** A version that cannot follow the one before it (not a whole number, or lower): an inserted event. */
  "unexpected_version",
  /** The catalog cannot read the event (unknown type or version, data that does not fit). */
  "unreadable_event",
  /** The stream's projection row reflects another version or hash than the chain's head. */
  "projection_head_mismatch",
  /** The stream has events but no projection row. */
  "missing_projection_row",
  /** A projection row whose stream has no events at all. */
  "projection_row_without_events",
  // ---- findings: dirty V1 data, migrated as stored (docs/operations.md)
  "duplicate_participant",
  "unknown_question",
  "question_not_in_exam",
  "duplicate_answer",
  "score_mismatch",
  "near_document_limit",
  "near_array_limit",
  "non_finite_number",
  "unknown_exam_question",
  "exam_without_questions",
  "exam_without_participants",
  "quarantined_participant",
  "changed_after_import",
  /** A V1 entry imported into the log is no longer in the array (other code, e.g. old code after a rollback, removed it): kept in the log and V2. */
  "removed_after_import",
);
export type IssueKind = Infer<typeof vIssueKind>;

export const vIssue = v.object({
  kind: vIssueKind,
  /** The exam ("unknown" for answer rows whose participation is gone). */
  examId: v.string(),
  userId: v.optional(v.string()),
  /** The stream version and event a chain issue is about. */
  version: v.optional(v.number()),
  eventId: v.optional(v.string()),
  /** The V1 array position a finding is about. */
  sourceIndex: v.optional(v.number()),
  /** The answer position (or, for a participation, the V1 array position) a difference is at. */
  position: v.optional(v.number()),
  /** The field that differs, with the value expected and the one found. */
  field: v.optional(v.string()),
  expected: v.optional(v.any()),
  actual: v.optional(v.any()),
  message: v.string(),
});
export type Issue = Infer<typeof vIssue>;
