/**
 * For every history: (1) student actions (V1 and V2) interleaved with mirror
 * runs, drains and the clock moving: every V1 read equals its V2 twin after every
 * step, whatever the mirror's lag, and after a drain the array equals the one the
 * synchronous mirror wrote for the same history on another instance; (2) rebuild
 * calls (a few streams each, so passes span calls and exams) interleaved with
 * student actions: the counters equal the rows (verifyProjections stays valid).
 */
import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { internal } from "../convex/_generated/api";
import { markLegacyBackfilled } from "../convex/headers/examHeaders";
import { getExamHeader } from "../convex/lib/examHeaders";
import { MIRROR_SETTLE_MS, drainExamMirror } from "../convex/projections/mirrorJob";
import { newConvexTest, runScheduled, seedExam, seedUser, useFakeClock, type SeededUser, type TestConvex } from "./support/convex";
import { callWrite, readEverything, runHeaderCheckPass, type Api, type WriteName } from "./support/exams";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
const DURATION = 20 * 60_000;
useFakeClock(T0);

const STUDENTS = 2;

/** Exams with students and an admin (the same ids in every instance), definitions synced, marked backfilled. */
async function world(t: TestConvex, examCount = 1) {
  const students: SeededUser[] = [];
  for (let i = 0; i < STUDENTS; i++) students.push(await seedUser(t, `student${i}`));
  const admin = await seedUser(t, "admin", "admin");
  const exams = [];
  for (let i = 0; i < examCount; i++)
    exams.push(await seedExam(t, { questions: 2, durationMs: DURATION, maxPauses: 2, title: `Exam ${i}` }));
  await runHeaderCheckPass(t);
  for (const e of exams) await t.run((ctx) => markLegacyBackfilled(ctx, e.examId));
  return { t, students, admin, exams };
}
type World = Awaited<ReturnType<typeof world>>;

const write = fc.record({
  kind: fc.constant("write" as const),
  name: fc.constantFrom<WriteName>("startExam", "startExam", "startPause", "resumeFromPause", "submitExamAnswers"),
  student: fc.integer({ min: 0, max: STUDENTS - 1 }),
  exam: fc.integer({ min: 0, max: 1 }),
  api: fc.constantFrom<Api>("v1", "v2"),
  option: fc.constantFrom("a", "b"),
});
type Write = { name: WriteName; student: number; exam: number; api: Api; option: string };

async function act(w: World, step: Write) {
  const exam = w.exams[step.exam % w.exams.length]!;
  const args =
    step.name === "submitExamAnswers"
      ? { examId: exam.examId, answers: exam.questionIds.map((questionId) => ({ questionId, selectedAnswer: step.option })) }
      : { examId: exam.examId };
  return callWrite(w.students[step.student]!.as, step.name, step.api, args);
}

async function allReads(w: World, which: Api) {
  const exam = w.exams[0]!;
  const scope = { examId: exam.examId, questionIds: exam.questionIds, userIds: w.students.map((s) => s.userId) };
  const out: Record<string, unknown> = {};
  for (const [i, u] of [...w.students, w.admin].entries()) out[`caller${i}`] = await readEverything(u.as, which, scope);
  return out;
}

const participantsOf = (w: World) => w.t.run(async (ctx) => (await ctx.db.get("exams", w.exams[0]!.examId))!.participants ?? []);

describe("the legacy mirror as a job", () => {
  it("keeps every V1 read equal to V2 at every step, and after a drain the array equals the synchronous mirror's", async () => {
    const step = fc.oneof(
      { weight: 5, arbitrary: write },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 120_000 }) }) },
      { weight: 2, arbitrary: fc.constant({ kind: "jobs" as const }) }, // every scheduled run, the clock moving as their delays say
      { weight: 1, arbitrary: fc.constant({ kind: "run" as const }) }, // one run now: folds only what has settled
      { weight: 1, arbitrary: fc.constant({ kind: "drain" as const }) }, // cleanup's / the operator's drain
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 2, maxLength: 12 }), async (steps) => {
        vi.setSystemTime(T0);
        const async = await world(newConvexTest());
        const sync = await world(newConvexTest());
        await sync.t.mutation(internal.legacyMirror.setLegacyMirrorSync, { sync: true });
        const examId = async.exams[0]!.examId;
        for (const s of steps) {
          if (s.kind === "write") {
            vi.setSystemTime(Date.now() + 1_000);
            const ours = await act(async, { ...s, exam: 0 });
            expect(await act(sync, { ...s, exam: 0 })).toEqual(ours);
          } else if (s.kind === "advance") vi.setSystemTime(Date.now() + s.ms);
          else if (s.kind === "jobs") await runScheduled(async.t);
          else if (s.kind === "run") await async.t.mutation(internal.legacyMirror.runExamMirror, { examId });
          else await async.t.run(async (ctx) => drainExamMirror(ctx, examId, await getExamHeader(ctx, examId)));
          // Whatever the lag: V1 equals V2 (V1 reads the array only when it is current).
          expect(await allReads(async, "v1")).toEqual(await allReads(async, "v2"));
        }
        vi.setSystemTime(Date.now() + MIRROR_SETTLE_MS); // a drain vouches only for settled events
        const drained = await async.t.action(internal.legacyMirror.drainLegacyMirror, {});
        expect(drained.arraysCurrent).toBe(true);
        expect(await participantsOf(async)).toEqual(await participantsOf(sync));
      }),
      { numRuns: 12 },
    );
  });
});

describe("rebuildProjections while students write", () => {
  it("keeps the counters equal to the rows after any interleaving of rebuild calls and student commands", async () => {
    const step = fc.oneof(
      { weight: 3, arbitrary: write },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("rebuild" as const), steps: fc.integer({ min: 1, max: 3 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(write, write), { minLength: 1, maxLength: 4 }),
        fc.array(step, { minLength: 2, maxLength: 16 }),
        async (before, steps) => {
          vi.setSystemTime(T0);
          const w = await world(newConvexTest(), 2);
          for (const s of before) {
            vi.setSystemTime(Date.now() + 1_000);
            await act(w, s);
          }
          let cursor: string | undefined;
          for (const s of steps) {
            if ("steps" in s) {
              const r = await w.t.mutation(internal.projections.rebuild.rebuildProjections, { cursor, maxSteps: s.steps });
              cursor = r.isDone ? undefined : r.continueCursor;
            } else {
              vi.setSystemTime(Date.now() + 1_000);
              await act(w, s);
            }
          }
          // The pass under way finishes (as many calls as it takes), then the tables and counters are checked against the log.
          for (let r = await w.t.mutation(internal.projections.rebuild.rebuildProjections, { cursor, maxSteps: 2 }); !r.isDone;) {
            r = await w.t.mutation(internal.projections.rebuild.rebuildProjections, { cursor: r.continueCursor, maxSteps: 2 });
          }
          expect(await w.t.action(internal.projections.rebuild.verifyProjections, {})).toMatchObject({ isValid: true, issues: [] });
        },
      ),
      { numRuns: 40 },
    );
  });
});
