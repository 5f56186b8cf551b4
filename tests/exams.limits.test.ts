/**
 * Every loop within Convex's limits at the largest shapes they meet, and V1 never worse
 * than V1: edits of questions many attempts answered or many exams hold (nothing of a
 * question is held per exam or per attempt), the header check over exams of many
 * questions edited out of band, NaN facts checked pass after pass, V1's lists right after
 * deploy and after an exam inserted around the backend, and the most question ids one
 * edit may add. Every instance enforces half of Convex's limits (tests/support/convex.ts),
 * except where a test says it runs at full limits.
 */
import { describe, expect, it } from "vitest";
import { convexTest } from "convex-test";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import schema from "../convex/schema";
import { CONVEX_LIMITS, WORK_BOUNDS } from "../convex/lib/limits";
import { errorCode } from "../convex/lib/errors";
import type { V1Participant } from "../convex/lib/validators";
import * as examAdmin from "../convex/examAdmin";
import { IndexedDatabaseFake } from "../src/runtime/indexedDatabase";
import { measureCall } from "../src/runtime/embedded";
import { legacyEntry, modules, newConvexTest, seedUser, useFakeClock, type SeededUser, type TestConvex } from "./support/convex";
import { runHeaderCheckPass } from "./support/exams";

const T0 = Date.UTC(2026, 4, 4, 9, 0, 0);
useFakeClock(T0);

/** An instance with all of Convex's limits (for shapes past half of them). */
function fullLimitsConvexTest(): TestConvex {
  const { bytesRead, bytesWritten, documentsRead, documentsWritten, databaseQueries, functionsScheduled } = CONVEX_LIMITS;
  const limits = { bytesRead, bytesWritten, documentsRead, documentsWritten, databaseQueries, functionsScheduled };
  return convexTest({ schema, modules, transactionLimits: limits, DatabaseFake: IndexedDatabaseFake }) as unknown as TestConvex;
}

/** `n` questions, inserted in transactions of at most 2,000 documents. */
async function insertQuestions(t: TestConvex, n: number, text = (i: number) => `Q${i}`): Promise<Id<"questions">[]> {
  const ids: Id<"questions">[] = [];
  for (let from = 0; from < n; from += 2_000) {
    ids.push(
      ...(await t.run(async (ctx) => {
        const out: Id<"questions">[] = [];
        for (let i = from; i < Math.min(n, from + 2_000); i++)
          out.push(await ctx.db.insert("questions", { text: text(i), options: ["a", "b"], correctAnswer: "a" }));
        return out;
      })),
    );
  }
  return ids;
}

/** `n` students, each with a completed V1 entry answering `questionId` ("a", correct). */
async function completedEntries(t: TestConvex, n: number, questionId: Id<"questions">): Promise<V1Participant[]> {
  const entries: V1Participant[] = [];
  for (let from = 0; from < n; from += 2_000) {
    entries.push(
      ...(await t.run(async (ctx) => {
        const out: V1Participant[] = [];
        for (let i = from; i < Math.min(n, from + 2_000); i++) {
          const userId = await ctx.db.insert("users", { name: `S${i}`, tokenIdentifier: `s|${i}`, role: "student" });
          out.push(
            legacyEntry(userId, T0 - 3_600_000, {
              completedAt: T0 - 60_000,
              score: 1,
              answers: [{ questionId, selectedAnswer: "a", isCorrect: true }],
            }),
          );
        }
        return out;
      })),
    );
  }
  return entries;
}

async function migrateAll(t: TestConvex) {
  for (let i = 0; i < 1_000; i++) {
    const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    if (r.isDone) return;
  }
  throw new Error("the migration did not finish");
}

const codeOf = async (p: Promise<unknown>) => errorCode(await p.then(() => null).catch((e: unknown) => e));

describe("a question's edit touches no exam and no attempt", () => {
  for (const [limits, students] of [
    ["half", 2_500],
    ["full", 4_000],
  ] as const) {
    it(
      `answered by ${students} students (${limits} limits): edited through §6 and out of band, V2 results show it at once`,
      { timeout: 300_000 },
      async () => {
        const t = limits === "half" ? newConvexTest() : fullLimitsConvexTest();
        const admin = await seedUser(t, "admin", "admin");
        const [questionId] = await insertQuestions(t, 1);
        const participants = await completedEntries(t, students, questionId!);
        const examId = await t.run((ctx) =>
          ctx.db.insert("exams", { title: "Big", questionIds: [questionId!], durationMs: 3_600_000, maxPauses: 0, participants }),
        );
        await migrateAll(t);
        const edit = await measureCall(admin.as, examAdmin.updateQuestion as never, { questionId, text: "Edited" } as never);
        // The question and its change record: nothing per attempt, nothing per exam.
        expect(edit.cost.documentsWritten).toBe(2);
        expect(edit.cost.databaseQueries).toBeLessThan(10);
        const student = t.withIdentity({ tokenIdentifier: "s|7" });
        expect((await student.query(api.exams.getParticipantExamResultsV2, { examId })).answers[0]).toMatchObject({
          questionText: "Edited",
        });
        await t.run((ctx) =>
          ctx.db.patch("questions", questionId!, { text: "Edited out of band", correctAnswer: "b", options: ["a", "b", "c"] }),
        );
        const results = await student.query(api.exams.getParticipantExamResultsV2, { examId });
        expect(results.answers[0]).toMatchObject({ questionText: "Edited out of band", correctAnswer: "b", isCorrect: true });
        expect(results).toEqual(await student.query(api.exams.getParticipantExamResults, { examId }));
        expect((await t.query(internal.examAdmin.verifyExamHeaders, {})).isValid).toBe(true);
      },
    );
  }

  it(
    "held by 50 exams of 200 questions: a points edit and its deletion write the question and its record only",
    { timeout: 300_000 },
    async () => {
      const t = newConvexTest();
      const admin = await seedUser(t, "admin", "admin");
      const ada = await seedUser(t, "ada");
      const questionIds = await insertQuestions(t, 200);
      const examIds: Id<"exams">[] = [];
      for (let e = 0; e < 50; e++) {
        examIds.push(
          await admin.as.mutation(api.examAdmin.createExam, { title: `E${e}`, questionIds, durationMs: 3_600_000, maxPauses: 0 }),
        );
      }
      await ada.as.mutation(api.exams.startExamV2, { examId: examIds[49]! });
      const shared = questionIds[0]!;
      const points = await measureCall(admin.as, examAdmin.updateQuestion as never, { questionId: shared, points: 4 } as never);
      expect(points.cost.documentsWritten).toBe(2);
      const deletion = await measureCall(admin.as, examAdmin.deleteQuestion as never, { questionId: shared } as never);
      expect(deletion.cost.documentsWritten).toBe(2);
      // Every exam still lists the dangling id (as V1 did); sessions and results leave it out, V1 and V2 alike.
      const session = await ada.as.query(api.exams.getExamSessionV2, { examId: examIds[49]! });
      expect(session.questions).toHaveLength(199);
      expect(session).toEqual(await ada.as.query(api.exams.getExamSession, { examId: examIds[49]! }));
      expect((await t.query(internal.examAdmin.verifyExamHeaders, {})).isValid).toBe(true);
    },
  );
});

describe("the header check at the largest shapes", () => {
  it(
    "10 exams of 420 questions edited out of band (titles and every question): named, then healed within half of every limit per call",
    { timeout: 300_000 },
    async () => {
      const t = newConvexTest();
      const ada = await seedUser(t, "ada");
      const examIds: Id<"exams">[] = [];
      for (let e = 0; e < 10; e++) {
        const questionIds = await insertQuestions(t, 420, (i) => `E${e} Q${i}`);
        examIds.push(await t.run((ctx) => ctx.db.insert("exams", { title: `E${e}`, questionIds, durationMs: 3_600_000, maxPauses: 0 })));
      }
      await runHeaderCheckPass(t);
      await ada.as.mutation(api.exams.startExamV2, { examId: examIds[3]! });
      await t.run(async (ctx) => {
        for (const examId of examIds) {
          const exam = (await ctx.db.get("exams", examId))!;
          await ctx.db.patch("exams", examId, { title: `${exam.title} (edited)`, questionIds: exam.questionIds.slice(1) });
          for (const id of exam.questionIds.slice(0, 50)) await ctx.db.patch("questions", id, { text: "edited" });
        }
      });
      const named = await t.query(internal.examAdmin.verifyExamHeaders, {});
      expect(named.isDone).toBe(true);
      expect(named.stale.filter((s) => s.field === "title")).toHaveLength(10);
      for (let cursor: string | null = null, done = false; !done;) {
        const call = await measureCall(t, examAdmin.repairExamHeaders as never, { cursor } as never);
        const r = call.result as { isDone: boolean; continueCursor: string | null };
        expect(call.cost.databaseQueries).toBeLessThan(CONVEX_LIMITS.databaseQueries / 2);
        [done, cursor] = [r.isDone, r.continueCursor];
      }
      expect((await t.query(internal.examAdmin.verifyExamHeaders, {})).isValid).toBe(true);
      const session = await ada.as.query(api.exams.getExamSessionV2, { examId: examIds[3]! });
      expect(session).toEqual(await ada.as.query(api.exams.getExamSession, { examId: examIds[3]! }));
      expect(session.title).toBe("E3 (edited)");
      expect(session.questions).toHaveLength(419);
    },
  );

  it("NaN facts (V1 allows them) are healed once, then never again: no rewrite and no change record pass after pass", async () => {
    const t = newConvexTest();
    const [questionId] = await insertQuestions(t, 1);
    await t.run((ctx) =>
      ctx.db.insert("exams", { title: "NaN", questionIds: [questionId!], durationMs: Number.NaN, maxPauses: Number.NaN }),
    );
    await t.run((ctx) => ctx.db.insert("exams", { title: "-0", questionIds: [questionId!], durationMs: -0, maxPauses: 0 }));
    await runHeaderCheckPass(t);
    const changes = async () => t.run(async (ctx) => (await ctx.db.query("examChanges").collect()).length);
    const afterFirst = await changes();
    expect(afterFirst).toBe(2); // each header created (a "repair" of a missing header)
    for (let pass = 0; pass < 5; pass++) {
      await runHeaderCheckPass(t);
      expect((await t.query(internal.examAdmin.headerCheckStatus, {})).lastPass).toMatchObject({ healed: 0 });
    }
    expect(await changes()).toBe(afterFirst);
    // −0 and 0 differ as Convex compares them: an edit from −0 to 0 is one.
    await t.run(async (ctx) => {
      const exam = (await ctx.db.query("exams").collect()).find((e) => e.title === "-0")!;
      await ctx.db.patch("exams", exam._id, { durationMs: 0 });
    });
    expect((await t.query(internal.examAdmin.verifyExamHeaders, {})).stale).toEqual([
      expect.objectContaining({ field: "durationMs", held: -0, live: 0 }),
    ]);
  });

  it("never runs two passes at once: a second start while one runs does nothing, a superseded batch does nothing", async () => {
    const t = newConvexTest();
    await insertQuestions(t, 1);
    const first = await t.mutation(internal.examAdmin.startHeaderCheckNow, {});
    expect(first.started).toBe(true);
    expect(await t.mutation(internal.examAdmin.startHeaderCheckNow, {})).toEqual({ started: false });
    expect(await t.mutation(internal.examAdmin.tickHeaderCheck, {})).toEqual({ started: false });
    const status = await t.query(internal.examAdmin.headerCheckStatus, {});
    expect(status.running).toMatchObject({ startedAt: first.startedAt });
    await t.mutation(internal.examAdmin.runHeaderCheck, { startedAt: first.startedAt! - 1 }); // a batch of another pass
    expect(await t.query(internal.examAdmin.headerCheckStatus, {})).toEqual(status);
  });

  it("two ticks and two batches of one pass at once: one pass, every exam healed once, one change record each", async () => {
    const t = newConvexTest();
    const [questionId] = await insertQuestions(t, 1);
    for (let i = 0; i < 40; i++)
      await t.run((ctx) => ctx.db.insert("exams", { title: `E${i}`, questionIds: [questionId!], durationMs: 60_000, maxPauses: 0 }));
    const ticks = await Promise.all([0, 1].map(() => t.mutation(internal.examAdmin.tickHeaderCheck, {})));
    expect(ticks.filter((r) => r.started)).toHaveLength(1);
    const startedAt = ticks.find((r) => r.started)!.startedAt!;
    for (let i = 0; i < 10 && (await t.query(internal.examAdmin.headerCheckStatus, {})).running !== null; i++) {
      await Promise.all([0, 1].map(() => t.mutation(internal.examAdmin.runHeaderCheck, { startedAt })));
    }
    expect((await t.query(internal.examAdmin.headerCheckStatus, {})).lastPass).toMatchObject({ exams: 40, healed: 40 });
    const [headers, changes] = await t.run(async (ctx) => [
      (await ctx.db.query("examHeaders").collect()).length,
      (await ctx.db.query("examChanges").collect()).length,
    ]);
    expect(headers).toBe(40);
    expect(changes).toBe(40);
  });
});

describe("V1's lists are never worse than V1's", () => {
  async function legacyExam(t: TestConvex, ada: SeededUser, title: string, completed: boolean) {
    const [questionId] = await insertQuestions(t, 1);
    const entry = legacyEntry(ada.userId, T0 - 3_600_000, completed ? { completedAt: T0 - 60_000, score: 1 } : {});
    return t.run((ctx) =>
      ctx.db.insert("exams", { title, questionIds: [questionId!], durationMs: 3_600_000, maxPauses: 0, participants: [entry] }),
    );
  }

  it("right after deploy (no header yet) and after an exam inserted around the backend, every exam is listed with its attempts", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const a = await legacyExam(t, ada, "A", true);
    const b = await legacyExam(t, ada, "B", false);
    const lists = async () => ({
      metadata: (await ada.as.query(api.exams.getAllExamsMetadata, {})).map((m) => [m.title, m.participantCount, m.completedCount]),
      dashboard: await ada.as.query(api.exams.getMyDashboardStats, {}),
      recent: (await ada.as.query(api.exams.getMyRecentExams, {})).map((r) => [r.title, r.status]),
    });
    // Deployed, nothing run yet: read from the documents, as V1 always did.
    expect(await lists()).toEqual({
      metadata: [
        ["A", 1, 1],
        ["B", 1, 0],
      ],
      dashboard: { examsStarted: 2, examsCompleted: 1, averageScore: 1, bestScore: 1 },
      recent: [
        ["A", "completed"],
        ["B", "in_progress"],
      ],
    });
    const deployed = await lists();
    // The header check has run; then an exam is imported around the backend: listed at once, by V1 and V2.
    await runHeaderCheckPass(t);
    expect(await lists()).toEqual(deployed);
    const c = await legacyExam(t, ada, "C", true);
    const after = await lists();
    expect(after.metadata).toContainEqual(["C", 1, 1]);
    expect(after.dashboard).toMatchObject({ examsStarted: 3, examsCompleted: 2 });
    const v2 = (await ada.as.query(api.exams.getAllExamsMetadataV2, {})).map((m) => m.examId);
    expect(v2.sort()).toEqual([a, b, c].sort());
  });
});

describe("the most question ids one edit may add", () => {
  it(
    `is WORK_BOUNDS.newQuestionIdsPerEdit (${WORK_BOUNDS.newQuestionIdsPerEdit}): more is a coded LIMIT_EXCEEDED naming it, the maximum succeeds, and 8,192 are reached in steps`,
    { timeout: 300_000 },
    async () => {
      const t = newConvexTest();
      const admin = await seedUser(t, "admin", "admin");
      const questionIds = await insertQuestions(t, CONVEX_LIMITS.arrayElements);
      const refused = admin.as.mutation(api.examAdmin.createExam, { title: "All", questionIds, durationMs: 60_000, maxPauses: 0 });
      await expect(refused).rejects.toThrow(/newQuestionIdsPerEdit/);
      expect(
        await codeOf(admin.as.mutation(api.examAdmin.createExam, { title: "All", questionIds, durationMs: 60_000, maxPauses: 0 })),
      ).toBe("LIMIT_EXCEEDED");
      expect(await t.run(async (ctx) => (await ctx.db.query("exams").collect()).length)).toBe(0);
      const step = WORK_BOUNDS.newQuestionIdsPerEdit;
      const examId = await admin.as.mutation(api.examAdmin.createExam, {
        title: "All",
        questionIds: questionIds.slice(0, step),
        durationMs: 60_000,
        maxPauses: 0,
      });
      for (let n = step; n < questionIds.length; n += step) {
        await admin.as.mutation(api.examAdmin.updateExam, {
          examId,
          questionIds: questionIds.slice(0, Math.min(questionIds.length, n + step)),
        });
      }
      expect(await t.run(async (ctx) => (await ctx.db.get("exams", examId))!.questionIds.length)).toBe(CONVEX_LIMITS.arrayElements);
      // Reading all 8,192 questions back is past what one call can read: a coded refusal naming the bound, not Convex's.
      const editing = admin.as.query(api.examAdmin.getExamForEditing, { examId });
      await expect(editing).rejects.toThrow(/questionsPerCall/);
      const ada = await seedUser(t, "ada");
      expect(await codeOf(ada.as.mutation(api.exams.startExamV2, { examId }))).toBe("LIMIT_EXCEEDED");
    },
  );

  it(
    `an exam of WORK_BOUNDS.questionsPerCall (${WORK_BOUNDS.questionsPerCall}) questions is served at full limits, V1 and V2 alike`,
    { timeout: 300_000 },
    async () => {
      const t = fullLimitsConvexTest();
      const ada = await seedUser(t, "ada");
      const questionIds = await insertQuestions(t, WORK_BOUNDS.questionsPerCall);
      const examId = await t.run((ctx) => ctx.db.insert("exams", { title: "Long", questionIds, durationMs: 3_600_000, maxPauses: 0 }));
      const session = await ada.as.mutation(api.exams.startExamV2, { examId });
      expect(session.questions).toHaveLength(WORK_BOUNDS.questionsPerCall);
      expect(await ada.as.query(api.exams.getExamSessionV2, { examId })).toEqual(await ada.as.query(api.exams.getExamSession, { examId }));
    },
  );
});

describe("work bounds per call (the 1 s of JavaScript a call may run)", () => {
  it(
    `a migration call imports at most WORK_BOUNDS.migrationEntriesPerCall (${WORK_BOUNDS.migrationEntriesPerCall}) entries, a rebuild page replays at most WORK_BOUNDS.streamsPerPage (${WORK_BOUNDS.streamsPerPage})`,
    { timeout: 300_000 },
    async () => {
      const t = newConvexTest();
      const [questionId] = await insertQuestions(t, 1);
      const participants = await completedEntries(t, 1_700, questionId!);
      await t.run((ctx) =>
        ctx.db.insert("exams", { title: "Big", questionIds: [questionId!], durationMs: 3_600_000, maxPauses: 0, participants }),
      );
      const calls: number[] = [];
      for (let i = 0; i < 100; i++) {
        const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
        calls.push(r.participantsMigrated);
        if (r.isDone) break;
      }
      expect(Math.max(...calls)).toBeLessThanOrEqual(WORK_BOUNDS.migrationEntriesPerCall);
      expect(calls.reduce((a, b) => a + b, 0)).toBe(1_700);
      const page = await t.mutation(internal.projections.rebuild.rebuildProjections, {});
      expect(page.streamsRebuilt).toBeLessThanOrEqual(WORK_BOUNDS.streamsPerPage);
      expect(page.isDone).toBe(false);
    },
  );
});
