/**
 * For every history: the rows the inline projector keeps equal the rows replayed
 * from the log, and a rejected command leaves the database unchanged.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Id } from "../convex/_generated/dataModel";
import type { AttemptCommand, GradingQuestion } from "../convex/events/decider";
import { readStream } from "../convex/events/store";
import { errorCode } from "../convex/lib/errors";
import { executeCommand } from "../convex/attempts/writePath";
import { answerRowOf, participationRowOf, projectStream } from "../convex/projections/attempt";
import { loadStoredAttempt } from "../convex/projections/tables";
import { countParticipants } from "../convex/projections/counters";
import { newConvexTest, seedExam, seedUser, snapshotTables, useFakeClock } from "./support/convex";

type Step =
  | { kind: "start" | "pause" | "resume"; user: number; dt: number }
  | { kind: "submit"; user: number; dt: number; picks: { q: number; option: number }[] }
  | { kind: "import"; user: number; dt: number; sourceIndex: number; score: number; answered: number };

const QUESTIONS = 3;
const users = 3;
const dt = fc.integer({ min: 0, max: 40 * 60_000 });
const user = fc.integer({ min: 0, max: users - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constantFrom("start", "pause", "resume"), user, dt }),
  fc.record({
    kind: fc.constant("submit"),
    user,
    dt,
    // q = QUESTIONS means "a question of another exam"; repeats make a question answered twice.
    picks: fc.array(fc.record({ q: fc.integer({ min: 0, max: QUESTIONS }), option: fc.integer({ min: 0, max: 4 }) }), {
      maxLength: 4,
    }),
  }),
  fc.record({
    kind: fc.constant("import"),
    user,
    dt,
    sourceIndex: fc.integer({ min: 0, max: 2 }),
    score: fc.integer({ min: 0, max: 9 }),
    answered: fc.integer({ min: 0, max: QUESTIONS }),
  }),
);

// Fake timers: the exam's mirror job, scheduled 6 s after each live command, must not run (and write) in the
// middle of a history this test compares table by table; on real timers a slow run let it fire.
useFakeClock();

describe("inline projections", () => {
  it("equal a replay of the log after every command, and rejected commands change nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
        const t = newConvexTest();
        const exam = await seedExam(t, { questions: QUESTIONS, durationMs: 60 * 60_000, maxPauses: 2 });
        const other = await seedExam(t, { questions: 1 });
        const people = await Promise.all(Array.from({ length: users }, (_, i) => seedUser(t, `s${i}`)));
        const grading: GradingQuestion[] = exam.questions.map((q) => ({
          questionId: q._id,
          options: q.options,
          correctAnswer: q.correctAnswer,
        }));
        const questionOf = (q: number): Id<"questions"> => (q < QUESTIONS ? exam.questionIds[q]! : other.questionIds[0]!);
        let now = Date.UTC(2026, 0, 1);
        const timing = { durationMs: 60 * 60_000, maxPauses: 2 };
        const toCommand = (s: Step, at: number, userId: Id<"users">): AttemptCommand => {
          switch (s.kind) {
            case "start":
              return { type: "StartExam", data: { at } };
            case "pause":
              return { type: "PauseExam", data: { at, ...timing } };
            case "resume":
              return { type: "ResumeExam", data: { at } };
            case "submit":
              return {
                type: "SubmitAnswers",
                data: {
                  at,
                  ...timing,
                  questions: grading,
                  answers: s.picks.map((p) => ({ questionId: questionOf(p.q), selectedAnswer: "abcde"[p.option]! })),
                },
              };
            case "import":
              return {
                type: "ImportLegacyParticipant",
                data: {
                  sourceIndex: s.sourceIndex,
                  rank: 0,
                  participant: {
                    userId,
                    score: s.score,
                    answers: exam.questionIds
                      .slice(0, s.answered)
                      .map((questionId) => ({ questionId, selectedAnswer: "b", isCorrect: false })),
                    startedAt: at - 1_000,
                    ...(s.answered > 0 ? { completedAt: at } : {}),
                    isPaused: false,
                    pauseCount: 0,
                    totalPausedMs: 0,
                  },
                },
              };
          }
        };

        for (const s of steps) {
          now += s.dt;
          const { userId } = people[s.user]!;
          const stream = { examId: exam.examId, userId };
          const command = toCommand(s, now, userId);
          const before = await snapshotTables(t);
          const rejected = await t
            .run((ctx) => executeCommand(ctx, { stream, command, actor: { kind: "user", userId }, origin: "live_v2", recordedAt: now }))
            .then(() => undefined)
            .catch((error: unknown) => error);
          if (rejected !== undefined) {
            expect(errorCode(rejected), String(rejected)).toBeDefined();
            expect(await snapshotTables(t)).toEqual(before);
          }

          await t.run(async (ctx) => {
            let participants = 0;
            let completed = 0;
            let answers = 0;
            for (const { userId } of people) {
              const s = { examId: exam.examId, userId };
              const stored = await loadStoredAttempt(ctx, s);
              const replayed = projectStream(await readStream(ctx, s));
              expect(stored.row === null ? null : participationRowOf(stored.row)).toEqual(replayed.participation);
              expect(stored.answers.map(answerRowOf)).toEqual(replayed.answers);
              if (stored.row !== null) participants += 1;
              if (stored.row?.completedAt !== undefined) completed += 1;
              answers += stored.answers.length;
            }
            expect(await countParticipants(ctx, exam.examId)).toEqual({ participants, completed, answers });
          });
        }
      }),
      { numRuns: 200 },
    );
  });
});
