/**
 * The one keeper of exam headers (headers/examHeaders.ts), and the record of
 * every exam and question change:
 *
 * - {@link withExamHeaders}: the `ctx.db` of every mutation (headers/functions.ts).
 *   A write to an exam's own fields syncs its header and question list in the same
 *   transaction (two small reads); every exam and question write is recorded in
 *   `examChanges` (who, when, the fields before and after). A patch of
 *   `participants` alone (the legacy mirror, cleanup) passes straight through. A
 *   question write touches no exam: headers hold nothing of questions.
 * - The header check, for edits made around it (dashboard, `npx convex import`):
 *   {@link walkExamHeaders} visits every exam and every header in creation order, in
 *   budgeted calls; verify names what is stale, repair heals it and records a
 *   "repair" change. The scheduled pass (examAdmin:runHeaderCheck) runs every
 *   `intervalMinutes`, never two at once, and records how far every exam is known
 *   to have a header (`headersThrough`), which V1's lists rely on.
 *
 * @example
 * export const mutation = customMutation(rawMutation, customCtx((ctx) => ({ db: withExamHeaders(ctx) })));
 */
import type { Doc, Id, TableNames } from "../_generated/dataModel";
import type { DatabaseWriter, MutationCtx, QueryCtx } from "../_generated/server";
import * as z from "zod/v4";
import { parseCursor } from "../lib/cursor";
import { headerWithCopies } from "../lib/examHeaders";

type HeaderWithCopies = Awaited<ReturnType<typeof headerWithCopies>>;
import { CONVEX_LIMITS, WORK_BOUNDS } from "../lib/limits";
import { fitsBudget, transactionUsage, type Usage } from "../lib/budget";
import {
  HEADER_FIELDS,
  deleteHeader,
  fieldsOfHeader,
  headerFieldsOf,
  loadHeader,
  type StoredHeader,
  recordAbsorbed,
  staleFields,
  syncHeader,
  type ExamNow,
  type HeaderField,
} from "./examHeaders";
import { absorbCost, changedFields, lastKnownMatch, recordChange } from "./changes";

type Ctx = Pick<MutationCtx, "db" | "auth">;

const QUESTION_FIELDS = ["text", "options", "correctAnswer", "points"] as const;

/** What an authoring write absorbs (an edit made around the keeper, found by the write) is recorded as made by this. */
export const EXAM_WRITE = "exam write";

/**
 * After a write to an exam: its header and list follow, and the change is recorded; an edit made around
 * the keeper before it (the header held otherwise than the document before the write) is recorded first,
 * as a repair: the write absorbs it.
 */
async function examWritten(ctx: Ctx, examId: Id<"exams">, before: Doc<"exams"> | null, after: ExamNow | null) {
  const diff = changedFields(HEADER_FIELDS, before === null ? null : headerFieldsOf(before), after === null ? null : headerFieldsOf(after));
  if (diff.changed.length === 0) return;
  if (after === null) {
    await recordAbsorbed(ctx, examId, await loadHeader(ctx, examId), before!, EXAM_WRITE);
    await deleteHeader(ctx, examId);
  } else await syncHeader(ctx, examId, after, before === null ? null : { by: EXAM_WRITE, was: before });
  await recordChange(ctx, { examId }, before === null ? "insert" : after === null ? "delete" : "update", diff.before, diff.after);
}

/** After a write to a question: recorded (no exam holds anything of it). */
async function questionWritten(
  ctx: Ctx,
  questionId: Id<"questions">,
  before: Doc<"questions"> | null,
  after: Partial<Doc<"questions">> | null,
) {
  const diff = changedFields(QUESTION_FIELDS, before, after);
  if (diff.changed.length === 0) return;
  await recordChange(ctx, { questionId }, before === null ? "insert" : after === null ? "delete" : "update", diff.before, diff.after);
}

/** Only `participants` (or nothing) is written: not an edit of the exam. */
function participantsOnly(value: Record<string, unknown>): boolean {
  return Object.keys(value).every((k) => k === "participants");
}

type Watched = "exams" | "questions";

/**
 * `ctx.db` that keeps exam headers current and records exam and question changes.
 * Accepts both call styles of Convex's writer (`patch(table, id, value)` and `patch(id, value)`).
 */
export function withExamHeaders(ctx: Ctx): DatabaseWriter {
  const db = ctx.db;
  const watchedTable = (table: string | undefined, id: string): Watched | null => {
    if (table === "exams" || table === "questions") return table;
    if (table !== undefined) return null;
    if (db.normalizeId("exams", id) !== null) return "exams";
    if (db.normalizeId("questions", id) !== null) return "questions";
    return null;
  };
  // (table?, id, value?) in either call style.
  const split = (args: unknown[], withValue: boolean): { table: string | undefined; id: string; value: Record<string, unknown> } => {
    const tableFirst = args.length === (withValue ? 3 : 2);
    const [table, id, value] = tableFirst ? args : [undefined, ...args];
    return { table: table as string | undefined, id: id as string, value: (value ?? {}) as Record<string, unknown> };
  };
  const raw = db as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;

  const wrapped = {
    get: db.get.bind(db),
    query: db.query.bind(db),
    normalizeId: db.normalizeId.bind(db),
    system: db.system,
    async insert(table: TableNames, value: Record<string, unknown>) {
      const id = await raw.insert!.call(db, table, value);
      if (table === "exams") await examWritten(ctx, id as Id<"exams">, null, (await db.get(id as Id<"exams">))!);
      if (table === "questions") await questionWritten(ctx, id as Id<"questions">, null, value as Partial<Doc<"questions">>);
      return id;
    },
    async patch(...args: unknown[]) {
      const { table, id, value } = split(args, true);
      const watched = watchedTable(table, id);
      if (watched === null || (watched === "exams" && participantsOnly(value))) return raw.patch!.apply(db, args);
      const before = (await db.get(id as Id<Watched>)) as Doc<Watched> | null;
      await raw.patch!.apply(db, args);
      const after = before === null ? null : { ...before, ...value };
      if (watched === "exams") await examWritten(ctx, id as Id<"exams">, before as Doc<"exams">, after as Doc<"exams">);
      else await questionWritten(ctx, id as Id<"questions">, before as Doc<"questions">, after as Doc<"questions">);
    },
    async replace(...args: unknown[]) {
      const { table, id, value } = split(args, true);
      const watched = watchedTable(table, id);
      if (watched === null) return raw.replace!.apply(db, args);
      const before = (await db.get(id as Id<Watched>)) as Doc<Watched> | null;
      await raw.replace!.apply(db, args);
      if (watched === "exams") {
        const after = before === null ? null : ({ ...value, _creationTime: before._creationTime } as unknown as ExamNow);
        await examWritten(ctx, id as Id<"exams">, before as Doc<"exams">, after);
      } else await questionWritten(ctx, id as Id<"questions">, before as Doc<"questions">, value as Partial<Doc<"questions">>);
    },
    async delete(...args: unknown[]) {
      const { table, id } = split(args, false);
      const watched = watchedTable(table, id);
      if (watched === null) return raw.delete!.apply(db, args);
      const before = (await db.get(id as Id<Watched>)) as Doc<Watched> | null;
      await raw.delete!.apply(db, args);
      if (before === null) return;
      if (watched === "exams") await examWritten(ctx, id as Id<"exams">, before as Doc<"exams">, null);
      else await questionWritten(ctx, id as Id<"questions">, before as Doc<"questions">, null);
    },
  };
  return wrapped as unknown as DatabaseWriter;
}

// ---------------------------------------------------------------- the header check (edits made around the keeper)

/** One fact of one exam's header that disagrees with the exam: a field, the exam's creation time, or the header itself. */
export type StaleHeader = { examId: Id<"exams">; field: HeaderField | "examCreationTime" | "header"; held: unknown; live: unknown };

/** What an exam's header and list disagree with (a missing header, a header of a deleted exam, each stale field). Writes nothing. */
export async function staleHeaderOf(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">, exam: Doc<"exams"> | null): Promise<StaleHeader[]> {
  return staleOf(examId, await headerWithCopies(ctx, examId), exam);
}

function staleOf(examId: Id<"exams">, { stored, extra }: HeaderWithCopies, exam: Doc<"exams"> | null): StaleHeader[] {
  const copies = extra.headers.length + extra.lists.length;
  const duplicated: StaleHeader[] =
    copies === 0 ? [] : [{ examId, field: "header", held: `${copies} duplicate(s)`, live: "one header and list" }];
  return [...duplicated, ...staleOfStored(examId, stored, exam)];
}

function staleOfStored(examId: Id<"exams">, stored: StoredHeader, exam: Doc<"exams"> | null): StaleHeader[] {
  if (exam === null) {
    const present = stored.header !== null || stored.list !== null;
    return present ? [{ examId, field: "header", held: "present", live: "exam deleted" }] : [];
  }
  if (stored.header === null || stored.list === null) return [{ examId, field: "header", held: "missing", live: "exam exists" }];
  const held = fieldsOfHeader(stored.header, stored.list)!;
  const stale: StaleHeader[] = staleFields(stored, exam).map((field) => ({ examId, field, held: held[field], live: exam[field] }));
  if (stored.header.examCreationTime !== exam._creationTime) {
    stale.push({ examId, field: "examCreationTime", held: stored.header.examCreationTime, live: exam._creationTime });
  }
  return stale;
}

/** What the header check heals is recorded as made by this. */
export const HEADER_CHECK = "header check";

/**
 * Heals one exam's header and list against its document (or removes those of a deleted exam), recording
 * a "repair" change (when the edit was made is not known: since the exam was last known to match).
 */
export async function healExamHeader(ctx: Ctx, examId: Id<"exams">, exam: Doc<"exams"> | null): Promise<StaleHeader[]> {
  const copies = await headerWithCopies(ctx, examId);
  const stale = staleOf(examId, copies, exam);
  if (stale.length === 0) return stale;
  // Copies made around the keeper go first: the first header and list (the ones every read takes) stay.
  const { extra } = copies;
  for (const doc of extra.headers) await ctx.db.delete("examHeaders", doc._id);
  for (const doc of extra.lists) await ctx.db.delete("examQuestionLists", doc._id);
  if (exam === null) {
    const before = await deleteHeader(ctx, examId);
    const held = fieldsOfHeader(before.header, before.list);
    if (held !== null) {
      const since = await lastKnownMatch(ctx, examId, before.header!.examCreationTime);
      await recordChange(ctx, { examId }, "repair", held, null, { actor: { kind: "system", name: HEADER_CHECK }, since });
    }
    return stale;
  }
  await syncHeader(ctx, examId, exam, { by: HEADER_CHECK });
  return stale;
}

/** Where a header walk stands: every exam created up to `after` and every header labelled up to it is checked. */
const zHeaderCursor = z.object({ after: z.number().nullable() });
export type HeaderCursor = z.infer<typeof zHeaderCursor>;

/** Where a verify or repair walk stopped; INVALID_ARGUMENT (nothing done) when it is not one the walk returned. */
export function parseHeaderCursor(cursor: string | null | undefined): HeaderCursor {
  if (cursor == null) return { after: null };
  return parseCursor(zHeaderCursor, cursor, "verifyExamHeaders or repairExamHeaders");
}

/**
 * Room for one step of the walk: the next exam document at its largest, its header, list and the headers
 * labelled before it (4 ranges), and what healing writes (header, list of up to 8,192 ids), and the
 * record of what each heal absorbed, the exam's and each orphan header's (its reads and documents: absorbCost).
 */
const RECORD = absorbCost(CONVEX_LIMITS.arrayElements);
const HEALS = 1 + WORK_BOUNDS.orphanHeadersPerStep;
const HEADER_STEP: Usage = {
  bytesRead: CONVEX_LIMITS.documentBytes + 4 * 64 * 1024 + HEALS * RECORD.bytesRead,
  documentsRead: 4 + WORK_BOUNDS.orphanHeadersPerStep + HEALS * RECORD.documentsRead,
  databaseQueries: 4 + WORK_BOUNDS.orphanHeadersPerStep + HEALS * RECORD.databaseQueries,
  bytesWritten: 2 * CONVEX_LIMITS.arrayElements * 64 + HEALS * RECORD.bytesWritten,
  documentsWritten: 2 + 2 * WORK_BOUNDS.orphanHeadersPerStep + HEALS * RECORD.documentsWritten,
};

/**
 * One budgeted call of the walk over every exam and every header, in exam creation order: each exam
 * is visited with its document; a header labelled with a creation time no exam has (its exam was
 * deleted, or the label was edited) is visited with the exam it names (null: deleted). `visit`
 * heals (repair) or only reports (verify). At most WORK_BOUNDS.headerCheckExams exams per call.
 */
export async function walkExamHeaders(
  ctx: QueryCtx,
  cursor: HeaderCursor,
  visit: (examId: Id<"exams">, exam: Doc<"exams"> | null) => Promise<StaleHeader[]>,
): Promise<{ stale: StaleHeader[]; checked: number; bytesRead: number; next: HeaderCursor | null }> {
  const stale: StaleHeader[] = [];
  const start = await transactionUsage(ctx);
  let { after } = cursor;
  let checked = 0;
  const done = async (next: HeaderCursor | null) => ({
    stale,
    checked,
    bytesRead: (await transactionUsage(ctx)).bytesRead - start.bytesRead,
    next,
  });
  for (;;) {
    if (checked >= WORK_BOUNDS.headerCheckExams || (checked > 0 && !fitsBudget(await transactionUsage(ctx), HEADER_STEP))) {
      return done({ after });
    }
    const from = after;
    const exam = await ctx.db
      .query("exams")
      .withIndex("by_creation_time", (q) => (from === null ? q : q.gt("_creationTime", from)))
      .first();
    const upTo = exam?._creationTime ?? Infinity;
    // Headers labelled before this exam (after the last one): no exam was created then.
    const labelled = await ctx.db
      .query("examHeaders")
      .withIndex("by_exam_creation_time", (q) =>
        from === null ? q.lt("examCreationTime", upTo) : q.gt("examCreationTime", from).lt("examCreationTime", upTo),
      )
      .take(WORK_BOUNDS.orphanHeadersPerStep + 1);
    for (const header of labelled.slice(0, WORK_BOUNDS.orphanHeadersPerStep)) {
      stale.push(...(await visit(header.examId, await ctx.db.get("exams", header.examId))));
    }
    if (labelled.length > WORK_BOUNDS.orphanHeadersPerStep) {
      // More such headers than one step takes: the next step starts at the last one's label.
      after = labelled[WORK_BOUNDS.orphanHeadersPerStep - 1]!.examCreationTime;
      checked += 1;
      continue;
    }
    if (exam === null) return done(null);
    stale.push(...(await visit(exam._id, exam)));
    after = exam._creationTime;
    checked += 1;
  }
}
