/**
 * An attempt's result copy (`examResults`): its graded answers as results show
 * them, with each question's text and correct answer copied in, one document.
 * Results read it instead of a row per answer and a question document per answer.
 *
 * A copy is labelled with the digest ({@link questionFactsDigest}) of the exam's
 * questions as they were when it was built: their ids, text and correct answers,
 * read in that transaction. Results use a copy only when {@link usableResult}:
 * its `version` is the participation row's and its label is the definition's
 * `questionFacts`, the digest copies/examDefinitions.ts keeps of the questions as
 * they are now. So a copy is never shown for facts other than the ones it holds.
 *
 * Who keeps it current:
 * - the attempt projector ({@link writeAttemptRows}, projections/tables.ts) writes it in the
 *   transaction that writes the attempt's rows;
 * - an edit of the exam's questions changes the definition's digest in the edit's own
 *   transaction, which makes every older copy stale at once: results read the rows and the live
 *   questions, and {@link refreshResultsPage} rewrites the stale copies (copies/examDefinitions.ts
 *   refreshResults: inline for an edit through copies/functions.ts and for the copy repair, by the
 *   scheduled job examAdmin:refreshExamResults for the rest and everywhere else).
 *
 * An attempt with no answers, or whose copy would exceed MAX_ATTEMPT_RESULT_BYTES, has none.
 *
 * @example
 * const result = await loadAttemptResult(ctx, participation._id);
 * if (usableResult(result, participation, definition)) return result.answers;
 */
import type { Doc, Id } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { getConvexSize } from "convex/values";
import type { ResultAnswer, V1Answer } from "../lib/validators";
import { CONVEX_LIMITS, MAX_ATTEMPT_RESULT_BYTES } from "../lib/limits";
import { LOOP_SHARES, transactionUsage } from "../lib/budget";
import { getExamDefinition, getQuestionList, type ExamDefinition } from "../lib/examFacts";
import { contentHash, sameCanonical } from "../events/hash";

export type AttemptResult = Doc<"examResults">;
/** The fields of a result copy other than its participation. */
export type ResultFields = Omit<AttemptResult, "_id" | "_creationTime" | "participationId">;
type QuestionFacts = Pick<Doc<"questions">, "text" | "correctAnswer">;

// ---------------------------------------------------------------- the digest of the questions' facts

/** What result copies hold of one question (its text and correct answer, or that it is gone): one term of the digest. */
function questionFactsTerm(questionId: Id<"questions">, q: QuestionFacts | null): bigint {
  return BigInt(`0x${contentHash(q === null ? [questionId, null] : [questionId, q.text, q.correctAnswer]).slice(0, 32)}`);
}

const DIGEST_MODULUS = 1n << 128n;
const digestHex = (sum: bigint) => (((sum % DIGEST_MODULUS) + DIGEST_MODULUS) % DIGEST_MODULUS).toString(16).padStart(32, "0");

/**
 * The digest of what result copies hold of an exam's questions: a term per entry of its question
 * ids (id, text, correct answer), summed modulo 2^128. A sum, so that an edit of one question
 * updates it in place ({@link digestAfterEdit}) without reading the exam's other questions.
 */
export function questionFactsDigest(questionIds: readonly Id<"questions">[], questions: readonly (QuestionFacts | null)[]): string {
  return digestHex(questionIds.reduce((sum, id, i) => sum + questionFactsTerm(id, questions[i] ?? null), 0n));
}

/** {@link questionFactsDigest} after one question, held `count` times, changed from `before` to `after`: computed from the digest alone. */
export function digestAfterEdit(
  digest: string,
  questionId: Id<"questions">,
  count: number,
  before: QuestionFacts | null,
  after: QuestionFacts | null,
): string {
  const delta = BigInt(count) * (questionFactsTerm(questionId, after) - questionFactsTerm(questionId, before));
  return digestHex(BigInt(`0x${digest}`) + delta);
}

// ---------------------------------------------------------------- building a copy

/** The exam's questions as read in this transaction: what a copy is built from, and the digest it is labelled with. */
export type AnswerFacts = {
  examId: Id<"exams">;
  /** questionFactsDigest of `questions`: the label of the copies built from them. */
  digest: string;
  /** The exam's question ids: an answer to another question has its facts read live by results. */
  questionIds: ReadonlySet<string>;
  /** The documents of the exam's questions, by id (a deleted one is null). */
  questions: ReadonlyMap<string, Doc<"questions"> | null>;
};

/** {@link AnswerFacts} of an exam whose question ids and their documents (in the same order) the caller has read. */
export function answerFactsOf(
  examId: Id<"exams">,
  questionIds: readonly Id<"questions">[],
  docs: readonly (Doc<"questions"> | null)[],
): AnswerFacts {
  return {
    examId,
    digest: questionFactsDigest(questionIds, docs),
    questionIds: new Set(questionIds),
    questions: new Map(questionIds.map((id, i) => [id as string, docs[i] ?? null])),
  };
}

/**
 * The exam's question facts, from its question list and the live questions (documents in `known`
 * are not read again). Null while the exam has no question list: no copy is kept then.
 */
export async function loadAnswerFacts(
  ctx: Pick<QueryCtx, "db">,
  examId: Id<"exams">,
  known: ReadonlyMap<string, Doc<"questions"> | null> = new Map(),
): Promise<AnswerFacts | null> {
  const list = await getQuestionList(ctx, examId);
  if (list === null) return null;
  const docs = await Promise.all(list.questionIds.map(async (id) => (known.has(id) ? known.get(id)! : await ctx.db.get("questions", id))));
  return answerFactsOf(examId, list.questionIds, docs);
}

/** Where a writer gets the exam's question facts: read only when a copy is to be built, then kept. */
export type FactsSource = () => Promise<AnswerFacts | null>;

/** A {@link FactsSource} that reads the facts once, on first use. */
export function factsSource(load: () => Promise<AnswerFacts | null>): FactsSource {
  let facts: Promise<AnswerFacts | null> | undefined;
  return () => (facts ??= load());
}

/**
 * The {@link FactsSource} of the exam a walk is in, for walks that visit exams one after another (rebuild,
 * verify, a migration batch): one per exam, kept while the walk stays in it. `known`: documents already read.
 */
export function factsByExam(
  ctx: Pick<QueryCtx, "db">,
  known?: ReadonlyMap<string, Doc<"questions"> | null>,
): (examId: Id<"exams">) => FactsSource {
  let current: { examId: Id<"exams">; source: FactsSource } | undefined;
  return (examId) => {
    if (current?.examId !== examId) current = { examId, source: factsSource(() => loadAnswerFacts(ctx, examId, known)) };
    return current.source;
  };
}

/** Question documents by id (deleted ones left out). */
export function questionsById(docs: readonly (Doc<"questions"> | null)[]): Map<string, Doc<"questions">> {
  return new Map(docs.flatMap((q) => (q === null ? [] : [[q._id as string, q] as const])));
}

/** An answer of a copy, without its question's facts. */
export function answerOf({ questionId, selectedAnswer, isCorrect }: V1Answer): V1Answer {
  return { questionId, selectedAnswer, isCorrect };
}

/** An answer as results show it: with its question's text and correct answer while that question exists. */
export function gradedAnswer(answer: V1Answer, question: QuestionFacts | null | undefined): ResultAnswer {
  if (question == null) return answerOf(answer);
  const { questionId, selectedAnswer, isCorrect } = answer;
  return { questionId, selectedAnswer, isCorrect, questionText: question.text, correctAnswer: question.correctAnswer };
}

/** The result copy an attempt with these answers calls for, or null when it keeps none (no answers, no facts, too large). */
export function wantedResult(answers: readonly V1Answer[], version: number, facts: AnswerFacts | null): ResultFields | null {
  if (answers.length === 0 || facts === null) return null;
  const live = new Set<Id<"questions">>();
  const shown = answers.map((answer) => {
    if (facts.questionIds.has(answer.questionId)) return gradedAnswer(answer, facts.questions.get(answer.questionId));
    // Not one of the exam's questions: the digest does not cover it, so results read it live.
    live.add(answer.questionId);
    return answerOf(answer);
  });
  const result: ResultFields = { examId: facts.examId, version, questionFacts: facts.digest, answers: shown, liveQuestionIds: [...live] };
  return sizeAtMost(result, MAX_ATTEMPT_RESULT_BYTES) ? result : null;
}

/** getConvexSize(result) ≤ limit, measured only when a bound from its strings' lengths (3 bytes a UTF-16 unit at most) does not settle it. */
function sizeAtMost(result: ResultFields, limit: number): boolean {
  let bound = 256 + 64 * result.liveQuestionIds.length;
  for (const a of result.answers) {
    bound += 160 + 3 * (a.selectedAnswer.length + (a.questionText?.length ?? 0) + (a.correctAnswer?.length ?? 0));
  }
  return bound <= limit || getConvexSize(result) <= limit;
}

// ---------------------------------------------------------------- reading and writing copies

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

/** A usable copy's answers as results show them: the answers to questions outside the exam take the facts of `live` (their documents now). */
export function answersOfCopy(result: AttemptResult, live: readonly (Doc<"questions"> | null)[]): ResultAnswer[] {
  if (result.liveQuestionIds.length === 0) return result.answers;
  const byId = questionsById(live);
  const outside = new Set<string>(result.liveQuestionIds);
  return result.answers.map((a) => (outside.has(a.questionId) ? gradedAnswer(a, byId.get(a.questionId)) : a));
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
  if (sameCanonical(fieldsOf(stored), wanted)) return 0;
  await ctx.db.replace("examResults", stored._id, { participationId, ...wanted });
  return 1;
}

// ---------------------------------------------------------------- refreshing stale copies

/** Up to `n` of the exam's result copies labelled with another digest than `digest` (found by identity, through the index). */
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
 * Rewrites the exam's stale result copies from their own answers and the live questions, within
 * LOOP_SHARES.resultRefreshPage of the transaction's read and write limits (each page no more copies
 * than the room left could hold, read and written, at MAX_ATTEMPT_RESULT_BYTES each). A refreshed copy leaves the stale
 * index range, so the next call goes on where this one stopped: no cursor. A copy whose
 * participation is gone is deleted. Done at once while the definition's digest is not the live
 * questions' (an edit made around copies/functions.ts awaits the repair, which heals it first).
 */
export async function refreshResultsPage(
  ctx: Pick<MutationCtx, "db" | "meta">,
  examId: Id<"exams">,
): Promise<{ refreshed: number; isDone: boolean }> {
  const digest = (await getExamDefinition(ctx, examId))?.questionFacts;
  if (digest === undefined) return { refreshed: 0, isDone: true };
  if ((await staleResults(ctx, examId, digest, 1)).length === 0) return { refreshed: 0, isDone: true };
  const facts = await loadAnswerFacts(ctx, examId); // the exam's questions, once, before the budget sizes a page
  if (facts === null || facts.digest !== digest) return { refreshed: 0, isDone: true };
  const share = LOOP_SHARES.resultRefreshPage;
  let refreshed = 0;
  for (;;) {
    // As many copies as the share has room for, read and then written, at their largest.
    const used = await transactionUsage(ctx);
    const room = Math.min(share * CONVEX_LIMITS.bytesRead - used.bytesRead, share * CONVEX_LIMITS.bytesWritten - used.bytesWritten);
    // A fresh job always has room for one (a quarter of the limits is 16 copies at their largest): it always progresses.
    const n = Math.floor(room / MAX_ATTEMPT_RESULT_BYTES);
    if (n < 1) return { refreshed, isDone: false };
    const page = await staleResults(ctx, examId, digest, n);
    for (const stale of page) {
      const row = await ctx.db.get("examParticipations", stale.participationId);
      const wanted = row === null ? null : wantedResult(stale.answers, stale.version, facts);
      refreshed += await writeAttemptResult(ctx, stale.participationId, stale, wanted);
    }
    if (page.length < n) return { refreshed, isDone: true };
  }
}
