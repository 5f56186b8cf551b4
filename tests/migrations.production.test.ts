/**
 * The migration on what production really holds: exams without participants,
 * completeness judged by identity, values V1 allows (NaN, ±Infinity), exams
 * listing deleted questions, an entry that cannot be imported (quarantined, the
 * batch goes on), and V1 entries that old code changed after their streams
 * existed (rollback option 2), rolled forward into the log.
 */
import { describe, expect, it } from "vitest";
import { internal, api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { domainError } from "../convex/lib/errors";
import type { V1Participant } from "../convex/lib/validators";
import type { MigrationFaults } from "../convex/migration/batch";
import { newConvexTest, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";
import { migrateWithFaults } from "./support/migration";

useFakeClock();

const T = Date.UTC(2026, 0, 1, 9);

function entry(userId: Id<"users">, over: Partial<V1Participant> = {}): V1Participant {
  return { userId, score: 0, answers: [], startedAt: T, isPaused: false, pauseCount: 0, totalPausedMs: 0, ...over };
}

async function migrateToEnd(t: TestConvex, args: { clearAfterMigration?: boolean } = {}, faults?: MigrationFaults) {
  const reports = [];
  for (let i = 0; i < 50; i++) {
    const batch = { batchSize: 2, ...args };
    const r = faults ? await migrateWithFaults(t, batch, faults) : await t.mutation(internal.migrations.migrateExamParticipants, batch);
    reports.push(r);
    if (r.isDone) return reports;
  }
  throw new Error("migration did not finish");
}

describe("checkMigrationStatus judges completeness by identity", () => {
  it("given nothing to migrate (no exams, then only exams without participants), the migration is complete", async () => {
    const t = newConvexTest();
    expect((await t.action(internal.migrations.checkMigrationStatus, {})).migrationComplete).toBe(true);
    await seedExam(t);
    await seedExam(t, { participants: [] });
    const status = await t.action(internal.migrations.checkMigrationStatus, {});
    expect(status).toMatchObject({ migrationComplete: true, pendingExams: [], participantsWithoutV2: 0 });
  });

  it("given two live students and two never-imported V1 participants, it is not complete and names the exam", async () => {
    const t = newConvexTest();
    const [a, b, c, d] = await Promise.all(["a", "b", "c", "d"].map((n) => seedUser(t, n)));
    const exam = await seedExam(t, { participants: [entry(a!.userId), entry(b!.userId)] });
    // With the mirror off, c and d start live through V2 before the migration ran: two rows, neither of a V1 participant.
    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId: exam.examId, enabled: false });
    for (const s of [c!, d!]) await s.as.mutation(api.exams.startExamV2, { examId: exam.examId });
    expect((await t.run((ctx) => ctx.db.get("exams", exam.examId)))!.participants).toHaveLength(2);
    const status = await t.action(internal.migrations.checkMigrationStatus, {});
    // As many V2 rows as V1 participants: a count would call this complete.
    expect(status.v2.participations).toBe(2);
    expect(status.v1.totalParticipants).toBe(2);
    expect(status).toMatchObject({ migrationComplete: false, pendingExams: [exam.examId], participantsWithoutV2: 2 });
    await migrateToEnd(t);
    expect(await t.action(internal.migrations.checkMigrationStatus, {})).toMatchObject({
      migrationComplete: true,
      participantsWithoutV2: 0,
    });
  });
});

describe("values V1 allows and dangling ids are findings, never a stop", () => {
  it("a NaN and an Infinity score migrate as stored, are reported, rank last and stay out of averages", async () => {
    const t = newConvexTest();
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => seedUser(t, n)));
    const exam = await seedExam(t, {
      participants: [
        entry(a!.userId, { score: NaN, completedAt: T + 1_000 }),
        entry(b!.userId, { score: 0, completedAt: T + 2_000 }),
        entry(c!.userId, { score: Infinity, completedAt: T + 500 }),
      ],
    });
    const reports = await migrateToEnd(t);
    const findings = reports.flatMap((r) => r.findings);
    expect(findings).toContainEqual(expect.objectContaining({ kind: "non_finite_number", examId: exam.examId, userId: a!.userId }));
    expect(findings).toContainEqual(expect.objectContaining({ kind: "non_finite_number", examId: exam.examId, userId: c!.userId }));
    const rows = await t.run((ctx) => ctx.db.query("examParticipations").collect());
    expect(rows.find((r) => r.userId === a!.userId)!.score).toBeNaN();
    expect(rows.find((r) => r.userId === c!.userId)!.score).toBe(Infinity);
    const verified = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect(verified.issues).toEqual([]);
    expect((await t.action(internal.projections.rebuild.verifyProjections, { examId: exam.examId })).isValid).toBe(true);
    // Finite first (the 0 beats NaN and Infinity), then the non-finite by completion time; V1 and V2 agree.
    for (const fn of [api.exams.getExamLeaderboard, api.exams.getExamLeaderboardV2]) {
      const board = await a!.as.query(fn, { examId: exam.examId, limit: 10 });
      expect(board.map((e) => e.userId)).toEqual([b!.userId, c!.userId, a!.userId]);
    }
    for (const fn of [api.exams.getMyDashboardStats, api.exams.getMyDashboardStatsV2]) {
      expect(await a!.as.query(fn, {})).toMatchObject({ examsCompleted: 1, averageScore: null, bestScore: null });
    }
  });

  it("an exam listing a deleted question migrates and names the question", async () => {
    const t = newConvexTest();
    const a = await seedUser(t, "a");
    const exam = await seedExam(t, { questions: 2, participants: [entry(a.userId)] });
    await t.run((ctx) => ctx.db.delete("questions", exam.questionIds[1]!));
    const reports = await migrateToEnd(t);
    expect(reports.flatMap((r) => r.findings)).toContainEqual(
      expect.objectContaining({
        kind: "unknown_exam_question",
        examId: exam.examId,
        message: expect.stringContaining(exam.questionIds[1]!),
      }),
    );
    const verified = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect(verified.isValid).toBe(true);
    expect(verified.findings).toContainEqual(expect.objectContaining({ kind: "unknown_exam_question", examId: exam.examId }));
  });

  it("an entry that cannot be imported is quarantined and reported; the other exams migrate", async () => {
    const t = newConvexTest();
    const [a, b] = await Promise.all(["a", "b"].map((n) => seedUser(t, n)));
    const first = await seedExam(t, { participants: [entry(a!.userId), entry(b!.userId)] });
    const second = await seedExam(t, { participants: [entry(a!.userId)] });
    const importEntry = (examId: Id<"exams">, sourceIndex: number) => {
      if (examId === first.examId && sourceIndex === 0) throw domainError("INVALID_EVENT", "injected: cannot import");
    };
    const reports = await migrateToEnd(t, {}, { importEntry });
    expect(reports.reduce((n, r) => n + r.quarantined, 0)).toBe(1);
    const rows = await t.run((ctx) => ctx.db.query("examParticipations").collect());
    expect(rows.map((r) => `${r.examId}/${r.userId}`).sort()).toEqual(
      [`${first.examId}/${b!.userId}`, `${second.examId}/${a!.userId}`].sort(),
    );
    const status = await t.action(internal.migrations.checkMigrationStatus, {});
    expect(status).toMatchObject({ migrationComplete: false, pendingExams: [first.examId], participantsWithoutV2: 1 });
    expect(status.quarantined).toEqual([
      { examId: first.examId, userId: a!.userId, sourceIndex: 0, reason: expect.stringContaining("INVALID_EVENT") },
    ]);
    const verified = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect(verified.issues).toEqual([expect.objectContaining({ kind: "missing_participation", examId: first.examId, userId: a!.userId })]);
    expect(verified.findings).toContainEqual(
      expect.objectContaining({ kind: "quarantined_participant", examId: first.examId, userId: a!.userId }),
    );
    // Once the cause is fixed, the next run imports it and the quarantine no longer blocks completeness.
    await migrateToEnd(t);
    expect((await t.action(internal.migrations.checkMigrationStatus, {})).migrationComplete).toBe(true);
  });
});

describe("rolling forward after a rollback (old code ran again)", () => {
  it("given streams for every entry, when old code submits one attempt and pauses another, the next migration call rolls both forward", async () => {
    const t = newConvexTest();
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => seedUser(t, n)));
    const exam = await seedExam(t, { participants: [entry(a!.userId), entry(b!.userId), entry(c!.userId)] });
    await migrateToEnd(t);
    // The old code (redeployed: option 2) edits the array in place, as V1 did.
    const edited = await t.run(async (ctx) => {
      const doc = (await ctx.db.get("exams", exam.examId))!;
      const participants = doc.participants!.map((p) => ({ ...p }));
      participants[0] = {
        ...participants[0]!,
        completedAt: T + 30_000,
        score: 1,
        answers: [{ questionId: exam.questionIds[0]!, selectedAnswer: "a", isCorrect: true }],
      };
      participants[1] = { ...participants[1]!, isPaused: true, pausedAt: T + 20_000, pauseCount: 1 };
      await ctx.db.patch("exams", exam.examId, { participants });
      return participants;
    });
    const before = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect(before.issues.map((i) => `${i.userId}:${i.field ?? i.kind}`)).toEqual(
      expect.arrayContaining([`${a!.userId}:completedAt`, `${a!.userId}:score`, `${b!.userId}:isPaused`]),
    );

    // The new backend is back: the next migration call brings the edits into the log.
    const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    expect(r).toMatchObject({ rolledForward: 2, participantsMigrated: 0 });
    expect(r.findings.filter((f) => f.kind === "changed_after_import").map((f) => f.userId)).toEqual([a!.userId, b!.userId]);
    const events = await t.run((ctx) => ctx.db.query("examEvents").collect());
    const rolled = events.filter((e) => e.origin === "legacy_rollforward");
    expect(rolled.map((e) => [e.type, e.userId])).toEqual([
      ["LegacyEntryChanged", a!.userId],
      ["LegacyEntryChanged", b!.userId],
    ]);
    // V1 ≡ V2, the views equal a replay of the log, and nothing the old code wrote is lost.
    expect((await t.action(internal.migrations.verifyMigrationIntegrity, {})).issues).toEqual([]);
    expect((await t.action(internal.projections.rebuild.verifyProjections, { examId: exam.examId })).isValid).toBe(true);
    const rowOfA = await t.run(async (ctx) =>
      ctx.db
        .query("examParticipations")
        .withIndex("by_exam_and_user", (q) => q.eq("examId", exam.examId).eq("userId", a!.userId))
        .unique(),
    );
    expect(rowOfA).toMatchObject({ completedAt: edited[0]!.completedAt, score: 1 });
    // A student sees the rolled-forward entry of an attempt not yet completed without its grading, as for an import.
    const history = await b!.as.query(api.audit.getParticipationHistory, {
      examId: exam.examId,
      userId: b!.userId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    const change = history.page.find((e) => e.type === "LegacyEntryChanged")!;
    expect(change).toMatchObject({ origin: "legacy_rollforward", redacted: true });
    expect(change.data.participant.score).toBeUndefined();
    // Again: nothing more to roll forward.
    const again = await migrateToEnd(t);
    expect(again.reduce((n, x) => n + x.rolledForward + x.eventsWritten, 0)).toBe(0);
  });

  it("a row damaged behind the log's back is not mistaken for an edit of V1", async () => {
    const t = newConvexTest();
    const a = await seedUser(t, "a");
    await seedExam(t, { participants: [entry(a.userId, { score: 2 })] });
    await migrateToEnd(t);
    await t.run(async (ctx) => {
      const row = (await ctx.db.query("examParticipations").first())!;
      await ctx.db.patch("examParticipations", row._id, { score: 9 });
    });
    const reports = await migrateToEnd(t);
    expect(reports.reduce((n, x) => n + x.rolledForward, 0)).toBe(0);
    expect((await t.run((ctx) => ctx.db.query("examEvents").collect())).map((e) => e.origin)).toEqual(["legacy_import"]);
  });
});
