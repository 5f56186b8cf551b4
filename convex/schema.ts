import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { participationFields, vActor, vOrigin, vResultAnswer, vRole, vV1Participant } from "./lib/validators";

export default defineSchema({
  // ---- V1: the legacy shape already in production (CONTRACT §1). ----
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
    legacySourceIndexes: v.optional(v.array(v.number())), // V1 array positions imported into this attempt
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

  // What per-student V2 paths need of an exam without reading its (large) document: COPIES of the
  // exam's facts, in four shapes sized for their readers (examDefinitions, examQuestionLists,
  // examQuestionSheets, examQuestions). All four are written only by copies/examDefinitions.ts
  // syncDefinition, called in the same transaction by every mutation built with copies/functions.ts
  // (copies/examCopies.ts) that writes `exams` or `questions`; edits made around it (dashboard, import)
  // are found by examAdmin:verifyExamCopies and healed by examAdmin:repairExamCopies (scheduled,
  // convex/crons.ts) and, for the exam's own fields, by a V2 write before it rejects. Grading reads the
  // live answer key (a grade decided from a stale copy would enter the log for good); results read the
  // key copied into examResults only while the definition's questionFacts vouches for it.
  examDefinitions: defineTable({
    examId: v.id("exams"),
    title: v.string(),
    questionCount: v.number(), // exam.questionIds.length
    maxScore: v.number(), // points of the exam's existing questions (results need not read them all)
    durationMs: v.number(),
    maxPauses: v.number(),
    legacyMirror: v.boolean(), // operator setting: keep the V1 array in step with every write
    legacyCleared: v.boolean(), // the V1 array was emptied by cleanup; V1 functions read V2 data
    legacyBackfilled: v.optional(v.boolean()), // every V1 entry of this exam has been imported; a first write need not read the exam document
    legacyMirrorFailure: v.optional(v.object({ userId: v.id("users"), reason: v.string(), at: v.number() })), // set when a write could not be mirrored into the V1 array
    legacyMirrorSync: v.optional(v.boolean()), // operator setting: mirror inside each student's own transaction (zero lag, contention)
    questionFacts: v.optional(v.string()), // digest of the questions' ids, text and correct answers: which examResults copies are current (absent: none is)
  })
    .index("by_exam", ["examId"])
    // Exams whose V1 array may hold attempts missing from V2 (neither cleared nor backfilled): what V1's lists read arrays of.
    .index("by_legacy_state", ["legacyCleared", "legacyBackfilled"]),

  // The exam's question ids in order, one compact document: what a session and a submission read.
  examQuestionLists: defineTable({
    examId: v.id("exams"),
    questionIds: v.array(v.id("questions")),
    // Ids once in the exam and removed since: an answer to one is kept, isCorrect false, worth nothing.
    formerQuestionIds: v.array(v.id("questions")),
  }).index("by_exam", ["examId"]),

  // One attempt's graded answers as results show them, one document: the answers (projected from the log, as
  // examAnswers) with each question's text and correct answer COPIED in, so that results read one document
  // instead of a row per answer and a question per answer. Written only by projections/results.ts: by the
  // attempt projector in the transaction that writes the rows, and by the exam's result refresh after its
  // questions' facts changed. Results use it only while `version` is the participation's and `questionFacts`
  // the definition's; otherwise they read the rows and the live questions.
  examResults: defineTable({
    participationId: v.id("examParticipations"),
    examId: v.id("exams"),
    version: v.number(), // the participation's version the answers reflect
    questionFacts: v.string(), // the definition's questionFacts when the text and correct answers were copied
    answers: v.array(vResultAnswer), // in V1 array order, duplicates kept
    liveQuestionIds: v.array(v.id("questions")), // answered questions outside the exam's list: their facts are read live
  })
    .index("by_participation", ["participationId"])
    .index("by_exam_and_facts", ["examId", "questionFacts"]),

  // What a session shows of the exam's questions, in exam order, one document: a COPY of the
  // questions' text, options and points (never the correct answer), so that a session reads one
  // document instead of one per question. Written with the other copies by syncDefinition, and so
  // rewritten by any exam or question write made through copies/functions.ts; found stale by
  // examAdmin:verifyExamCopies and healed by examAdmin:repairExamCopies. Absent for an exam whose
  // sheet would exceed MAX_QUESTION_SHEET_BYTES (its sessions read the live questions).
  examQuestionSheets: defineTable({
    examId: v.id("exams"),
    questions: v.array(
      v.object({ questionId: v.id("questions"), text: v.string(), options: v.array(v.string()), points: v.optional(v.number()) }),
    ),
  }).index("by_exam", ["examId"]),

  // Membership rows: one per existing question of an exam (question access looks one up; a question
  // edit finds its exams). text/options/points were the content copy of older code: no longer written.
  examQuestions: defineTable({
    examId: v.id("exams"),
    position: v.number(), // index in exam.questionIds
    questionId: v.id("questions"),
    text: v.optional(v.string()),
    options: v.optional(v.array(v.string())),
    points: v.optional(v.number()),
  })
    .index("by_exam_and_position", ["examId", "position"])
    .index("by_exam_and_question", ["examId", "questionId"])
    .index("by_question", ["questionId"]),

  // Every change of an exam or a question (CONTRACT §6 audit): who, when, the fields before and after.
  // Written only by copies/examDefinitions.ts (withExamCopies, and the repair when it heals an edit made around it).
  examChanges: defineTable({
    examId: v.optional(v.id("exams")),
    questionId: v.optional(v.id("questions")),
    operation: v.union(v.literal("insert"), v.literal("update"), v.literal("delete"), v.literal("repair")),
    actor: vActor,
    at: v.number(),
    before: v.any(), // the changed fields before (null for an insert)
    after: v.any(), // the changed fields after (null for a delete)
  })
    .index("by_exam_and_at", ["examId", "at"])
    .index("by_question_and_at", ["questionId", "at"]),

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

  // One exam's counts, folded from its counter shards by the mirror job (and kept exact by batch writers):
  // what the exam list reads, one document per exam. Students never write it.
  examCountSummaries: defineTable({
    examId: v.id("exams"),
    participants: v.number(),
    completed: v.number(),
    answers: v.number(),
    foldedAt: v.number(),
  }).index("by_exam", ["examId"]),

  // Where each operator pass over the exams stands (resumable batches). Written by convex/migrations.ts.
  migrationProgress: defineTable({
    pass: v.union(v.literal("migrate"), v.literal("cleanup")),
    afterCreationTime: v.optional(v.number()), // exams created up to this time are done
    current: v.optional(
      v.object({
        examId: v.id("exams"), // the exam a call stopped inside
        step: v.union(v.literal("import"), v.literal("verify")), // cleanup imports, then verifies, then clears
        nextIndex: v.number(), // next V1 array position of this step
        issues: v.number(), // verification issues found so far (cleanup)
        firstIssue: v.optional(v.string()),
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
  }).index("by_pass", ["pass"]),
});
