/**
 * The migration on small datasets: resumable after an abort at any point (the
 * aborted transaction keeps nothing), a finished migration re-run writes nothing,
 * dirty data is migrated losslessly and reported by exam and user, dry runs write
 * nothing, cleanup clears only exams that verify.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { internal } from "../convex/_generated/api";
import type { Doc } from "../convex/_generated/dataModel";
import { generateV1Dataset, insertDataset, type DatasetIds, type V1Dataset } from "../src/dataset/generate";
import { newConvexTest, snapshotTables, type TestConvex } from "./support/convex";
import { migrateWithFaults } from "./support/migration";

async function seeded(dataset: V1Dataset) {
  const t = newConvexTest();
  const ids = await insertDataset(t, dataset);
  return { t, ids };
}

async function migrateToEnd(t: TestConvex, batchSize = 2) {
  const reports = [];
  for (let i = 0; i < 200; i++) {
    const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize });
    reports.push(r);
    if (r.isDone) return reports;
  }
  throw new Error("migration did not finish");
}

/** The V2 state and log without what differs between equal runs (ids, times, command ids, hashes). */
async function normalizedState(t: TestConvex) {
  return t.run(async (ctx) => {
    const rows = await ctx.db.query("examParticipations").collect();
    const key = new Map(rows.map((r) => [r._id as string, `${r.examId}/${r.userId}`]));
    const strip = <T extends { _id: unknown; _creationTime: number }>({ _id, _creationTime, ...rest }: T) => rest;
    const events = (await ctx.db.query("examEvents").collect()).map((e) => {
      const { commandId: _c, hash: _h, prevHash: _p, recordedAt: _r, ...rest } = strip(e);
      return rest;
    });
    const participations = rows.map((r) => {
      const { lastEventHash: _h, ...rest } = strip(r);
      return rest;
    });
    const answers = (await ctx.db.query("examAnswers").collect()).map((a) => ({
      ...strip(a),
      participationId: key.get(a.participationId),
    }));
    const counters = (await ctx.db.query("examCounterShards").collect()).map(strip);
    // The exam's creation time is the instance's own (as _creationTime is).
    const headers = (await ctx.db.query("examHeaders").collect()).map((h) => {
      const { examCreationTime: _t, ...rest } = strip(h);
      return rest;
    });
    const exams = (await ctx.db.query("exams").collect()).map(strip);
    const sort = <T>(xs: T[]) => xs.map((x) => JSON.stringify(x)).sort();
    return {
      events: sort(events),
      participations: sort(participations),
      answers: sort(answers),
      counters: sort(counters),
      headers: sort(headers),
      exams: sort(exams),
    };
  });
}

const SMALL = { exams: 3, participants: 14, answers: 70 };

describe("migrateExamParticipants", () => {
  it("resumed after aborts at random points ends in the state of an uninterrupted run", async () => {
    const dataset = generateV1Dataset(SMALL);
    const reference = await seeded(dataset);
    await migrateToEnd(reference.t, 10);
    const expected = await normalizedState(reference.t);
    // Ids are per instance: compare with ids mapped through the dataset keys.
    const total = dataset.exams.reduce((n, e) => n + e.participants.length, 0);

    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: total + 4 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 3 }),
        async (abortAt, batchSize) => {
          const { t } = await seeded(dataset);
          let entries = 0;
          const aborts = new Set(abortAt);
          const faults = {
            beforeEntry: () => {
              entries += 1;
              if (aborts.delete(entries)) throw new Error("injected fault");
            },
          };
          for (let i = 0; i < 100; i++) {
            const r = await migrateWithFaults(t, { batchSize }, faults).catch((e: unknown) => {
              expect(String(e)).toContain("injected fault");
              return null;
            });
            if (r?.isDone) break;
          }
          expect(await normalizedState(t)).toEqual(expected);
        },
      ),
      { numRuns: 12 },
    );
  });

  it("an aborted batch keeps nothing it wrote", async () => {
    const { t } = await seeded(generateV1Dataset(SMALL));
    const before = await snapshotTables(t);
    let entries = 0;
    const beforeEntry = () => {
      if (++entries === 3) throw new Error("injected fault");
    };
    await expect(migrateWithFaults(t, { batchSize: 5 }, { beforeEntry })).rejects.toThrow("injected fault");
    expect(await snapshotTables(t)).toEqual(before);
  });

  it("writes nothing when run again after it finished, or in a dry run", async () => {
    const { t } = await seeded(generateV1Dataset(SMALL));
    const seededState = await snapshotTables(t);
    const dry = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 10, dryRun: true });
    expect(await snapshotTables(t)).toEqual(seededState);
    const real = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 10 });
    // The dry run reported what the real call then did.
    for (const k of ["examsMigrated", "participantsMigrated", "answersMigrated", "eventsWritten", "examsRemaining", "isDone"] as const) {
      expect(dry[k]).toEqual(real[k]);
    }
    await migrateToEnd(t);
    const done = await snapshotTables(t);
    // A finished pass starts over (to roll forward what old code changed since): it walks the exams again, writing nothing.
    for (const args of [{}, { batchSize: 10 }, { batchSize: 1, dryRun: true }]) {
      for (let call = 0, again; call === 0 || again!.isDone !== true; call++) {
        again = await t.mutation(internal.migrations.migrateExamParticipants, args);
        expect(again).toMatchObject({ participantsMigrated: 0, eventsWritten: 0, rolledForward: 0 });
        expect(call).toBeLessThan(10);
      }
    }
    // Re-running one exam from the start (the troubleshooting step) writes nothing either.
    const exam = (done.exams as Doc<"exams">[])[0]!;
    const rerun = await t.mutation(internal.migrations.migrateExamParticipants, { examId: exam._id });
    expect(rerun).toMatchObject({ participantsMigrated: 0, alreadyMigrated: exam.participants!.length });
    // Only the pass's own bookkeeping (batches and exams walked) moved.
    const { migrationProgress: _after, ...rest } = await snapshotTables(t);
    const { migrationProgress: _before, ...doneRest } = done;
    expect(rest).toEqual(doneRest);
  });

  it("migrates dirty data losslessly and reports each kind by exam and user", async () => {
    const dataset = generateV1Dataset({ exams: 4, participants: 24, answers: 160, dirty: true });
    const { t, ids } = await seeded(dataset);
    const backup = await t.query(internal.migrations.exportV1ParticipantData, {});
    expect(backup.isDone).toBe(true);
    const reports = await migrateToEnd(t);
    const found = reports.flatMap((r) => r.findings);
    const verified = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect(verified.issues).toEqual([]);
    expect(verified.isValid).toBe(true);
    expect(dataset.dirt.length).toBeGreaterThanOrEqual(5);
    for (const dirt of dataset.dirt) {
      const where = { kind: dirt.kind, examId: ids.exams.get(dirt.examKey), userId: ids.users.get(dirt.userKey) };
      expect(found).toContainEqual(expect.objectContaining(where));
      expect(verified.findings).toContainEqual(expect.objectContaining(where));
    }
    await expectLogHoldsEveryV1Entry(t, backup.exams, ids);

    // Cleanup: every exam verifies (dirt is not a difference), so all are cleared; the log still holds everything.
    const cleanup = await t.mutation(internal.migrations.migrateExamParticipants, { clearAfterMigration: true, batchSize: 10 });
    expect(cleanup.examsNotCleared).toEqual([]);
    expect(cleanup.examsCleared).toHaveLength(4);
    const status = await t.action(internal.migrations.checkMigrationStatus, {});
    expect(status.v1.totalParticipants).toBe(0);
    expect(status.clearedExams).toBe(4);
    await expectLogHoldsEveryV1Entry(t, backup.exams, ids);
  });

  it("cleanup leaves an exam whose V2 copy does not verify, and names it with the reason", async () => {
    const { t } = await seeded(generateV1Dataset(SMALL));
    await migrateToEnd(t);
    const victim = await t.run(async (ctx) => {
      const row = (await ctx.db.query("examParticipations").first())!;
      await ctx.db.patch("examParticipations", row._id, { score: row.score + 1 });
      return row;
    });
    const r = await t.mutation(internal.migrations.migrateExamParticipants, { clearAfterMigration: true, batchSize: 10 });
    expect(r.examsNotCleared).toEqual([{ examId: victim.examId, reason: expect.stringContaining("score") }]);
    expect(r.examsCleared).toHaveLength(2);
    const exam = await t.run(async (ctx) => ctx.db.get("exams", victim.examId));
    expect(exam!.participants!.length).toBeGreaterThan(0);
  });

  it("runs to the end in the background, watched with checkMigrationStatus", async () => {
    const { t } = await seeded(generateV1Dataset(SMALL));
    await t.mutation(internal.migrations.startMigration, { batchSize: 1 });
    await t.finishAllScheduledFunctions(() => {});
    const status = await t.action(internal.migrations.checkMigrationStatus, {});
    expect(status.migrationComplete).toBe(true);
    expect(status.v2).toEqual({ participations: 14, answers: 70 });
    expect(status.progress.migrate).toMatchObject({ background: { running: false, stoppedReason: "done" }, totals: { exams: 3 } });
    const verified = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect(verified.isValid).toBe(true);
  });
});

/** Every V1 entry of the backup is in the log, unchanged, as the import event of its array position. */
async function expectLogHoldsEveryV1Entry(
  t: TestConvex,
  exams: { examId: string; participants: Doc<"exams">["participants"] }[],
  _ids: DatasetIds,
) {
  const events = await t.run(async (ctx) => ctx.db.query("examEvents").collect());
  for (const exam of exams) {
    exam.participants!.forEach((participant, sourceIndex) => {
      const event = events.find((e) => e.examId === exam.examId && e.data.sourceIndex === sourceIndex);
      expect(event, `${exam.examId} position ${sourceIndex}`).toBeDefined();
      expect(event!.data.participant).toEqual(participant);
      expect(event!.origin).toBe("legacy_import");
    });
  }
}
