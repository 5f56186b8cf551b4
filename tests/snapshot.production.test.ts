// @vitest-environment node
/**
 * A snapshot of a migrated deployment: its V2 tables load as they are, its hash
 * chain is checked as exported (over the production ids), and an event edited
 * in the export is caught before anything is rehearsed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { internal } from "../convex/_generated/api";
import { generateV1Dataset, insertDataset } from "../src/dataset/generate";
import { deploymentExport } from "../src/snapshot/dump";
import { loadSnapshot } from "../src/snapshot/load";
import { checkExportedChain, insertProduction, productionForExam } from "../src/snapshot/production";
import { writeExportZip } from "../src/snapshot/write";
import { newConvexTest } from "./support/convex";

const root = mkdtempSync(join(tmpdir(), "snapshot-production-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the V2 tables of a migrated deployment's export", () => {
  test("load as they are, with a chain that verifies over the export's ids; an edited event is named", async () => {
    const t = newConvexTest();
    await insertDataset(t, generateV1Dataset({ exams: 2, participants: 4, answers: 12 }));
    await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    const spec = await deploymentExport(t);
    const path = join(root, "migrated.zip");
    await writeExportZip(path, spec);
    const { production, documents } = await loadSnapshot(path);
    expect(production).not.toBeNull();
    expect(documents).toMatchObject({ examEvents: 4, examParticipations: 4, examAnswers: 12, examDefinitions: 2, migrationProgress: 1 });
    expect(await checkExportedChain(production!.tables.examEvents)).toEqual([]);
    // Ids in the export are real Convex ids, the embedded ones are gone.
    expect(production!.tables.examEvents.every((e) => !/exams$/.test(String(e.fields.examId)))).toBe(true);

    const tampered = production!.tables.examEvents.map((e, i) =>
      i === 0 ? { ...e, fields: { ...e.fields, recordedAt: (e.fields.recordedAt as number) + 1 } } : e,
    );
    const problems = await checkExportedChain(tampered);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/version 1 \(line 1\): hash does not match the event's content/);
  });

  test("load into an exam's embedded instance: chain re-sealed, counters re-bucketed, views equal the log; a drifted counter is named", async () => {
    const t = newConvexTest();
    const dataset = generateV1Dataset({ exams: 1, participants: 5, answers: 15 });
    await insertDataset(t, dataset);
    await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    const path = join(root, "one.zip");
    await writeExportZip(path, await deploymentExport(t));
    const snapshot = await loadSnapshot(path);
    const examKey = snapshot.dataset.exams[0]!.key;

    const load = async (edit: (p: NonNullable<typeof snapshot.production>) => void = () => {}) => {
      const production = productionForExam(structuredClone(snapshot.production!), examKey);
      edit(production);
      const instance = newConvexTest();
      const ids = await insertDataset(instance, snapshot.dataset);
      const loaded = await insertProduction(instance, production, ids);
      return { instance, loaded, examId: ids.exams.get(examKey)! };
    };
    const { instance, loaded, examId } = await load();
    expect(loaded.failures).toEqual([]);
    expect((await instance.action(internal.projections.rebuild.verifyProjections, { examId })).isValid).toBe(true);
    const chain = await instance.query(internal.audit.verifyAuditChain, { examId, cursor: null });
    expect(chain.isValid).toBe(true);
    expect((await instance.action(internal.migrations.checkMigrationStatus, {})).migrationComplete).toBe(true);

    const drifted = await load((p) => void ((p.tables.examCounterShards[0]!.fields.participants as number) += 1));
    expect(drifted.loaded.failures).toEqual([
      expect.stringMatching(/^counters: shard \d+ of exam .* says .*"participants":\d+.* as exported, its rows give/),
    ]);
    const views = await drifted.instance.action(internal.projections.rebuild.verifyProjections, { examId: drifted.examId });
    expect(views.issues).toContainEqual(expect.objectContaining({ kind: "counter_mismatch" }));
  });
});
