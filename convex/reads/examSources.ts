/**
 * Where the exam API reads attempts from. The V1 functions and their V2 twins
 * share every handler and every view (reads/examViews.ts); they differ only in
 * the source they are given here:
 *
 * - `v1Source`, per exam, reads the exam document (always the exam as it is) and
 *   its embedded array (the first entry of a user wins, as in the legacy code)
 *   while that array is current (see projections/mirrorJob.ts); otherwise
 *   the V2 tables.
 * - `v2Source` reads the exam's header and question list (headers/examHeaders.ts),
 *   the questions by id, `examParticipations`, `examAnswers` and the counters; it
 *   reads an exam document only for an exam without a header, or for a user
 *   without a V2 row on an exam neither cleared nor marked backfilled.
 *
 * The cross-exam lists (metadata, dashboard, recent) of both read every exam by
 * identity ({@link examsAfterMark}): the headers up to the header check's mark,
 * and the documents of exams created after it, so an exam is listed from the
 * moment it exists, whoever created it; an exam's array is read only where it
 * may hold attempts missing from V2 (neither backfilled nor cleared).
 *
 * @example
 * const exam = await v2Source.exam(ctx, examId);
 * const attempt = await exam.attempt(userId, { withAnswers: false });
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { domainError } from "../lib/errors";
import { arrayIsCurrent, legacyMirrorGloballyEnabled } from "../projections/mirrorJob";
import { loadAnswers, loadParticipation } from "../projections/tables";
import { countParticipants } from "../projections/counters";
import { legacyArrayImported } from "../headers/examHeaders";
import { getExamHeader, getQuestionList, headersThrough, type ExamHeader } from "../lib/examHeaders";
import { CONVEX_LIMITS, HALF_TRANSACTION_LIMITS, LIST_LIMITS, MAX_ATTEMPTS_PER_USER, MAX_LISTED_EXAMS, WORK_BOUNDS } from "../lib/limits";
import { transactionUsage } from "../lib/budget";
import { firstEntries, firstEntryOf, stateOfEntry } from "../lib/v1Entry";
import { participationOf, stateFromRows } from "../projections/attempt";
import type { ParticipationFacts, ShownAttempt } from "../events/decider";
import {
  byExamId,
  countEntries,
  gradedAnswersOf,
  type AttemptResults,
  maxScoreOf,
  sheetOfDocs,
  type ExamInfo,
  type MyAttempt,
  type QuestionContent,
  type QuestionDocs,
  type ResultQuestions,
  type RankedAttempt,
} from "./examViews";

/** One exam as a source sees it: its fields, and ways to load its questions and one user's attempt. */
export type ExamHandle = {
  info: ExamInfo;
  /** The user's attempt as the decider's state shows it (participation null: not started). */
  attempt: (userId: Id<"users">, o: { withAnswers: boolean }) => Promise<ShownAttempt>;
  /** The questions as a student sees them (session), in exam order; never correct answers. */
  questions: () => Promise<QuestionContent[]>;
  /**
   * The user's attempt with its graded answers and the points available (results). `check` sees the
   * attempt's facts first and may throw (not started, not completed): nothing more is read then.
   */
  results: (userId: Id<"users">, check: (participation: ParticipationFacts | null) => void) => Promise<AttemptResults>;
  /** Whether `questionId` is one of the exam's (existing) questions. */
  hasQuestion: (questionId: Id<"questions">) => Promise<boolean>;
};

/** How a source reads an exam's questions: for a session, for results (the answered ones and the points available), for access. */
type QuestionReads = Pick<ExamHandle, "questions" | "hasQuestion"> & {
  resultQuestions: (answered: readonly Id<"questions">[]) => Promise<ResultQuestions>;
};

/** Results from an attempt and the documents of its answered questions (V1; V2 without a usable result copy). */
async function resultsOf(attempt: ShownAttempt, resultQuestions: QuestionReads["resultQuestions"]): Promise<AttemptResults> {
  const { maxScore, questions } = await resultQuestions(attempt.answers.map((a) => a.questionId));
  return { attempt, maxScore, answers: gradedAnswersOf(attempt.answers, questions) };
}

export type ExamSource = {
  exam: (ctx: QueryCtx, examId: Id<"exams">) => Promise<ExamHandle>;
  /** Completed attempts, best first; at least the top `limit` (more only where ties meet the cut). */
  ranked: (ctx: QueryCtx, examId: Id<"exams">, limit: number) => Promise<RankedAttempt[]>;
  /** Every exam with its participant and completed counts. */
  allExams: (ctx: QueryCtx) => Promise<{ info: ExamInfo; counts: { participants: number; completed: number } }[]>;
  /** The user's attempts; at least the newest `limit` ones. */
  myAttempts: (ctx: QueryCtx, userId: Id<"users">, limit: number) => Promise<MyAttempt[]>;
};

export function infoOf(exam: Doc<"exams"> | ExamHeader): ExamInfo {
  const examId = "examId" in exam ? exam.examId : exam._id;
  const questionCount = "examId" in exam ? exam.questionCount : exam.questionIds.length;
  const { title, durationMs, maxPauses } = exam;
  return { examId, title, questionCount, durationMs, maxPauses };
}

/** An exam's questions: its question ids (from its document or its list) and the live `questions` documents. */
function questionsOf(ctx: QueryCtx, questionIds: readonly Id<"questions">[]): QuestionReads {
  return {
    questions: async () => sheetOfDocs(await loadQuestions(ctx, questionIds)),
    resultQuestions: async (answered) => {
      const examQuestions = await loadQuestions(ctx, questionIds);
      const listed = new Set<string>(questionIds);
      const others = await loadQuestions(
        ctx,
        [...new Set(answered)].filter((id) => !listed.has(id)),
      );
      return { maxScore: maxScoreOf(examQuestions), questions: [...examQuestions, ...others] };
    },
    hasQuestion: async (questionId) => questionIds.includes(questionId) && (await ctx.db.get("questions", questionId)) !== null,
  };
}

export async function loadExamDoc(ctx: QueryCtx, examId: Id<"exams">): Promise<Doc<"exams">> {
  const doc = await ctx.db.get("exams", examId);
  if (doc === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  return doc;
}

/** The exam's question documents in order (deleted ones are null). */
export async function loadQuestions(ctx: QueryCtx, questionIds: readonly Id<"questions">[]): Promise<QuestionDocs> {
  if (questionIds.length > WORK_BOUNDS.questionsPerCall) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `This call would read ${questionIds.length} questions, more than one call can (WORK_BOUNDS.questionsPerCall: ${WORK_BOUNDS.questionsPerCall}).`,
    );
  }
  return Promise.all(questionIds.map((id) => ctx.db.get("questions", id)));
}

/**
 * A user's attempt from the V2 rows; without a row, and unless the array was
 * cleared or fully imported (`imported`), their first V1 entry (a legacy
 * attempt not imported yet). `legacyDoc` is called only in that case.
 */
async function attemptFromRows(
  ctx: QueryCtx,
  examId: Id<"exams">,
  userId: Id<"users">,
  withAnswers: boolean,
  imported: boolean,
  legacyDoc: () => Promise<Doc<"exams">>,
  read: Doc<"examParticipations"> | null | undefined = undefined,
): Promise<ShownAttempt> {
  const row = read !== undefined ? read : await loadParticipation(ctx, { examId, userId });
  if (row !== null) return stateFromRows(row, withAnswers ? await loadAnswers(ctx, row._id) : []);
  if (imported) return stateOfEntry(null);
  return stateOfEntry(firstEntryOf((await legacyDoc()).participants, userId));
}

/** Top completed attempts through the index `by_exam_and_rank`, plus any tie at the cut. */
async function rankedFromIndex(ctx: QueryCtx, examId: Id<"exams">, limit: number): Promise<RankedAttempt[]> {
  const top = await ctx.db
    .query("examParticipations")
    .withIndex("by_exam_and_rank", (q) => q.eq("examId", examId).gte("rankScore", -Infinity))
    .order("desc")
    .take(limit);
  const last = top[top.length - 1];
  let rows = top;
  if (top.length === limit && last !== undefined) {
    // Equal score and completion time at the cut: fetch the whole tie so the order is the same total order as V1's.
    const tie = await ctx.db
      .query("examParticipations")
      .withIndex("by_exam_and_rank", (q) => q.eq("examId", examId).eq("rankScore", last.rankScore).eq("rankTieBreak", last.rankTieBreak))
      .take(LIST_LIMITS.leaderboard.max);
    const seen = new Set(top.map((r) => r._id));
    rows = [...top, ...tie.filter((r) => !seen.has(r._id))];
  }
  return rows.map((r) => ({ userId: r.userId, score: r.score, completedAt: r.completedAt! }));
}

function rankedFromArray(participants: Doc<"exams">["participants"]): RankedAttempt[] {
  return firstEntries(participants).flatMap((p) =>
    p.completedAt === undefined ? [] : [{ userId: p.userId, score: p.score, completedAt: p.completedAt }],
  );
}

/** Every exam's header, complete up to MAX_LISTED_EXAMS (past it LIMIT_EXCEEDED, never a short list). */
async function allHeaders(ctx: QueryCtx): Promise<ExamHeader[]> {
  const headers = await ctx.db.query("examHeaders").take(MAX_LISTED_EXAMS + 1);
  if (headers.length > MAX_LISTED_EXAMS) {
    throw domainError("LIMIT_EXCEEDED", `There are more than ${MAX_LISTED_EXAMS} exams (MAX_LISTED_EXAMS): this list cannot be complete.`);
  }
  return headers;
}

/** Headers of exams whose V1 array may hold attempts missing from V2 (neither cleared nor backfilled). */
async function pendingHeaders(ctx: QueryCtx): Promise<ExamHeader[]> {
  const [unset, notYet] = await Promise.all(
    ([undefined, false] as const).map((backfilled) =>
      ctx.db
        .query("examHeaders")
        .withIndex("by_legacy_state", (q) => q.eq("legacyCleared", false).eq("legacyBackfilled", backfilled))
        .take(MAX_LISTED_EXAMS + 1),
    ),
  );
  const pending = [...unset!, ...notYet!];
  if (pending.length > MAX_LISTED_EXAMS) {
    throw domainError("LIMIT_EXCEEDED", `More than ${MAX_LISTED_EXAMS} exams (MAX_LISTED_EXAMS) are not migrated yet: run the migration.`);
  }
  return pending;
}

/**
 * Index ranges a list may spend on one exam besides reading it: its header, whether its array is current
 * (the mirror's watermark, the exam's events after it), its V2 counts. About 500 such exams fit in half of
 * Convex's 4,096 ranges; an exam the header check has seen costs its header only (MAX_LISTED_EXAMS).
 */
const LIST_RANGES_PER_EXAM = 4;

/** Refuses with LIMIT_EXCEEDED, by name, before one more exam document could take a list past half a limit. */
async function listBudget(ctx: QueryCtx): Promise<void> {
  const m = await transactionUsage(ctx);
  if (m.bytesRead + CONVEX_LIMITS.documentBytes > HALF_TRANSACTION_LIMITS.bytesRead) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `Reading the exams not yet migrated or not yet checked would pass half of Convex's ${CONVEX_LIMITS.bytesRead}-byte read limit: run the migration, then the header check (examAdmin:repairExamHeaders).`,
    );
  }
  if (m.databaseQueries + LIST_RANGES_PER_EXAM > HALF_TRANSACTION_LIMITS.databaseQueries) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `Checking the exams not yet migrated or not yet checked would pass half of Convex's ${CONVEX_LIMITS.databaseQueries}-index-range limit: run the migration, then the header check (examAdmin:repairExamHeaders).`,
    );
  }
}

/**
 * Every exam created after the header check's mark (every exam when no pass has finished: right after
 * deploy), read from its document, in one index range. Exams up to the mark all have headers.
 */
async function examsAfterMark(ctx: QueryCtx): Promise<Doc<"exams">[]> {
  const after = await headersThrough(ctx);
  const out: Doc<"exams">[] = [];
  const exams = ctx.db.query("exams").withIndex("by_creation_time", (q) => (after === undefined ? q : q.gt("_creationTime", after)));
  const it = exams[Symbol.asyncIterator]();
  for (;;) {
    await listBudget(ctx);
    const next = await it.next();
    if (next.done === true) return out;
    if (out.length >= MAX_LISTED_EXAMS) {
      throw domainError(
        "LIMIT_EXCEEDED",
        `There are more than ${MAX_LISTED_EXAMS} exams (MAX_LISTED_EXAMS): this list cannot be complete.`,
      );
    }
    out.push(next.value);
  }
}

/** An exam a list shows: its header (null: none yet), its document if read. */
type ListedExam = { examId: Id<"exams">; header: ExamHeader | null; doc: Doc<"exams"> | null };

/** Exams read from their documents, each with its header (null: none yet). */
async function withHeaders(ctx: QueryCtx, docs: readonly Doc<"exams">[]): Promise<ListedExam[]> {
  const out: ListedExam[] = [];
  for (const doc of docs) {
    await listBudget(ctx);
    out.push({ examId: doc._id, header: await getExamHeader(ctx, doc._id), doc });
  }
  return out;
}

/** Headers (documents not read) and the exams after the mark, by exam: a document read replaces its header's entry. */
function byExam(headers: readonly ExamHeader[], fromDocs: readonly ListedExam[]): ListedExam[] {
  const out = new Map<string, ListedExam>(headers.map((header) => [header.examId, { examId: header.examId, header, doc: null }]));
  for (const e of fromDocs) out.set(e.examId, e);
  return [...out.values()];
}

/**
 * The user's V2 rows, newest first, on exams that still exist (a header),
 * leaving out `skip`'s exams: at least `limit` of them when there are (ties at
 * the cut included), every one when `limit` is MAX_ATTEMPTS_PER_USER + 1.
 */
async function rowsOfUser(ctx: QueryCtx, userId: Id<"users">, limit: number, skip: ReadonlySet<string> = new Set()) {
  const out: { row: Doc<"examParticipations">; header: ExamHeader }[] = [];
  const headers = new Map<string, ExamHeader | null>();
  let scanned = 0;
  const rows = ctx.db
    .query("examParticipations")
    .withIndex("by_user_and_startedAt", (q) => q.eq("userId", userId))
    .order("desc");
  for await (const row of rows) {
    const last = out[out.length - 1];
    if (out.length >= limit && last !== undefined && row.startedAt < last.row.startedAt) break;
    if (++scanned > MAX_ATTEMPTS_PER_USER * 2) {
      throw domainError(
        "LIMIT_EXCEEDED",
        `More than ${MAX_ATTEMPTS_PER_USER * 2} attempts scanned for one user (2 × MAX_ATTEMPTS_PER_USER).`,
      );
    }
    if (skip.has(row.examId)) continue;
    if (!headers.has(row.examId)) headers.set(row.examId, await getExamHeader(ctx, row.examId));
    const header = headers.get(row.examId);
    if (header === null || header === undefined) continue; // the exam was deleted: its log stays, the lists leave it
    out.push({ row, header });
  }
  return out;
}

export const v2Source: ExamSource = {
  async exam(ctx, examId) {
    const header = await getExamHeader(ctx, examId);
    let doc: Doc<"exams"> | null = header === null ? await loadExamDoc(ctx, examId) : null;
    const legacyDoc = async () => (doc ??= await loadExamDoc(ctx, examId));
    const imported = legacyArrayImported(header);
    const questionIds = async () =>
      doc !== null ? doc.questionIds : ((await getQuestionList(ctx, examId))?.questionIds ?? (await legacyDoc()).questionIds);
    let reads: Promise<QuestionReads> | null = null;
    const questions = () => (reads ??= questionIds().then((ids) => questionsOf(ctx, ids)));
    return {
      info: infoOf(header ?? doc!),
      attempt: (userId, { withAnswers }) => attemptFromRows(ctx, examId, userId, withAnswers, imported, legacyDoc),
      questions: async () => (await questions()).questions(),
      hasQuestion: async (questionId) => (await questions()).hasQuestion(questionId),
      async results(userId, check) {
        const row = await loadParticipation(ctx, { examId, userId });
        if (row !== null) check(participationOf(row));
        const attempt = await attemptFromRows(ctx, examId, userId, true, imported, legacyDoc, row);
        if (row === null) check(attempt.participation); // a V1 entry not imported yet
        return resultsOf(attempt, (await questions()).resultQuestions);
      },
    };
  },

  async ranked(ctx, examId, limit) {
    if ((await getExamHeader(ctx, examId)) === null) await loadExamDoc(ctx, examId); // NOT_FOUND check
    return rankedFromIndex(ctx, examId, limit);
  },

  async allExams(ctx) {
    // An exam read from its document shows it (its header is not looked up: V2 counts come from the counters).
    const headers = await allHeaders(ctx);
    const fromDocs = (await examsAfterMark(ctx)).map((doc) => ({ examId: doc._id, header: null, doc }));
    const out = [];
    for (const { examId, header, doc } of byExam(headers, fromDocs)) {
      await listBudget(ctx);
      out.push({ info: infoOf(doc ?? header!), counts: await countParticipants(ctx, examId) });
    }
    return out.sort((a, b) => byExamId(a.info, b.info));
  },

  async myAttempts(ctx, userId, limit) {
    return (await rowsOfUser(ctx, userId, limit)).map(({ row, header }) => ({
      examId: row.examId,
      title: header.title,
      participation: participationOf(row),
    }));
  },
};

export const v1Source: ExamSource = {
  async exam(ctx, examId) {
    const doc = await loadExamDoc(ctx, examId);
    const header = await getExamHeader(ctx, examId);
    const current = await arrayIsCurrent(ctx, header);
    const imported = legacyArrayImported(header);
    const { resultQuestions, ...questions } = questionsOf(ctx, doc.questionIds);
    const attempt: ExamHandle["attempt"] = async (userId, { withAnswers }) => {
      if (current) return stateOfEntry(firstEntryOf(doc.participants, userId));
      return attemptFromRows(ctx, examId, userId, withAnswers, imported, async () => doc);
    };
    return {
      info: infoOf(doc),
      attempt,
      ...questions,
      async results(userId, check) {
        const shown = await attempt(userId, { withAnswers: true });
        check(shown.participation);
        return resultsOf(shown, resultQuestions);
      },
    };
  },

  async ranked(ctx, examId, limit) {
    const doc = await loadExamDoc(ctx, examId);
    if (await arrayIsCurrent(ctx, await getExamHeader(ctx, examId))) return rankedFromArray(doc.participants);
    return rankedFromIndex(ctx, examId, limit);
  },

  // Cross-exam lists: headers and V2 data, and the documents of exams after the header check's mark (see the
  // module comment); an array is read only where V2 may lack attempts.
  async allExams(ctx) {
    const [headers, afterMark, globallyEnabled] = await Promise.all([
      allHeaders(ctx),
      examsAfterMark(ctx),
      legacyMirrorGloballyEnabled(ctx),
    ]);
    const exams = byExam(headers, await withHeaders(ctx, afterMark));
    const out = [];
    for (const { examId, header, doc: read } of exams) {
      await listBudget(ctx);
      let doc = read;
      // No header: nothing of this backend touched the exam, its array is all there is.
      const fromArray = header === null || (!legacyArrayImported(header) && (await arrayIsCurrent(ctx, header, globallyEnabled)));
      if (fromArray && doc === null) doc = await ctx.db.get("exams", examId); // within listBudget's room for one document
      const counts = fromArray && doc !== null ? countEntries(doc.participants) : await countParticipants(ctx, examId);
      out.push({ info: infoOf(doc ?? header!), counts });
    }
    return out.sort((a, b) => byExamId(a.info, b.info));
  },

  async myAttempts(ctx, userId, limit) {
    const [pending, afterMark, globallyEnabled] = await Promise.all([
      pendingHeaders(ctx),
      examsAfterMark(ctx),
      legacyMirrorGloballyEnabled(ctx),
    ]);
    const exams = byExam(
      pending,
      (await withHeaders(ctx, afterMark)).filter(({ header }) => !legacyArrayImported(header)),
    );
    const out: MyAttempt[] = [];
    for (const entry of exams) {
      await listBudget(ctx); // room for the exam's document, and its other reads
      const exam = entry.doc ?? (await ctx.db.get("exams", entry.examId));
      if (exam === null) continue;
      const { participation } =
        entry.header === null || (await arrayIsCurrent(ctx, entry.header, globallyEnabled))
          ? stateOfEntry(firstEntryOf(exam.participants, userId))
          : await attemptFromRows(ctx, exam._id, userId, false, false, async () => exam);
      if (participation !== null) out.push({ examId: exam._id, title: exam.title, participation });
    }
    const rows = await rowsOfUser(ctx, userId, limit, new Set(exams.map((e) => e.examId)));
    return [...out, ...rows.map(({ row, header }) => ({ examId: row.examId, title: header.title, participation: participationOf(row) }))];
  },
};
