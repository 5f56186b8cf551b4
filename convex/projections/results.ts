/**
 * An attempt's result copy (`examResults`): its graded answers as results show
 * them, with each question's text and correct answer copied in, one document.
 * Results read it instead of a row per answer and a question document per answer.
 *
 * Who keeps it current:
 * - the attempt projector ({@link writeAttemptRows}, projections/tables.ts) writes it in the
 *   transaction that writes the attempt's rows, from the question documents as they are then;
 * - an edit of the exam's questions changes the definition's `questionFacts` digest in the
 *   edit's own transaction (copies/examDefinitions.ts). Every older copy is stale from that
 *   moment: results read the rows and the live questions, and {@link refreshResultsPage}
 *   rewrites the stale copies. The edit schedules that refresh; the copy repair schedules it
 *   for edits made around copies/functions.ts, once it has healed the digest.
 *
 * Results use a copy only when {@link usableResult}: its `version` is the participation
 * row's and its `questionFacts` the definition's. An attempt with no answers, or whose copy
 * would exceed MAX_ATTEMPT_RESULT_BYTES, has none.
 *
 * @example
 * const result = await loadAttemptResult(ctx, participation._id);
 * if (usableResult(result, participation, definition)) return result.answers;
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { getConvexSize } from "convex/values";
import type { ResultAnswer, V1Answer } from "../lib/validators";
import { MAX_ATTEMPT_RESULT_BYTES } from "../lib/limits";
import { LOOP_SHARES, budgetSpent } from "../lib/budget";
import { getExamDefinition, getQuestionList, type ExamDefinition } from "../lib/examFacts";
import { canonicalJson } from "../events/hash";

export type AttemptResult = Doc<"examResults">;
/** The fields of a result copy other than its participation. */
export type ResultFields = Omit<AttemptResult, "_id" | "_creationTime" | "participationId">;

/** What a result copy is built from besides the answers: the exam's question facts now. */
export type AnswerFacts = {
  examId: Id<"exams">;
  /** The definition's questionFacts (undefined: the exam has no digest yet, and no copy is kept). */
  digest: string | undefined;
  /** The exam's question ids: an answer to another question has its facts read live by results. */
  questionIds: ReadonlySet<string>;
  /** Question documents read in this transaction, by id; filled on demand. */
  questions: Map<string, Doc<"questions"> | null>;
};

/** The exam's question facts as its definition and question list say (two small reads). */
export async function loadAnswerFacts(
  ctx: Pick<QueryCtx, "db">,
  examId: Id<"exams">,
  questions: Map<string, Doc<"questions"> | null> = new Map(),
): Promise<AnswerFacts> {
  const [definition, list] = await Promise.all([getExamDefinition(ctx, examId), getQuestionList(ctx, examId)]);
  return answerFactsOf(examId, definition, list?.questionIds ?? null, questions);
}

/** {@link loadAnswerFacts} from a definition and question ids the caller has read (no list: no copy). */
export function answerFactsOf(
  examId: Id<"exams">,
  definition: ExamDefinition | null,
  questionIds: readonly Id<"questions">[] | null,
  questions: Map<string, Doc<"questions"> | null> = new Map(),
): AnswerFacts {
  return {
    examId,
    digest: questionIds === null ? undefined : definition?.questionFacts,
    questionIds: new Set(questionIds ?? []),
    questions,
  };
}

/** Question documents the caller has read, by id, for {@link AnswerFacts}.questions. */
export function questionMapOf(
  docs: readonly (Doc<"questions"> | null)[],
  ids: readonly Id<"questions">[],
): Map<string, Doc<"questions"> | null> {
  return new Map(ids.map((id, i) => [id as string, docs[i] ?? null]));
}

async function questionOf(ctx: Pick<QueryCtx, "db">, facts: AnswerFacts, id: Id<"questions">): Promise<Doc<"questions"> | null> {
  if (!facts.questions.has(id)) facts.questions.set(id, await ctx.db.get("questions", id));
  return facts.questions.get(id)!;
}

/** The result copy an attempt with these answers calls for, or null when it keeps none (no answers, no digest, too large). */
export async function wantedResult(
  ctx: Pick<QueryCtx, "db">,
  answers: readonly V1Answer[],
  version: number,
  facts: AnswerFacts,
): Promise<ResultFields | null> {
  if (answers.length === 0 || facts.digest === undefined) return null;
  const live = new Set<Id<"questions">>();
  const shown: ResultAnswer[] = [];
  for (const { questionId, selectedAnswer, isCorrect } of answers) {
    const answer = { questionId, selectedAnswer, isCorrect };
    if (!facts.questionIds.has(questionId)) {
      // Not one of the exam's questions now: the digest does not cover it, so results read it live.
      live.add(questionId);
      shown.push(answer);
      continue;
    }
    const q = await questionOf(ctx, facts, questionId);
    shown.push(q === null ? answer : { ...answer, questionText: q.text, correctAnswer: q.correctAnswer });
  }
  const result: ResultFields = { examId: facts.examId, version, questionFacts: facts.digest, answers: shown, liveQuestionIds: [...live] };
  return getConvexSize(result) <= MAX_ATTEMPT_RESULT_BYTES ? result : null;
}

export async function loadAttemptResult(
  ctx: Pick<QueryCtx, "db">,
  participationId: Id<"examParticipations">,
): Promise<AttemptResult | null> {
  return ctx.db
    .query("examResults")
    .withIndex("by_participation", (q) => q.eq("participationId", participationId))
    .unique();
}

/** Whether results may show `result` for the participation `row` of the exam `definition` describes. */
export function usableResult(
  result: AttemptResult | null,
  row: Doc<"examParticipations">,
  definition: ExamDefinition | null,
): result is AttemptResult {
  return (
    result !== null &&
    result.version === row.version &&
    definition?.questionFacts !== undefined &&
    result.questionFacts === definition.questionFacts
  );
}

function fieldsOf(doc: AttemptResult): ResultFields {
  const { _id: _i, _creationTime: _c, participationId: _p, ...fields } = doc;
  return fields;
}

/** Makes the participation's stored copy `wanted` (null: none). Returns the documents written. */
export async function writeAttemptResult(
  ctx: Pick<MutationCtx, "db">,
  participationId: Id<"examParticipations">,
  stored: AttemptResult | null,
  wanted: ResultFields | null,
): Promise<number> {
  if (wanted === null) {
    if (stored === null) return 0;
    await ctx.db.delete("examResults", stored._id);
    return 1;
  }
  if (stored === null) {
    await ctx.db.insert("examResults", { participationId, ...wanted });
    return 1;
  }
  if (canonicalJson(fieldsOf(stored)) === canonicalJson(wanted)) return 0;
  await ctx.db.replace("examResults", stored._id, { participationId, ...wanted });
  return 1;
}

/** A usable copy's answers as results show them: the answers to questions outside the exam take the facts of `live` (their documents now). */
export function answersOfCopy(result: AttemptResult, live: readonly (Doc<"questions"> | null)[]): ResultAnswer[] {
  if (result.liveQuestionIds.length === 0) return result.answers;
  const byId = new Map(live.flatMap((q) => (q === null ? [] : [[q._id as string, q] as const])));
  const outside = new Set<string>(result.liveQuestionIds);
  return result.answers.map((a) => {
    if (!outside.has(a.questionId)) return a;
    const q = byId.get(a.questionId);
    const answer = answerOf(a);
    return q === undefined ? answer : { ...answer, questionText: q.text, correctAnswer: q.correctAnswer };
  });
}

/** An answer of a copy, without its question's facts. */
export function answerOf({ questionId, selectedAnswer, isCorrect }: ResultAnswer): V1Answer {
  return { questionId, selectedAnswer, isCorrect };
}

/** Result copies per refresh query: each up to MAX_ATTEMPT_RESULT_BYTES, and the page stops on its budget first. */
const REFRESH_PAGE = 100;

/** Up to `n` of the exam's result copies taken under other question facts than `digest`. */
export async function staleResults(ctx: Pick<QueryCtx, "db">, examId: Id<"exams">, digest: string, n: number): Promise<AttemptResult[]> {
  const older = await ctx.db
    .query("examResults")
    .withIndex("by_exam_and_facts", (q) => q.eq("examId", examId).lt("questionFacts", digest))
    .take(n);
  if (older.length >= n) return older;
  const newer = await ctx.db
    .query("examResults")
    .withIndex("by_exam_and_facts", (q) => q.eq("examId", examId).gt("questionFacts", digest))
    .take(n - older.length);
  return [...older, ...newer];
}

/**
 * Rewrites the exam's stale result copies from their own answers and the live questions,
 * until the budget is spent. A copy refreshed leaves the stale ranges, so the next call
 * goes on where this one stopped: no cursor. Done at once while the exam has no digest.
 */
export async function refreshResultsPage(
  ctx: Pick<MutationCtx, "db" | "meta">,
  examId: Id<"exams">,
): Promise<{ refreshed: number; isDone: boolean }> {
  const digest = (await getExamDefinition(ctx, examId))?.questionFacts;
  if (digest === undefined) return { refreshed: 0, isDone: true };
  let facts: AnswerFacts | undefined; // read once there is something to refresh
  let refreshed = 0;
  for (;;) {
    const page = await staleResults(ctx, examId, digest, REFRESH_PAGE);
    for (const stale of page) {
      if (await budgetSpent(ctx, LOOP_SHARES.resultRefreshPage)) return { refreshed, isDone: false };
      facts ??= await loadAnswerFacts(ctx, examId);
      const wanted = await wantedResult(ctx, stale.answers.map(answerOf), stale.version, facts);
      refreshed += await writeAttemptResult(ctx, stale.participationId, stale, wanted);
    }
    if (page.length < REFRESH_PAGE) return { refreshed, isDone: true };
  }
}
