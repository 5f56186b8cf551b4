/**
 * Shared validators: one definition per shape, imported by the schema, the
 * functions, the migration and the verifiers alike.
 */
import { v, type Infer } from "convex/values";

/** One graded answer as V1 stores it inside a participant. */
export const vV1Answer = v.object({
  questionId: v.id("questions"),
  selectedAnswer: v.string(),
  isCorrect: v.boolean(),
});
export type V1Answer = Infer<typeof vV1Answer>;

/** A legacy participant embedded in `exams.participants` (docs/exam-api.md). Never change its shape. */
export const vV1Participant = v.object({
  userId: v.id("users"),
  score: v.number(),
  answers: v.array(vV1Answer),
  startedAt: v.number(),
  completedAt: v.optional(v.number()),
  isPaused: v.boolean(),
  pausedAt: v.optional(v.number()),
  pauseCount: v.number(),
  totalPausedMs: v.number(),
});
export type V1Participant = Infer<typeof vV1Participant>;

/** Every V1 participant field except `answers`: what an `examParticipations` row carries of it. */
export const participationFields = (({ answers: _answers, ...fields }) => fields)(vV1Participant.fields);

export const vRole = v.union(v.literal("student"), v.literal("admin"));
export type Role = Infer<typeof vRole>;

/** Who caused an event: a signed-in user, or the system (migration, rebuild, operator). */
export const vActor = v.union(
  v.object({ kind: v.literal("user"), userId: v.id("users") }),
  v.object({ kind: v.literal("system"), name: v.string() }),
);
export type Actor = Infer<typeof vActor>;

/**
 * Where an event came from: a live call through the V1 or V2 API, synthesized from a V1 array entry,
 * or a V1 entry that old code (rollback option 2) changed after its stream existed, rolled forward into the log.
 */
export const vOrigin = v.union(v.literal("live_v1"), v.literal("live_v2"), v.literal("legacy_import"), v.literal("legacy_rollforward"));
export type Origin = Infer<typeof vOrigin>;

/** Status of one attempt as the API reports it. */
export const vAttemptStatus = v.union(v.literal("not_started"), v.literal("in_progress"), v.literal("paused"), v.literal("completed"));
export type AttemptStatus = Infer<typeof vAttemptStatus>;

/** An answer as a student submits it (graded on the server). */
export const vSubmittedAnswer = v.object({
  questionId: v.id("questions"),
  selectedAnswer: v.string(),
});
export type SubmittedAnswer = Infer<typeof vSubmittedAnswer>;

/** One graded answer as results show it (docs/exam-api.md): the answer, and its question's text and correct answer. */
export const vResultAnswer = v.object({
  questionId: v.id("questions"),
  selectedAnswer: v.string(),
  isCorrect: v.boolean(),
  /** Absent when the question document no longer exists. */
  questionText: v.optional(v.string()),
  correctAnswer: v.optional(v.string()),
});
export type ResultAnswer = Infer<typeof vResultAnswer>;

/** The migration's two passes over the exams: import every V1 entry; then verify and clear each array. */
export const vMigrationPass = v.union(v.literal("migrate"), v.literal("cleanup"));
export type MigrationPass = Infer<typeof vMigrationPass>;
