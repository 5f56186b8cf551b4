// @vitest-environment node
/**
 * `npm start -- --snapshot` on what production exports really look like: an
 * export in Convex's own layout and encoding with dirt (NaN score, exams
 * without participants, deleted questions still listed), as a ZIP inside a
 * top-level folder and as a folder; and snapshots of a deployment already
 * partly migrated, fully migrated, and one whose arrays old code edited after
 * their streams existed (rollback option 2). Each is rehearsed from where it
 * stands. The runs are child processes through the real entry point.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import type { V1Participant } from "../convex/lib/validators";
import { generateV1Dataset, insertDataset } from "../src/dataset/generate";
import type { Report } from "../src/rehearsal/report";
import { deploymentExport } from "../src/snapshot/dump";
import { datasetTables, realId, writeExportFolder, writeExportZip, type ExportSpec } from "../src/snapshot/write";
import { newConvexTest, type TestConvex } from "./support/convex";

const root = mkdtempSync(join(tmpdir(), "rehearsal-production-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const repo = join(import.meta.dirname, "..");

function rehearse(snapshot: string, name: string) {
  const json = join(root, `${name}.json`);
  const args = [
    "--import",
    "tsx",
    join(repo, "src/cli/main.ts"),
    "--snapshot",
    snapshot,
    "--workers",
    "1",
    "--out-dir",
    join(root, name),
    "--json",
    json,
  ];
  return new Promise<{ code: number; stdout: string; stderr: string; report: () => Report }>((resolve) => {
    execFile(process.execPath, args, { cwd: repo, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      resolve({
        code: error ? ((error as { code?: number }).code ?? 1) : 0,
        stdout,
        stderr,
        report: () => JSON.parse(readFileSync(json, "utf8")) as Report,
      });
    });
  });
}

const items = (r: Report) => r.findings.byExam.flatMap((e) => e.items);

/** A generated dataset exported under real ids, plus the dirt production holds that the generator does not make. */
function dirtyExport(): { spec: ExportSpec; nanUser: string; emptyExam: string; deletedListed: string } {
  const exported = datasetTables(generateV1Dataset({ exams: 2, participants: 6, answers: 24, seed: 3, dirty: true }));
  const exams = exported.tables.exams as { _id: string; _creationTime: number; questionIds: string[]; participants: V1Participant[] }[];
  const nan = exams[0]!.participants.find((p) => p.completedAt !== undefined)!;
  nan.score = NaN; // exported as {"$float": "AAAAAAAA+H8="}
  const deletedListed = realId(10002, "a-deleted-question");
  exams[1]!.questionIds.push(deletedListed);
  const emptyExam = realId(10003, "no-participants");
  exams.push({
    _id: emptyExam,
    _creationTime: exams[1]!._creationTime + 0.5,
    title: "Nobody came",
    questionIds: [deletedListed],
    participants: [],
  } as never);
  exams.push({
    _id: realId(10003, "no-array"),
    _creationTime: exams[1]!._creationTime + 0.75,
    title: "No array",
    questionIds: [],
    durationMs: 60_000.0,
    maxPauses: 0,
  } as never);
  (exams[2] as unknown as Record<string, unknown>).durationMs = 600_000;
  (exams[2] as unknown as Record<string, unknown>).maxPauses = 1;
  return {
    spec: {
      tables: { ...exported.tables, pageViews: [{ _id: realId(10004, "pv"), _creationTime: 1_767_225_600_000.25, path: "/", hits: 12n }] },
      tableNumbers: { ...exported.tableNumbers, pageViews: 10004 },
      storage: [
        {
          _id: realId(10005, "logo"),
          _creationTime: 1_767_225_600_001.5,
          size: 4,
          contentType: "image/png",
          content: Buffer.from([137, 80, 78, 71]),
        },
      ],
      topLevelFolder: "snapshot_1767225600",
    },
    nanUser: nan.userId,
    emptyExam,
    deletedListed,
  };
}

/** A deployment in an embedded Convex: the dataset loaded, then `prepare` run (part of the migration, all of it, …). */
async function deployment(prepare: (t: TestConvex) => Promise<void>): Promise<ExportSpec> {
  const t = newConvexTest();
  await insertDataset(t, generateV1Dataset({ exams: 3, participants: 12, answers: 48, seed: 5 }));
  await prepare(t);
  return deploymentExport(t);
}

const migrateCall = (t: TestConvex, args: object = {}) =>
  t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 1, ...args });

type Run = Awaited<ReturnType<typeof rehearse>>;

/** The five exports, written once and rehearsed concurrently (child processes); each test awaits its own run. */
async function prepareRuns() {
  const { spec, nanUser, emptyExam, deletedListed } = dirtyExport();
  const zip = join(root, "dirty.zip");
  const folder = join(root, "dirty");
  await writeExportZip(zip, spec);
  await writeExportFolder(folder, spec);

  // Partly migrated, and an admin edited an exam: its recorded change names the admin, whom none of the exam's V1 entries refers to.
  let editedExam = "";
  const partly = await deployment(async (t) => {
    await migrateCall(t);
    editedExam = await t.run(async (ctx) => (await ctx.db.query("exams").first())!._id);
    await t.withIdentity({ tokenIdentifier: "rehearsal|admin" }).mutation(api.examAdmin.updateExam, {
      examId: editedExam as Id<"exams">,
      title: "Renamed by an admin",
    });
  });
  const complete = await deployment(async (t) => {
    for (let done = false; !done;) done = (await migrateCall(t, { batchSize: 5 })).isDone;
  });
  // Rolled back to the old code after a full migration: it submits one attempt and pauses another in the arrays.
  let editedUser = "";
  const rolledBack = await deployment(async (t) => {
    for (let done = false; !done;) done = (await migrateCall(t, { batchSize: 5 })).isDone;
    editedUser = await t.run(async (ctx) => {
      const exams = await ctx.db.query("exams").collect();
      const exam = exams.find((e) => e.participants!.some((p) => p.completedAt === undefined))!;
      const participants = exam.participants!.map((p) => ({ ...p }));
      const open = participants.findIndex((p) => p.completedAt === undefined);
      participants[open] = {
        ...participants[open]!,
        isPaused: true,
        pausedAt: participants[open]!.startedAt + 1_000,
        pauseCount: participants[open]!.pauseCount + 1,
      };
      const done = participants.findIndex((p) => p.completedAt !== undefined);
      participants[done] = { ...participants[done]!, completedAt: participants[done]!.completedAt! + 5_000 };
      await ctx.db.patch("exams", exam._id, { participants });
      return participants[open]!.userId;
    });
  });
  await writeExportZip(join(root, "partly.zip"), partly);
  await writeExportZip(join(root, "complete.zip"), complete);
  await writeExportZip(join(root, "rolled-back.zip"), rolledBack);
  return {
    dirt: { nanUser, emptyExam, deletedListed },
    rolledBackUser: (rolledBack as ExportSpec & { idOf: Map<string, string> }).idOf.get(editedUser)!,
    editedExam: (partly as ExportSpec & { idOf: Map<string, string> }).idOf.get(editedExam)!,
    runs: {
      zip: rehearse(zip, "zip"),
      folder: rehearse(folder, "folder"),
      partly: rehearse(join(root, "partly.zip"), "partly"),
      complete: rehearse(join(root, "complete.zip"), "complete"),
      rolledBack: rehearse(join(root, "rolled-back.zip"), "rolled-back"),
    } satisfies Record<string, Promise<Run>>,
  };
}

describe("rehearsing production's real exports (npm start -- --snapshot)", () => {
  let prepared: Awaited<ReturnType<typeof prepareRuns>>;
  beforeAll(async () => {
    prepared = await prepareRuns();
  });
  const passed = (run: Run) => {
    expect(run.code, run.stdout + run.stderr).toBe(0);
    return run.report();
  };

  test.each(["zip", "folder"] as const)(
    "a dirty export in Convex's layout (%s; the ZIP inside a top-level folder) passes and every piece of dirt is reported",
    async (kind) => {
      const { nanUser, emptyExam, deletedListed } = prepared.dirt;
      const report = passed(await prepared.runs[kind]);
      expect(report.passed).toBe(true);
      expect(report.input).toMatchObject({ source: "snapshot", exams: 4, ignoredTables: ["pageViews"], storage: { files: 1, bytes: 4 } });
      expect(report.phases.every((p) => p.failed === 0)).toBe(true);
      expect(report.status.after?.migrationComplete).toBe(true);
      const found = items(report);
      expect(found).toContainEqual(expect.objectContaining({ kind: "non_finite_number", userKey: nanUser }));
      expect(found).toContainEqual(
        expect.objectContaining({ kind: "unknown_exam_question", message: expect.stringContaining(deletedListed) }),
      );
      expect(found).toContainEqual(expect.objectContaining({ kind: "exam_without_participants", examKey: emptyExam }));
      expect(found).toContainEqual(expect.objectContaining({ kind: "exam_without_questions" }));
      // The generator's own dirt, under the export's real ids.
      for (const k of ["duplicate_participant", "unknown_question", "score_mismatch"]) expect(found.map((f) => f.kind)).toContain(k);
      // Exams without participants are rehearsed, not skipped.
      const empty = report.exams.find((e) => e.examKey === emptyExam)!;
      expect(empty.failures).toBe(0);
      expect(empty.phases.smoke).toContain("no participants");
    },
  );

  test("a partly migrated deployment is loaded as it stands, verified, and the rest is migrated", async () => {
    const report = passed(await prepared.runs.partly);
    expect(report.status.before).toMatchObject({ migrationComplete: false });
    expect(report.status.before!.v2.participations).toBeGreaterThan(0);
    expect(report.status.before!.v2.participations).toBeLessThan(report.status.before!.v1.totalParticipants);
    expect(report.migration.participants).toBe(12 - report.status.before!.v2.participations);
    expect(report.exams.some((e) => /production state loaded.*views match the log as exported/.test(e.phases.load ?? ""))).toBe(true);
    // Every table of this backend is loaded (none is reported as not rehearsed), the admin's edit with its admin.
    expect(report.input.ignoredTables).toEqual([]);
    const edited = report.exams.find((e) => e.examKey === prepared.editedExam)!;
    for (const table of ["examHeaders", "examQuestionLists", "examChanges", "examCountSummaries"])
      expect(edited.phases.load).toMatch(new RegExp(`production state loaded: .*\\b\\d+ ${table}\\b`));
    expect(edited.phases.load).not.toContain("deleted in production"); // the admin is in the snapshot: loaded, not a dangling id
    expect(edited.failures).toBe(0);
    expect(report.status.after?.migrationComplete).toBe(true);
  });

  test("after a complete migration there is nothing left to migrate: the rehearsal is of the cleanup", async () => {
    const report = passed(await prepared.runs.complete);
    expect(report.status.before).toMatchObject({ migrationComplete: true });
    expect(report.migration.participants).toBe(0);
    expect(report.migration.examsCleared).toBe(3);
    expect(report.status.after).toMatchObject({ migrationComplete: true, v1: { totalParticipants: 0 } });
  });

  test("arrays old code edited after their streams existed are rolled forward, and V1 ≡ V2 verifies", async () => {
    const report = passed(await prepared.runs.rolledBack);
    const changed = items(report).filter((f) => f.kind === "changed_after_import");
    expect(changed).toHaveLength(2);
    expect(changed.map((f) => f.userKey)).toContain(prepared.rolledBackUser);
    expect(report.exams.every((e) => e.phases.verify?.startsWith("ok: valid"))).toBe(true);
    expect(report.status.after?.migrationComplete).toBe(true);
  });
});
