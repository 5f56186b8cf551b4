/**
 * Audit-suite support: drives an attempt through the one write path at fake
 * times, and runs the resumable tamper check to the end.
 *
 * @example
 * const ada = await attemptDriver(t, exam, userId);
 * await ada.start(T0); await ada.pause(T0 + 60_000); await ada.resume(T0 + 120_000);
 */
import { vi } from "vitest";
import { internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { executeCommand } from "../../convex/attempts/writePath";
import type { Issue } from "../../convex/lib/issues";
import type { SeededExam, TestConvex } from "./convex";

export const T0 = Date.UTC(2026, 5, 1, 9, 0, 0);

export const MINUTE = 60_000;

/** One student's attempt, each action at its own (fake) time. */
export function attemptDriver(t: TestConvex, exam: SeededExam, userId: Id<"users">, timing = { durationMs: 60 * MINUTE, maxPauses: 10 }) {
  const stream = { examId: exam.examId, userId };
  const act = async (at: number, command: Parameters<typeof executeCommand>[1]["command"]) => {
    vi.setSystemTime(at);
    return t.run((ctx) => executeCommand(ctx, { stream, command, actor: { kind: "user", userId }, origin: "live_v2" }));
  };
  return {
    stream,
    start: (at: number) => act(at, { type: "StartExam", data: { at } }),
    pause: (at: number) => act(at, { type: "PauseExam", data: { at, ...timing } }),
    resume: (at: number) => act(at, { type: "ResumeExam", data: { at } }),
    /** Answers every question with its first option (correct in seedExam's exams) except the last (wrong). */
    submit: (at: number) =>
      act(at, {
        type: "SubmitAnswers",
        data: {
          at,
          ...timing,
          questions: exam.questions.map((q) => ({
            questionId: q._id,
            options: q.options,
            correctAnswer: q.correctAnswer,
            points: q.points,
          })),
          answers: exam.questions.map((q, i) => ({
            questionId: q._id,
            selectedAnswer: i === exam.questions.length - 1 ? q.options[1]! : q.options[0]!,
          })),
        },
      }),
  };
}

/** Runs audit:verifyAuditChain to the end; returns every issue and the number of calls. */
export async function verifyWholeChain(t: TestConvex, args: { examId?: Id<"exams">; batchSize?: number } = {}) {
  const issues: Issue[] = [];
  let cursor: string | null = null;
  let calls = 0;
  const totals = { eventsChecked: 0, streamsChecked: 0, rowsChecked: 0 };
  for (;;) {
    const result: {
      isValid: boolean;
      issues: Issue[];
      isDone: boolean;
      continueCursor: string | null;
      summary: typeof totals;
    } = await t.query(internal.audit.verifyAuditChain, { ...args, cursor });
    calls++;
    issues.push(...(result.issues as Issue[]));
    if (result.isValid !== (result.issues.length === 0)) throw new Error("isValid disagrees with issues");
    totals.eventsChecked += result.summary.eventsChecked;
    totals.streamsChecked += result.summary.streamsChecked;
    totals.rowsChecked += result.summary.rowsChecked;
    if (result.isDone) return { issues, calls, totals };
    cursor = result.continueCursor;
  }
}
