// @vitest-environment node
/**
 * The CLI's exit codes: 0 for a passing rehearsal, 1 when a check fails, 2 for
 * a bad option or snapshot. The full runs are child processes (the real entry
 * point, through the bin launcher for one); argument errors run in-process.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { generateV1Dataset } from "../src/dataset/generate";
import { main } from "../src/cli/main";
import type { Report } from "../src/rehearsal/report";
import { datasetTables, writeExportFolder, writeExportZip } from "../src/snapshot/write";

const root = mkdtempSync(join(tmpdir(), "cli-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const TINY = ["--exams", "2", "--participants", "6", "--answers", "30"];
const repo = join(import.meta.dirname, "..");

function cli(args: string[], launcher = ["--import", "tsx", join(repo, "src/cli/main.ts")]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [...launcher, ...args], { cwd: repo, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function inProcess(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(["node", "exam-migrate", ...args], { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

describe("full rehearsals (child processes)", () => {
  test("a passing rehearsal exits 0, writes the backup and the JSON report; a failing check exits 1; a snapshot rehearses", async () => {
    const snapshot = join(root, "export");
    await writeExportFolder(snapshot, datasetTables(generateV1Dataset({ exams: 2, participants: 5, answers: 20, seed: 7, dirty: true })));
    const keyOf = new Map(
      [...datasetTables(generateV1Dataset({ exams: 2, participants: 5, answers: 20, seed: 7, dirty: true })).idOf].map(([k, v]) => [v, k]),
    );
    const [pass, fault, fromSnapshot] = await Promise.all([
      cli([...TINY, "-q", "--workers", "1", "--out-dir", join(root, "pass"), "--json", join(root, "pass.json")]),
      // Without -q and without a terminal: a progress line per exam and phase, as it happens.
      cli([...TINY, "--workers", "1", "--out-dir", join(root, "fault"), "--fault", "drop-answer", "--json", join(root, "fault.json")]),
      cli(["--snapshot", snapshot, "-q", "--workers", "2", "--out-dir", join(root, "snap"), "--json", join(root, "snap.json")]),
    ]);

    expect(pass.stderr).not.toContain("crashed");
    expect(pass.code, pass.stdout + pass.stderr).toBe(0);
    expect(pass.stdout).toContain("Migration rehearsal: PASSED");
    const report = JSON.parse(readFileSync(join(root, "pass.json"), "utf8")) as Report;
    expect(report).toMatchObject({ passed: true, exitCode: 0, input: { exams: 2, participants: 6, answers: 30 } });
    expect(report.status.before?.v1).toEqual({ examsWithParticipants: 2, totalParticipants: 6, totalAnswers: 30 });
    expect(report.status.after?.migrationComplete).toBe(true);
    expect(report.phases.every((p) => p.failed === 0)).toBe(true);
    expect(report.plantedDirt.planted).toBeGreaterThan(0);
    expect(report.plantedDirt.unreported).toEqual([]);
    expect(report.smoke.pairs).toBeGreaterThan(0);
    expect(report.smoke.different).toBe(0);
    // The report is the operator's plan: calls per guide step at the batch size, costs, time, riskiest exams, V1 = V2 line by line.
    expect(report.plan.steps.map((st) => st.step)).toEqual([
      "2. status",
      "3. backup",
      "4. migrate",
      "5. verify",
      "views",
      "audit",
      "8. cleanup",
    ]);
    expect(report.plan.steps.every((st) => st.calls >= 1 && st.productionMs > 0 && st.largestShare !== null)).toBe(true);
    expect(report.plan.riskiest.find((r) => r.by === "participants")!.exams[0]).toMatchObject({ value: 3 });
    expect(report.plan.reconciliation.reconciled).toBe(true);
    expect(pass.stdout).toMatch(/Operator's plan[\s\S]*4\. migrate[\s\S]*V1 participants 6 = /);
    const backup = JSON.parse(readFileSync(join(root, "pass", "v1_backup.json"), "utf8")) as {
      exams: { examId: string; participants: unknown[] }[];
    };
    // The backup names exams by the input's ids, not the embedded instances' (which repeat across instances).
    expect(backup.exams.map((e) => e.examId)).toEqual(["e0", "e1"]);
    expect(backup.exams.flatMap((e) => e.participants)).toHaveLength(6);

    expect(fault.code).toBe(1);
    expect(fault.stderr).toMatch(/exam 1\/2 \(e0\)\s+step 4 · migrate/);
    expect(fault.stderr).toMatch(/exam 2\/2 \(e1\)\s+final status/);
    expect(fault.stdout).toContain("Migration rehearsal: FAILED");
    const failed = JSON.parse(readFileSync(join(root, "fault.json"), "utf8")) as Report;
    expect(failed.findings.byExam[0]!.items.some((f) => f.severity === "failure" && f.phase === "verify")).toBe(true);

    expect(fromSnapshot.stderr).not.toContain("crashed");
    expect(fromSnapshot.code, fromSnapshot.stdout + fromSnapshot.stderr).toBe(0);
    const snap = JSON.parse(readFileSync(join(root, "snap.json"), "utf8")) as Report;
    expect(snap.input).toMatchObject({ source: "snapshot", exams: 2, participants: 5, answers: 20 });
    // Dirty data found in a snapshot is reported under the snapshot's own ids.
    expect(snap.findings.byExam.flatMap((e) => e.items).every((f) => ["e0", "e1"].includes(keyOf.get(f.examKey) ?? f.examKey))).toBe(true);
  });

  test("the bin launcher passes arguments and the exit code through", async () => {
    const help = await cli(["--help"], [join(repo, "bin/exam-migrate.js")]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("rehearse");
    const bad = await cli(["--batch-size", "0"], [join(repo, "bin/exam-migrate.js")]);
    expect(bad.code).toBe(2);
  });
});

describe("bad input exits 2 with a clear message (in-process)", () => {
  test("--help explains every option of the rehearsal", async () => {
    const { code, stdout } = await inProcess(["rehearse", "--help"]);
    expect(code).toBe(0);
    for (const option of [
      "--exams",
      "--participants",
      "--answers",
      "--seed",
      "--clean",
      "--snapshot",
      "--out-dir",
      "--batch-size",
      "--live-students",
      "--smoke-users",
      "--workers",
      "--no-cleanup",
      "--json",
      "--html",
      "--quiet",
      "--fault",
    ]) {
      expect(stdout).toContain(option);
    }
  });

  test("bad options", async () => {
    for (const args of [
      ["--exams", "many"],
      ["--batch-size", "0"],
      ["--fault", "nope"],
      ["--no-such-option"],
      ["--snapshot", "x", "--exams", "3"],
      ["--answers", "10", "--participants", "0"],
    ]) {
      const { code, stderr } = await inProcess(args);
      expect(code, args.join(" ")).toBe(2);
      expect(stderr.length, args.join(" ")).toBeGreaterThan(0);
    }
  });

  test("an unwritable --json or --html path or an --out-dir that is a file: one line, exit 2, before anything runs", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "x");
    for (const args of [
      ["--json", join(root, "no-such-dir", "r.json")],
      ["--json", root],
      ["--html", join(root, "no-such-dir", "r.html")],
      ["--html", root],
      ["--out-dir", file],
    ]) {
      const { code, stdout, stderr } = await inProcess([...TINY, "-q", ...args]);
      expect(code, args.join(" ")).toBe(2);
      expect(stdout).toBe("");
      expect(stderr.trim().split("\n"), stderr).toHaveLength(1);
      expect(stderr).not.toMatch(/\s+at /);
    }
  });

  test("a dataset Convex could not store (an exam over 1 MiB): one line naming what fits, exit 2, nothing run", async () => {
    const { code, stdout, stderr } = await inProcess(["--exams", "1", "--participants", "7000", "--answers", "0", "-q"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n"), stderr).toHaveLength(1);
    expect(stderr).toMatch(
      /e0: the exam document would be \d+ bytes; Convex allows 1048576 .*\(about 6,\d{3} participants of this shape fit/,
    );
  });

  test("check-snapshot streams and checks an export without migrating it", async () => {
    const good = join(root, "check.zip");
    await writeExportZip(good, datasetTables(generateV1Dataset({ exams: 2, participants: 4, answers: 8 })));
    const ok = await inProcess(["check-snapshot", good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /a Convex export \(zip; uniform era[^)]*\), loadable[\s\S]*exams 2 .*participants 4, answers 8[\s\S]*peak memory \(max RSS\) \d/,
    );
    const bad = await inProcess(["check-snapshot", join(root, "nowhere.zip")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("bad snapshot");
  });

  test("--version prints the version", async () => {
    const { code, stdout } = await inProcess(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe((JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version);
  });

  test("a malformed snapshot names table, document and field", async () => {
    const exported = datasetTables(generateV1Dataset({ exams: 1, participants: 2, answers: 4 }));
    (exported.tables.exams[0] as { participants: { score: unknown }[] }).participants[1]!.score = "high";
    const path = join(root, "bad.zip");
    await writeExportZip(path, exported);
    const { code, stderr } = await inProcess(["--snapshot", path, "-q"]);
    expect(code).toBe(2);
    expect(stderr).toContain(
      `bad snapshot: table "exams", line 1, document ${exported.idOf.get("e0")}, field "participants[1].score": expected number, got string`,
    );
    expect((await inProcess(["--snapshot", join(root, "nowhere"), "-q"])).code).toBe(2);
  });
});
