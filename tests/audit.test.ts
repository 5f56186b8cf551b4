import { describe, expect, it, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { errorCode } from "../convex/lib/errors";
import { importLegacyEntries } from "../convex/attempts/writePath";
import type { V1Participant } from "../convex/lib/validators";
import { newConvexTest, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";
import { MINUTE, T0, attemptDriver } from "./support/audit";

useFakeClock();

async function setup() {
  const t = newConvexTest();
  const exam = await seedExam(t, { maxPauses: 10 });
  const ada = await seedUser(t, "ada");
  const bob = await seedUser(t, "bob");
  const admin = await seedUser(t, "root", "admin");
  return { t, exam, ada, bob, admin };
}

async function codeOf(promise: Promise<unknown>) {
  return errorCode(
    await promise.then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
}

/** Every page of a paginated audit query, `numItems` at a time. */
async function allPages<T>(fetch: (cursor: string | null) => Promise<{ page: T[]; isDone: boolean; continueCursor: string }>) {
  const pages: T[][] = [];
  let cursor: string | null = null;
  for (;;) {
    const result = await fetch(cursor);
    pages.push(result.page);
    if (result.isDone) return pages;
    cursor = result.continueCursor;
  }
}

/** Ada: start at T0, five pauses of one minute each every ten minutes, submit at T0+55'. */
async function adaWithPauses(t: TestConvex, exam: Awaited<ReturnType<typeof seedExam>>, userId: Id<"users">) {
  const ada = attemptDriver(t, exam, userId);
  await ada.start(T0);
  for (let i = 1; i <= 5; i++) {
    await ada.pause(T0 + i * 10 * MINUTE);
    await ada.resume(T0 + i * 10 * MINUTE + MINUTE);
  }
  await ada.submit(T0 + 55 * MINUTE);
  return ada;
}

describe("getParticipationHistory", () => {
  it("returns an attempt's events in sequence order across several pages, with time, actor, origin, command and data", async () => {
    const { t, exam, ada } = await setup();
    await adaWithPauses(t, exam, ada.userId);
    const pages = await allPages((cursor) =>
      ada.as.query(api.audit.getParticipationHistory, { examId: exam.examId, paginationOpts: { numItems: 5, cursor } }),
    );
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    const events = pages.flat();
    expect(events.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(events.map((e) => e.type)).toEqual([
      "ExamStarted",
      ...Array.from({ length: 5 }, () => ["ExamPaused", "ExamResumed"]).flat(),
      "AnswersSubmitted",
    ]);
    expect(events[1]).toMatchObject({
      type: "ExamPaused",
      occurredAt: T0 + 10 * MINUTE,
      recordedAt: T0 + 10 * MINUTE,
      actor: { kind: "user", userId: ada.userId },
      origin: "live_v2",
      schemaVersion: 2,
      data: { pausedAt: T0 + 10 * MINUTE },
    });
    expect(events[2]!.data).toEqual({ resumedAt: T0 + 11 * MINUTE, pausedMs: MINUTE });
    expect(new Set(events.map((e) => e.commandId)).size).toBe(12); // one command each
    // The attempt is completed: its owner sees the grading.
    expect(events[11]!.data).toMatchObject({ score: 2, answers: [{ isCorrect: true }, { isCorrect: true }, { isCorrect: false }] });
  });

  it("hides the grading of an uncompleted imported V1 attempt from its student, not from an admin", async () => {
    const { t, exam, ada, admin } = await setup();
    const participant: V1Participant = {
      userId: ada.userId,
      score: 1,
      answers: [{ questionId: exam.questionIds[0]!, selectedAnswer: "a", isCorrect: true }],
      startedAt: T0,
      isPaused: false,
      pauseCount: 0,
      totalPausedMs: 0,
    };
    await t.run((ctx) => importLegacyEntries(ctx, { examId: exam.examId, userId: ada.userId }, [{ participant, sourceIndex: 0 }]));
    const args = { examId: exam.examId, userId: ada.userId, paginationOpts: { numItems: 10, cursor: null } };
    const mine = await ada.as.query(api.audit.getParticipationHistory, args);
    expect(mine.page[0]).toMatchObject({ type: "LegacyParticipantImported", origin: "legacy_import", redacted: true });
    expect(mine.page[0]!.occurredAt).toBeUndefined();
    expect(mine.page[0]!.data.participant.score).toBeUndefined();
    expect(mine.page[0]!.data.participant.answers).toEqual([{ questionId: exam.questionIds[0], selectedAnswer: "a" }]);
    const admins = await admin.as.query(api.audit.getParticipationHistory, args);
    expect(admins.page[0]!.redacted).toBeUndefined();
    expect(admins.page[0]!.data.participant).toEqual(participant);
  });
});

describe("getExamAuditTrail", () => {
  it("returns every attempt's events in the order they were recorded, paginated", async () => {
    const { t, exam, ada, bob, admin } = await setup();
    const a = attemptDriver(t, exam, ada.userId);
    const b = attemptDriver(t, exam, bob.userId);
    await a.start(T0);
    await b.start(T0 + MINUTE);
    await a.pause(T0 + 2 * MINUTE);
    await b.submit(T0 + 3 * MINUTE);
    await a.resume(T0 + 4 * MINUTE);
    const pages = await allPages((cursor) =>
      admin.as.query(api.audit.getExamAuditTrail, { examId: exam.examId, paginationOpts: { numItems: 2, cursor } }),
    );
    expect(pages.length).toBe(3);
    expect(pages.flat().map((e) => [e.userId, e.type, e.sequence, e.recordedAt])).toEqual([
      [ada.userId, "ExamStarted", 1, T0],
      [bob.userId, "ExamStarted", 1, T0 + MINUTE],
      [ada.userId, "ExamPaused", 2, T0 + 2 * MINUTE],
      [bob.userId, "AnswersSubmitted", 2, T0 + 3 * MINUTE],
      [ada.userId, "ExamResumed", 3, T0 + 4 * MINUTE],
    ]);
  });
});

describe("access", () => {
  it("owner: own attempt only; other student: FORBIDDEN; admin: anyone's; unauthenticated: NOT_AUTHENTICATED — for all three functions", async () => {
    const { t, exam, ada, bob, admin } = await setup();
    await attemptDriver(t, exam, ada.userId).start(T0);
    const { examId } = exam;
    const paginationOpts = { numItems: 10, cursor: null };
    const history = (as: { query: TestConvex["query"] }, userId?: Id<"users">) =>
      as.query(api.audit.getParticipationHistory, { examId, userId, paginationOpts });
    const stateAt = (as: { query: TestConvex["query"] }, userId?: Id<"users">) =>
      as.query(api.audit.getParticipationStateAt, { examId, userId, at: T0 + 1 });
    const trail = (as: { query: TestConvex["query"] }) => as.query(api.audit.getExamAuditTrail, { examId, paginationOpts });

    // Owner, with userId omitted or given as self.
    expect((await history(ada.as)).page).toHaveLength(1);
    expect((await history(ada.as, ada.userId)).page).toHaveLength(1);
    expect((await stateAt(ada.as)).status).toBe("in_progress");
    expect((await stateAt(ada.as, ada.userId)).userId).toBe(ada.userId);
    expect(await codeOf(trail(ada.as))).toBe("FORBIDDEN");
    // Another student.
    expect(await codeOf(history(bob.as, ada.userId))).toBe("FORBIDDEN");
    expect(await codeOf(stateAt(bob.as, ada.userId))).toBe("FORBIDDEN");
    expect((await history(bob.as)).page).toHaveLength(0); // their own (empty) attempt is fine
    expect(await codeOf(trail(bob.as))).toBe("FORBIDDEN");
    // Admin.
    expect((await history(admin.as, ada.userId)).page).toHaveLength(1);
    expect((await stateAt(admin.as, ada.userId)).status).toBe("in_progress");
    expect((await trail(admin.as)).page).toHaveLength(1);
    // Nobody signed in.
    expect(await codeOf(history(t, ada.userId))).toBe("NOT_AUTHENTICATED");
    expect(await codeOf(stateAt(t, ada.userId))).toBe("NOT_AUTHENTICATED");
    expect(await codeOf(trail(t))).toBe("NOT_AUTHENTICATED");
  });
});

describe("getParticipationStateAt", () => {
  it("rebuilds the attempt before, during and after a pause, and after submission", async () => {
    const { t, exam, ada, admin } = await setup();
    const a = attemptDriver(t, exam, ada.userId);
    await a.start(T0);
    await a.pause(T0 + 10 * MINUTE);
    await a.resume(T0 + 15 * MINUTE);
    await a.submit(T0 + 30 * MINUTE);
    const at = (time: number) => ada.as.query(api.audit.getParticipationStateAt, { examId: exam.examId, at: time });

    expect(await at(T0 - 1)).toMatchObject({ status: "not_started", participation: null, version: 0, eventsApplied: 0, exact: true });
    expect(await at(T0 + 5 * MINUTE)).toMatchObject({
      status: "in_progress",
      participation: { startedAt: T0, isPaused: false, pauseCount: 0, totalPausedMs: 0 },
      version: 1,
    });
    const during = await at(T0 + 12 * MINUTE);
    expect(during).toMatchObject({
      status: "paused",
      participation: { isPaused: true, pausedAt: T0 + 10 * MINUTE, pauseCount: 1, totalPausedMs: 0 },
      version: 2,
      eventsApplied: 2,
      redacted: true,
    });
    expect(await at(T0 + 10 * MINUTE)).toMatchObject({ status: "paused", version: 2 }); // the pause's own moment
    const after = await at(T0 + 20 * MINUTE);
    expect(after).toMatchObject({
      status: "in_progress",
      participation: { isPaused: false, pauseCount: 1, totalPausedMs: 5 * MINUTE },
      version: 3,
    });
    expect(after.participation).not.toHaveProperty("pausedAt");
    expect(after.participation).not.toHaveProperty("score"); // not completed at that time: no grading for the student
    const done = await at(T0 + 31 * MINUTE);
    expect(done).toMatchObject({
      status: "completed",
      participation: { completedAt: T0 + 30 * MINUTE, score: 2 },
      version: 4,
      redacted: false,
    });
    expect(done.answers.map((x) => x.isCorrect)).toEqual([true, true, false]);
    // An admin sees the same attempt unredacted at any time.
    const adminDuring = await admin.as.query(api.audit.getParticipationStateAt, {
      examId: exam.examId,
      userId: ada.userId,
      at: T0 + 12 * MINUTE,
    });
    expect(adminDuring).toMatchObject({ redacted: false, participation: { score: 0 } });
  });

  it("is honest about an imported V1 attempt: exact before its start and once its snapshot holds, flagged in between", async () => {
    const { t, exam, ada } = await setup();
    const completed: V1Participant = {
      userId: ada.userId,
      score: 2,
      answers: exam.questionIds.slice(0, 2).map((questionId) => ({ questionId, selectedAnswer: "a", isCorrect: true })),
      startedAt: T0,
      completedAt: T0 + 40 * MINUTE,
      isPaused: false,
      pauseCount: 1,
      totalPausedMs: 3 * MINUTE,
    };
    const importedAt = T0 + 24 * 60 * MINUTE; // the migration ran the next day
    vi.setSystemTime(importedAt);
    await t.run((ctx) =>
      importLegacyEntries(ctx, { examId: exam.examId, userId: ada.userId }, [{ participant: completed, sourceIndex: 0 }]),
    );
    const at = (time: number) => ada.as.query(api.audit.getParticipationStateAt, { examId: exam.examId, at: time });

    expect(await at(T0 - 1)).toMatchObject({ status: "not_started", exact: true, version: 0 });
    const between = await at(T0 + 20 * MINUTE);
    expect(between).toMatchObject({
      status: "in_progress",
      exact: false,
      legacy: { startedAt: T0, knownFrom: T0 + 40 * MINUTE, importedAt },
      answers: [],
      version: 1,
    });
    expect(between.participation).not.toHaveProperty("completedAt");
    const after = await at(T0 + 41 * MINUTE); // before the import, but after the V1 completion: exact
    expect(after).toMatchObject({ status: "completed", exact: true, participation: { score: 2, completedAt: T0 + 40 * MINUTE } });
    expect(after).not.toHaveProperty("legacy");
    expect(after.answers).toHaveLength(2);
  });

  it("clips an imported running pause and continues with live events after the import", async () => {
    const { t, exam, ada } = await setup();
    const paused: V1Participant = {
      userId: ada.userId,
      score: 0,
      answers: [],
      startedAt: T0,
      isPaused: true,
      pausedAt: T0 + 10 * MINUTE,
      pauseCount: 1,
      totalPausedMs: 0,
    };
    const importedAt = T0 + 20 * MINUTE;
    vi.setSystemTime(importedAt);
    await t.run((ctx) => importLegacyEntries(ctx, { examId: exam.examId, userId: ada.userId }, [{ participant: paused, sourceIndex: 0 }]));
    await attemptDriver(t, exam, ada.userId).resume(T0 + 25 * MINUTE);
    const at = (time: number) => ada.as.query(api.audit.getParticipationStateAt, { examId: exam.examId, at: time });

    expect(await at(T0 + 5 * MINUTE)).toMatchObject({
      status: "in_progress",
      exact: false,
      participation: { pauseCount: 0, isPaused: false },
    });
    expect(await at(T0 + 15 * MINUTE)).toMatchObject({ status: "paused", exact: false, participation: { pausedAt: T0 + 10 * MINUTE } });
    expect(await at(importedAt)).toMatchObject({ status: "paused", exact: true, version: 1 });
    expect(await at(T0 + 26 * MINUTE)).toMatchObject({
      status: "in_progress",
      exact: true,
      version: 2,
      participation: { pauseCount: 1, totalPausedMs: 15 * MINUTE },
    });
  });
});
