/**
 * For every history interleaving student actions (V1 and V2), §6 edits,
 * out-of-band edits and repair steps, on one Convex:
 * - submitting exactly what a session shows, while it shows time left and no
 *   pause, is accepted (V1 session and V1 submit agree; V2 never rejects what
 *   its session showed);
 * - whenever no out-of-band edit is pending repair (right after a §6 edit, and
 *   after each repair), every V1 read equals its V2 twin for every caller, and
 *   the verifier finds no stale copy.
 */
import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { newConvexTest, seedUser, useFakeClock, type SeededUser, type TestConvex } from "./support/convex";
import { attempt, callWrite, readEverything, type Api, type WriteName } from "./support/exams";

const T0 = Date.UTC(2026, 7, 3, 9, 0, 0);
const MIN = 60_000;
useFakeClock(T0);

const STUDENTS = 2;
const QUESTIONS = 4; // the exam starts with the first 3

type Edit =
  | { field: "title"; value: string }
  | { field: "durationMs"; value: number }
  | { field: "maxPauses"; value: number }
  | { field: "questionIds"; value: number[] }
  | { field: "text"; q: number; value: string }
  | { field: "options"; q: number; value: string[] }
  | { field: "points"; q: number; value: number }
  | { field: "correctAnswer"; q: number; value: string }
  | { field: "deleteQuestion"; q: number };

type Step =
  | { kind: "write"; name: WriteName; student: number; api: Api }
  | { kind: "submitShown"; student: number; api: Api; option: string }
  | { kind: "advance"; ms: number }
  | { kind: "edit"; how: "admin" | "outOfBand"; edit: Edit }
  | { kind: "repair" };

const question = fc.integer({ min: 0, max: QUESTIONS - 1 });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ field: fc.constant("title" as const), value: fc.constantFrom("A", "B") }),
  fc.record({ field: fc.constant("durationMs" as const), value: fc.integer({ min: 1, max: 20 }).map((m) => m * MIN) }),
  fc.record({ field: fc.constant("maxPauses" as const), value: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ field: fc.constant("questionIds" as const), value: fc.shuffledSubarray([0, 1, 2, 3]) }),
  fc.record({ field: fc.constant("text" as const), q: question, value: fc.constantFrom("X", "Y") }),
  fc.record({
    field: fc.constant("options" as const),
    q: question,
    value: fc.constantFrom<string[]>(["a", "b"], ["a", "b", "c"], ["b", "c"]),
  }),
  fc.record({ field: fc.constant("points" as const), q: question, value: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ field: fc.constant("correctAnswer" as const), q: question, value: fc.constantFrom("a", "b") }),
  fc.record({ field: fc.constant("deleteQuestion" as const), q: question }),
);
const student = fc.integer({ min: 0, max: STUDENTS - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("write" as const),
      name: fc.constantFrom<WriteName>("startExam", "startPause", "resumeFromPause"),
      student,
      api: fc.constantFrom<Api>("v1", "v2"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("submitShown" as const),
      student,
      api: fc.constantFrom<Api>("v1", "v2"),
      option: fc.constantFrom("a", "b"),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 8 * MIN }) }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("edit" as const), how: fc.constantFrom("admin" as const, "outOfBand" as const), edit }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "repair" as const }) },
);

type World = { t: TestConvex; admin: SeededUser; students: SeededUser[]; examId: Id<"exams">; q: Id<"questions">[] };

async function world(): Promise<World> {
  const t = newConvexTest();
  const admin = await seedUser(t, "admin", "admin");
  const students: SeededUser[] = [];
  for (let i = 0; i < STUDENTS; i++) students.push(await seedUser(t, `s${i}`));
  const q: Id<"questions">[] = [];
  for (let i = 0; i < QUESTIONS; i++)
    q.push(await admin.as.mutation(api.examAdmin.createQuestion, { text: `Q${i}`, options: ["a", "b", "c"], correctAnswer: "a" }));
  const examId = await admin.as.mutation(api.examAdmin.createExam, {
    title: "Exam",
    questionIds: q.slice(0, 3),
    durationMs: 10 * MIN,
    maxPauses: 1,
  });
  return { t, admin, students, examId, q };
}

/** The edit through §6 (errors, e.g. editing a deleted question, are part of the history) or behind the backend's back. */
async function applyEdit(w: World, how: "admin" | "outOfBand", e: Edit) {
  const admin = w.admin.as;
  if (e.field === "title" || e.field === "durationMs" || e.field === "maxPauses" || e.field === "questionIds") {
    const value = e.field === "questionIds" ? e.value.map((i) => w.q[i]!) : e.value;
    if (how === "admin") return attempt(() => admin.mutation(api.examAdmin.updateExam, { examId: w.examId, [e.field]: value }));
    return w.t.run((ctx) => ctx.db.patch("exams", w.examId, { [e.field]: value }));
  }
  const questionId = w.q[e.q]!;
  if (e.field === "deleteQuestion") {
    if (how === "admin") return attempt(() => admin.mutation(api.examAdmin.deleteQuestion, { questionId }));
    return w.t.run(async (ctx) => ((await ctx.db.get("questions", questionId)) === null ? null : ctx.db.delete("questions", questionId)));
  }
  if (how === "admin") return attempt(() => admin.mutation(api.examAdmin.updateQuestion, { questionId, [e.field]: e.value }));
  return w.t.run(async (ctx) =>
    (await ctx.db.get("questions", questionId)) === null ? null : ctx.db.patch("questions", questionId, { [e.field]: e.value }),
  );
}

async function repair(t: TestConvex) {
  let cursor: string | null = null;
  for (;;) {
    const r: { isDone: boolean; continueCursor: string | null } = await t.mutation(internal.examAdmin.repairExamHeaders, { cursor });
    if (r.isDone) return;
    cursor = r.continueCursor;
  }
}

async function staleCopies(t: TestConvex) {
  const out: unknown[] = [];
  let cursor: string | null = null;
  for (;;) {
    const r: { stale: unknown[]; isDone: boolean; continueCursor: string | null } = await t.query(internal.examAdmin.verifyExamHeaders, {
      cursor,
    });
    out.push(...r.stale);
    if (r.isDone) return out;
    cursor = r.continueCursor;
  }
}

async function submitShown(w: World, s: Extract<Step, { kind: "submitShown" }>) {
  const who = w.students[s.student]!.as;
  const v2 = s.api === "v2";
  const session = await who.query(v2 ? api.exams.getExamSessionV2 : api.exams.getExamSession, { examId: w.examId });
  const answers = session.questions.map((q) => ({
    questionId: q.questionId,
    selectedAnswer: q.options.includes(s.option) ? s.option : q.options[0]!,
  }));
  const result = await attempt(() =>
    who.mutation(v2 ? api.exams.submitExamAnswersV2 : api.exams.submitExamAnswers, { examId: w.examId, answers }),
  );
  // Grace: a session read in the last 10 s may be submitted until 10 s after the deadline.
  if (session.status === "in_progress" && session.remainingMs > 0) expect(result).toMatchObject({ status: "completed" });
}

async function expectV1EqualsV2(w: World) {
  expect(await staleCopies(w.t)).toEqual([]);
  const scope = { examId: w.examId, questionIds: w.q, userIds: w.students.map((s) => s.userId) };
  for (const who of [...w.students, w.admin]) {
    expect(await readEverything(who.as, "v2", scope)).toEqual(await readEverything(who.as, "v1", scope));
  }
}

describe("exam edits, for every history", () => {
  it(
    "what a session shows is accepted, and V1 ≡ V2 for every read whenever no out-of-band edit awaits repair",
    { timeout: 300_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 12 }), async (steps) => {
          vi.setSystemTime(T0);
          const w = await world();
          let pendingRepair = false;
          for (const s of steps) {
            if (s.kind === "write") await callWrite(w.students[s.student]!.as, s.name, s.api, { examId: w.examId });
            else if (s.kind === "submitShown") await submitShown(w, s);
            else if (s.kind === "advance") vi.setSystemTime(Date.now() + s.ms);
            else if (s.kind === "edit") {
              await applyEdit(w, s.how, s.edit);
              if (s.how === "outOfBand") pendingRepair = true;
            } else {
              await repair(w.t);
              pendingRepair = false;
            }
            if (!pendingRepair && (s.kind === "edit" || s.kind === "repair")) await expectV1EqualsV2(w);
          }
          await repair(w.t);
          await expectV1EqualsV2(w);
        }),
        { numRuns: 40 },
      );
    },
  );
});
