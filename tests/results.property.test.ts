/**
 * For every sequence of exam edits: V1 and V2 results are equal after every step
 * (a question in two exams, a question held twice, answers outside the exam and duplicated,
 * removal and re-adding, deletion), whether or not the scheduled jobs have run; once they have,
 * no header is stale.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { newConvexTest, runScheduled, seedUser, useFakeClock } from "./support/convex";

useFakeClock(Date.UTC(2026, 5, 1, 9, 0, 0));

type Edit =
  | { kind: "text" | "answer" | "options" | "points"; q: number; v: number }
  | { kind: "delete"; q: number }
  | { kind: "members"; exam: number; keep: boolean[] };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom("text", "answer", "options", "points") as fc.Arbitrary<"text">, q: fc.nat(4), v: fc.nat(2) }),
  fc.record({ kind: fc.constant("delete") as fc.Arbitrary<"delete">, q: fc.nat(4) }),
  fc.record({
    kind: fc.constant("members") as fc.Arbitrary<"members">,
    exam: fc.nat(1),
    keep: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  }),
);

describe("result copies, for every history of §6 edits", () => {
  it("V1 and V2 results agree after every supported edit", { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 8 }), fc.boolean(), async (edits, scheduled) => {
        const t = newConvexTest();
        const admin = await seedUser(t, "admin", "admin");
        const q: Id<"questions">[] = [];
        for (let i = 0; i < 5; i++)
          q.push(await admin.as.mutation(api.examAdmin.createQuestion, { text: `Q${i}`, options: ["a", "b", "c"], correctAnswer: "a" }));
        const e0 = await admin.as.mutation(api.examAdmin.createExam, {
          title: "E0",
          questionIds: [q[0]!, q[1]!, q[2]!],
          durationMs: 3_600_000,
          maxPauses: 1,
        });
        const e1 = await admin.as.mutation(api.examAdmin.createExam, {
          title: "E1",
          questionIds: [q[2]!, q[3]!, q[4]!],
          durationMs: 3_600_000,
          maxPauses: 1,
        });
        // A legacy exam holding q1 twice (V1 data allows it), created around §6: its copies are made on first use.
        const e2 = await t.run((ctx) =>
          ctx.db.insert("exams", { title: "E2", questionIds: [q[1]!, q[1]!, q[3]!], durationMs: 3_600_000, maxPauses: 1 }),
        );
        const students = [await seedUser(t, "ada"), await seedUser(t, "bob")];
        const exams = [e0, e1, e2];
        for (const [si, s] of students.entries()) {
          for (const [ei, examId] of exams.entries()) {
            const v = si === 0 ? "V2" : "";
            await s.as.mutation(v ? api.exams.startExamV2 : api.exams.startExam, { examId });
            // each answers every question of all exams (some outside the exam) plus a duplicate
            const ids = ei === 0 ? [q[0]!, q[1]!, q[2]!] : ei === 1 ? [q[2]!, q[3]!, q[4]!] : [q[1]!, q[1]!, q[3]!];
            const answers = ids.map((questionId) => ({ questionId, selectedAnswer: "a" }));
            await s.as.mutation(v ? api.exams.submitExamAnswersV2 : api.exams.submitExamAnswers, { examId, answers }).catch(() =>
              s.as.mutation(v ? api.exams.submitExamAnswersV2 : api.exams.submitExamAnswers, {
                examId,
                answers: [...new Map(answers.map((a) => [a.questionId, a])).values()],
              }),
            );
          }
        }
        await runScheduled(t);
        const members: Id<"questions">[][] = [
          [q[0]!, q[1]!, q[2]!],
          [q[2]!, q[3]!, q[4]!],
        ];
        const deleted = new Set<number>();
        const check = async (label: string) => {
          for (const s of students)
            for (const examId of exams) {
              const v1 = await s.as.query(api.exams.getParticipantExamResults, { examId });
              const v2 = await s.as.query(api.exams.getParticipantExamResultsV2, { examId });
              expect(v2, label).toEqual(v1);
            }
        };
        await check("before");
        for (const [i, ed] of edits.entries()) {
          if (ed.kind === "delete") {
            if (deleted.has(ed.q)) continue;
            await admin.as.mutation(api.examAdmin.deleteQuestion, { questionId: q[ed.q]! });
            deleted.add(ed.q);
          } else if (ed.kind === "members") {
            const ids = q.filter((_, j) => (ed.keep[j] && !deleted.has(j) ? true : members[ed.exam]!.includes(q[j]!) && ed.keep[j]));
            await admin.as.mutation(api.examAdmin.updateExam, { examId: exams[ed.exam]!, questionIds: ids });
            members[ed.exam] = ids;
          } else {
            if (deleted.has(ed.q)) continue;
            const field =
              ed.kind === "text"
                ? { text: `Q${ed.q} v${ed.v}` }
                : ed.kind === "answer"
                  ? { correctAnswer: ["a", "b", "c"][ed.v]! }
                  : ed.kind === "options"
                    ? { options: ["a", "b", "c", `x${ed.v}`], correctAnswer: "a" }
                    : { points: ed.v + 1 };
            await admin.as.mutation(api.examAdmin.updateQuestion, { questionId: q[ed.q]!, ...field });
          }
          if (scheduled) {
            await runScheduled(t);
            expect(await t.query(internal.examAdmin.verifyExamHeaders, { cursor: null })).toMatchObject({ isValid: true });
          }
          await check(`after edit ${i}: ${JSON.stringify(ed)}`);
        }
      }),
      { numRuns: 50 },
    );
  });
});
