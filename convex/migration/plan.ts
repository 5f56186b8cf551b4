/**
 * Pure planning for the V1 → V2 migration: what production's dirty data looks
 * like (docs/operations.md) and what importing one more participant may cost (the
 * budget itself is lib/budget.ts). Knows nothing of Convex.
 *
 * @example
 * const findings = participantFindings(examId, exam.questionIds, entry, firstIndex, (id) => questions.get(id));
 * if (!fitsBudget(await transactionUsage(ctx), attemptCostEstimate(entryBytes, answers))) stopHere(); // lib/budget.ts
 */
import { getConvexSize, type Value } from "convex/values";
import type { V1Participant } from "../lib/validators";
import type { Issue } from "../lib/issues";
import { CONVEX_LIMITS } from "../lib/limits";
import { addUsage, type Usage } from "../lib/budget";
import { absorbCost } from "../headers/changes";
import { pointsOf } from "../events/decider";

/** A question as the checks need it; null when the question no longer exists. */
export type QuestionLookup = (questionId: string) => { points?: number } | null;

/** Share of a per-document limit from which an exam is reported as "near" it. */
export const NEAR_LIMIT_SHARE = 0.8;

/** Each user's V1 array positions, in order: the first is their attempt, later ones are duplicates. */
export function entryIndexesByUser(participants: readonly Pick<V1Participant, "userId">[]): Map<string, number[]> {
  const byUser = new Map<string, number[]>();
  participants.forEach((p, i) => {
    const indexes = byUser.get(p.userId);
    if (indexes === undefined) byUser.set(p.userId, [i]);
    else indexes.push(i);
  });
  return byUser;
}

/** The question ids a participant's answers point at. */
export function answeredQuestionIds(participant: V1Participant): string[] {
  return [...new Set(participant.answers.map((a) => a.questionId as string))];
}

/** The dirty data of one V1 array entry. `firstIndex` is the user's first position in the array. */
export function participantFindings(
  examId: string,
  examQuestionIds: ReadonlySet<string>,
  participant: V1Participant,
  sourceIndex: number,
  firstIndex: number,
  question: QuestionLookup,
): Issue[] {
  const at = { examId, userId: participant.userId as string, sourceIndex };
  const findings: Issue[] = [];
  if (firstIndex !== sourceIndex) {
    findings.push({
      kind: "duplicate_participant",
      ...at,
      message: `listed again at position ${sourceIndex} (first at ${firstIndex}); kept in the log as a duplicate entry`,
    });
  }
  const seen = new Map<string, number>();
  let expectedScore = 0;
  participant.answers.forEach((answer, position) => {
    const q = question(answer.questionId);
    if (q === null) {
      findings.push({ kind: "unknown_question", ...at, message: `answer ${position}: question ${answer.questionId} no longer exists` });
    } else if (!examQuestionIds.has(answer.questionId)) {
      findings.push({
        kind: "question_not_in_exam",
        ...at,
        message: `answer ${position}: question ${answer.questionId} is not part of this exam`,
      });
    }
    const earlier = seen.get(answer.questionId);
    if (earlier !== undefined) {
      findings.push({
        kind: "duplicate_answer",
        ...at,
        message: `answers ${earlier} and ${position} both answer question ${answer.questionId}`,
      });
    } else {
      seen.set(answer.questionId, position);
    }
    if (answer.isCorrect) expectedScore += pointsOf(q ?? {});
  });
  for (const field of ["score", "startedAt", "completedAt", "pausedAt", "pauseCount", "totalPausedMs"] as const) {
    const value = participant[field];
    if (value === undefined || Number.isFinite(value)) continue;
    findings.push({
      kind: "non_finite_number",
      ...at,
      message: `${field} is ${value}; kept as stored${field === "score" ? " (ranks after every finite score; left out of averages and bests)" : ""}`,
    });
  }
  if (Number.isFinite(participant.score) && expectedScore !== participant.score) {
    findings.push({
      kind: "score_mismatch",
      ...at,
      message: `stored score ${participant.score}, the answers marked correct give ${expectedScore}; kept as stored`,
    });
  }
  return findings;
}

/** Size of a value as Convex counts it (UTF-8 strings, 8-byte numbers): for budgets and "near the limit" reports. */
export function approximateBytes(value: Value | undefined): number {
  return value === undefined ? 0 : getConvexSize(value);
}

/**
 * An exam's own dirt: questions it lists that no longer exist (`missingQuestionIds`), no questions
 * or no participants at all, and a document near Convex's per-document limits (1 MiB, 8,192 array elements).
 */
export function examFindings(
  examId: string,
  participants: readonly V1Participant[],
  documentBytes: number,
  questionIds: readonly string[] = [],
  missingQuestionIds: readonly string[] = [],
): Issue[] {
  const findings: Issue[] = [];
  for (const id of missingQuestionIds) {
    findings.push({
      kind: "unknown_exam_question",
      examId,
      message: `questionIds lists ${id}, which no longer exists (position ${questionIds.indexOf(id)}); kept as stored, left off the question sheet`,
    });
  }
  if (questionIds.length === 0) findings.push({ kind: "exam_without_questions", examId, message: "the exam has no questions" });
  if (participants.length === 0)
    findings.push({ kind: "exam_without_participants", examId, message: "the exam has no participants: nothing to migrate" });
  if (documentBytes >= CONVEX_LIMITS.documentBytes * NEAR_LIMIT_SHARE) {
    findings.push({
      kind: "near_document_limit",
      examId,
      message: `the exam document is about ${Math.round(documentBytes / 1024)} KiB of the 1,024 KiB limit`,
    });
  }
  const longest = Math.max(participants.length, ...participants.map((p) => p.answers.length));
  if (longest >= CONVEX_LIMITS.arrayElements * NEAR_LIMIT_SHARE) {
    findings.push({
      kind: "near_array_limit",
      examId,
      message: `an embedded array has ${longest} of the 8,192 elements allowed`,
    });
  }
  return findings;
}

/** Fixed cost of one attempt's import besides its answers: event, participation, counter shard, lookups. */
const ATTEMPT_OVERHEAD = { documents: 6, bytes: 4096, queries: 10 };

/**
 * Worst-case cost of importing (or re-writing) one attempt with `answers` answers,
 * whose V1 entry is `entryBytes` long: the event carries the entry, the rows its
 * fields and answers; existing rows and events are read back.
 */
export function attemptCostEstimate(entryBytes: number, answers: number, extraQueries = 0): Usage {
  const bytes = 2 * entryBytes + ATTEMPT_OVERHEAD.bytes;
  return {
    bytesRead: bytes,
    bytesWritten: bytes,
    documentsRead: answers + ATTEMPT_OVERHEAD.documents,
    documentsWritten: answers + ATTEMPT_OVERHEAD.documents,
    databaseQueries: ATTEMPT_OVERHEAD.queries + extraQueries,
  };
}

/**
 * Worst-case cost of an exam's first visit: its header and list synced (and what the sync absorbed recorded:
 * absorbCost), each of its questions read once (the findings).
 */
export function headerSyncEstimate(questionCount: number): Usage {
  return addUsage(
    {
      bytesRead: questionCount * ATTEMPT_OVERHEAD.bytes + CONVEX_LIMITS.arrayElements * 64,
      bytesWritten: 3 * questionCount * 64 + ATTEMPT_OVERHEAD.bytes,
      documentsRead: questionCount + 2,
      documentsWritten: 3,
      databaseQueries: questionCount + 4,
    },
    absorbCost(questionCount),
  );
}
