// @vitest-environment node
/**
 * A snapshot of a migrated deployment: its V2 tables load as they are, its hash
 * chain is checked as exported (over the production ids), and an event edited
 * in the export is caught before anything is rehearsed. Every table of the
 * schema is loaded (only other features' tables are ignored): copies stale or
 * current as production holds them, result copies used, the audit of edits
 * with its admin, and the mirror's watermark moved onto the instance's clock.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import schema from "../convex/schema";
import { domainError } from "../convex/lib/errors";
import { getExamHeader } from "../convex/lib/examHeaders";
import { arrayIsCurrent, type MirrorLag } from "../convex/projections/mirrorJob";
import { generateV1Dataset, insertDataset, type DatasetIds, type V1Dataset } from "../src/dataset/generate";
import { subsetForExam } from "../src/rehearsal/exam";
import { IdTranslator } from "../src/rehearsal/ids";
import { deploymentExport } from "../src/snapshot/dump";
import {
  loadSnapshot,
  NOT_LOADED,
  V1_TABLES,
  V2_TABLES,
  type LoadedSnapshot,
  type ProductionState,
  type V2Table,
} from "../src/snapshot/load";
import { checkExportedChain, insertProduction, productionForExam, referencedDocuments } from "../src/snapshot/production";
import { realId, writeExportZip } from "../src/snapshot/write";
import { newConvexTest, runScheduled, seedUser, useFakeClock, type TestConvex } from "./support/convex";
import { migrateWithFaults } from "./support/migration";

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
    expect(documents).toMatchObject({ examEvents: 4, examParticipations: 4, examAnswers: 12, examHeaders: 2, migrationProgress: 1 });
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
    const exam = snapshot.dataset.exams[0]!;
    const examKey = exam.key;

    const load = async (edit: (p: NonNullable<typeof snapshot.production>) => void = () => {}) => {
      const production = productionForExam(structuredClone(snapshot.production!), exam);
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

// ---------------------------------------------------------------- every table of this backend

const PRODUCTION_TIME = Date.UTC(2026, 1, 2, 9, 0, 0);
/** The rehearsal runs later, on its own clock: the embedded documents' creation times are not production's. */
const REHEARSAL_TIME = PRODUCTION_TIME + 86_400_000;

type Exported = { snapshot: LoadedSnapshot; toSnapshot: IdTranslator; mirror: MirrorLag };

/**
 * A deployment holding a document in every table of the schema, exported twice: with the mirror current
 * (drained), then with it behind (a V2 student started after the drain). Exam A has a quarantined entry,
 * admin edits of itself and of one of its questions, a question added and removed again (in its list's
 * former ids only), V2 students, result copies refreshed after the edit; exam B has an edit of its own question.
 */
async function productionDeployment() {
  vi.setSystemTime(PRODUCTION_TIME);
  const t = newConvexTest();
  const dataset = generateV1Dataset({ exams: 2, participants: 6, answers: 18, seed: 11 });
  const ids = await insertDataset(t, dataset);
  const [a, b] = dataset.exams.map((e) => ({
    key: e.key,
    examId: ids.exams.get(e.key)!,
    questionIds: e.questionKeys.map((k) => ids.questions.get(k)!),
  }));
  const report = await migrateWithFaults(
    t,
    { batchSize: 100 },
    {
      importEntry: (examId, sourceIndex) => {
        if (examId === a!.examId && sourceIndex === 0) throw domainError("INVALID_EVENT", "injected: cannot import");
      },
    },
  );
  expect(report.quarantined).toBe(1);
  await t.mutation(internal.legacyMirror.setGlobalLegacyMirror, { enabled: true });
  const admin = t.withIdentity({ tokenIdentifier: "rehearsal|admin" });
  await admin.mutation(api.examAdmin.updateQuestion, { questionId: a!.questionIds[0]!, text: "What is 2+2, really?" });
  // A change too large for one record (a 300 KB text: before and after): continued in documents of its own.
  await admin.mutation(api.examAdmin.updateQuestion, { questionId: a!.questionIds[1]!, text: "x".repeat(300_000) });
  await admin.mutation(api.examAdmin.updateExam, { examId: a!.examId, title: "Arithmetic (revised)" });
  const extra = await admin.mutation(api.examAdmin.createQuestion, { text: "Spare", options: ["x", "y"], correctAnswer: "x" });
  await admin.mutation(api.examAdmin.updateExam, { examId: a!.examId, questionIds: [...a!.questionIds, extra] });
  await admin.mutation(api.examAdmin.updateExam, { examId: a!.examId, questionIds: a!.questionIds });
  await admin.mutation(api.examAdmin.updateQuestion, { questionId: b!.questionIds[0]!, text: "B's question, edited" });
  const v2Student = await seedUser(t, "v2-student");
  await v2Student.as.mutation(api.exams.startExamV2, { examId: a!.examId });
  vi.setSystemTime(Date.now() + 60_000);
  await v2Student.as.mutation(api.exams.submitExamAnswersV2, {
    examId: a!.examId,
    answers: a!.questionIds.map((questionId) => ({ questionId, selectedAnswer: "A" })),
  });
  await runScheduled(t); // the result refresh the edit scheduled, the mirror's runs
  await t.action(internal.legacyMirror.drainLegacyMirror, {});
  const exported = async (name: string): Promise<Exported> => {
    const spec = await deploymentExport(t);
    const path = join(root, `${name}.zip`);
    await writeExportZip(path, {
      ...spec,
      tables: { ...spec.tables, pageViews: [{ _id: realId(10099, "pv"), _creationTime: PRODUCTION_TIME, path: "/" }] },
      tableNumbers: { ...spec.tableNumbers, pageViews: 10099 },
    });
    const status = await t.query(internal.legacyMirror.legacyMirrorStatus, {});
    const sourceIds = (m: Map<string, string>) => new Map([...m].map(([source, real]) => [real, source]));
    return {
      snapshot: await loadSnapshot(path),
      toSnapshot: new IdTranslator({ users: sourceIds(spec.idOf), questions: new Map(), exams: new Map() } as unknown as DatasetIds),
      mirror: status.exams.find((e) => e.examId === a!.examId)!.lag,
    };
  };
  const current = await exported("current");
  const late = await seedUser(t, "late-student");
  vi.setSystemTime(Date.now() + 60_000);
  await late.as.mutation(api.exams.startExamV2, { examId: a!.examId });
  await late.as.mutation(api.exams.startPause, { examId: a!.examId });
  const behind = await exported("behind");
  return { t, a: a!, b: b!, extra, current, behind };
}
let deployment: ReturnType<typeof productionDeployment> | undefined;
/** Built once, by the first test that needs it (under that test's fake clock). */
const production = () => (deployment ??= productionDeployment());

/** One exam of an export into its own instance, as the rehearsal loads it (src/rehearsal/exam.ts), on the rehearsal's clock. */
async function loadExam(exported: Exported, sourceExamId: string, edit: (state: ProductionState, dataset: V1Dataset) => void = () => {}) {
  vi.setSystemTime(REHEARSAL_TIME);
  const { snapshot, toSnapshot } = exported;
  const exam = snapshot.dataset.exams.find((e) => e.key === toSnapshot.translate(sourceExamId))!;
  const state = productionForExam(structuredClone(snapshot.production!), exam);
  const dataset = subsetForExam(structuredClone(snapshot.dataset), exam.key, referencedDocuments(state));
  edit(state, dataset);
  const instance = newConvexTest();
  const ids = await insertDataset(instance, dataset, [exam.key], referencedDocuments(state));
  const loaded = await insertProduction(instance, state, ids);
  return { instance, loaded, state, ids, examId: ids.exams.get(exam.key)!, toSnapshot: new IdTranslator(ids) };
}

/** Participations whose result copy results may show (version and question facts current). */
/** Every change the exam's audit trail shows, all pages, without the instance's own ids of the change documents. */
async function trailChanges(t: TestConvex, examId: Id<"exams">, toSnapshot: IdTranslator) {
  const admin = t.withIdentity({ tokenIdentifier: "rehearsal|admin" });
  const changes: unknown[] = [];
  for (let cursor: string | null = null; ;) {
    const page: { examChanges: { changeId: string }[]; isDone: boolean; continueCursor: string } = await admin.query(
      api.audit.getExamAuditTrail,
      {
        examId,
        paginationOpts: { numItems: 2, cursor },
      },
    );
    changes.push(...page.examChanges.map(({ changeId: _, ...change }) => toSnapshot.translate(change)));
    if (page.isDone) return changes;
    cursor = page.continueCursor;
  }
}

describe("every table of this backend in a partly migrated deployment's export", () => {
  useFakeClock(PRODUCTION_TIME);

  test("is loaded, or left out on purpose with a stated reason: only other features' tables are ignored", async () => {
    for (const table of Object.keys(schema.tables)) {
      const loaded = (V1_TABLES as readonly string[]).includes(table) || (V2_TABLES as readonly string[]).includes(table);
      const reason = (NOT_LOADED as Partial<Record<string, string>>)[table];
      expect(loaded !== (reason !== undefined && reason.length > 0), `${table}: loaded, or excluded with a reason`).toBe(true);
    }
    const { current, a } = await production();
    const { snapshot } = current;
    expect(snapshot.ignoredTables).toEqual(["pageViews"]);
    // The fixture holds a document of every table of the schema (a new table: make it write one).
    for (const table of V2_TABLES) expect(snapshot.documents[table], table).toBeGreaterThan(0);

    const { instance, state, loaded } = await loadExam(current, a.examId);
    expect(loaded.failures).toEqual([]);
    const held = await instance.run(async (ctx) => {
      const out: Partial<Record<V2Table, number>> = {};
      for (const table of V2_TABLES) out[table] = (await ctx.db.query(table).collect()).length;
      return out;
    });
    for (const table of V2_TABLES) {
      expect(state.tables[table].length, `exam A's ${table}`).toBeGreaterThan(0);
      // Counter shards are re-bucketed by the embedded user ids: as many or fewer, never none.
      if (table === "examCounterShards") expect(held[table], table).toBeGreaterThan(0);
      else expect(held[table], table).toBe(state.tables[table].length);
      expect(loaded.notes[0]).toContain(`${state.tables[table].length} ${table}`);
    }
  });

  test("headers load as production holds them: current ones are current in the instance, stale ones stay stale", async () => {
    const { t, current, a } = await production();
    expect((await t.query(internal.examAdmin.verifyExamHeaders, {})).isValid).toBe(true);
    const { instance, examId, loaded, toSnapshot } = await loadExam(current, a.examId);
    expect(loaded.failures).toEqual([]);
    expect(await instance.query(internal.examAdmin.verifyExamHeaders, {})).toMatchObject({ isValid: true, stale: [] });
    // What a student is shown equals what production shows them.
    const student = t.withIdentity({ tokenIdentifier: "test|v2-student" });
    const shown = await student.query(api.exams.getParticipantExamResultsV2, { examId: a.examId });
    const rehearsed = await instance
      .withIdentity({ tokenIdentifier: "test|v2-student" })
      .query(api.exams.getParticipantExamResultsV2, { examId });
    expect(toSnapshot.translate(rehearsed)).toEqual(current.toSnapshot.translate(shown));

    const stale = await loadExam(current, a.examId, (state) => {
      state.tables.examHeaders[0]!.fields.title = "an older title";
    });
    const found = await stale.instance.query(internal.examAdmin.verifyExamHeaders, {});
    expect(found.stale.map((s) => s.field)).toEqual(["title"]);
  });

  test("the exam's audit of edits loads with its admin: the trail shows production's changes of the exam and its questions", async () => {
    const { t, current, a, extra } = await production();
    const { instance, examId, toSnapshot, ids } = await loadExam(current, a.examId);
    const production_ = await trailChanges(t, a.examId, current.toSnapshot);
    const rehearsed = await trailChanges(instance, examId, toSnapshot);
    expect(rehearsed).toHaveLength(production_.length);
    expect(rehearsed).toEqual(expect.arrayContaining(production_));
    // The question added and removed again is listed by nothing but the exam's question list (former ids) and the trail.
    const spare = current.toSnapshot.translate(extra);
    expect(production_).toContainEqual(expect.objectContaining({ questionId: spare, operation: "insert" }));
    expect(await instance.run((ctx) => ctx.db.get("questions", ids.questions.get(spare)!))).toMatchObject({ text: "Spare" });
    // B's question's edit is B's.
    expect(rehearsed.some((c) => JSON.stringify(c).includes("B's question, edited"))).toBe(false);

    // Deleted in production since: it gets the id of a deleted question, and the rest loads.
    const deleted = await loadExam(current, a.examId, (_state, dataset) => {
      dataset.questions = dataset.questions.filter((q) => q.key !== spare);
    });
    expect(deleted.loaded.failures).toEqual([]);
    expect(deleted.loaded.notes[0]).toContain("1 users or questions it refers to deleted in production");
    const list = await deleted.instance.run((ctx) => ctx.db.query("examQuestionLists").unique());
    expect(list!.formerQuestionIds).toEqual([deleted.ids.questions.get(spare)]);
    expect(await deleted.instance.run((ctx) => ctx.db.get("questions", list!.formerQuestionIds[0]!))).toBeNull();
  });

  test.each(["current", "behind"] as const)(
    "the mirror's watermark moves onto the instance's clock: an array %s in production is so in the rehearsal",
    async (which) => {
      const { a, ...exports } = await production();
      const exported = exports[which];
      expect(exported.mirror.current).toBe(which === "current");
      if (which === "behind") expect(exported.mirror.events).toBe(2);
      const { instance, examId } = await loadExam(exported, a.examId);
      const status = await instance.query(internal.legacyMirror.legacyMirrorStatus, {});
      const exam = status.exams.find((e) => e.examId === examId)!;
      expect(exam.arrayCurrent).toBe(which === "current");
      expect(exam.lag).toMatchObject({ current: exported.mirror.current, events: exported.mirror.events, importsToPass: 0 });
      // V1 serves the exam from its array exactly when production's would.
      expect(await instance.run(async (ctx) => arrayIsCurrent(ctx, await getExamHeader(ctx, examId)))).toBe(which === "current");
    },
  );
});
