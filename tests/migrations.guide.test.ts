/**
 * The migration guide's steps 2–5 on its own dataset (15 exams, 234 participants,
 * 46,800 answers): exactly the guide's expected outputs. One run (~10–20 s).
 */
import { describe, expect, it } from "vitest";
import { internal } from "../convex/_generated/api";
import { GUIDE_DATASET, generateV1Dataset, insertDataset } from "../src/dataset/generate";
import { newConvexTest } from "./support/convex";

describe("migration guide, steps 2–5", () => {
  it("gives the guide's expected outputs on the guide's dataset", async () => {
    const t = newConvexTest();
    await insertDataset(t, generateV1Dataset({ ...GUIDE_DATASET, dirty: false }));

    const before = await t.action(internal.migrations.checkMigrationStatus, {});
    expect({ v1: before.v1, v2: before.v2, migrationComplete: before.migrationComplete }).toEqual({
      v1: { examsWithParticipants: 15, totalParticipants: 234, totalAnswers: 46800 },
      v2: { participations: 0, answers: 0 },
      migrationComplete: false,
    });

    const backup = await t.query(internal.migrations.exportV1ParticipantData, {});
    expect(backup.isDone).toBe(true);
    expect(backup.exams).toHaveLength(15);
    expect(backup.exams.reduce((n, e) => n + e.participants.length, 0)).toBe(234);

    const first = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 1 });
    expect(first.examsMigrated).toBe(1);
    expect(first.isDone).toBe(false);
    const reports = [first];
    for (const batchSize of [5, 10, 10, 10, 10, 10, 10]) {
      const report = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize });
      reports.push(report);
      if (report.isDone) break;
    }
    const last = reports[reports.length - 1]!;
    expect(last.isDone).toBe(true);
    expect(last.examsRemaining).toBe(0);
    expect(reports.reduce((n, r) => n + r.examsMigrated, 0)).toBe(15);
    expect(reports.reduce((n, r) => n + r.participantsMigrated, 0)).toBe(234);
    expect(reports.reduce((n, r) => n + r.answersMigrated, 0)).toBe(46800);
    expect(reports.every((r) => r.findingsTotal === 0)).toBe(true);

    const verified = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    expect({ isValid: verified.isValid, issues: verified.issues, summary: verified.summary }).toEqual({
      isValid: true,
      issues: [],
      summary: {
        v1Participants: 234,
        v2Participants: 234,
        v1Answers: 46800,
        v2Answers: 46800,
        missingParticipations: 0,
        missingAnswers: 0,
      },
    });

    const after = await t.action(internal.migrations.checkMigrationStatus, {});
    expect({ v1: after.v1, v2: after.v2, migrationComplete: after.migrationComplete }).toEqual({
      v1: { examsWithParticipants: 15, totalParticipants: 234, totalAnswers: 46800 },
      v2: { participations: 234, answers: 46800 },
      migrationComplete: true,
    });
  });
});
