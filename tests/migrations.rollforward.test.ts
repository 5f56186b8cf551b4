/**
 * Rolling forward after old code edited migrated V1 arrays (rollback option 2) when the edits move
 * entries: an entry is identified by its exam, user and startedAt (its position counts only among
 * entries of the same user and startedAt), so a removal before it never makes it look new, a removed
 * entry is reported, a changed one is still a LegacyEntryChanged, and nothing is imported twice.
 */
import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { api, internal } from "../convex/_generated/api";
import { executeCommand } from "../convex/attempts/writePath";
import type { Doc, Id } from "../convex/_generated/dataModel";
import type { V1Participant } from "../convex/lib/validators";
import { legacyEntry, newConvexTest, runScheduled, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";

useFakeClock();

const T = Date.UTC(2026, 0, 1, 9);
const IMPORTS = new Set(["LegacyParticipantImported", "LegacyDuplicateImported"]);

async function migrateToEnd(t: TestConvex) {
  const reports = [];
  for (let i = 0; i < 50; i++) {
    const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    reports.push(r);
    if (r.isDone) return reports;
  }
  throw new Error("migration did not finish");
}

/** The old code, redeployed: it rewrites the exam's array as it likes. */
async function oldCodeEdits(t: TestConvex, examId: Id<"exams">, edit: (participants: V1Participant[]) => V1Participant[]) {
  await t.run(async (ctx) => {
    const exam = (await ctx.db.get("exams", examId))!;
    await ctx.db.patch("exams", examId, { participants: edit(exam.participants!.map((p) => ({ ...p }))) });
  });
}

async function events(t: TestConvex): Promise<Doc<"examEvents">[]> {
  return t.run((ctx) => ctx.db.query("examEvents").collect());
}

/** "user@startedAt" of every import event, sorted: each V1 entry the log holds. */
async function importedEntries(t: TestConvex): Promise<string[]> {
  return (await events(t))
    .filter((e) => IMPORTS.has(e.type))
    .map((e) => `${e.userId}@${(e.data as { participant: V1Participant }).participant.startedAt}`)
    .sort();
}

/** Verification after the mirror has caught up: valid, nothing pending. */
async function expectVerified(t: TestConvex) {
  await t.action(internal.legacyMirror.drainLegacyMirror, {});
  const verified = await t.action(internal.migrations.verifyMigrationIntegrity, {});
  expect(verified.issues).toEqual([]);
  expect(verified.pending).toEqual([]);
  expect(verified.isValid).toBe(true);
  return verified;
}

/** Three students a, b, c, each with one entry (started a minute apart), migrated. */
async function migratedExam() {
  const t = newConvexTest();
  const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => seedUser(t, n)));
  const participants = [a!, b!, c!].map((s, i) => legacyEntry(s.userId, T + i * 60_000));
  const exam = await seedExam(t, { participants });
  await migrateToEnd(t);
  return { t, examId: exam.examId, questionIds: exam.questionIds, a: a!.userId, b: b!.userId, c: c!.userId, participants };
}

describe("roll forward after old code removed entries", () => {
  it("given a migrated array, when old code removes its first entry, then the roll forward imports nothing and reports the removal", async () => {
    const { t, examId, a, b, c } = await migratedExam();
    const before = await importedEntries(t);
    await oldCodeEdits(t, examId, (ps) => ps.slice(1));

    // A dry run of the exam says the same as the run: nothing to import.
    const dry = await t.mutation(internal.migrations.migrateExamParticipants, { examId, dryRun: true });
    expect(dry).toMatchObject({ participantsMigrated: 0, eventsWritten: 0, alreadyMigrated: 2 });
    const reports = await migrateToEnd(t);

    // b and c moved to positions 0 and 1: they are the entries already imported, not new ones.
    expect(reports.reduce((n, r) => n + r.participantsMigrated + r.eventsWritten + r.rolledForward, 0)).toBe(0);
    expect(await importedEntries(t)).toEqual(before);
    expect(before).toHaveLength(3);
    const rows = await t.run((ctx) => ctx.db.query("examParticipations").collect());
    expect(rows.map((r) => r.userId).sort()).toEqual([a, b, c].sort());
    // a's attempt stays in V2 and in the log; verification names the removal and stays valid.
    const verified = await expectVerified(t);
    expect(verified.findings).toContainEqual(expect.objectContaining({ kind: "removed_after_import", examId, userId: a }));
  });

  it("given a migrated array, when old code removes the middle entry and appends a new student, then only the new student is imported", async () => {
    const { t, examId, b, c } = await migratedExam();
    const d = await seedUser(t, "d");
    await oldCodeEdits(t, examId, (ps) => [ps[0]!, ps[2]!, legacyEntry(d.userId, T + 10 * 60_000)]);

    const reports = await migrateToEnd(t);

    expect(reports.reduce((n, r) => n + r.participantsMigrated, 0)).toBe(1);
    const imports = (await events(t)).filter((e) => IMPORTS.has(e.type));
    expect(imports.filter((e) => e.userId === c)).toHaveLength(1); // moved from 2 to 1: not again
    expect(imports.filter((e) => e.userId === d.userId).map((e) => [e.type, e.data.sourceIndex])).toEqual([
      ["LegacyParticipantImported", 2],
    ]);
    const verified = await expectVerified(t);
    expect(verified.findings).toContainEqual(expect.objectContaining({ kind: "removed_after_import", examId, userId: b }));
  });

  it("given a migrated array, when old code removes an entry and completes one that moved, then the moved one is rolled forward as a LegacyEntryChanged", async () => {
    const { t, examId, questionIds, c } = await migratedExam();
    await oldCodeEdits(t, examId, (ps) => {
      const moved = ps[2]!;
      return [
        ps[1]!,
        {
          ...moved,
          completedAt: moved.startedAt + 30_000,
          score: 1,
          answers: [{ questionId: questionIds[0]!, selectedAnswer: "a", isCorrect: true }],
        },
      ];
    });

    const reports = await migrateToEnd(t);

    expect(reports.reduce((n, r) => n + r.participantsMigrated, 0)).toBe(0);
    expect(reports.reduce((n, r) => n + r.rolledForward, 0)).toBe(1);
    expect(reports.flatMap((r) => r.findings).filter((f) => f.kind === "changed_after_import")).toEqual([
      expect.objectContaining({ userId: c, sourceIndex: 1 }),
    ]);
    const rolled = (await events(t)).filter((e) => e.origin === "legacy_rollforward");
    expect(rolled.map((e) => [e.type, e.userId, e.data.sourceIndex])).toEqual([["LegacyEntryChanged", c, 1]]);
    expect((await events(t)).filter((e) => e.userId === c && IMPORTS.has(e.type))).toHaveLength(1);
    const row = await t.run((ctx) =>
      ctx.db
        .query("examParticipations")
        .withIndex("by_exam_and_user", (q) => q.eq("examId", examId).eq("userId", c))
        .unique(),
    );
    expect(row).toMatchObject({ score: 1, completedAt: T + 2 * 60_000 + 30_000 });
    await expectVerified(t);
  });
});

describe("roll forward after old code removed one of a student's two entries", () => {
  /** a twice (the attempt at 0, a duplicate at 2, started later and completed), b between them; migrated. */
  async function duplicated(second: (a: Id<"users">) => V1Participant) {
    const t = newConvexTest();
    const [a, b] = await Promise.all(["a", "b"].map((n) => seedUser(t, n)));
    const exam = await seedExam(t, {
      participants: [legacyEntry(a!.userId, T), legacyEntry(b!.userId, T + 1_000), second(a!.userId)],
    });
    await migrateToEnd(t);
    expect(await importedEntries(t)).toHaveLength(3);
    return { t, examId: exam.examId, a: a!.userId };
  }

  it("when old code removes the duplicate, then nothing is imported and the batch and verification report the removal", async () => {
    const { t, examId, a } = await duplicated((a) => legacyEntry(a, T + 5_000, { completedAt: T + 9_000 }));
    const before = await importedEntries(t);
    await oldCodeEdits(t, examId, (ps) => ps.slice(0, 2));

    const reports = await migrateToEnd(t);

    expect(reports.reduce((n, r) => n + r.eventsWritten, 0)).toBe(0);
    expect(await importedEntries(t)).toEqual(before);
    const removed = expect.objectContaining({ kind: "removed_after_import", examId, userId: a, sourceIndex: 2 });
    expect(reports.flatMap((r) => r.findings)).toContainEqual(removed);
    expect((await expectVerified(t)).findings).toContainEqual(removed);
  });

  it("when old code removes the first entry, then the duplicate becomes the attempt (LegacyEntryChanged), imported once, and the removal is reported", async () => {
    const { t, examId, a } = await duplicated((a) => legacyEntry(a, T + 5_000, { completedAt: T + 9_000 }));
    const before = await importedEntries(t);
    await oldCodeEdits(t, examId, (ps) => ps.slice(1));

    const reports = await migrateToEnd(t);

    expect(await importedEntries(t)).toEqual(before);
    const rolled = (await events(t)).filter((e) => e.origin === "legacy_rollforward");
    expect(rolled.map((e) => [e.type, e.userId, e.data.participant.startedAt])).toEqual([["LegacyEntryChanged", a, T + 5_000]]);
    expect(reports.flatMap((r) => r.findings)).toContainEqual(
      expect.objectContaining({ kind: "removed_after_import", examId, userId: a, sourceIndex: 0 }),
    );
    await expectVerified(t);
  });

  it("when both entries share their startedAt and old code removes the first, then the one left counts as the first (by rank) and nothing is imported", async () => {
    const { t, examId, a } = await duplicated((a) => legacyEntry(a, T, { score: 3 }));
    const before = await importedEntries(t);
    await oldCodeEdits(t, examId, (ps) => ps.slice(1));

    const reports = await migrateToEnd(t);

    expect(await importedEntries(t)).toEqual(before);
    expect(reports.reduce((n, r) => n + r.participantsMigrated, 0)).toBe(0);
    // The one left differs from the attempt (score 3): the attempt becomes it; the second of that startedAt is the one missing.
    expect(reports.reduce((n, r) => n + r.rolledForward, 0)).toBe(1);
    expect(reports.flatMap((r) => r.findings)).toContainEqual(
      expect.objectContaining({ kind: "removed_after_import", examId, userId: a, sourceIndex: 2 }),
    );
    await expectVerified(t);
  });
});

describe("roll forward over what an earlier version wrote", () => {
  it("given imports keyed by position and rows listing positions only, when old code removes the first entry, then nothing is imported twice and a rebuild gives the rows their current shape", async () => {
    const t = newConvexTest();
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((n) => seedUser(t, n)));
    const participants = [a!, b!, c!].map((s, i) => legacyEntry(s.userId, T + i * 60_000));
    const { examId } = await seedExam(t, { participants });
    // The earlier version's import: the same event, its key naming the array position.
    for (const [sourceIndex, participant] of participants.entries()) {
      await t.run((ctx) =>
        executeCommand(ctx, {
          stream: { examId, userId: participant.userId },
          command: { type: "ImportLegacyParticipant", data: { participant, sourceIndex, rank: 0 } },
          actor: { kind: "system", name: "legacy import" },
          origin: "legacy_import",
          idempotencyKey: `legacy:${examId}:${participant.userId}:${sourceIndex}`,
        }),
      );
    }
    await migrateToEnd(t);
    // ...and its rows, which listed the imported entries by position only.
    await t.run(async (ctx) => {
      for (const row of await ctx.db.query("examParticipations").collect()) {
        const { _id, _creationTime, legacyEntries, ...rest } = row;
        await ctx.db.replace("examParticipations", _id, { ...rest, legacySourceIndexes: legacyEntries!.map((e) => e.sourceIndex) });
      }
    });
    const before = await importedEntries(t);
    await oldCodeEdits(t, examId, (ps) => ps.slice(1));

    const reports = await migrateToEnd(t);

    expect(reports.reduce((n, r) => n + r.eventsWritten, 0)).toBe(0);
    expect(await importedEntries(t)).toEqual(before);
    const verified = await expectVerified(t);
    expect(verified.findings).toContainEqual(expect.objectContaining({ kind: "removed_after_import", examId, userId: a!.userId }));
    // The rows of the earlier shape differ from a replay until rebuilt; the rebuild writes the entries by identity.
    expect((await t.action(internal.projections.rebuild.verifyProjections, { examId })).isValid).toBe(false);
    await t.action(internal.projections.rebuild.rebuildAllProjections, { examId });
    expect((await t.action(internal.projections.rebuild.verifyProjections, { examId })).isValid).toBe(true);
    const rowOfC = (await t.run((ctx) => ctx.db.query("examParticipations").collect())).find((r) => r.userId === c!.userId)!;
    expect(rowOfC.legacySourceIndexes).toBeUndefined();
    expect(rowOfC.legacyEntries).toEqual([{ startedAt: T + 2 * 60_000, sourceIndex: 2 }]);
  });
});

/** One edit old code may make to an array: remove an entry, change one (same user and startedAt), or append one. */
type OldCodeEdit = { kind: "remove" | "change"; at: number } | { kind: "append"; user: number };

describe("roll forward after any edits of old code", () => {
  it("leaves verifyMigrationIntegrity valid and the log holding each entry once, for every sequence of removals, changes and appends", async () => {
    const edit: fc.Arbitrary<OldCodeEdit> = fc.oneof(
      fc.record({ kind: fc.constantFrom("remove" as const, "change" as const), at: fc.nat(20) }),
      fc.record({ kind: fc.constant("append" as const), user: fc.nat(4) }),
    );
    // Users 0–3 (4 appears only through an append); a user's entries start at minute 0 or 1, so duplicates may share a startedAt.
    const initial = fc.array(fc.record({ user: fc.nat(3), minute: fc.nat(1) }), { minLength: 1, maxLength: 7 });
    await fc.assert(
      fc.asyncProperty(initial, fc.array(edit, { minLength: 1, maxLength: 6 }), async (seed, edits) => {
        const t = newConvexTest();
        const users = await Promise.all(["u0", "u1", "u2", "u3", "u4"].map((n) => seedUser(t, n)));
        const start = seed.map(({ user, minute }) => legacyEntry(users[user]!.userId, T + minute * 60_000));
        const { examId, questionIds } = await seedExam(t, { participants: start });
        await migrateToEnd(t);
        let appended = 0;
        let changed = 0;
        let final: V1Participant[] = [];
        await oldCodeEdits(t, examId, (ps) => {
          for (const e of edits) {
            if (e.kind === "append") {
              ps.push(legacyEntry(users[e.user]!.userId, T + (10 + appended++) * 60_000));
            } else if (ps.length > 0) {
              const i = e.at % ps.length;
              if (e.kind === "remove") ps.splice(i, 1);
              else {
                changed += 1;
                ps[i] = {
                  ...ps[i]!,
                  score: changed,
                  completedAt: ps[i]!.startedAt + changed * 1_000,
                  answers: [{ questionId: questionIds[changed % questionIds.length]!, selectedAnswer: "b", isCorrect: false }],
                };
              }
            }
          }
          final = ps;
          return ps;
        });

        await migrateToEnd(t);

        await expectVerified(t);
        // Each entry the array ever held (before the edits, or after them) is in the log exactly once.
        const count = (ps: V1Participant[]) => {
          const n = new Map<string, number>();
          for (const p of ps) n.set(`${p.userId}@${p.startedAt}`, (n.get(`${p.userId}@${p.startedAt}`) ?? 0) + 1);
          return n;
        };
        const [before, after] = [count(start), count(final)];
        const expected = [...new Set([...before.keys(), ...after.keys()])].flatMap((k) =>
          Array<string>(Math.max(before.get(k) ?? 0, after.get(k) ?? 0)).fill(k),
        );
        expect(await importedEntries(t)).toEqual(expected.sort());
        // Every attempt is the first entry of its user, as V1 reads it (verification compared them field by field).
        const rows = await t.run((ctx) => ctx.db.query("examParticipations").collect());
        expect(rows.map((r) => r.userId).sort()).toEqual([...new Set([...start, ...final].map((p) => p.userId as string))].sort());
      }),
      { numRuns: 30 },
    );
  });
});

describe("a migration call that stopped inside an exam", () => {
  /** Students enough, each with 20 answers, that one call stops inside the exam (its write budget binds first). */
  const COUNT = 400;
  it("given a call stopped inside an exam, when old code removes entries before its position, then the next calls still import every entry, once", async () => {
    const t = newConvexTest();
    const userIds = await t.run(async (ctx) => {
      const ids: Id<"users">[] = [];
      for (let i = 0; i < COUNT; i++)
        ids.push(await ctx.db.insert("users", { name: `s${i}`, tokenIdentifier: `test|s${i}`, role: "student" }));
      return ids;
    });
    const { examId, questionIds } = await seedExam(t, { questions: 20 });
    const answers = questionIds.map((questionId) => ({ questionId, selectedAnswer: "b", isCorrect: false }));
    await t.run((ctx) => ctx.db.patch("exams", examId, { participants: userIds.map((id, i) => legacyEntry(id, T + i, { answers })) }));
    const first = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 1 });
    const stopped = first.stoppedInsideExam!;
    expect(stopped).toMatchObject({ examId, step: "import" });
    expect(stopped.nextIndex).toBeGreaterThan(10);
    // Old code removes ten entries before the position the call stopped at: the entries after it move ten places down.
    await oldCodeEdits(t, examId, (ps) => ps.slice(10));

    await migrateToEnd(t);

    const status = await t.action(internal.migrations.checkMigrationStatus, {});
    expect(status).toMatchObject({ migrationComplete: true, participantsWithoutV2: 0 });
    const imports = await importedEntries(t);
    expect(imports).toHaveLength(COUNT);
    expect(new Set(imports).size).toBe(COUNT);
    await expectVerified(t);
  });
});

describe("a V1 array the mirror has not caught up with is not an old code's edit", () => {
  it("given a student who pauses, resumes and submits through V1 before the exam is migrated, and the mirror has written only the pause, when the migration meets the entry, then the submit stands and nothing is rolled forward", async () => {
    const t = newConvexTest();
    const [a, b] = await Promise.all([seedUser(t, "a"), seedUser(t, "b")]);
    const now = Date.now();
    const exam = await seedExam(t, { participants: [legacyEntry(a!.userId, now - 60_000), legacyEntry(b!.userId, now - 60_000)] });
    const { examId } = exam;
    await a!.as.mutation(api.exams.startPause, { examId });
    vi.advanceTimersByTime(2_000);
    await a!.as.mutation(api.exams.resumeFromPause, { examId });
    vi.advanceTimersByTime(2_000);
    await a!.as.mutation(api.exams.submitExamAnswers, { examId, answers: [] });
    // The job the pause scheduled runs now: it mirrors what has settled (the pause), not the resume or the submit.
    vi.advanceTimersByTime(2_001);
    await t.finishInProgressScheduledFunctions();
    const array = await t.run(async (ctx) => (await ctx.db.get("exams", examId))!.participants!);
    expect(array.find((p) => p.userId === a!.userId)).toMatchObject({ isPaused: true });
    expect(array.find((p) => p.userId === a!.userId)!.completedAt).toBeUndefined();

    const reports = await migrateToEnd(t);
    expect(reports.reduce((n, r) => n + r.rolledForward, 0)).toBe(0);
    expect((await events(t)).filter((e) => e.type === "LegacyEntryChanged")).toEqual([]);
    const session = await a!.as.query(api.exams.getExamSessionV2, { examId });
    expect(session.status).toBe("completed");
    // Once the jobs have run, the array holds the submit too and verification has nothing pending.
    await runScheduled(t);
    expect(
      (await t.run(async (ctx) => (await ctx.db.get("exams", examId))!.participants!)).find((p) => p.userId === a!.userId)!.completedAt,
    ).toBeDefined();
    await expectVerified(t);
  });

  it("given the mirror drained and old code's edit of an entry whose latest live events are seconds old, when the migration runs, then the edit is rolled forward", async () => {
    const { t, examId, a } = await migratedExam();
    const student = t.withIdentity({ tokenIdentifier: (await t.run((ctx) => ctx.db.get("users", a)))!.tokenIdentifier });
    await student.mutation(api.exams.startPause, { examId });
    await t.action(internal.legacyMirror.drainLegacyMirror, {});
    // Old code: the student resumes (pausedAt cleared, the pause counted in totalPausedMs).
    await oldCodeEdits(t, examId, (ps) =>
      ps.map((p) => (p.userId === a ? { ...p, isPaused: false, pausedAt: undefined, totalPausedMs: 1_000 } : p)),
    );
    const reports = await migrateToEnd(t);
    expect(reports.reduce((n, r) => n + r.rolledForward, 0)).toBe(1);
    expect((await student.query(api.exams.getExamSessionV2, { examId })).isPaused).toBe(false);
  });
});
