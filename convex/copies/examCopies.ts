/**
 * The one mechanism that keeps what the backend derives from `exams` current:
 * a `ctx.db` wrapper (copies/functions.ts builds every mutation with it). A write
 * to `exams` rewrites the exam's definition in the same transaction; every
 * exam and question write is recorded in `examChanges` (who, when, the fields
 * before and after). A patch of `participants` alone (the legacy mirror,
 * cleanup) is not an edit: it passes straight through, reading nothing more.
 *
 * Edits made around it are found by {@link staleCopiesOf} and healed by
 * {@link healExamCopy}, exam after exam over {@link walkExamCopies}
 * (examAdmin:verifyExamCopies, examAdmin:repairExamCopies, scheduled by crons.ts).
 *
 * @example
 * export const mutation = customMutation(rawMutation, customCtx((ctx) => ({ db: withExamCopies(ctx) })));
 */
import type { Doc, Id, TableNames } from "../_generated/dataModel";
import type { DatabaseWriter, MutationCtx, QueryCtx } from "../_generated/server";
import * as z from "zod/v4";
import type { Actor } from "../lib/validators";
import { parseCursor } from "../lib/cursor";
import { staleResults } from "../projections/results";
import {
  COPIED_FIELDS,
  deleteCopies,
  examFactsOf,
  factsOfCopies,
  loadCopies,
  patchQuestionCopies,
  refreshResults,
  staleCopies,
  syncDefinition,
  type CopiesCtx,
  type ResultRefresh,
  type CopyField,
  type StaleField,
  type ExamFacts,
} from "./examDefinitions";
import { getExamDefinition, getQuestionList } from "../lib/examFacts";

type Ctx = CopiesCtx & Pick<MutationCtx, "auth">;
type ChangeOperation = Doc<"examChanges">["operation"];

const QUESTION_FIELDS = ["text", "options", "correctAnswer", "points"] as const;

/** The signed-in caller as an actor, or the system for internal functions. */
async function actorOf(ctx: Ctx): Promise<Actor> {
  const identity = await ctx.auth.getUserIdentity();
  if (identity !== null) {
    const user = await ctx.db
      .query("users")
      .withIndex("by_token", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
      .unique();
    if (user !== null) return { kind: "user", userId: user._id };
  }
  return { kind: "system", name: "internal mutation" };
}

/** The fields of `keys` that differ between two versions of a document, before and after (null for a side that does not exist). */
export function changedFields<K extends string>(
  keys: readonly K[],
  before: Partial<Record<K, unknown>> | null,
  after: Partial<Record<K, unknown>> | null,
): { before: Partial<Record<K, unknown>> | null; after: Partial<Record<K, unknown>> | null; changed: K[] } {
  const changed = keys.filter((k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]));
  const pick = (doc: Partial<Record<K, unknown>> | null) =>
    doc === null
      ? null
      : (Object.fromEntries(changed.flatMap((k) => (doc[k] === undefined ? [] : [[k, doc[k]]]))) as Partial<Record<K, unknown>>);
  return { before: pick(before), after: pick(after), changed };
}

export async function recordChange(
  ctx: Ctx,
  target: { examId: Id<"exams"> } | { questionId: Id<"questions"> },
  operation: ChangeOperation,
  before: unknown,
  after: unknown,
  actor?: Actor,
): Promise<void> {
  await ctx.db.insert("examChanges", {
    ...target,
    operation,
    actor: actor ?? (await actorOf(ctx)),
    at: Date.now(),
    before: before ?? null,
    after: after ?? null,
  });
}

/** After a write to an exam: its definition follows, and the change is recorded. */
async function examWritten(ctx: Ctx, examId: Id<"exams">, before: Doc<"exams"> | null, after: ExamFacts | null) {
  const diff = changedFields(COPIED_FIELDS, before === null ? null : examFactsOf(before), after === null ? null : examFactsOf(after));
  if (diff.changed.length === 0) return;
  if (after === null) {
    await deleteCopies(ctx, examId);
  } else {
    await syncDefinition(ctx, examId, after, "inline");
  }
  await recordChange(ctx, { examId }, before === null ? "insert" : after === null ? "delete" : "update", diff.before, diff.after);
}

async function questionWritten(
  ctx: Ctx,
  questionId: Id<"questions">,
  before: Doc<"questions"> | null,
  after: Partial<Doc<"questions">> | null,
) {
  const diff = changedFields(QUESTION_FIELDS, before, after);
  if (diff.changed.length === 0) return;
  // Every exam holding the question follows: its sheet and question-facts digest are patched in place for a
  // text, options or correct-answer edit; its copies are synced for a points edit (points available) or a deletion.
  const rows = await ctx.db
    .query("examQuestions")
    .withIndex("by_question", (q) => q.eq("questionId", questionId))
    .collect();
  const held = new Map<Id<"exams">, number>();
  for (const row of rows) held.set(row.examId, (held.get(row.examId) ?? 0) + 1);
  const next = before !== null && after !== null && !diff.changed.includes("points") ? ({ ...before, ...after } as Doc<"questions">) : null;
  for (const [examId, count] of held) {
    if (next !== null && (await patchQuestionCopies(ctx, examId, questionId, count, before!, next))) continue;
    const copies = await loadCopies(ctx, examId);
    const facts = factsOfCopies(copies.definition, copies.list);
    if (facts !== null) await syncDefinition(ctx, examId, facts, "inline");
  }
  await recordChange(ctx, { questionId }, before === null ? "insert" : after === null ? "delete" : "update", diff.before, diff.after);
}

/** Only `participants` (or nothing) is written: not an edit of the exam. */
function participantsOnly(value: Record<string, unknown>): boolean {
  return Object.keys(value).every((k) => k === "participants");
}

type Watched = "exams" | "questions";

/**
 * `ctx.db` that keeps exam copies current and records exam and question changes.
 * Accepts both call styles of Convex's writer (`patch(table, id, value)` and `patch(id, value)`).
 */
export function withExamCopies(ctx: Ctx): DatabaseWriter {
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
      if (table === "exams") await examWritten(ctx, id as Id<"exams">, null, value as unknown as ExamFacts);
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
      if (watched === "exams") await examWritten(ctx, id as Id<"exams">, before as Doc<"exams">, value as unknown as ExamFacts);
      else await questionWritten(ctx, id as Id<"questions">, before as Doc<"questions">, value as Partial<Doc<"questions">>);
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

// ---------------------------------------------------------------- edits made around the wrapper

/** One copied fact of one exam that disagrees with the exam (or its questions). */
export type StaleCopy = { examId: Id<"exams">; field: StaleField | "definition"; copy: unknown; live: unknown };

const copyValue = (copies: Awaited<ReturnType<typeof loadCopies>>, field: CopyField): unknown =>
  field === "questionIds"
    ? (copies.list?.questionIds ?? null)
    : field === "questionRows"
      ? copies.rows.map((r) => r.questionId)
      : field === "questionSheet"
        ? (copies.sheet?.questions ?? null)
        : (copies.definition?.[field] ?? null);

/** What an exam's copies disagree with: each stale fact, or copies of a deleted exam. Writes nothing. */
export async function staleCopiesOf(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">, exam: Doc<"exams"> | null): Promise<StaleCopy[]> {
  if (exam === null) {
    const copies = await loadCopies(ctx, examId);
    const present = copies.definition !== null || copies.list !== null || copies.sheet !== null || copies.rows.length > 0;
    return present ? [{ examId, field: "definition", copy: "present", live: "exam deleted" }] : [];
  }
  const { copies, wanted, stale } = await staleCopies(ctx, examId, exam);
  if (copies.definition === null) return [{ examId, field: "definition", copy: "missing", live: "exam exists" }];
  const live = (field: CopyField): unknown =>
    field === "questionIds"
      ? wanted.questionIds
      : field === "questionRows"
        ? wanted.rows.map((r) => r.questionId)
        : field === "questionSheet"
          ? wanted.sheet
          : wanted.definition[field];
  const found: StaleCopy[] = stale.map((field) => ({ examId, field, copy: copyValue(copies, field), live: live(field) }));
  // Result copies taken under older question facts (a refresh pending or lost). While the digest itself is stale,
  // healing it makes every copy stale at once: it alone is reported.
  const digest = copies.definition.questionFacts;
  if (!stale.includes("questionFacts") && digest !== undefined) {
    const older = await staleResults(ctx, examId, digest, 1);
    if (older.length > 0) found.push({ examId, field: "attemptResults", copy: older[0]!.questionFacts, live: digest });
  }
  return found;
}

/**
 * Heals one exam's copies against its document (or removes the copies of a
 * deleted exam), recording the edit it found as a "repair" change, and has the
 * result copies it leaves stale refreshed (`refresh`). Returns what was stale.
 */
export async function healExamCopy(
  ctx: Ctx,
  examId: Id<"exams">,
  exam: Doc<"exams"> | null,
  refresh: ResultRefresh = "inline",
): Promise<StaleCopy[]> {
  const stale = await staleCopiesOf(ctx, examId, exam);
  if (stale.length === 0) return stale;
  const actor: Actor = { kind: "system", name: "exam copy repair" };
  if (exam === null) {
    const copies = await deleteCopies(ctx, examId);
    await recordChange(ctx, { examId }, "repair", factsOfCopies(copies.definition, copies.list), null, actor);
    return stale;
  }
  // Copies left behind under the current digest are owed a refresh; one the sync makes stale gets it there.
  const copiesLeftBehind = stale.some((s) => s.field === "attemptResults");
  if (stale.every((s) => s.field === "attemptResults")) {
    await refreshResults(ctx, examId, refresh); // the facts are current: only the copies' refresh is owed
    return stale;
  }
  const { before } = await syncDefinition(ctx, examId, exam, refresh);
  if (copiesLeftBehind) await refreshResults(ctx, examId, refresh);
  const diff = changedFields(COPIED_FIELDS, factsOfCopies(before.definition, before.list), examFactsOf(exam));
  await recordChange(ctx, { examId }, "repair", diff.before, diff.after, actor);
  return stale;
}

/**
 * A write's cheap check of the exam at hand: only if the exam's own fields
 * differ from its definition and list (two small reads) are the copies healed
 * (the result copies that leaves stale by the scheduled job, not in the student's
 * transaction). Staleness from out-of-band question edits (maxScore, membership rows,
 * the question sheet, the question-facts digest) is left to the scheduled repair,
 * which compares every question.
 */
export async function healExamFacts(ctx: Ctx, examId: Id<"exams">, exam: Doc<"exams">): Promise<void> {
  const copies = await loadCopiesOfExam(ctx, examId);
  if (JSON.stringify(factsOfCopies(copies.definition, copies.list)) !== JSON.stringify(examFactsOf(exam)))
    await healExamCopy(ctx, examId, exam, "scheduled");
}

async function loadCopiesOfExam(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">) {
  const [definition, list] = await Promise.all([getExamDefinition(ctx, examId), getQuestionList(ctx, examId)]);
  return { definition, list };
}

/** Reads per repair / verify batch: exam documents may be 1 MiB each. */
export const COPY_BATCH = { exams: 10, maximumBytesRead: 4 * 1024 * 1024, definitions: 6 };

const zCopyCursor = z.object({ phase: z.enum(["exams", "definitions"]), page: z.string().nullable() });
export type CopyCursor = z.infer<typeof zCopyCursor>;

/** Where a verify or repair walk stopped; INVALID_ARGUMENT (nothing done) when it is not one the walk returned. */
export function parseCopyCursor(cursor: string | null | undefined): CopyCursor {
  if (cursor == null) return { phase: "exams", page: null };
  return parseCursor(zCopyCursor, cursor, "verifyExamCopies or repairExamCopies");
}

/**
 * One budgeted batch of the walk over every exam (phase "exams": a missing or
 * stale definition) and then every definition (phase "definitions": the exam was
 * deleted). `visit` heals (repair) or only reports (verify).
 */
export async function walkExamCopies(
  ctx: QueryCtx,
  cursor: CopyCursor,
  visit: (examId: Id<"exams">, exam: Doc<"exams"> | null) => Promise<StaleCopy[]>,
): Promise<{ stale: StaleCopy[]; checked: number; next: CopyCursor | null }> {
  const stale: StaleCopy[] = [];
  if (cursor.phase === "exams") {
    const page = await ctx.db
      .query("exams")
      .paginate({ cursor: cursor.page, numItems: COPY_BATCH.exams, maximumBytesRead: COPY_BATCH.maximumBytesRead });
    for (const exam of page.page) stale.push(...(await visit(exam._id, exam)));
    return {
      stale,
      checked: page.page.length,
      next: page.isDone ? { phase: "definitions", page: null } : { phase: "exams", page: page.continueCursor },
    };
  }
  const page = await ctx.db.query("examDefinitions").paginate({ cursor: cursor.page, numItems: COPY_BATCH.definitions });
  for (const definition of page.page) {
    const exam = await ctx.db.get("exams", definition.examId);
    if (exam === null) stale.push(...(await visit(definition.examId, null)));
  }
  return { stale, checked: page.page.length, next: page.isDone ? null : { phase: "definitions", page: page.continueCursor } };
}
