/**
 * The audit trail (docs/audit.md): an attempt's history, an exam's whole trail,
 * an attempt as it stood at a moment, and the operators' tamper check.
 * Thin: the rules live in auditTrail/timeline.ts and events/chain.ts.
 *
 * @example
 * const page = await convex.query(api.audit.getParticipationHistory, {
 *   examId, paginationOpts: { numItems: 50, cursor: null },
 * });
 * const then = await convex.query(api.audit.getParticipationStateAt, { examId, userId, at: Date.parse("2026-06-01T09:30Z") });
 * // operators: npx convex run audit:verifyAuditChain '{"examId": "..."}'  (repeat with the returned cursor until isDone)
 */
import { paginationOptsValidator, paginationResultValidator } from "convex/server";
import { v } from "convex/values";
import * as z from "zod/v4";
import type { Doc, Id } from "./_generated/dataModel";
import { internalQuery, query, type QueryCtx } from "./_generated/server";
import { requireUser } from "./lib/auth";
import { domainError } from "./lib/errors";
import { parseCursor } from "./lib/cursor";
import { HALF_TRANSACTION_LIMITS } from "./lib/limits";
import { participationFields, vActor, vAttemptStatus, vOrigin } from "./lib/validators";
import { vIssue, type Issue } from "./lib/issues";
import { readStreamHead, toRecordedEvent, type RecordedEvent } from "./events/store";
import { loadParticipation } from "./projections/tables";
import { fieldsOfHeader, headerFieldsOf } from "./headers/examHeaders";
import { getExamHeader, getQuestionList } from "./lib/examHeaders";
import { attemptAt, effectiveTime, occurredAt } from "./auditTrail/timeline";
import { checkChainBatch, checkProjectionHead, checkRowHasEvents, type ChainEvent, type OpenStream } from "./events/chain";

// ---------------------------------------------------------------- access

/** The attempt's user: the caller's own (userId omitted or = self), anyone's for an admin; else FORBIDDEN. */
async function attemptSubject(ctx: QueryCtx, userId: Id<"users"> | undefined) {
  const caller = await requireUser(ctx);
  const isAdmin = caller.role === "admin";
  const subject = userId ?? caller._id;
  if (subject !== caller._id && !isAdmin) throw domainError("FORBIDDEN", "A student may only see their own attempts.");
  return { subject, isAdmin };
}

async function requireAdminCaller(ctx: QueryCtx) {
  const caller = await requireUser(ctx);
  if (caller.role !== "admin") throw domainError("FORBIDDEN", "The exam's audit trail is for admins.");
}

// ---------------------------------------------------------------- history entries

const vAuditEvent = v.object({
  eventId: v.id("examEvents"),
  examId: v.id("exams"),
  userId: v.id("users"),
  type: v.string(),
  /** Per-attempt sequence number (the stream version). */
  sequence: v.number(),
  /** The shape version `data` was stored at; `data` itself is always shown at the current version. */
  schemaVersion: v.number(),
  /** Server time of the append. */
  recordedAt: v.number(),
  /** The time the event's data says it happened (absent for legacy imports: their data carries the V1 times). */
  occurredAt: v.optional(v.number()),
  actor: vActor,
  origin: vOrigin,
  commandId: v.string(),
  data: v.any(),
  hash: v.string(),
  /** Graded facts (isCorrect, score) hidden: a student's view of an uncompleted attempt. */
  redacted: v.optional(v.boolean()),
  /** Set when the catalog cannot read the stored event (tampering): `data` is then shown as stored. */
  readError: v.optional(v.string()),
});
type AuditEvent = typeof vAuditEvent.type;

type Graded = { answers: { questionId: string; selectedAnswer: string; isCorrect?: boolean }[]; score?: number };

/** Drops isCorrect and score: a student never learns correctness before the attempt is completed (docs/exam-api.md). */
function withoutGrading<T extends Graded>(facts: T): Omit<T, "score"> {
  const { score: _score, ...rest } = facts;
  return { ...rest, answers: facts.answers.map(({ questionId, selectedAnswer }) => ({ questionId, selectedAnswer })) };
}

/**
 * An event's data as the caller may see it: grading is the student's to see
 * only once THEIR ATTEMPT is completed (not merely the event's own entry: a
 * completed duplicate V1 entry of an uncompleted attempt carries the correct answers).
 */
function visibleData(event: RecordedEvent, showGrading: boolean): { data: unknown; redacted?: true } {
  if (showGrading) return { data: event.data };
  if (event.type === "LegacyParticipantImported" || event.type === "LegacyDuplicateImported" || event.type === "LegacyEntryChanged") {
    return { data: { ...event.data, participant: withoutGrading(event.data.participant) }, redacted: true };
  }
  if (event.type === "AnswersSubmitted") return { data: withoutGrading(event.data), redacted: true };
  return { data: event.data };
}

function auditEventOf(doc: Doc<"examEvents">, isAdmin: boolean, showGrading: boolean = isAdmin): AuditEvent {
  const base = {
    eventId: doc._id,
    examId: doc.examId,
    userId: doc.userId,
    type: doc.type,
    sequence: doc.version,
    schemaVersion: doc.schemaVersion,
    recordedAt: doc.recordedAt,
    actor: doc.actor,
    origin: doc.origin,
    commandId: doc.commandId,
    hash: doc.hash,
  };
  let event: RecordedEvent;
  try {
    event = toRecordedEvent(doc);
  } catch (error) {
    return { ...base, data: isAdmin ? doc.data : null, readError: String(error) };
  }
  const when = occurredAt(event);
  return { ...base, ...visibleData(event, showGrading), ...(when === undefined ? {} : { occurredAt: when }) };
}

/** Whether the attempt is completed: its projected row, checked against the stream head (a row behind the log does not count). */
async function attemptCompleted(ctx: QueryCtx, stream: { examId: Id<"exams">; userId: Id<"users"> }): Promise<boolean> {
  const [row, head] = await Promise.all([loadParticipation(ctx, stream), readStreamHead(ctx, stream)]);
  return row !== null && head !== null && row.version === head.version && row.completedAt !== undefined;
}

/** The events of one attempt in order, a page at a time. */
export const getParticipationHistory = query({
  args: { examId: v.id("exams"), userId: v.optional(v.id("users")), paginationOpts: paginationOptsValidator },
  returns: paginationResultValidator(vAuditEvent),
  handler: async (ctx, { examId, userId, paginationOpts }) => {
    const { subject, isAdmin } = await attemptSubject(ctx, userId);
    const result = await ctx.db
      .query("examEvents")
      .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", examId).eq("userId", subject))
      .paginate(paginationOpts);
    const showGrading = isAdmin || (await attemptCompleted(ctx, { examId, userId: subject }));
    return { ...result, page: result.page.map((doc) => auditEventOf(doc, isAdmin, showGrading)) };
  },
});

const vExamChange = v.object({
  changeId: v.id("examChanges"),
  examId: v.optional(v.id("exams")),
  questionId: v.optional(v.id("questions")),
  /** insert / update / delete through the backend's writers, or "repair": an edit made around them, found and healed. */
  operation: v.string(),
  actor: vActor,
  at: v.number(),
  /** The changed fields before and after (null for a creation / a deletion). */
  before: v.any(),
  after: v.any(),
});

/** Changes one page of the trail carries: at most this many (more in one page's time span: LIMIT_EXCEEDED). */
const MAX_CHANGES_PER_PAGE = 1_000;

/** Question histories one page looks up (one index range each: within half of Convex's 4,096). */
const MAX_QUESTIONS_IN_TRAIL = 1_500;

/** The trail's cursor: Convex's cursor over the events, and the time up to which changes were already returned. */
const zTrailCursor = z.object({ events: z.string().nullable(), changesAfter: z.number().nullable() });

function parseTrailCursor(cursor: string | null): z.infer<typeof zTrailCursor> {
  if (cursor === null) return { events: null, changesAfter: null };
  return parseCursor(zTrailCursor, cursor, "getExamAuditTrail");
}

/**
 * The exam's changes and those of its questions (its list's current and former
 * ids) recorded in (after, upTo], in time order.
 */
async function examChangesBetween(ctx: QueryCtx, examId: Id<"exams">, after: number | null, upTo: number | null) {
  const list = await getQuestionList(ctx, examId);
  const [lo, hi] = [after ?? -Infinity, upTo ?? Infinity];
  const own = await ctx.db
    .query("examChanges")
    .withIndex("by_exam_and_at", (q) => q.eq("examId", examId).gt("at", lo).lte("at", hi))
    .take(MAX_CHANGES_PER_PAGE + 1);
  const questionIds = [...new Set([...(list?.questionIds ?? []), ...(list?.formerQuestionIds ?? [])])];
  if (questionIds.length > MAX_QUESTIONS_IN_TRAIL) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `The exam has had more than ${MAX_QUESTIONS_IN_TRAIL} questions (MAX_QUESTIONS_IN_TRAIL): one index range each would pass half of Convex's limit.`,
    );
  }
  const ofQuestions = await Promise.all(
    questionIds.map((questionId) =>
      ctx.db
        .query("examChanges")
        .withIndex("by_question_and_at", (q) => q.eq("questionId", questionId).gt("at", lo).lte("at", hi))
        .take(MAX_CHANGES_PER_PAGE + 1),
    ),
  );
  const all = [...own, ...ofQuestions.flat()].sort((a, b) => a.at - b.at || a._creationTime - b._creationTime);
  if (all.length > MAX_CHANGES_PER_PAGE) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `More than ${MAX_CHANGES_PER_PAGE} exam changes in one page of the trail: ask for fewer events per page.`,
    );
  }
  return all.map(({ _id, _creationTime: _c, ...change }) => ({ changeId: _id, ...change }));
}

/**
 * Every event of an exam, all attempts, in the order they were recorded, and
 * every change of the exam and its questions (docs/audit.md: who, when, fields
 * before and after), each page carrying the changes recorded up to its last
 * event (the last page: all the rest). Admin only.
 */
export const getExamAuditTrail = query({
  args: { examId: v.id("exams"), paginationOpts: paginationOptsValidator },
  returns: v.object({ ...paginationResultValidator(vAuditEvent).fields, examChanges: v.array(vExamChange) }),
  handler: async (ctx, { examId, paginationOpts }) => {
    await requireAdminCaller(ctx);
    const cursor = parseTrailCursor(paginationOpts.cursor);
    const result = await ctx.db
      .query("examEvents")
      .withIndex("by_exam", (q) => q.eq("examId", examId))
      .paginate({ ...paginationOpts, cursor: cursor.events });
    const last = result.page[result.page.length - 1];
    const upTo = result.isDone || last === undefined ? null : last._creationTime;
    const examChanges = await examChangesBetween(ctx, examId, cursor.changesAfter, upTo);
    return {
      page: result.page.map((doc) => auditEventOf(doc, true)),
      isDone: result.isDone,
      continueCursor: JSON.stringify({ events: result.continueCursor, changesAfter: upTo ?? cursor.changesAfter }),
      examChanges,
    };
  },
});

// ---------------------------------------------------------------- point in time

const { userId: _userId, score: _score, ...factFields } = participationFields;

const vStateAt = v.object({
  examId: v.id("exams"),
  userId: v.id("users"),
  at: v.number(),
  status: vAttemptStatus,
  /** The participation facts at `at` (null before the attempt started); score hidden from a student until completed. */
  participation: v.union(v.null(), v.object({ ...factFields, score: v.optional(v.number()) })),
  answers: v.array(
    v.object({
      questionId: v.id("questions"),
      selectedAnswer: v.string(),
      isCorrect: v.optional(v.boolean()),
      position: v.number(),
    }),
  ),
  /** The stream version reached by `at`. */
  version: v.number(),
  eventsApplied: v.number(),
  /** False when `at` falls in a V1 attempt's unrecorded past: see `legacy`. */
  exact: v.boolean(),
  legacy: v.optional(v.object({ startedAt: v.number(), knownFrom: v.number(), importedAt: v.number(), note: v.string() })),
  redacted: v.boolean(),
  /**
   * The exam's facts in force at `at` (null if the exam did not exist then): its facts now, with every
   * change recorded after `at` undone. An edit made around the backend is dated when the repair found it.
   */
  exam: v.union(
    v.null(),
    v.object({ title: v.string(), durationMs: v.number(), maxPauses: v.number(), questionIds: v.array(v.id("questions")) }),
  ),
});
type StateAt = typeof vStateAt.type;

/** Changes of one exam walked back to reconstruct its facts: at most this many after `at`. */
const MAX_CHANGES_WALKED_BACK = 1_000;

async function examFieldsAt(ctx: QueryCtx, examId: Id<"exams">, at: number): Promise<StateAt["exam"]> {
  const [header, list] = await Promise.all([getExamHeader(ctx, examId), getQuestionList(ctx, examId)]);
  let fields: Record<string, unknown> | null = fieldsOfHeader(header, list);
  if (fields === null) {
    const exam = await ctx.db.get("exams", examId);
    fields = exam === null ? null : headerFieldsOf(exam);
  }
  const later = await ctx.db
    .query("examChanges")
    .withIndex("by_exam_and_at", (q) => q.eq("examId", examId).gt("at", at))
    .order("desc")
    .take(MAX_CHANGES_WALKED_BACK + 1);
  if (later.length > MAX_CHANGES_WALKED_BACK) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `More than ${MAX_CHANGES_WALKED_BACK} changes of this exam since \`at\`: its facts then cannot be rebuilt.`,
    );
  }
  for (const change of later) fields = change.before === null ? null : { ...(fields ?? {}), ...(change.before as object) };
  return fields as StateAt["exam"];
}

/** The attempt as it stood at `at`, rebuilt from its events with the projections' own functions. */
export const getParticipationStateAt = query({
  args: { examId: v.id("exams"), userId: v.optional(v.id("users")), at: v.number() },
  returns: vStateAt,
  handler: async (ctx, { examId, userId, at }) => {
    const { subject, isAdmin } = await attemptSubject(ctx, userId);
    // Reads the stream only up to the first event after `at`.
    const events: RecordedEvent[] = [];
    const docs = ctx.db.query("examEvents").withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", examId).eq("userId", subject));
    for await (const doc of docs) {
      const event = toRecordedEvent(doc);
      events.push(event);
      if (effectiveTime(event) > at) break;
    }
    const then = attemptAt(events, at);
    const redacted = !isAdmin && then.status !== "completed";
    const row = then.rows.participation;
    const participation =
      row === null
        ? null
        : (({ version: _v, lastEventHash: _h, rankScore: _r, rankTieBreak: _t, legacyEntries: _l, ...facts }) =>
            redacted ? (({ score: _s, ...rest }) => rest)(facts) : facts)(row);
    const answers: StateAt["answers"] = then.rows.answers.map((a) =>
      redacted ? { questionId: a.questionId, selectedAnswer: a.selectedAnswer, position: a.position } : a,
    );
    return {
      examId,
      userId: subject,
      at,
      status: then.status,
      participation,
      answers,
      version: then.version,
      eventsApplied: then.eventsApplied,
      exact: then.exact,
      ...(then.legacy === undefined ? {} : { legacy: then.legacy }),
      redacted,
      exam: await examFieldsAt(ctx, examId, at),
    };
  },
});

// ---------------------------------------------------------------- tamper check

/** Events hashed per call: well within half of every limit (and of the 1 s of user code). */
const DEFAULT_EVENTS_PER_BATCH = 1_000;
/** Events' share of the half read budget; the rest is for projection rows. */
const EVENT_BYTES_PER_BATCH = HALF_TRANSACTION_LIMITS.bytesRead / 2;

const zCursor = z.object({
  examId: z.string().nullable(),
  phase: z.enum(["events", "rows"]),
  page: z.string().nullable(),
  open: z
    .object({
      examId: z.string(),
      userId: z.string(),
      version: z.number(),
      hash: z.string(),
      eventId: z.string(),
      events: z.number(),
    })
    .nullable(),
});
type ChainCursor = z.infer<typeof zCursor>;

function parseChainCursor(cursor: string, examId: string | null): ChainCursor {
  const parsed = parseCursor(zCursor, cursor, "verifyAuditChain");
  if (parsed.examId !== examId) throw domainError("INVALID_ARGUMENT", "The cursor belongs to a check of another exam.");
  return parsed;
}

function chainEventOf(doc: Doc<"examEvents">): ChainEvent {
  const { _id, _creationTime: _c, ...content } = doc;
  return { ...content, eventId: _id };
}

/**
 * Operators: checks the log's hash chains and that every projection row
 * reflects its chain's head. Resumable: call again with `continueCursor` until
 * `isDone`; the run is valid when every call returned `isValid`. Writes nothing.
 */
export const verifyAuditChain = internalQuery({
  args: {
    examId: v.optional(v.id("exams")),
    cursor: v.optional(v.union(v.string(), v.null())),
    batchSize: v.optional(v.number()),
  },
  returns: v.object({
    isValid: v.boolean(),
    issues: v.array(vIssue),
    isDone: v.boolean(),
    continueCursor: v.union(v.string(), v.null()),
    summary: v.object({
      phase: v.union(v.literal("events"), v.literal("rows")),
      eventsChecked: v.number(),
      streamsChecked: v.number(),
      rowsChecked: v.number(),
    }),
  }),
  handler: async (ctx, args) => {
    const examId = args.examId ?? null;
    const numItems = Math.max(1, Math.min(args.batchSize ?? DEFAULT_EVENTS_PER_BATCH, DEFAULT_EVENTS_PER_BATCH));
    const state: ChainCursor =
      args.cursor == null ? { examId, phase: "events", page: null, open: null } : parseChainCursor(args.cursor, examId);
    const issues: Issue[] = [];
    const summary = { phase: state.phase, eventsChecked: 0, streamsChecked: 0, rowsChecked: 0 };
    let next: ChainCursor | null;

    if (state.phase === "events") {
      const events = args.examId
        ? ctx.db.query("examEvents").withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", args.examId!))
        : ctx.db.query("examEvents").withIndex("by_exam_and_user_and_version");
      const page = await events.paginate({ cursor: state.page, numItems, maximumBytesRead: EVENT_BYTES_PER_BATCH });
      const checked = await checkChainBatch(page.page.map(chainEventOf), state.open as OpenStream | null, page.isDone);
      issues.push(...checked.issues);
      for (const head of checked.closed) {
        const stream = { examId: head.examId as Id<"exams">, userId: head.userId as Id<"users"> };
        issues.push(...checkProjectionHead(head, await loadParticipation(ctx, stream)));
      }
      summary.eventsChecked = page.page.length;
      summary.streamsChecked = checked.closed.length;
      next = page.isDone
        ? { examId, phase: "rows", page: null, open: null }
        : { examId, phase: "events", page: page.continueCursor, open: checked.open };
    } else {
      // Rows whose stream is gone entirely: the event scan cannot see them.
      const rows = args.examId
        ? ctx.db.query("examParticipations").withIndex("by_exam_and_user", (q) => q.eq("examId", args.examId!))
        : ctx.db.query("examParticipations").withIndex("by_exam_and_user");
      const page = await rows.paginate({ cursor: state.page, numItems });
      for (const row of page.page) issues.push(...checkRowHasEvents(row, await readStreamHead(ctx, row)));
      summary.rowsChecked = page.page.length;
      next = page.isDone ? null : { examId, phase: "rows", page: page.continueCursor, open: null };
    }
    return {
      isValid: issues.length === 0,
      issues,
      isDone: next === null,
      continueCursor: next === null ? null : JSON.stringify(next),
      summary,
    };
  },
});
