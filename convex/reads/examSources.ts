/**
 * Where the exam API reads attempts from. The V1 functions and their V2 twins
 * share every handler and every view (reads/examViews.ts); they differ only in
 * the source they are given here:
 *
 * - `v1Source`, per exam, reads the exam document (always the live facts) and
 *   its embedded array (the first entry of a user wins, as in the legacy code)
 *   while that array is current (see projections/mirrorJob.ts); otherwise
 *   the V2 tables. Its cross-exam lists (metadata, dashboard, recent) are served
 *   from the definitions and the V2 rows, reading an exam's array only where it
 *   may hold attempts missing from V2 (neither backfilled nor cleared): exam
 *   documents of ~1 MiB each would otherwise exceed the read limit.
 * - `v2Source` reads `examDefinitions` (a copy of the exam's own fields, kept
 *   current by copies/examCopies.ts), for a session the exam's question sheet
 *   (the same mechanism's copy of what a student sees of the questions), for
 *   results the attempt's result copy while the definition's question-facts
 *   digest vouches for it (else the rows and the live `questions`),
 *   `examParticipations`, `examAnswers` and the sharded counters; it reads an
 *   exam document only for an exam without a (complete) definition, or for a
 *   user without a V2 row on an exam neither cleared nor marked backfilled.
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
import { getQuestionSheet, legacyArrayImported, sheetRowOf } from "../copies/examDefinitions";
import { getExamDefinition, getQuestionList, type ExamDefinition } from "../lib/examFacts";
import { CONVEX_LIMITS, HALF_TRANSACTION_LIMITS, LIST_LIMITS, MAX_ATTEMPTS_PER_USER, MAX_LISTED_EXAMS } from "../lib/limits";
import { transactionUsage } from "../lib/budget";
import { firstEntries, firstEntryOf, stateOfEntry } from "../lib/v1Entry";
import { participationOf, stateFromRows } from "../projections/attempt";
import { answerOf, answersOfCopy, loadAttemptResult, usableResult } from "../projections/results";
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

export function infoOf(exam: Doc<"exams"> | ExamDefinition): ExamInfo {
  const examId = "examId" in exam ? exam.examId : exam._id;
  const questionCount = "examId" in exam ? exam.questionCount : exam.questionIds.length;
  const { title, durationMs, maxPauses } = exam;
  return { examId, title, questionCount, durationMs, maxPauses };
}

/** An exam's questions read from its document's ids and the live `questions` documents (V1, and V2 without copies). */
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

/**
 * An exam's questions from its copies: the ids from its question list, each read
 * from its live document; results read only the answered questions (points
 * available come with the definition); access looks up one membership row.
 */
function questionsOfCopies(ctx: QueryCtx, definition: ExamDefinition, list: Doc<"examQuestionLists">): QuestionReads {
  return {
    questions: async () => sheetOfDocs(await loadQuestions(ctx, list.questionIds)),
    resultQuestions: async (answered) => ({ maxScore: definition.maxScore, questions: await loadQuestions(ctx, [...new Set(answered)]) }),
    hasQuestion: async (questionId) => (await sheetRowOf(ctx, definition.examId, questionId)) !== null,
  };
}

export async function loadExamDoc(ctx: QueryCtx, examId: Id<"exams">): Promise<Doc<"exams">> {
  const doc = await ctx.db.get("exams", examId);
  if (doc === null) throw domainError("NOT_FOUND", `Exam ${examId} does not exist.`);
  return doc;
}

/** The exam's question documents in order (deleted ones are null). */
export async function loadQuestions(ctx: QueryCtx, questionIds: readonly Id<"questions">[]): Promise<QuestionDocs> {
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

/** Every exam's definition, complete up to MAX_LISTED_EXAMS (past it LIMIT_EXCEEDED, never a short list). */
async function allDefinitions(ctx: QueryCtx): Promise<ExamDefinition[]> {
  const defs = await ctx.db.query("examDefinitions").take(MAX_LISTED_EXAMS + 1);
  if (defs.length > MAX_LISTED_EXAMS) {
    throw domainError("LIMIT_EXCEEDED", `There are more than ${MAX_LISTED_EXAMS} exams (MAX_LISTED_EXAMS): this list cannot be complete.`);
  }
  return defs;
}

/** Definitions of exams whose V1 array may hold attempts missing from V2 (neither cleared nor backfilled). */
async function pendingDefinitions(ctx: QueryCtx): Promise<ExamDefinition[]> {
  const [unset, notYet] = await Promise.all(
    ([undefined, false] as const).map((backfilled) =>
      ctx.db
        .query("examDefinitions")
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
 * An exam document a V1 list must read (its array may hold attempts V2 lacks),
 * refused with LIMIT_EXCEEDED before it could take the call past half the read limit.
 */
async function budgetedExamDoc(ctx: QueryCtx, examId: Id<"exams">): Promise<Doc<"exams"> | null> {
  await v1ListBudget(ctx);
  return ctx.db.get("exams", examId);
}

/**
 * Index ranges a V1 list may spend on one exam not yet migrated: whether its array is current (the mirror's
 * watermark, the exam's events after it: 2), its document or its V2 counts (1–2). About 500 such exams fit in
 * half of Convex's 4,096 ranges; once migrated, an exam costs its definition only (MAX_LISTED_EXAMS).
 */
const V1_LIST_RANGES_PER_UNMIGRATED_EXAM = 4;

/** Refuses with LIMIT_EXCEEDED, by name, before one more not-migrated exam could take a V1 list past half a limit. */
async function v1ListBudget(ctx: QueryCtx): Promise<void> {
  const m = await transactionUsage(ctx);
  if (m.bytesRead + CONVEX_LIMITS.documentBytes > HALF_TRANSACTION_LIMITS.bytesRead) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `Reading the V1 arrays of the exams not yet migrated would pass half of Convex's ${CONVEX_LIMITS.bytesRead}-byte read limit: run the migration.`,
    );
  }
  if (m.databaseQueries + V1_LIST_RANGES_PER_UNMIGRATED_EXAM > HALF_TRANSACTION_LIMITS.databaseQueries) {
    throw domainError(
      "LIMIT_EXCEEDED",
      `Checking the V1 arrays of the exams not yet migrated would pass half of Convex's ${CONVEX_LIMITS.databaseQueries}-index-range limit: run the migration.`,
    );
  }
}

/**
 * The user's V2 rows, newest first, on exams that still exist (a definition),
 * leaving out `skip`'s exams: at least `limit` of them when there are (ties at
 * the cut included), every one when `limit` is MAX_ATTEMPTS_PER_USER + 1.
 */
async function rowsOfUser(ctx: QueryCtx, userId: Id<"users">, limit: number, skip: ReadonlySet<string> = new Set()) {
  const out: { row: Doc<"examParticipations">; definition: ExamDefinition }[] = [];
  const definitions = new Map<string, ExamDefinition | null>();
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
    if (!definitions.has(row.examId)) definitions.set(row.examId, await getExamDefinition(ctx, row.examId));
    const definition = definitions.get(row.examId);
    if (definition === null || definition === undefined) continue; // the exam was deleted: its log stays, the lists leave it
    out.push({ row, definition });
  }
  return out;
}

/**
 * V2's questions: from the copies, or from the exam document while the exam has
 * none (created out of band, not yet repaired). Nothing is read until asked.
 */
function questionsForV2(ctx: QueryCtx, examId: Id<"exams">, definition: ExamDefinition | null, doc: () => Promise<Doc<"exams">>) {
  let source: Promise<QuestionReads> | null = null;
  const resolve = () =>
    (source ??= (async () => {
      const list = definition === null ? null : await getQuestionList(ctx, examId);
      if (definition !== null && list !== null) return questionsOfCopies(ctx, definition, list);
      return questionsOf(ctx, (await doc()).questionIds);
    })());
  const hasRows = definition !== null;
  return {
    // A session reads the exam's question sheet (one document); without one, the list and the live questions.
    questions: async () => {
      const sheet = definition === null ? null : await getQuestionSheet(ctx, examId);
      return sheet !== null ? sheet.questions : (await resolve()).questions();
    },
    // Results and access need no list: points available come with the definition, membership is one row.
    resultQuestions: async (answered: readonly Id<"questions">[]) =>
      hasRows
        ? { maxScore: definition.maxScore, questions: await loadQuestions(ctx, [...new Set(answered)]) }
        : (await resolve()).resultQuestions(answered),
    hasQuestion: async (questionId: Id<"questions">) =>
      hasRows ? (await sheetRowOf(ctx, examId, questionId)) !== null : (await resolve()).hasQuestion(questionId),
  } satisfies QuestionReads;
}

export const v2Source: ExamSource = {
  async exam(ctx, examId) {
    const definition = await getExamDefinition(ctx, examId);
    let doc: Doc<"exams"> | null = definition === null ? await loadExamDoc(ctx, examId) : null;
    const legacyDoc = async () => (doc ??= await loadExamDoc(ctx, examId));
    const imported = legacyArrayImported(definition);
    const { resultQuestions, ...questions } = questionsForV2(ctx, examId, definition, legacyDoc);
    return {
      info: infoOf(definition ?? doc!),
      attempt: (userId, { withAnswers }) => attemptFromRows(ctx, examId, userId, withAnswers, imported, legacyDoc),
      ...questions,
      // Results read the attempt's result copy (one document) while it is current; otherwise the rows and the live questions.
      async results(userId, check) {
        const row = await loadParticipation(ctx, { examId, userId });
        if (row !== null) {
          check(participationOf(row));
          const copy = await loadAttemptResult(ctx, row._id);
          if (usableResult(copy, row, definition)) {
            const attempt = { participation: participationOf(row), answers: copy.answers.map(answerOf) };
            return {
              attempt,
              maxScore: definition!.maxScore,
              answers: answersOfCopy(copy, await loadQuestions(ctx, copy.liveQuestionIds)),
            };
          }
        }
        const attempt = await attemptFromRows(ctx, examId, userId, true, imported, legacyDoc, row);
        if (row === null) check(attempt.participation); // a V1 entry not imported yet
        return resultsOf(attempt, resultQuestions);
      },
    };
  },

  async ranked(ctx, examId, limit) {
    if ((await getExamDefinition(ctx, examId)) === null) await loadExamDoc(ctx, examId); // NOT_FOUND check
    return rankedFromIndex(ctx, examId, limit);
  },

  async allExams(ctx) {
    const defs = await allDefinitions(ctx);
    const out = await Promise.all(defs.map(async (d) => ({ info: infoOf(d), counts: await countParticipants(ctx, d.examId) })));
    return out.sort((a, b) => byExamId(a.info, b.info));
  },

  async myAttempts(ctx, userId, limit) {
    return (await rowsOfUser(ctx, userId, limit)).map(({ row, definition }) => ({
      examId: row.examId,
      title: definition.title,
      participation: participationOf(row),
    }));
  },
};

export const v1Source: ExamSource = {
  async exam(ctx, examId) {
    const doc = await loadExamDoc(ctx, examId);
    const definition = await getExamDefinition(ctx, examId);
    const current = await arrayIsCurrent(ctx, definition);
    const imported = legacyArrayImported(definition);
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
    if (await arrayIsCurrent(ctx, await getExamDefinition(ctx, examId))) return rankedFromArray(doc.participants);
    return rankedFromIndex(ctx, examId, limit);
  },

  // Cross-exam lists: from the definitions and V2 data (see the module comment); an array is read only where V2 may lack attempts.
  async allExams(ctx) {
    const [defs, globallyEnabled] = await Promise.all([allDefinitions(ctx), legacyMirrorGloballyEnabled(ctx)]);
    const out = [];
    for (const definition of defs) {
      if (!legacyArrayImported(definition)) await v1ListBudget(ctx);
      const fromArray = !legacyArrayImported(definition) && (await arrayIsCurrent(ctx, definition, globallyEnabled));
      const doc = fromArray ? await budgetedExamDoc(ctx, definition.examId) : null;
      const counts = doc !== null ? countEntries(doc.participants) : await countParticipants(ctx, definition.examId);
      out.push({ info: infoOf(doc ?? definition), counts });
    }
    return out.sort((a, b) => byExamId(a.info, b.info));
  },

  async myAttempts(ctx, userId, limit) {
    const [pending, globallyEnabled] = await Promise.all([pendingDefinitions(ctx), legacyMirrorGloballyEnabled(ctx)]);
    const out: MyAttempt[] = [];
    for (const definition of pending) {
      const exam = await budgetedExamDoc(ctx, definition.examId);
      if (exam === null) continue;
      const { participation } = (await arrayIsCurrent(ctx, definition, globallyEnabled))
        ? stateOfEntry(firstEntryOf(exam.participants, userId))
        : await attemptFromRows(ctx, exam._id, userId, false, false, async () => exam);
      if (participation !== null) out.push({ examId: exam._id, title: exam.title, participation });
    }
    const rows = await rowsOfUser(ctx, userId, limit, new Set(pending.map((d) => d.examId)));
    return [
      ...out,
      ...rows.map(({ row, definition }) => ({ examId: row.examId, title: definition.title, participation: participationOf(row) })),
    ];
  },
};
