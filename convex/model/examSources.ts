/**
 * Where the exam API reads attempts from. The V1 functions and their V2 twins
 * share every handler and every view (model/examViews.ts); they differ only in
 * the source they are given here:
 *
 * - `v1Source` reads the exam document and its embedded array (the first entry
 *   of a user wins, as in the legacy code) — but only while that array is
 *   current (see projections/legacyMirror.ts); once the mirror is off, failed or
 *   the array cleared, it serves that exam from the V2 tables.
 * - `v2Source` reads `examDefinitions` (slim), the `examQuestions` sheet,
 *   `examParticipations`, `examAnswers` and the sharded counters; it reads an
 *   exam document only for an exam without a definition, or for a user without a
 *   V2 row on an exam neither cleared nor marked backfilled (a legacy participant
 *   the backfill has not reached, or one who has not started).
 *
 * @example
 * const exam = await v2Source.exam(ctx, examId);
 * const attempt = await exam.attempt(userId, { withAnswers: false });
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { domainError } from "../lib/errors";
import { arrayIsCurrent, legacyMirrorGloballyEnabled } from "../projections/legacyMirror";
import { countParticipants, loadAnswers, loadParticipation } from "../projections/store";
import { getExamDefinition, legacyArrayImported, loadQuestionSheet, sheetRowOf, type ExamDefinition } from "./examDefinitions";
import {
  byExamId,
  countEntries,
  factsOfEntry,
  factsOfRow,
  firstEntries,
  firstEntryOf,
  LIMITS,
  maxScoreOf,
  sheetOfDocs,
  type AttemptFacts,
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
  attempt: (userId: Id<"users">, o: { withAnswers: boolean }) => Promise<AttemptFacts | null>;
  /** The questions as a student sees them (session), in exam order; never correct answers. */
  questions: () => Promise<QuestionContent[]>;
  /** Points available and the live documents of the answered questions, with correct answers (results). */
  resultQuestions: (answered: readonly Id<"questions">[]) => Promise<ResultQuestions>;
  /** Whether `questionId` is one of the exam's (existing) questions. */
  hasQuestion: (questionId: Id<"questions">) => Promise<boolean>;
};

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

/** An exam's questions read from its document and the `questions` table (V1, and V2 without a definition). */
function questionsOfDoc(ctx: QueryCtx, doc: Doc<"exams">): Pick<ExamHandle, "questions" | "resultQuestions" | "hasQuestion"> {
  return {
    questions: async () => sheetOfDocs(await loadQuestions(ctx, doc.questionIds)),
    resultQuestions: async (answered) => {
      const examQuestions = await loadQuestions(ctx, doc.questionIds);
      const listed = new Set<string>(doc.questionIds);
      const others = await loadQuestions(ctx, [...new Set(answered)].filter((id) => !listed.has(id)));
      return { maxScore: maxScoreOf(examQuestions), questions: [...examQuestions, ...others] };
    },
    hasQuestion: async (questionId) => doc.questionIds.includes(questionId) && (await ctx.db.get("questions", questionId)) !== null,
  };
}

/**
 * An exam's questions read from its definition and sheet, never the exam document:
 * results read only the answered questions' live documents (points available come with the definition).
 */
function questionsOfSheet(ctx: QueryCtx, definition: ExamDefinition): Pick<ExamHandle, "questions" | "resultQuestions" | "hasQuestion"> {
  const examId = definition.examId;
  return {
    questions: () => loadQuestionSheet(ctx, examId),
    resultQuestions: async (answered) => ({ maxScore: definition.maxScore, questions: await loadQuestions(ctx, [...new Set(answered)]) }),
    hasQuestion: async (questionId) => (await sheetRowOf(ctx, examId, questionId)) !== null,
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
): Promise<AttemptFacts | null> {
  const row = await loadParticipation(ctx, { examId, userId });
  if (row !== null) return factsOfRow(row, withAnswers ? await loadAnswers(ctx, row._id) : []);
  if (imported) return null;
  return entryFacts((await legacyDoc()).participants, userId);
}

function entryFacts(participants: Doc<"exams">["participants"], userId: Id<"users">): AttemptFacts | null {
  const entry = firstEntryOf(participants, userId);
  return entry === null ? null : factsOfEntry(entry);
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
      .withIndex("by_exam_and_rank", (q) =>
        q.eq("examId", examId).eq("rankScore", last.rankScore).eq("rankTieBreak", last.rankTieBreak),
      )
      .take(LIMITS.leaderboardMax);
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

/** The exam's title etc. without its document when a definition exists. */
async function examInfoV2(ctx: QueryCtx, examId: Id<"exams">): Promise<ExamInfo> {
  const definition = await getExamDefinition(ctx, examId);
  return infoOf(definition ?? (await loadExamDoc(ctx, examId)));
}

/** Every exam (V1 scans them all: that is V1's cost) with its definition, and the global mirror switch. */
async function examsWithDefinitions(ctx: QueryCtx) {
  const [exams, defs, globallyEnabled] = await Promise.all([
    ctx.db.query("exams").take(LIMITS.exams),
    ctx.db.query("examDefinitions").take(LIMITS.exams),
    legacyMirrorGloballyEnabled(ctx),
  ]);
  const byExam = new Map(defs.map((d) => [d.examId as string, d]));
  return Promise.all(
    exams.map(async (exam) => {
      const definition = byExam.get(exam._id) ?? null;
      return { exam, definition, current: await arrayIsCurrent(ctx, definition, globallyEnabled) };
    }),
  );
}

export const v2Source: ExamSource = {
  async exam(ctx, examId) {
    const definition = await getExamDefinition(ctx, examId);
    let doc: Doc<"exams"> | null = definition === null ? await loadExamDoc(ctx, examId) : null;
    const legacyDoc = async () => (doc ??= await loadExamDoc(ctx, examId));
    const imported = legacyArrayImported(definition);
    return {
      info: infoOf(definition ?? doc!),
      attempt: (userId, { withAnswers }) => attemptFromRows(ctx, examId, userId, withAnswers, imported, legacyDoc),
      ...(definition === null ? questionsOfDoc(ctx, doc!) : questionsOfSheet(ctx, definition)),
    };
  },

  async ranked(ctx, examId, limit) {
    if ((await getExamDefinition(ctx, examId)) === null) await loadExamDoc(ctx, examId); // NOT_FOUND check
    return rankedFromIndex(ctx, examId, limit);
  },

  async allExams(ctx) {
    const defs = await ctx.db.query("examDefinitions").take(LIMITS.exams);
    const out = await Promise.all(
      defs.map(async (d) => ({ info: infoOf(d), counts: await countParticipants(ctx, d.examId) })),
    );
    return out.sort((a, b) => byExamId(a.info, b.info));
  },

  async myAttempts(ctx, userId, limit) {
    const newest = await ctx.db
      .query("examParticipations")
      .withIndex("by_user_and_startedAt", (q) => q.eq("userId", userId))
      .order("desc")
      .take(limit);
    let rows = newest;
    const last = newest[newest.length - 1];
    if (newest.length === limit && last !== undefined) {
      const tie = await ctx.db
        .query("examParticipations")
        .withIndex("by_user_and_startedAt", (q) => q.eq("userId", userId).eq("startedAt", last.startedAt))
        .take(LIMITS.recentMax);
      const seen = new Set(newest.map((r) => r._id));
      rows = [...newest, ...tie.filter((r) => !seen.has(r._id))];
    }
    const titles = new Map<string, string>();
    for (const examId of new Set(rows.map((r) => r.examId))) titles.set(examId, (await examInfoV2(ctx, examId)).title);
    return rows.map((r) => ({ examId: r.examId, title: titles.get(r.examId)!, facts: factsOfRow(r) }));
  },
};

export const v1Source: ExamSource = {
  async exam(ctx, examId) {
    const doc = await loadExamDoc(ctx, examId);
    const definition = await getExamDefinition(ctx, examId);
    const current = await arrayIsCurrent(ctx, definition);
    const imported = legacyArrayImported(definition);
    return {
      info: infoOf(doc),
      attempt: async (userId, { withAnswers }) => {
        if (current) return entryFacts(doc.participants, userId);
        return attemptFromRows(ctx, examId, userId, withAnswers, imported, async () => doc);
      },
      ...questionsOfDoc(ctx, doc),
    };
  },

  async ranked(ctx, examId, limit) {
    const doc = await loadExamDoc(ctx, examId);
    if (await arrayIsCurrent(ctx, await getExamDefinition(ctx, examId))) return rankedFromArray(doc.participants);
    return rankedFromIndex(ctx, examId, limit);
  },

  async allExams(ctx) {
    const out = [];
    for (const { exam, definition, current } of await examsWithDefinitions(ctx)) {
      // Once every V1 entry is in V2 the counts are V2's (one summary, as V2 lists them); before that the array's own.
      const counts = current && !legacyArrayImported(definition) ? countEntries(exam.participants) : await countParticipants(ctx, exam._id);
      out.push({ info: infoOf(exam), counts });
    }
    return out.sort((a, b) => byExamId(a.info, b.info));
  },

  async myAttempts(ctx, userId) {
    const out: MyAttempt[] = [];
    for (const { exam, definition, current } of await examsWithDefinitions(ctx)) {
      const facts = current
        ? entryFacts(exam.participants, userId)
        : await attemptFromRows(ctx, exam._id, userId, false, legacyArrayImported(definition), async () => exam);
      if (facts !== null) out.push({ examId: exam._id, title: exam.title, facts });
    }
    return out;
  },
};
