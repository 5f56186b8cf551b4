/**
 * The exam API by example: the auth matrix of all 24 functions, bad input (each
 * rejected with its code, changing nothing), legacy attempts continuing through
 * V1 and V2, V1 after cleanup, and the legacy mirror's switches and failure.
 */
import { describe, expect, it, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import type { V1Participant } from "../convex/lib/validators";
import { getConvexSize, getDocumentSize } from "convex/values";
import { CONVEX_LIMITS, SUBMIT_GRACE_MS } from "../convex/lib/limits";
import { importLegacyEntries } from "../convex/attempts/writePath";
import { documentLimitProblem } from "../convex/projections/mirrorJob";
import { newConvexTest, runScheduled, seedExam, seedUser, snapshotTables, useFakeClock, type TestConvex } from "./support/convex";
import {
  arrayAndTables,
  attempt,
  callRead,
  callWrite,
  fn,
  readEverything,
  READS,
  WRITES,
  type Api,
  type ExamFunctionName,
} from "./support/exams";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
const DURATION = 30 * 60_000;

useFakeClock(T0);

async function setup(participants?: V1Participant[]) {
  const t = newConvexTest();
  const owner = await seedUser(t, "owner");
  const other = await seedUser(t, "other");
  const admin = await seedUser(t, "admin", "admin");
  const exam = await seedExam(t, { questions: 3, durationMs: DURATION, maxPauses: 1, participants });
  const foreign = await seedExam(t, { questions: 1, title: "Other exam" });
  const answers = exam.questionIds.map((questionId) => ({ questionId, selectedAnswer: "a" }));
  return { t, owner, other, admin, ...exam, foreignQuestion: foreign.questionIds[0]!, answers };
}
type Setup = Awaited<ReturnType<typeof setup>>;

const APIS: Api[] = ["v1", "v2"];

describe.each(APIS)("auth matrix (%s)", (which) => {
  type Outcome = "ok" | string;
  type Case = {
    name: ExamFunctionName;
    /** The owner's attempt before the call. */
    before: "none" | "started" | "paused" | "completed";
    args: (s: Setup) => object;
    owner: Outcome;
    other: Outcome;
    admin: Outcome;
  };
  const exam = (s: Setup) => ({ examId: s.examId });
  const cases: Case[] = [
    { name: "startExam", before: "none", args: exam, owner: "ok", other: "ok", admin: "ok" },
    {
      name: "submitExamAnswers",
      before: "started",
      args: (s) => ({ examId: s.examId, answers: s.answers }),
      owner: "ok",
      other: "NOT_IN_PROGRESS",
      admin: "NOT_IN_PROGRESS",
    },
    { name: "startPause", before: "started", args: exam, owner: "ok", other: "NOT_IN_PROGRESS", admin: "NOT_IN_PROGRESS" },
    { name: "resumeFromPause", before: "paused", args: exam, owner: "ok", other: "NOT_IN_PROGRESS", admin: "NOT_IN_PROGRESS" },
    { name: "getExamSession", before: "started", args: exam, owner: "ok", other: "ok", admin: "ok" },
    {
      name: "getParticipantExamResults",
      before: "completed",
      args: (s) => ({ examId: s.examId, userId: s.owner.userId }),
      owner: "ok",
      other: "FORBIDDEN",
      admin: "ok",
    },
    { name: "getPauseStatus", before: "paused", args: exam, owner: "ok", other: "ok", admin: "ok" },
    {
      name: "validateQuestionAccess",
      before: "started",
      args: (s) => ({ examId: s.examId, questionId: s.questionIds[0] }),
      owner: "ok",
      other: "ok",
      admin: "ok",
    },
    { name: "getExamLeaderboard", before: "completed", args: exam, owner: "ok", other: "ok", admin: "ok" },
    { name: "getAllExamsMetadata", before: "started", args: () => ({}), owner: "ok", other: "ok", admin: "ok" },
    { name: "getMyDashboardStats", before: "completed", args: () => ({}), owner: "ok", other: "ok", admin: "ok" },
    { name: "getMyRecentExams", before: "started", args: () => ({}), owner: "ok", other: "ok", admin: "ok" },
  ];

  it.each(cases)("$name", async (c) => {
    const s = await setup();
    if (c.before !== "none") await s.owner.as.mutation(fn("startExam", which), { examId: s.examId });
    if (c.before === "paused") await s.owner.as.mutation(fn("startPause", which), { examId: s.examId });
    if (c.before === "completed") {
      await s.owner.as.mutation(fn("submitExamAnswers", which), { examId: s.examId, answers: s.answers });
    }
    const isWrite = (WRITES as readonly string[]).includes(c.name);
    const call = (as: Pick<typeof s.t, "query" | "mutation">) =>
      attempt(() => (isWrite ? as.mutation(fn(c.name, which), c.args(s)) : as.query(fn(c.name, which), c.args(s))));
    const outcome = (r: unknown) => (typeof r === "object" && r !== null && "error" in r ? (r as { error: string }).error : "ok");

    const before = await snapshotTables(s.t);
    expect(outcome(await call(s.t))).toBe("NOT_AUTHENTICATED");
    expect(await snapshotTables(s.t)).toEqual(before);
    const asOwner = await call(s.owner.as);
    expect(outcome(asOwner)).toBe(c.owner);
    expect(outcome(await call(s.other.as))).toBe(c.other);
    expect(outcome(await call(s.admin.as))).toBe(c.admin);
    // What the owner saw is the owner's own attempt; a student never sees correct answers before completing.
    if (c.before !== "completed" && c.name !== "submitExamAnswers") expect(JSON.stringify(asOwner)).not.toContain("correctAnswer");
  });

  it("shows a student their own results only once completed; an admin sees anyone's", async () => {
    const s = await setup();
    await s.owner.as.mutation(fn("startExam", which), { examId: s.examId });
    const before = await snapshotTables(s.t);
    expect(await callRead(s.owner.as, "getParticipantExamResults", which, { examId: s.examId })).toEqual({ error: "NOT_COMPLETED" });
    expect(await callRead(s.other.as, "getParticipantExamResults", which, { examId: s.examId })).toEqual({ error: "NOT_FOUND" });
    const forAdmin = (await callRead(s.admin.as, "getParticipantExamResults", which, { examId: s.examId, userId: s.owner.userId })) as {
      status: string;
    };
    expect(forAdmin.status).toBe("in_progress");
    expect(await snapshotTables(s.t)).toEqual(before);
  });
});

describe.each(APIS)("bad input is rejected with its code and changes nothing (%s)", (which) => {
  async function rejects(s: Setup, name: (typeof WRITES)[number] | (typeof READS)[number], args: object, code: string) {
    const before = await snapshotTables(s.t);
    const isWrite = (WRITES as readonly string[]).includes(name);
    const result = isWrite
      ? await callWrite(s.owner.as, name as never, which, args)
      : await callRead(s.owner.as, name as never, which, args);
    expect(result).toEqual({ error: code });
    expect(await snapshotTables(s.t)).toEqual(before);
  }
  const start = (s: Setup) => s.owner.as.mutation(fn("startExam", which), { examId: s.examId });

  it("unknown exam", async () => {
    const s = await setup();
    const gone = await s.t.run(async (ctx) => {
      const id = await ctx.db.insert("exams", { title: "gone", questionIds: [], durationMs: 1, maxPauses: 0 });
      await ctx.db.delete("exams", id);
      return id;
    });
    for (const name of WRITES) {
      await rejects(s, name, name === "submitExamAnswers" ? { examId: gone, answers: s.answers } : { examId: gone }, "NOT_FOUND");
    }
    for (const name of ["getExamSession", "getPauseStatus", "getExamLeaderboard", "getParticipantExamResults"] as const) {
      await rejects(s, name, { examId: gone }, "NOT_FOUND");
    }
    await rejects(s, "validateQuestionAccess", { examId: gone, questionId: s.questionIds[0] }, "NOT_FOUND");
  });

  it("a question not in the exam, the same question twice, an option that does not exist", async () => {
    const s = await setup();
    await start(s);
    const q = s.questionIds;
    await rejects(
      s,
      "submitExamAnswers",
      { examId: s.examId, answers: [{ questionId: s.foreignQuestion, selectedAnswer: "a" }] },
      "INVALID_ANSWER",
    );
    await rejects(
      s,
      "submitExamAnswers",
      {
        examId: s.examId,
        answers: [
          { questionId: q[0], selectedAnswer: "a" },
          { questionId: q[0], selectedAnswer: "b" },
        ],
      },
      "INVALID_ANSWER",
    );
    await rejects(s, "submitExamAnswers", { examId: s.examId, answers: [{ questionId: q[0], selectedAnswer: "zzz" }] }, "INVALID_ANSWER");
    expect(await callRead(s.owner.as, "validateQuestionAccess", which, { examId: s.examId, questionId: s.foreignQuestion })).toEqual({
      allowed: false,
      reason: "not_in_exam",
    });
  });

  it("submitting twice, starting a completed exam", async () => {
    const s = await setup();
    await start(s);
    await s.owner.as.mutation(fn("submitExamAnswers", which), { examId: s.examId, answers: s.answers });
    await rejects(s, "submitExamAnswers", { examId: s.examId, answers: s.answers }, "ALREADY_COMPLETED");
    await rejects(s, "startExam", { examId: s.examId }, "ALREADY_COMPLETED");
    await rejects(s, "startPause", { examId: s.examId }, "ALREADY_COMPLETED");
  });

  it("pausing while paused, resuming while running, one pause too many, submitting while paused", async () => {
    const s = await setup(); // maxPauses: 1
    await start(s);
    await rejects(s, "resumeFromPause", { examId: s.examId }, "NOT_PAUSED");
    await s.owner.as.mutation(fn("startPause", which), { examId: s.examId });
    await rejects(s, "startPause", { examId: s.examId }, "PAUSED");
    await rejects(s, "submitExamAnswers", { examId: s.examId, answers: s.answers }, "PAUSED");
    await s.owner.as.mutation(fn("resumeFromPause", which), { examId: s.examId });
    await rejects(s, "startPause", { examId: s.examId }, "NO_PAUSES_LEFT");
  });

  it("acting on an attempt not started", async () => {
    const s = await setup();
    await rejects(s, "startPause", { examId: s.examId }, "NOT_IN_PROGRESS");
    await rejects(s, "submitExamAnswers", { examId: s.examId, answers: s.answers }, "NOT_IN_PROGRESS");
  });

  it("acting after time is up (paused time excluded; submissions get SUBMIT_GRACE_MS)", async () => {
    const s = await setup();
    await start(s);
    await s.owner.as.mutation(fn("startPause", which), { examId: s.examId });
    vi.setSystemTime(T0 + 10 * 60_000); // 10 min paused: not counted
    await s.owner.as.mutation(fn("resumeFromPause", which), { examId: s.examId });
    vi.setSystemTime(T0 + 10 * 60_000 + DURATION - 1);
    expect(await callRead(s.owner.as, "validateQuestionAccess", which, { examId: s.examId, questionId: s.questionIds[0] })).toEqual({
      allowed: true,
    });
    vi.setSystemTime(T0 + 10 * 60_000 + DURATION);
    expect(await callRead(s.owner.as, "validateQuestionAccess", which, { examId: s.examId, questionId: s.questionIds[0] })).toEqual({
      allowed: false,
      reason: "time_up",
    });
    const session = (await callRead(s.owner.as, "getExamSession", which, { examId: s.examId })) as { remainingMs: number; timeUp: boolean };
    expect(session).toMatchObject({ remainingMs: 0, timeUp: true });
    vi.setSystemTime(T0 + 10 * 60_000 + DURATION + SUBMIT_GRACE_MS + 1);
    await rejects(s, "submitExamAnswers", { examId: s.examId, answers: s.answers }, "TIME_UP");
  });

  it("a submission inside the grace period is accepted", async () => {
    const s = await setup();
    await start(s);
    vi.setSystemTime(T0 + DURATION + SUBMIT_GRACE_MS);
    const results = (await s.owner.as.mutation(fn("submitExamAnswers", which), { examId: s.examId, answers: s.answers })) as {
      score: number;
    };
    expect(results.score).toBe(3);
  });

  it("malformed ids are rejected by the argument validators before the handler runs", async () => {
    const s = await setup();
    const before = await snapshotTables(s.t);
    for (const name of WRITES) {
      const r = await callWrite(s.owner.as, name, which, { examId: "not-an-id", answers: [] });
      expect(r).toEqual({ error: expect.stringMatching(/^UNCODED: .*Validator error.*Expected ID for table "exams"/s) });
    }
    // An id of another table is malformed too.
    const r = await callRead(s.owner.as, "getExamSession", which, { examId: s.questionIds[0] });
    expect(r).toEqual({ error: expect.stringMatching(/Expected ID for table "exams"/) });
    const r2 = await callRead(s.owner.as, "validateQuestionAccess", which, { examId: s.examId, questionId: s.examId });
    expect(r2).toEqual({ error: expect.stringMatching(/Expected ID for table "questions"/) });
    expect(await snapshotTables(s.t)).toEqual(before);
  });
});

/** A V1 participant as the old code left it. */
function legacyEntry(userId: Id<"users">, o: Partial<V1Participant> = {}): V1Participant {
  return { userId, score: 0, answers: [], startedAt: T0 - 5 * 60_000, isPaused: false, pauseCount: 0, totalPausedMs: 0, ...o };
}

async function eventsOf(t: TestConvex, examId: Id<"exams">, userId: Id<"users">) {
  return t.run(async (ctx) =>
    (
      await ctx.db
        .query("examEvents")
        .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", examId).eq("userId", userId))
        .collect()
    ).map((e) => `${e.origin}:${e.type}`),
  );
}

describe("legacy attempts", () => {
  it("continue through V1 and V2: imported on the first write, mirrored in place, and the backfill writes nothing later", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const bob = await seedUser(t, "bob");
    const placeholder = await seedExam(t, { questions: 3, durationMs: DURATION });
    const adaEntry = legacyEntry(ada.userId);
    const bobEntry = legacyEntry(bob.userId, { startedAt: T0 - 60_000 });
    const adaDuplicate = legacyEntry(ada.userId, { score: 7 });
    const participants = [adaEntry, bobEntry, adaDuplicate];
    await t.run((ctx) => ctx.db.patch("exams", placeholder.examId, { participants }));
    const { examId, questionIds } = placeholder;

    // V2 read before any write: falls back to the V1 entry.
    expect(await ada.as.query(api.exams.getPauseStatusV2, { examId })).toMatchObject({ status: "in_progress", pauseCount: 0 });

    // A transaction's clock never runs behind the last commit (convex-test 0.0.71, as Convex): move past the seeding's commits.
    vi.setSystemTime(T0 + 1_000);
    await ada.as.mutation(api.exams.startPause, { examId }); // V1
    expect(await eventsOf(t, examId, ada.userId)).toEqual([
      "legacy_import:LegacyParticipantImported",
      "legacy_import:LegacyDuplicateImported",
      "live_v1:ExamPaused",
    ]);
    vi.setSystemTime(T0 + 61_000);
    await ada.as.mutation(api.exams.resumeFromPauseV2, { examId }); // V2
    const results = await ada.as.mutation(api.exams.submitExamAnswersV2, {
      examId,
      answers: questionIds.map((questionId) => ({ questionId, selectedAnswer: "a" })),
    });
    expect(results).toMatchObject({ score: 3, totalPausedMs: 60_000, startedAt: adaEntry.startedAt });
    await runScheduled(t); // the exam's mirror job

    // The first entry was rewritten in place; the duplicate and bob's entry are untouched; nothing reordered.
    const exam = await t.run((ctx) => ctx.db.get("exams", examId));
    expect(exam!.participants!.map((p) => p.userId)).toEqual([ada.userId, bob.userId, ada.userId]);
    expect(exam!.participants![1]).toEqual(bobEntry);
    expect(exam!.participants![2]).toEqual(adaDuplicate);
    expect(exam!.participants![0]).toMatchObject({
      score: 3,
      completedAt: T0 + 61_000,
      pauseCount: 1,
      totalPausedMs: 60_000,
      isPaused: false,
    });
    expect(exam!.participants![0]).not.toHaveProperty("pausedAt");

    // The backfill, later, over every entry: writes nothing for ada (bob is imported now).
    const written = await t.run(async (ctx) => {
      const a = await importLegacyEntries(ctx, { examId, userId: ada.userId }, [
        { participant: adaEntry, sourceIndex: 0 },
        { participant: adaDuplicate, sourceIndex: 2 },
      ]);
      const b = await importLegacyEntries(ctx, { examId, userId: bob.userId }, [{ participant: bobEntry, sourceIndex: 1 }]);
      return { ada: a.eventsWritten, bob: b.eventsWritten };
    });
    expect(written).toEqual({ ada: 0, bob: 1 });
    const { array, tables } = await arrayAndTables(t, examId);
    expect(tables).toEqual(array);
  });

  it("after cleanup (array emptied, legacyCleared), the V1 functions serve the exam from V2 data", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const bob = await seedUser(t, "bob");
    const admin = await seedUser(t, "admin", "admin");
    const { examId, questionIds } = await seedExam(t, { questions: 3, durationMs: DURATION });
    const answers = questionIds.map((questionId, i) => ({ questionId, selectedAnswer: i === 0 ? "b" : "a" }));
    await ada.as.mutation(api.exams.startExam, { examId });
    await ada.as.mutation(api.exams.submitExamAnswers, { examId, answers });
    await bob.as.mutation(api.exams.startExamV2, { examId });
    const scope = { examId, questionIds, userIds: [ada.userId, bob.userId] };
    const beforeCleanup = await readEverything(admin.as, "v1", scope);

    await t.run(async (ctx) => {
      await ctx.db.patch("exams", examId, { participants: [] });
      const def = await ctx.db
        .query("examHeaders")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique();
      await ctx.db.patch("examHeaders", def!._id, { legacyCleared: true });
    });
    for (const u of [ada, bob, admin]) {
      expect(await readEverything(u.as, "v1", scope)).toEqual(await readEverything(u.as, "v2", scope));
    }
    expect(await readEverything(admin.as, "v1", scope)).toEqual(beforeCleanup);
    // Writes keep working and never refill the cleared array.
    await bob.as.mutation(api.exams.startPause, { examId });
    expect(await bob.as.query(api.exams.getPauseStatus, { examId })).toMatchObject({ status: "paused", pauseCount: 1 });
    expect((await t.run((ctx) => ctx.db.get("exams", examId)))!.participants).toEqual([]);
  });
});

describe("the legacy mirror", () => {
  it("flags the exam instead of writing an array past 1 MiB (in UTF-8 bytes, as Convex counts); the student's action succeeds and V1 reads come from V2", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const filler = await seedUser(t, "filler");
    const { examId, questionIds } = await seedExam(t, { questions: 1, durationMs: DURATION });
    // Non-Latin answers: 3 UTF-8 bytes per character, so a UTF-16 length would see a third of the document.
    const answer = { questionId: questionIds[0]!, selectedAnswer: "答".repeat(80), isCorrect: false };
    const base = await t.run(async (ctx) => getDocumentSize((await ctx.db.get("exams", examId))!));
    const fits = Math.floor((CONVEX_LIMITS.documentBytes - 16 * 1024 - base - 200) / getConvexSize(answer));
    const big = legacyEntry(filler.userId, { answers: Array.from({ length: fits }, () => answer) });
    await t.run((ctx) => ctx.db.patch("exams", examId, { participants: [big] })); // stored: under 1 MiB, within the mirror's margin
    const session = await ada.as.mutation(api.exams.startExam, { examId });
    expect(session.status).toBe("in_progress");
    await runScheduled(t); // the exam's mirror job finds the array too big
    const { def, exam } = await t.run(async (ctx) => ({
      def: await ctx.db
        .query("examHeaders")
        .withIndex("by_exam", (q) => q.eq("examId", examId))
        .unique(),
      exam: await ctx.db.get("exams", examId),
    }));
    expect(def!.legacyMirrorFailure).toMatchObject({ userId: ada.userId, reason: expect.stringMatching(/bytes/) });
    expect(exam!.participants).toHaveLength(1); // not written
    expect(await ada.as.query(api.exams.getExamSession, { examId })).toEqual(await ada.as.query(api.exams.getExamSessionV2, { examId }));
    expect((await ada.as.query(api.exams.getExamSession, { examId })).status).toBe("in_progress");
  });

  it("refuses an array past 8,192 entries", () => {
    const entries = Array.from({ length: 8_193 }, () => legacyEntry("u" as Id<"users">));
    expect(documentLimitProblem({ title: "", questionIds: [], durationMs: 1, maxPauses: 0, participants: entries })).toMatch(
      /8193 entries/,
    );
    expect(
      documentLimitProblem({ title: "", questionIds: [], durationMs: 1, maxPauses: 0, participants: entries.slice(0, 10) }),
    ).toBeNull();
  });

  it("can be switched off per exam and for all exams, and back on with a resync from V2", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const bob = await seedUser(t, "bob");
    const { examId } = await seedExam(t, { questions: 2, durationMs: DURATION });
    const { examId: otherExam } = await seedExam(t, { questions: 2, durationMs: DURATION });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    await ada.as.mutation(api.exams.startExamV2, { examId: otherExam });

    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId, enabled: false });
    await bob.as.mutation(api.exams.startExamV2, { examId });
    await runScheduled(t);
    expect((await arrayAndTables(t, examId)).array).not.toHaveProperty(bob.userId); // not mirrored: the array is stale
    expect((await bob.as.query(api.exams.getExamSession, { examId })).status).toBe("in_progress"); // V1 serves from V2

    await t.mutation(internal.legacyMirror.setGlobalLegacyMirror, { enabled: false });
    await ada.as.mutation(api.exams.startPauseV2, { examId: otherExam });
    await runScheduled(t); // the job finds the global switch off and turns the exam's own off
    await t.mutation(internal.legacyMirror.setGlobalLegacyMirror, { enabled: true });
    // The exam written while the global switch was off stays off (its array missed a write).
    const status = await t.query(internal.legacyMirror.legacyMirrorStatus, {});
    expect(status.globallyEnabled).toBe(true);
    expect(status.exams.map((e) => e.legacyMirror)).toEqual([false, false]);
    expect((await ada.as.query(api.exams.getPauseStatus, { examId: otherExam })).status).toBe("paused");

    for (const id of [examId, otherExam]) {
      await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId: id, enabled: true });
      const { array, tables } = await arrayAndTables(t, id);
      expect(array).toEqual(tables);
    }
    expect((await arrayAndTables(t, examId)).array).toHaveProperty(bob.userId);
  });
});
