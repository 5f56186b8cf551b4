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
import { budgetSpent, LOOP_SHARES } from "./lib/budget";
import { readChange } from "./headers/changes";
import { participationFields, vActor, vAttemptStatus, vOrigin } from "./lib/validators";
import { vIssue, type Issue } from "./lib/issues";
import { readStreamHead, toRecordedEvent, type RecordedEvent } from "./events/store";
import { loadParticipation } from "./projections/tables";
import { HEADER_FIELDS, fieldsOfHeader, headerFieldsOf } from "./headers/examHeaders";
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
  /** insert / update / delete through the backend's writers, or "repair": an edit made around them, found and absorbed. */
  operation: v.string(),
  actor: vActor,
  at: v.number(),
  /** A repair: the edit was made after this time, at or before `at` (when exactly is not known). */
  since: v.optional(v.number()),
  /** The changed fields before and after (null for a creation / a deletion; a repair's before: null when no header held them). */
  before: v.any(),
  after: v.any(),
});
type ExamChange = typeof vExamChange.type;

/** Changes one page of the trail carries at most, besides its events. */
const MAX_CHANGES_PER_PAGE = 50;
/** Question histories one page looks into at most (one index range each, two when resuming inside one). */
const MAX_CHANGE_RANGES_PER_PAGE = 256;

/** The exam's own changes come first, then each question's (questions in id order); each in the order recorded. */
const EXAM_STREAM = "exam";

/** Where the changes stand: the stream in progress and the last change returned from it (null: none yet). */
const zChangesAt = z.object({ stream: z.string(), at: z.number().nullable(), creationTime: z.number().nullable() });
type ChangesAt = z.infer<typeof zChangesAt>;

/** The trail's cursor: Convex's cursor over the events (null: all returned), and where the changes stand (null: all returned). */
const zTrailCursor = z.object({ events: z.string().nullable(), changes: zChangesAt.nullable() });
type TrailCursor = { events: { cursor: string | null } | null; changes: ChangesAt | null };

function parseTrailCursor(cursor: string | null): TrailCursor {
  if (cursor === null) return { events: { cursor: null }, changes: { stream: EXAM_STREAM, at: null, creationTime: null } };
  const parsed = parseCursor(zTrailCursor, cursor, "getExamAuditTrail");
  return { events: parsed.events === null ? null : { cursor: parsed.events }, changes: parsed.changes };
}

/** A change as the trail shows it, its values read back whole. */
async function changeOf(ctx: QueryCtx, head: Doc<"examChanges">): Promise<ExamChange> {
  const { before, after } = await readChange(ctx, head);
  const { _id, _creationTime: _c, parts: _p, before: _b, after: _a, ...rest } = head;
  return { changeId: _id, ...rest, before, after };
}

type AtRange = {
  eq(field: "at", value: number): { gt(field: "_creationTime", value: number): unknown };
  gt(field: "at", value: number): unknown;
};

/** The index ranges of one stream of changes after a position (one range from its start, two from inside it). */
function streamRanges(ctx: QueryCtx, examId: Id<"exams">, at: ChangesAt) {
  const open = (build: (r: AtRange) => unknown) =>
    at.stream === EXAM_STREAM
      ? ctx.db.query("examChanges").withIndex("by_exam_and_at", (r) => build(r.eq("examId", examId) as unknown as AtRange) as never)
      : ctx.db
          .query("examChanges")
          .withIndex("by_question_and_at", (r) => build(r.eq("questionId", at.stream as Id<"questions">) as unknown as AtRange) as never);
  const { at: time, creationTime } = at;
  if (time === null || creationTime === null) return [open((r) => r)];
  return [open((r) => r.eq("at", time).gt("_creationTime", creationTime)), open((r) => r.gt("at", time))];
}

/**
 * The next changes of the exam and of its questions (its list's current and former ids), from `from`:
 * at most MAX_CHANGES_PER_PAGE, MAX_CHANGE_RANGES_PER_PAGE index ranges and LOOP_SHARES.trailChanges of
 * every limit (at least one change, or one range, per page: every page moves on).
 */
async function changesFrom(
  ctx: QueryCtx,
  examId: Id<"exams">,
  from: ChangesAt,
): Promise<{ changes: ExamChange[]; next: ChangesAt | null }> {
  const changes: ExamChange[] = [];
  let at = from;
  let ranges = 0;
  let questions: string[] | null = null;
  const spent = async () =>
    changes.length >= MAX_CHANGES_PER_PAGE || (changes.length > 0 && (await budgetSpent(ctx, LOOP_SHARES.trailChanges)));
  for (;;) {
    for (const range of streamRanges(ctx, examId, at)) {
      if (ranges >= MAX_CHANGE_RANGES_PER_PAGE || (await spent())) return { changes, next: at };
      ranges += 1;
      for await (const head of range) {
        if (await spent()) return { changes, next: at };
        changes.push(await changeOf(ctx, head));
        at = { stream: at.stream, at: head.at, creationTime: head._creationTime };
      }
    }
    if (questions === null) {
      const list = await getQuestionList(ctx, examId);
      questions = [...new Set<string>([...(list?.questionIds ?? []), ...(list?.formerQuestionIds ?? [])])].sort();
    }
    const stream = at.stream;
    const following = stream === EXAM_STREAM ? questions[0] : questions.find((id) => id > stream);
    if (following === undefined) return { changes, next: null };
    at = { stream: following, at: null, creationTime: null };
  }
}

/**
 * Every event of an exam, all attempts, in the order they were recorded (the page: `paginationOpts`), and
 * every change of the exam and its questions (docs/audit.md: who, when, fields before and after), a bounded
 * share with each page on a cursor of their own, whatever their number. `isDone` once both are returned:
 * pages after the last event carry only changes. Admin only.
 */
export const getExamAuditTrail = query({
  args: { examId: v.id("exams"), paginationOpts: paginationOptsValidator },
  returns: v.object({
    ...paginationResultValidator(vAuditEvent).fields,
    examChanges: v.array(vExamChange),
    /** Every event returned through this page. */
    eventsDone: v.optional(v.boolean()),
    /** Every change returned through this page. */
    changesDone: v.optional(v.boolean()),
  }),
  handler: async (ctx, { examId, paginationOpts }) => {
    await requireAdminCaller(ctx);
    const cursor = parseTrailCursor(paginationOpts.cursor);
    const events =
      cursor.events === null
        ? { page: [], isDone: true, continueCursor: null }
        : await ctx.db
            .query("examEvents")
            .withIndex("by_exam", (q) => q.eq("examId", examId))
            .paginate({ ...paginationOpts, cursor: cursor.events.cursor });
    const changes = cursor.changes === null ? { changes: [], next: null } : await changesFrom(ctx, examId, cursor.changes);
    const changesDone = changes.next === null;
    return {
      page: events.page.map((doc) => auditEventOf(doc, true)),
      isDone: events.isDone && changesDone,
      continueCursor: JSON.stringify({ events: events.isDone ? null : events.continueCursor, changes: changes.next }),
      examChanges: changes.changes,
      eventsDone: events.isDone,
      changesDone,
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
   * The exam's facts in force at `at` (null if the exam did not exist then): for each fact, the value the
   * first change recorded after `at` found (its before), else its value now. A fact an edit made around the
   * backend changed at an unknown time between `from` and `to`, with `at` in between, is in `uncertain`:
   * the field holds the value before (what the header, and so V2, held; the value after when no header held one).
   */
  exam: v.union(
    v.null(),
    v.object({
      title: v.string(),
      durationMs: v.number(),
      maxPauses: v.number(),
      questionIds: v.array(v.id("questions")),
      uncertain: v.optional(
        v.array(v.object({ field: v.string(), from: v.number(), to: v.number(), before: v.optional(v.any()), after: v.any() })),
      ),
    }),
  ),
});
type StateAt = typeof vStateAt.type;

type Fact = (typeof HEADER_FIELDS)[number];
type Uncertain = NonNullable<NonNullable<StateAt["exam"]>["uncertain"]>[number];

/**
 * The exam's facts at `at`: the changes recorded after `at`, in order, until each fact is found (the first
 * change of a fact holds its value before), then the facts now for those no later change touched. Reads
 * only those changes: within LOOP_SHARES.stateAtChanges of every limit, past it LIMIT_EXCEEDED.
 */
async function examFieldsAt(ctx: QueryCtx, examId: Id<"exams">, at: number): Promise<StateAt["exam"]> {
  const found: Partial<Record<Fact, unknown>> = {};
  const uncertain: Uncertain[] = [];
  const open = () => HEADER_FIELDS.filter((f) => !(f in found));
  const later = ctx.db.query("examChanges").withIndex("by_exam_and_at", (q) => q.eq("examId", examId).gt("at", at));
  for await (const head of later) {
    if (open().length === 0) break;
    if (await budgetSpent(ctx, LOOP_SHARES.stateAtChanges)) {
      throw domainError(
        "LIMIT_EXCEEDED",
        "Too many changes of this exam since `at` to read in one call: its facts then cannot be rebuilt.",
      );
    }
    const change = (await readChange(ctx, head)) as { before: Record<string, unknown> | null; after: Record<string, unknown> | null };
    const before = change.before;
    if (head.operation === "insert") return null;
    const windowed = head.operation === "repair" && head.since !== undefined;
    if (windowed && before === null && at < head.since!) return null; // no header held it: it exists since `since`, its creation
    if (!windowed || at < head.since!) {
      for (const f of open()) if (before !== null && f in before) found[f] = before[f];
      continue;
    }
    // Made around the keeper between `since` and the change, when is not known: either value held at `at`.
    const after = change.after;
    for (const f of open()) {
      if (!(before !== null && f in before) && !(after !== null && f in after)) continue;
      found[f] = before !== null && f in before ? before[f] : after![f];
      uncertain.push({
        field: f,
        from: head.since!,
        to: head.at,
        ...(before !== null && f in before ? { before: before[f] } : {}),
        after: after === null ? null : after[f],
      });
    }
  }
  let now: Record<string, unknown> | null = null;
  if (open().length > 0) {
    const [header, list] = await Promise.all([getExamHeader(ctx, examId), getQuestionList(ctx, examId)]);
    now = fieldsOfHeader(header, list);
    if (now === null) {
      const exam = await ctx.db.get("exams", examId);
      if (exam === null) return null;
      now = headerFieldsOf(exam);
    }
  }
  const facts = { ...now, ...found } as Omit<NonNullable<StateAt["exam"]>, "uncertain">;
  return uncertain.length === 0 ? facts : { ...facts, uncertain };
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
