import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { participationFields, vActor, vMigrationPass, vOrigin, vRole, vV1Participant } from "./lib/validators";

export default defineSchema({
  // ---- V1: the legacy shape already in production (docs/exam-api.md). ----
  users: defineTable({
    name: v.string(),
    email: v.optional(v.string()),
    tokenIdentifier: v.string(), // ctx.auth.getUserIdentity().tokenIdentifier
    role: vRole,
  }).index("by_token", ["tokenIdentifier"]),

  questions: defineTable({
    text: v.string(),
    options: v.array(v.string()),
    correctAnswer: v.string(), // never sent to a student before they completed the exam
    points: v.optional(v.number()), // default 1
  }),

  exams: defineTable({
    title: v.string(),
    questionIds: v.array(v.id("questions")),
    durationMs: v.number(),
    maxPauses: v.number(),
    // Legacy embedded array: written by V1 code, then by the legacy mirror projector; emptied by cleanup.
    participants: v.optional(v.array(vV1Participant)),
  }),

  // ---- The event log: the source of truth. Written only by events/store.ts (appendToStream). ----
  examEvents: defineTable({
    examId: v.id("exams"), // stream = one attempt = (examId, userId)
    userId: v.id("users"),
    version: v.number(), // 1-based sequence number within the stream
    type: v.string(), // event type from the catalog (events/catalog.ts)
    schemaVersion: v.number(), // version of `data`'s shape; older ones are upcast on read
    data: v.any(), // validated by the catalog's zod schema on append
    actor: vActor,
    origin: vOrigin,
    commandId: v.string(), // shared by the events of one command
    idempotencyKey: v.optional(v.string()), // a repeated key is a no-op returning the first result
    recordedAt: v.number(), // server time of the append
    prevHash: v.string(), // hash of the previous event of the stream ("" for the first)
    hash: v.string(), // SHA-256 over this event's content and prevHash (tamper evidence)
  })
    .index("by_exam_and_user_and_version", ["examId", "userId", "version"])
    // An exam's events in the order they happened (_creationTime), across all its streams.
    // eslint-disable-next-line @convex-dev/no-duplicate-indexes
    .index("by_exam", ["examId"])
    .index("by_user", ["userId"])
    .index("by_idempotency_key", ["idempotencyKey"]),

  // ---- V2 projections: derived from the log, rebuildable at any time. ----
  examParticipations: defineTable({
    // Written only by the attempt projector (projections/attempt.ts + projections/tables.ts).
    examId: v.id("exams"),
    ...participationFields, // userId, score, startedAt, completedAt, isPaused, pausedAt, pauseCount, totalPausedMs
    version: v.number(), // stream version this row reflects
    lastEventHash: v.string(), // hash of that event: ties the row to the chain's head
    rankScore: v.optional(v.number()), // = score once completed: leaderboard index
    rankTieBreak: v.optional(v.number()), // = -completedAt: earlier completion ranks first in a descending scan
    legacyEntries: v.optional(v.array(v.object({ startedAt: v.number(), sourceIndex: v.number() }))), // V1 entries imported into this attempt (lib/v1Entry.ts)
    legacySourceIndexes: v.optional(v.array(v.number())), // written by earlier versions (positions only): such a row is replaced at its next write or rebuild
  })
    .index("by_exam_and_user", ["examId", "userId"])
    .index("by_user_and_startedAt", ["userId", "startedAt"])
    .index("by_exam_and_rank", ["examId", "rankScore", "rankTieBreak"]),

  examAnswers: defineTable({
    // Written only by the attempt projector.
    participationId: v.id("examParticipations"),
    questionId: v.id("questions"),
    selectedAnswer: v.string(),
    isCorrect: v.boolean(),
    position: v.number(), // index in the V1 answers array: keeps order and duplicates lossless
  }).index("by_participation_and_question", ["participationId", "questionId"]),

  // The exam's own small fields, apart from its document (which holds the whole legacy array until cleanup):
  // what lists and per-student V2 paths read. Fields of the exam are kept by headers/keeper.ts (the `ctx.db` of
  // every mutation, in the edit's transaction; edits made around it: the scheduled header check, within the bound
  // docs/exam-api.md states); the legacy* fields are the exam's migration and mirror state, written by the
  // migration, cleanup, the mirror and its operator commands. Nothing here is computed from question documents.
  examHeaders: defineTable({
    examId: v.id("exams"),
    examCreationTime: v.number(), // the exam's _creationTime: the header check walks exams and headers in step by it
    title: v.string(),
    questionCount: v.number(), // exam.questionIds.length
    durationMs: v.number(),
    maxPauses: v.number(),
    legacyMirror: v.boolean(), // operator setting: keep the V1 array in step with every write
    legacyCleared: v.boolean(), // the V1 array was emptied by cleanup; V1 functions read V2 data
    legacyBackfilled: v.optional(v.boolean()), // every V1 entry of this exam has been imported; a first write need not read the exam document
    legacyMirrorFailure: v.optional(v.object({ userId: v.id("users"), reason: v.string(), at: v.number() })), // set when a write could not be mirrored into the V1 array
    legacyMirrorSync: v.optional(v.boolean()), // operator setting: mirror inside each student's own transaction (zero lag, contention)
  })
    .index("by_exam", ["examId"])
    .index("by_exam_creation_time", ["examCreationTime"])
    // Exams whose V1 array may hold attempts missing from V2 (neither cleared nor backfilled): what V1's lists read arrays of.
    .index("by_legacy_state", ["legacyCleared", "legacyBackfilled"]),

  // The exam's question ids in order, one compact document: what a session and a submission read. Kept with the header.
  examQuestionLists: defineTable({
    examId: v.id("exams"),
    questionIds: v.array(v.id("questions")),
    // Ids once in the exam and removed since: an answer to one is kept, isCorrect false, worth nothing.
    formerQuestionIds: v.array(v.id("questions")),
  }).index("by_exam", ["examId"]),

  // Every change of an exam or a question: who, when, the fields before and after (docs/audit.md).
  // Written only by headers/changes.ts: for every mutation's `ctx.db` (headers/keeper.ts), and for every path that
  // syncs a header from its exam document (the header check, a write, the migration) when it absorbs an edit made around it.
  examChanges: defineTable({
    examId: v.optional(v.id("exams")),
    questionId: v.optional(v.id("questions")),
    operation: v.union(v.literal("insert"), v.literal("update"), v.literal("delete"), v.literal("repair")),
    actor: vActor,
    at: v.number(),
    before: v.any(), // the changed fields before (null for an insert)
    after: v.any(), // the changed fields after (null for a delete)
    since: v.optional(v.number()), // a repair: the edit was made around the keeper after this time, at or before `at`
    parts: v.optional(v.number()), // before and after too large for one document: JSON in this many continuation documents
    // A continuation document (no examId or questionId: it is no change of its own): piece `part` of its head's JSON.
    partOf: v.optional(v.id("examChanges")),
    part: v.optional(v.number()),
    chunk: v.optional(v.string()),
  })
    .index("by_exam_and_at", ["examId", "at"])
    .index("by_question_and_at", ["questionId", "at"])
    .index("by_part", ["partOf", "part"]),

  // Operator switches of the exam API, one document per key (absent = default). Written by convex/legacyMirror.ts.
  examApiSettings: defineTable({
    key: v.union(
      v.literal("legacyMirror"), // global switch of the legacy mirror (default on)
      v.literal("legacyMirrorSync"), // global synchronous mode of the mirror (default off: a per-exam job mirrors)
    ),
    enabled: v.boolean(),
  }).index("by_key", ["key"]),

  // Participant and answer counts, sharded by user so that students starting together do not contend.
  examCounterShards: defineTable({
    examId: v.id("exams"), // written by the attempt projector
    shard: v.number(),
    participants: v.number(),
    completed: v.number(),
    answers: v.number(),
  }).index("by_exam_and_shard", ["examId", "shard"]),

  // V1 entries the migration could not import: the batch went on without them. Written by migration/batch.ts.
  migrationQuarantine: defineTable({
    examId: v.id("exams"),
    userId: v.id("users"),
    sourceIndex: v.number(), // position in the V1 array
    reason: v.string(), // the error, code first
    at: v.number(),
  }).index("by_exam_and_index", ["examId", "sourceIndex"]),

  // How far the legacy mirror has folded an exam's log into its V1 array. Written only by the mirror job
  // (projections/mirrorJob.ts); never read by a student's action, so students and the job never conflict.
  examMirrorStates: defineTable({
    examId: v.id("exams"),
    mirroredThrough: v.number(), // every event of the exam created at or before this time is in the array (or needs no entry)
    lastRunAt: v.number(),
    eventsMirrored: v.number(), // live events folded so far (all runs)
    runs: v.number(), // runs that wrote something
  }).index("by_exam", ["examId"]),

  // One exam's counts: what the exam list reads, one document per exam. Written by the counters' own job
  // (projections/counterFold.ts), which each shard write of a student's action schedules COUNTER_FOLD_DELAY_MS
  // (6 s) ahead, mirror on or off: it lags the shards by that much (plus the scheduler's delay); and set from
  // the shards they have just read by the batch writers (migration, rebuild). Students never write it.
  examCountSummaries: defineTable({
    examId: v.id("exams"),
    participants: v.number(),
    completed: v.number(),
    answers: v.number(),
    foldedAt: v.number(),
  }).index("by_exam", ["examId"]),

  // Where each pass over the exams stands (resumable batches). Written by convex/migrations.ts (migrate, cleanup)
  // and by the header check (headers/keeper.ts).
  migrationProgress: defineTable({
    pass: v.union(vMigrationPass, v.literal("headers")),
    afterCreationTime: v.optional(v.number()), // exams created up to this time are done
    current: v.optional(
      v.object({
        examId: v.id("exams"), // the exam a call stopped inside
        step: v.union(v.literal("import"), v.literal("verify")), // cleanup imports, then verifies, then clears
        nextIndex: v.number(), // next V1 array position of this step
        issues: v.number(), // verification issues found so far (cleanup)
        firstIssue: v.optional(v.string()),
        nextEntry: v.optional(v.object({ userId: v.id("users"), startedAt: v.number(), rank: v.number() })), // the entry at nextIndex then (lib/v1Entry.ts)
      }),
    ),
    totals: v.object({ exams: v.number(), participants: v.number(), answers: v.number(), batches: v.number() }),
    background: v.optional(
      v.object({
        running: v.boolean(),
        batchSize: v.number(),
        startedAt: v.number(),
        batches: v.number(),
        lastBatchAt: v.optional(v.number()),
        stoppedReason: v.optional(v.string()),
      }),
    ),
    // The header check's pass (pass "headers"): where it stands, how far every exam is known to have a header, its cost.
    headerCheck: v.optional(
      v.object({
        intervalMinutes: v.optional(v.number()), // operator setting (examAdmin:setHeaderCheckInterval); default HEADER_CHECK_INTERVAL_MINUTES
        headersThrough: v.optional(v.number()), // every exam created up to this time has a header: V1's lists read later exams directly
        running: v.optional(
          v.object({ startedAt: v.number(), lastBatchAt: v.number(), exams: v.number(), bytesRead: v.number(), healed: v.number() }),
        ),
        lastPass: v.optional(
          v.object({ startedAt: v.number(), finishedAt: v.number(), exams: v.number(), bytesRead: v.number(), healed: v.number() }),
        ),
      }),
    ),
  }).index("by_pass", ["pass"]),
});
