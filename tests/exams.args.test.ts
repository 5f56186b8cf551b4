/**
 * Arguments and time, V1 and V2 alike: `limit` 0 is an empty list; negative,
 * fractional or non-finite limits are INVALID_ARGUMENT; above the maximum,
 * clamped (docs/exam-api.md). Sessions carry `endsAt`, the absolute deadline
 * while in progress, so a client counts down without polling.
 */
import { describe, expect, it, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { LIST_LIMITS } from "../convex/lib/limits";
import { newConvexTest, seedExam, seedUser, useFakeClock } from "./support/convex";
import { attempt, callRead } from "./support/exams";

const T0 = Date.UTC(2026, 6, 1, 9, 0, 0);
const MIN = 60_000;
useFakeClock(T0);

describe("limit arguments", () => {
  it.each(["v1", "v2"] as const)("%s: 0 → [], invalid → INVALID_ARGUMENT, above the maximum → clamped", async (which) => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId, questionIds } = await seedExam(t, { questions: 1 });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    await ada.as.mutation(api.exams.submitExamAnswersV2, { examId, answers: [{ questionId: questionIds[0]!, selectedAnswer: "a" }] });
    for (const [name, args] of [
      ["getExamLeaderboard", { examId }],
      ["getMyRecentExams", {}],
    ] as const) {
      expect(await callRead(ada.as, name, which, { ...args, limit: 0 })).toEqual([]);
      for (const bad of [-1, 0.5, Number.POSITIVE_INFINITY, Number.NaN]) {
        expect(await callRead(ada.as, name, which, { ...args, limit: bad })).toEqual({ error: "INVALID_ARGUMENT" });
      }
      expect(await callRead(ada.as, name, which, { ...args, limit: 1e9 })).toHaveLength(1);
      expect(await callRead(ada.as, name, which, { ...args, limit: 1 })).toHaveLength(1);
    }
    expect(LIST_LIMITS.recent.max).toBe(100);
  });
});

describe("endsAt", () => {
  it.each(["v1", "v2"] as const)("%s: the deadline while in progress (past once time is up), null otherwise", async (which) => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const { examId } = await seedExam(t, { questions: 1, durationMs: 30 * MIN, maxPauses: 2 });
    const w = (name: "startExam" | "startPause" | "resumeFromPause") =>
      attempt(() => ada.as.mutation(api.exams[which === "v1" ? name : (`${name}V2` as const)], { examId }));
    const session = async () =>
      (await callRead(ada.as, "getExamSession", which, { examId })) as {
        endsAt: number | null;
        startedAt?: number;
        remainingMs: number;
        timeUp: boolean;
      };
    expect((await session()).endsAt).toBeNull();
    await w("startExam");
    const started = await session();
    expect(started.endsAt).toBe(started.startedAt! + 30 * MIN);
    vi.setSystemTime(T0 + 5 * MIN);
    await w("startPause");
    expect((await session()).endsAt).toBeNull();
    vi.setSystemTime(T0 + 15 * MIN);
    await w("resumeFromPause");
    const resumed = await session();
    expect(resumed.endsAt).toBe(started.startedAt! + 30 * MIN + 10 * MIN); // the 10-minute pause moves the deadline
    expect(resumed.endsAt! - Date.now()).toBe(resumed.remainingMs);
    vi.setSystemTime(T0 + 60 * MIN);
    const late = await session();
    expect(late.timeUp).toBe(true);
    expect(late.endsAt).toBeLessThan(Date.now());
  });
});
