// @vitest-environment node
/**
 * The work bound is a verdict: every operator call of the rehearsal is checked
 * against half of every Convex limit and its WORK_BOUNDS figure, and a call
 * over its bound fails the rehearsal named (exam, phase, function, call
 * number, figure and bound) in the text, the JSON and the HTML page. Time is
 * reported, never decided on (no assertion here depends on how long a call took).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { main } from "../src/cli/main";
import { OVER_BOUND_FAULT_ENTRIES } from "../src/rehearsal/exam";
import { boundsOf, type Report } from "../src/rehearsal/report";
import { LIMITED_METRICS, zeroCost, type TransactionCost } from "../src/rehearsal/metrics";
import type { CallRecord } from "../src/rehearsal/types";
import { HALF_TRANSACTION_LIMITS, WORK_BOUNDS } from "../convex/lib/limits";

const root = mkdtempSync(join(tmpdir(), "bound-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function rehearse(name: string, args: string[]) {
  let stdout = "";
  let stderr = "";
  const out = join(root, name);
  const code = await main(
    ["node", "exam-migrate", ...args, "-q", "--workers", "1", "--out-dir", out, "--json", `${out}.json`, "--html", `${out}.html`],
    { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) },
  );
  const report = JSON.parse(readFileSync(`${out}.json`, "utf8")) as Report;
  return { code, stdout, stderr, report, html: readFileSync(`${out}.html`, "utf8") };
}

describe("the work bound", () => {
  test("the guide dataset passes with every call within its bound; the work figures are the calls' real ones", async () => {
    const { code, stdout, stderr, report } = await rehearse("guide", []);
    expect(code, stdout + stderr).toBe(0);
    expect(report.input).toMatchObject({ exams: 15, participants: 234, answers: 46_800 });
    expect(report.bounds.exceeded).toEqual([]);
    expect(report.bounds.checked).toBe(report.calls.length);
    expect(stdout).toMatch(/operator call\(s\) checked against half of every Convex limit and WORK_BOUNDS .*: all within/);
    expect(stdout).toMatch(/longest query or mutation [\d,]+ ms of Convex's 1 s/);
    // The figures checked are the calls' own: each V1 entry counted once by the migration's calls and once by the
    // cleanup's (which re-verifies before clearing), each exam once by its header check batches; every rebuild page within its bound.
    const figures = (phase: string, name: string) =>
      report.calls.filter((c) => c.phase === phase && c.name === name).map((c) => c.workBound!);
    const sum = (list: { value: number }[]) => list.reduce((n, w) => n + w.value, 0);
    const migrate = figures("migrate", "migrations:migrateExamParticipants");
    expect(migrate).toHaveLength(report.migration.calls);
    expect(sum(migrate)).toBe(234);
    expect(sum(figures("cleanup", "migrations:migrateExamParticipants"))).toBe(234);
    expect(sum(figures("headers", "examAdmin:runHeaderCheck"))).toBe(15);
    const rebuild = figures("projections", "projections/rebuild:rebuildProjections");
    expect(rebuild.length).toBeGreaterThanOrEqual(15);
    for (const w of [...migrate, ...rebuild]) expect(w.value).toBeLessThanOrEqual(w.limit);
    expect(new Set([...migrate, ...rebuild].map((w) => w.limit))).toEqual(
      new Set([WORK_BOUNDS.migrationEntriesPerCall, WORK_BOUNDS.streamsPerPage]),
    );
  }, 120_000);

  test("--fault over-bound: the first exam's migration call over the lowered bound fails the rehearsal, named in the text, the JSON and the page", async () => {
    const { code, stdout, report, html } = await rehearse("fault", [
      "--exams",
      "3",
      "--participants",
      "9",
      "--answers",
      "40",
      "--fault",
      "over-bound",
    ]);
    expect(code).toBe(1);
    expect(report.passed).toBe(false);
    // Nothing else failed: the bound alone decides.
    expect(report.findings.failures).toBe(0);
    expect(report.phases.every((p) => p.failed === 0)).toBe(true);
    const e0 = report.exams.find((e) => e.examKey === "e0")!;
    expect(e0.participants).toBeGreaterThan(OVER_BOUND_FAULT_ENTRIES);
    expect(report.bounds.exceeded).toEqual([
      {
        exam: "e0",
        phase: "migrate",
        name: "migrations:migrateExamParticipants",
        number: 1,
        figure: "migrationEntriesPerCall",
        value: e0.participants,
        limit: OVER_BOUND_FAULT_ENTRIES,
      },
    ]);
    const line = `e0 step 4 · migrate: migrations:migrateExamParticipants call 1: ${e0.participants} V1 entries, over its bound of ${OVER_BOUND_FAULT_ENTRIES} (lowered by --fault over-bound from WORK_BOUNDS.migrationEntriesPerCall, ${WORK_BOUNDS.migrationEntriesPerCall})`;
    expect(stdout).toContain(`FAIL ${line}`);
    expect(stdout).toMatch(/Rehearsal FAILED[^\n]*\nover its work bound: /);
    expect(stdout).toContain(`over its work bound: ${line}`);
    expect(html).toContain('<h1 class="failed">');
    expect(html).toContain(`<li class="exceeded">over its work bound: ${line}</li>`);
    // Only the first exam's migration calls are checked against the lowered bound.
    const lowered = report.calls.filter((c) => c.workBound?.limit === OVER_BOUND_FAULT_ENTRIES);
    expect(lowered.map((c) => [c.exam, c.phase])).toEqual([["e0", "migrate"]]);
  }, 120_000);

  test("a call over half of any Convex limit fails, each figure named; only queries and mutations are timed, over 0.5 s a warning", () => {
    // The embedded runtime throws at half of Convex's limits, so no rehearsal records such a call: the check is fed one.
    const at = (phase: CallRecord["phase"], number: number, largest: Partial<TransactionCost>, ms: number, oneTransaction = true) => ({
      phase,
      name: "migrations:migrateExamParticipants",
      number,
      at: 0,
      ms,
      oneTransaction,
      transactions: 1,
      largest: { ...zeroCost(), ...largest },
    });
    const over = Object.fromEntries(LIMITED_METRICS.map((k) => [k, HALF_TRANSACTION_LIMITS[k] + 1]));
    const within = Object.fromEntries(LIMITED_METRICS.map((k) => [k, HALF_TRANSACTION_LIMITS[k]]));
    const bounds = boundsOf([
      { examKey: "e1", calls: [at("migrate", 1, within, 600), at("cleanup", 2, over, 400), at("verify", 1, {}, 900, false)] },
    ]);
    expect(bounds.exceeded.map((e) => [e.phase, e.number, e.figure, e.value - e.limit])).toEqual(
      LIMITED_METRICS.map((k) => ["cleanup", 2, k, 1]),
    );
    expect(bounds.slow.map((c) => [c.phase, c.ms])).toEqual([["migrate", 600]]);
    expect(bounds.longest).toMatchObject({ phase: "migrate", ms: 600 });
  });
});
