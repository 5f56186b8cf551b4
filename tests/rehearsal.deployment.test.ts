// @vitest-environment node
/**
 * The one-deployment run of `npm start`: students act between the migration's calls (V1), in the monitoring
 * period and between the cleanup's calls (V2); rollback option 2 (old code's edits rolled forward) and option 1
 * (the backup replaces every table) are rehearsed. Given a small dirty dataset, when the run is made, then every
 * check passes; when a fault is injected into a phase, then that phase's check fails and the rehearsal exits 1.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { main } from "../src/cli/main";
import type { Report } from "../src/rehearsal/report";
import type { DeploymentRun } from "../src/rehearsal/deployment";
import { compareTables, rehearseDeployment } from "../src/rehearsal/deployment";
import { createEmbeddedConvex } from "../src/runtime/embedded";
import { generateV1Dataset, insertDataset } from "../src/dataset/generate";
import { internal } from "../convex/_generated/api";

const root = mkdtempSync(join(tmpdir(), "deployment-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `npm start` on 4 exams of 12 students, each answering 20 questions, an exam a call (students act between calls); the report's one-deployment run. */
async function rehearse(name: string, ...flags: string[]): Promise<{ code: number; out: string; run: DeploymentRun }> {
  const dir = join(root, name);
  let out = "";
  const code = await main(
    [
      "node",
      "exam-migrate",
      "-q",
      ...["--exams", "4", "--participants", "48", "--answers", "960", "--workers", "1", "--batch-size", "1"],
      ...["--out-dir", dir, "--json", `${dir}.json`],
      ...flags,
    ],
    { stdout: (s) => void (out += s), stderr: (s) => void (out += s) },
  );
  const report = JSON.parse(readFileSync(`${dir}.json`, "utf8")) as Report;
  expect("checks" in report.plan.measured, out).toBe(true);
  return { code, out, run: report.plan.measured as DeploymentRun };
}

const failed = (run: DeploymentRun) => run.checks.filter((c) => !c.ok).map((c) => `${c.step}: ${c.name}`);

describe("the one-deployment run", () => {
  test("students act in every phase, both rollbacks are rehearsed, and every check passes", async () => {
    const { code, out, run } = await rehearse("clean");
    expect(code, out).toBe(0);
    expect(failed(run)).toEqual([]);
    expect(run.live.map((l) => [l.phase, l.functions])).toEqual([
      ["migrate", "V1"],
      ["monitor", "V2"],
      ["cleanup", "V2"],
    ]);
    // Something was written in each phase, not only refused.
    for (const l of run.live)
      expect(
        Object.values(l.done).reduce((n, k) => n + k, 0),
        l.phase,
      ).toBeGreaterThan(0);
    const names = run.checks.map((c) => `${c.step}: ${c.name}`);
    for (const step of ["4. migrate", "7. monitor", "rollback 2", "8. cleanup"]) {
      expect(names).toContain(`${step}: verifyMigrationIntegrity`);
      expect(names).toContain(`${step}: V1 = V2`);
      if (step !== "rollback 2") expect(names).toContain(`${step}: students' actions stand`);
    }
    // Students acted in each phase, so the checks compared something.
    for (const step of ["4. migrate", "7. monitor", "8. cleanup"]) {
      expect(run.checks.find((c) => c.step === step && c.name === "V1 = V2")!.note).toMatch(/^[\d,]+ read pair\(s\) equal$/);
      expect(run.checks.find((c) => c.step === step && c.name === "students' actions stand")!.note).toMatch(/^[\d,]+ attempt\(s\)/);
    }
    expect(run.checks.find((c) => c.name === "every table after the jobs scheduled before the restore")!.note).toMatch(
      /^unchanged after \d+ job\(s\) scheduled before the restore ran$/,
    );
    expect(names).toEqual(
      expect.arrayContaining([
        "rollback 2: drainLegacyMirror",
        "rollback 2: roll forward",
        "8. cleanup: verifyProjections",
        "rollback 1: every table equals the backup",
        "rollback 1: every table after the jobs scheduled before the restore",
        "rollback 1: V1 reads as a deployment that never migrated",
      ]),
    );
    expect(run.checks.find((c) => c.name === "old code's edits")!.note).toMatch(/started, .* submitted/);
    expect(out).toContain("One deployment: students live, rollback");
  }, 120_000);

  test.each([
    ["live-drop-answer", "7. monitor"],
    ["skip-roll-forward", "rollback 2"],
    ["restore-replace", "rollback 1"],
  ])(
    "--fault %s is caught after %s",
    async (fault, step) => {
      const { code, out, run } = await rehearse(fault, "--fault", fault);
      expect(code, out).toBe(1);
      expect(failed(run).length, out).toBeGreaterThan(0);
      // The first check to fail is the one after the faulty step (a lost answer stays lost in the checks after it).
      expect(failed(run)[0], failed(run).join("\n")).toMatch(new RegExp(`^${step}: `));
      expect(out).toContain(`one deployment, ${step}:`);
      if (fault === "restore-replace") expect(run.checks.find((c) => !c.ok)!.note).toMatch(/examEvents: \d+ not in the backup/);
      // Without the roll forward, what the old code wrote is found missing by the checks themselves.
      if (fault === "skip-roll-forward") expect(failed(run)).toContain("rollback 2: V1 = V2");
    },
    120_000,
  );
});

describe("the one-deployment run on edge inputs", () => {
  const oneExam = () => generateV1Dataset({ exams: 1, participants: 12, answers: 240, seed: 42, dirty: true });

  test("every student has an attempt on the only exam: the old code's start is a newcomer, and a skipped roll forward is still caught", async () => {
    const clean = await rehearseDeployment(oneExam(), { batchSize: 1, liveRate: 3, cleanup: true });
    expect(failed(clean)).toEqual([]);
    expect(clean.checks.find((c) => c.name === "old code's edits")!.note).toMatch(/old-code-student started/);
    const faulty = await rehearseDeployment(oneExam(), { batchSize: 1, liveRate: 3, cleanup: true, fault: "skip-roll-forward" });
    expect(failed(faulty)).toEqual(expect.arrayContaining(["rollback 2: roll forward", "rollback 2: V1 = V2"]));
  }, 60_000);

  test("--fault live-drop-answer with no student acting fails, saying it was not planted", async () => {
    const run = await rehearseDeployment(oneExam(), { batchSize: 1, liveRate: 0, cleanup: true, fault: "live-drop-answer" });
    expect(failed(run)).toEqual(["7. monitor: --fault live-drop-answer"]);
  }, 60_000);
});

describe("export and import --replace-all in the embedded runtime", () => {
  const small = () => generateV1Dataset({ exams: 2, participants: 6, answers: 30, seed: 3 });

  test("the import replaces every app table with the backup's documents, ids and creation times kept", async () => {
    const t = createEmbeddedConvex();
    await insertDataset(t, small());
    const backup = t.exportTables();
    await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    expect(compareTables(t.exportTables(), backup)).not.toEqual([]);
    t.importReplaceAll(Object.fromEntries(Object.entries(backup).filter(([, docs]) => docs.length > 0)));
    expect(compareTables(t.exportTables(), backup)).toEqual([]);
    // The restored deployment works: the migration runs again from the start.
    const again = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5 });
    expect(again.participantsMigrated).toBe(6);
  });

  test.each([
    [
      "a table the schema lacks",
      (b: ReturnType<typeof createEmbeddedConvex>["exportTables"] extends () => infer R ? R : never) => ({ ...b, nope: [] }),
    ],
    ["a document under another table's id", (b: Record<string, never[]>) => ({ ...b, users: [...b.users!, b.exams![0]!] })],
    ["a document the schema rejects", (b: Record<string, never[]>) => ({ ...b, users: [{ ...(b.users![0]! as object), role: "owner" }] })],
  ])("a backup with %s is refused and changes nothing", async (_, spoil) => {
    const t = createEmbeddedConvex();
    await insertDataset(t, small());
    const before = t.exportTables();
    expect(() => t.importReplaceAll(spoil(before as never) as never)).toThrow();
    expect(compareTables(t.exportTables(), before)).toEqual([]);
  });
});
