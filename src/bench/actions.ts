/**
 * What one student action costs through the write path (decide, append,
 * project), on an exam with 10 and with 1,000 participants. The claim: the
 * same documents and bytes at both sizes, because nothing reads the exam's
 * other attempts.
 */
import type { Id } from "../../convex/_generated/dataModel";
import type { AttemptCommand } from "../../convex/events/decider";
import { executeCommand } from "../../convex/attempts/writePath";
import { syncExamHeader } from "../../convex/headers/examHeaders";
import { createEmbeddedConvex, measureRun, type BenchRow, type BenchSection, type EmbeddedConvex } from "../runtime/embedded";

const QUESTIONS = 20;
const SIZES = [10, 1_000];

async function examWithParticipants(t: EmbeddedConvex, participants: number) {
  return t.run(async (ctx) => {
    const questionIds: Id<"questions">[] = [];
    for (let i = 0; i < QUESTIONS; i++) {
      questionIds.push(await ctx.db.insert("questions", { text: `Q${i}`, options: ["A", "B", "C", "D"], correctAnswer: "A" }));
    }
    const examId = await ctx.db.insert("exams", { title: "Bench", questionIds, durationMs: 3_600_000, maxPauses: 3 });
    const header = await syncExamHeader(ctx, (await ctx.db.get("exams", examId))!);
    // The V2 path alone: the legacy mirror (a V1 compatibility cost) is measured by the exam API's benchmark.
    await ctx.db.patch("examHeaders", header._id, { legacyMirror: false });
    const userIds: Id<"users">[] = [];
    for (let i = 0; i < participants; i++) {
      userIds.push(await ctx.db.insert("users", { name: `S${i}`, tokenIdentifier: `bench|${i}`, role: "student" }));
    }
    const questions = await Promise.all(questionIds.map(async (id) => (await ctx.db.get("questions", id))!));
    return { examId, userIds, questions };
  });
}

export async function bench(): Promise<BenchSection> {
  const costs = new Map<string, Map<number, BenchRow>>();
  for (const size of SIZES) {
    const t = createEmbeddedConvex();
    const { examId, userIds, questions } = await examWithParticipants(t, size);
    const timing = { durationMs: 3_600_000, maxPauses: 3 };
    const at = Date.UTC(2026, 0, 1);
    // Everyone else has started and half of them have submitted.
    for (let i = 1; i < userIds.length; i += 100) {
      await t.run(async (ctx) => {
        for (const userId of userIds.slice(i, i + 100)) {
          const stream = { examId, userId };
          await executeCommand(ctx, {
            stream,
            command: { type: "StartExam", data: { at } },
            actor: { kind: "user", userId },
            origin: "live_v2",
          });
        }
      });
    }
    const userId = userIds[0]!;
    const grading = questions.map((q) => ({ questionId: q._id, options: q.options, correctAnswer: q.correctAnswer }));
    const actions: [string, AttemptCommand][] = [
      ["start", { type: "StartExam", data: { at: at + 1_000 } }],
      ["pause", { type: "PauseExam", data: { at: at + 60_000, ...timing } }],
      ["resume", { type: "ResumeExam", data: { at: at + 120_000 } }],
      [
        "submit (20 answers)",
        {
          type: "SubmitAnswers",
          data: {
            at: at + 600_000,
            ...timing,
            questions: grading,
            answers: grading.map((q) => ({ questionId: q.questionId, selectedAnswer: "A" })),
          },
        },
      ],
    ];
    for (const [name, command] of actions) {
      const { cost } = await measureRun(t, (ctx) =>
        executeCommand(ctx, { stream: { examId, userId }, command, actor: { kind: "user", userId }, origin: "live_v2" }),
      );
      const row = costs.get(name) ?? new Map<number, BenchRow>();
      row.set(size, cost);
      costs.set(name, row);
    }
  }
  const rows: BenchRow[] = [...costs].map(([action, bySize]) => {
    const row: BenchRow = { action };
    for (const size of SIZES) {
      const c = bySize.get(size)!;
      row[`docs read @${size}`] = c.documentsRead as number;
      row[`docs written @${size}`] = c.documentsWritten as number;
      row[`bytes read @${size}`] = c.bytesRead as number;
      row[`bytes written @${size}`] = c.bytesWritten as number;
    }
    return row;
  });
  return {
    title: "Student action cost through the write path (exam with 10 vs 1,000 participants)",
    rows,
    notes: [
      "Legacy mirror off: this is the event-sourced path alone. Figures from ctx.meta.getTransactionMetrics().",
      "A start that is the first in its counter shard inserts the shard instead of reading and patching it.",
    ],
  };
}
