// @vitest-environment node
/**
 * The report people look at: `--html` writes one self-contained page whose
 * plots are inline SVG, and every plotted mark stands where the JSON report's
 * figure puts it (the SVG parsed here, each mark's coordinates recomputed from
 * the JSON through the axes the plot declares). And the costs behind the
 * storage plot: document bytes summed over the exams' instances equal one
 * deployment's, shared documents counted once. The one-deployment run's section
 * (students by phase, every check) is the JSON report's, and a failed check is
 * named in the verdict.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getConvexSize, type Value } from "convex/values";
import { main } from "../src/cli/main";
import { FIGURES, project, renderHtml, timedCalls, type Axis, type Figure } from "../src/rehearsal/html";
import type { Report } from "../src/rehearsal/report";
import { PLAN_MAX_BYTES, tooLargeToPlan } from "../src/rehearsal/deployment";
import { generateV1Dataset, insertDataset } from "../src/dataset/generate";
import { createEmbeddedConvex } from "../src/runtime/embedded";
import { JOB_SAMPLE_EXAMS } from "../src/rehearsal/costs";

const SPEC = { exams: 4, participants: 12, answers: 80, seed: 5 };
const root = mkdtempSync(join(tmpdir(), "html-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Element = { tag: string; attrs: Record<string, string>; text: string };
type Svg = { figure: string; axes: { x: Axis; y: Axis }; elements: Element[] };

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const unescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

/** The page's SVG plots, element by element (the page is well-formed XML for these tags). */
function parseSvgs(html: string): Svg[] {
  return [...html.matchAll(/<svg\b([^>]*)>([\s\S]*?)<\/svg>/g)].map(([, head, body]) => {
    const attrs = (s: string) => Object.fromEntries([...s.matchAll(/([\w:-]+)="([^"]*)"/g)].map(([, k, v]) => [k!, unescape(v!)]));
    const svg = attrs(head!);
    const elements = [...body!.matchAll(/<(\w+)\b([^>]*?)(\/>|>([^<]*))/g)].map(([, tag, a, , text]) => ({
      tag: tag!,
      attrs: attrs(a!),
      text: unescape(text ?? ""),
    }));
    return { figure: svg["data-figure"]!, axes: JSON.parse(svg["data-axes"]!) as { x: Axis; y: Axis }, elements };
  });
}

/** The page's one-deployment section: its list items and its checks table's rows, cell by cell (unescaped). */
function deploymentSection(page: string) {
  const section = /<section id="deployment">([\s\S]*?)<\/section>/.exec(page)?.[1] ?? "";
  const cells = (row: string, tag: string) => [...row.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map(([, c]) => unescape(c!));
  const table = /<table class="checks">([\s\S]*?)<\/table>/.exec(section)?.[1] ?? "";
  const rows = [...table.matchAll(/<tr( class="(\w+)")?>([\s\S]*?)<\/tr>/g)];
  return {
    section,
    phases: cells(/<ul class="live">([\s\S]*?)<\/ul>/.exec(section)?.[1] ?? "", "li"),
    head: cells(rows[0]?.[3] ?? "", "th"),
    rows: rows.slice(1).map(([, , cls, row]) => ({ cls, cells: cells(row!, "td") })),
  };
}

/** The verdict's list items (class, text), between the title and the one-deployment section. */
const verdictItems = (page: string) =>
  [...(/<ul class="bounds">([\s\S]*?)<\/ul>/.exec(page)?.[1] ?? "").matchAll(/<li class="(\w+)">([^<]*)<\/li>/g)].map(([, cls, text]) => ({
    cls,
    text: unescape(text!),
  }));

/** A rehearsal through the CLI, its JSON report and its page. */
async function rehearse(name: string, spec: typeof SPEC, extra: string[] = []) {
  let stderr = "";
  const code = await main(
    [
      "node",
      "exam-migrate",
      ...["--exams", `${spec.exams}`, "--participants", `${spec.participants}`, "--answers", `${spec.answers}`, "--seed", `${spec.seed}`],
      ...extra,
      "-q",
      "--workers",
      "1",
      "--out-dir",
      join(root, name),
      "--json",
      join(root, `${name}.json`),
      "--html",
      join(root, `${name}.html`),
    ],
    { stdout: () => {}, stderr: (s) => void (stderr += s) },
  );
  return {
    code,
    stderr,
    report: JSON.parse(readFileSync(join(root, `${name}.json`), "utf8")) as Report,
    html: readFileSync(join(root, `${name}.html`), "utf8"),
  };
}

let report: Report;
let html: string;
let svgs: Svg[];
const plotOf = (figure: Figure) => svgs.find((s) => s.figure === figure)!;
const marks = (figure: Figure, cls: string) => plotOf(figure).elements.filter((e) => e.attrs.class === cls);
const num = (e: Element, attr: string) => Number(e.attrs[attr]);
/** Coordinates are written to 0.1 px. */
const near = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(0.051);

beforeAll(async () => {
  // --batch-size 1: several migration and cleanup calls, so the one-deployment run's students act between them.
  const run = await rehearse("r", SPEC, ["--batch-size", "1"]);
  expect(run.code, run.stderr).toBe(0);
  ({ report, html } = run);
  svgs = parseSvgs(html);
});

describe("the HTML report", () => {
  test("one self-contained page: the verdict, the plan, one inline SVG plot per figure, nothing fetched", () => {
    expect(html).toContain("Migration rehearsal: PASSED (exit code 0)");
    for (const step of report.plan.steps) expect(html).toContain(`<td>${step.step}</td>`);
    expect(svgs.map((s) => s.figure)).toEqual([...FIGURES]);
    expect(html.match(/<svg\b/g)).toHaveLength(FIGURES.length);
    // No script, stylesheet, image, font or address of any kind.
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|@font-face|url\(|:\/\//i);
  });

  test("exam documents: one point per exam at (largest array, bytes), with the 8,192-entry and 1 MiB limits", () => {
    const { x, y } = plotOf("documents").axes;
    const points = marks("documents", "point");
    expect(points.map((p) => p.attrs["data-label"])).toEqual(report.exams.map((e) => e.examKey));
    report.exams.forEach((e, i) => {
      near(num(points[i]!, "cx"), project(x, e.largestArray));
      near(num(points[i]!, "cy"), project(y, e.documentBytes));
    });
    const limits = marks("documents", "limit").map((l) => [l.attrs["data-axis"], num(l, "data-value")]);
    expect(limits).toEqual([
      ["y", 1024 * 1024],
      ["x", 8192],
    ]);
    expect(report.exams.every((e) => e.documentBytes > 0 && e.largestArray > 0)).toBe(true);
  });

  test("each call's work and each query's or mutation's time over the run: one point per call of the report", () => {
    expect(report.calls.length).toBeGreaterThan(SPEC.exams * 8);
    const work = marks("callWork", "point");
    expect(work).toHaveLength(report.calls.length);
    const w = plotOf("callWork").axes;
    report.calls.forEach((c, i) => {
      expect(work[i]!.attrs["data-label"]).toBe(`${c.exam} ${c.phase}`);
      near(num(work[i]!, "cx"), project(w.x, c.atMs / 1000));
      near(num(work[i]!, "cy"), project(w.y, c.work.share * 100));
    });
    const timed = timedCalls(report);
    expect(timed.length).toBeGreaterThan(0);
    expect(timed.length).toBeLessThan(report.calls.length); // actions (status, verify) are not bounded by 1 s
    const time = marks("callTime", "point");
    expect(time).toHaveLength(timed.length);
    const t = plotOf("callTime").axes;
    timed.forEach((c, i) => {
      near(num(time[i]!, "cx"), project(t.x, c.atMs / 1000));
      near(num(time[i]!, "cy"), project(t.y, c.ms));
    });
    expect(marks("callTime", "limit").map((l) => num(l, "data-value"))).toEqual([1000, 500]);
    // The migration's calls are there, and did work.
    expect(report.calls.some((c) => c.phase === "migrate" && c.work.share > 0)).toBe(true);
  });

  test("V1 against V2 bytes read per call, the 12 functions: two bars each, heights on the log axis from the bandwidth table and the write costs", () => {
    const { y } = plotOf("reads").axes;
    expect(y.log).toBe(true);
    const expected = [
      ...report.bandwidth.rows.filter((b) => b.pairs > 0).map((b) => [b.name, b.v1BytesRead, b.v2BytesRead] as const),
      ...report.costs.writes.map((w) => [w.name, w.v1.average!.bytesRead, w.v2.average!.bytesRead] as const),
    ];
    expect(expected.map(([name]) => name)).toEqual([
      "getExamSession",
      "getPauseStatus",
      "getParticipantExamResults",
      "validateQuestionAccess",
      "getExamLeaderboard",
      "getMyDashboardStats",
      "getMyRecentExams",
      "getAllExamsMetadata",
      "startExam",
      "startPause",
      "resumeFromPause",
      "submitExamAnswers",
    ]);
    expect(marks("reads", "category").map((c) => c.text)).toEqual(expected.map(([name]) => name));
    const bars = marks("reads", "bar");
    expect(bars).toHaveLength(expected.length * 2);
    expected.forEach(([name, v1, v2], i) => {
      for (const [j, side, value] of [
        [0, "V1", v1],
        [1, "V2", v2],
      ] as const) {
        const bar = bars[i * 2 + j]!;
        expect([bar.attrs["data-label"], bar.attrs["data-series"], num(bar, "data-value")]).toEqual([name, side, value]);
        near(num(bar, "y"), project(y, value));
        near(num(bar, "y") + num(bar, "height"), project(y, y.min));
      }
    });
  });

  test("storage: a stacked bar per point of the run, a segment per table, totals and ratios from the costs", () => {
    const { y } = plotOf("storage").axes;
    const rows = report.costs.storage.rows;
    expect(rows.map((r) => r.point)).toEqual(["before", "afterMigration", "afterCleanup"]);
    const bars = marks("storage", "bar");
    expect(bars).toHaveLength(rows.reduce((n, r) => n + r.tables.length, 0));
    let i = 0;
    for (const row of rows) {
      let base = 0;
      for (const table of row.tables) {
        const bar = bars[i++]!;
        expect([bar.attrs["data-label"], bar.attrs["data-series"], num(bar, "data-value")]).toEqual([
          row.point,
          table.table,
          base + table.bytes,
        ]);
        near(num(bar, "y"), project(y, base + table.bytes));
        near(num(bar, "y") + num(bar, "height"), project(y, base));
        base += table.bytes;
      }
      const total = marks("storage", "total").find((t) => t.attrs["data-label"] === row.point)!;
      expect(num(total, "data-value")).toBe(row.bytes);
      expect(total.text).toContain(`(${row.ratioToV1!.toFixed(2)}× V1)`);
    }
  });
});

describe("the one-deployment run on the page", () => {
  test("a section right after the verdict: the students' actions by phase and every check, as the JSON report has them", () => {
    const measured = report.plan.measured;
    if (!("checks" in measured)) throw new Error(`not run: ${measured.skipped}`);
    const page = deploymentSection(html);
    expect(html.indexOf('<section id="deployment">')).toBeGreaterThan(html.indexOf('<ul class="bounds">'));
    expect(html.indexOf('<section id="deployment">')).toBeLessThan(html.indexOf("<h2>Operator's plan</h2>"));
    expect(page.section).toContain(`${measured.liveRate} student action(s) before each migration or cleanup call`);
    // Students acted in every phase, through V1 during the migration and V2 after it.
    expect(measured.live.map((l) => [l.phase, l.functions])).toEqual([
      ["migrate", "V1"],
      ["monitor", "V2"],
      ["cleanup", "V2"],
    ]);
    expect(page.phases).toHaveLength(measured.live.length);
    measured.live.forEach((l, i) => {
      const item = page.phases[i]!;
      expect(item.startsWith(`${l.phase} (${l.functions} functions): `), item).toBe(true);
      for (const [action, n] of Object.entries(l.done)) expect(item).toContain(`${n} ${action}`);
      for (const [code, n] of Object.entries(l.refused)) expect(item).toContain(`${n} ${code}`);
      expect(item).toContain(`${l.students} student(s) acted`);
      expect(l.students).toBeGreaterThan(0);
    });
    expect(page.head).toEqual(["after", "check", "result", "what it said"]);
    expect(page.rows.map((r) => r.cells)).toEqual(measured.checks.map((c) => [c.step, c.name, c.ok ? "ok" : "FAIL", c.note]));
    expect(page.rows.every((r) => r.cls === "ok")).toBe(true);
    // Every step of the run is checked, each rollback included.
    expect([...new Set(measured.checks.map((c) => c.step))]).toEqual([
      "4. migrate",
      "7. monitor",
      "rollback 2",
      "8. cleanup",
      "rollback 1",
    ]);
    expect(verdictItems(html).filter((i) => i.cls === "failed")).toEqual([]);
  });

  test("a failed check fails the verdict: named in it as in the text report, FAIL in the table", async () => {
    // Rollback option 1 as `--replace`: the V2 tables, which the backup does not hold, stay behind.
    const failed = await rehearse("restore-replace", { exams: 2, participants: 6, answers: 30, seed: 5 }, ["--fault", "restore-replace"]);
    expect(failed.code, failed.stderr).toBe(1);
    const measured = failed.report.plan.measured;
    if (!("checks" in measured)) throw new Error(`not run: ${measured.skipped}`);
    const bad = measured.checks.filter((c) => !c.ok);
    expect(bad.map((c) => [c.step, c.name])).toContainEqual(["rollback 1", "every table equals the backup"]);
    expect(failed.report.passed).toBe(false);
    expect(failed.html).toContain(`Migration rehearsal: FAILED (exit code 1)`);
    const lines = bad.map((c) => `one deployment, ${c.step}: ${c.name} FAILED: ${c.note}`);
    expect(verdictItems(failed.html).filter((i) => i.cls === "failed")).toEqual(lines.map((text) => ({ cls: "failed", text })));
    // The same lines end the text report (embedded in the page).
    for (const line of lines) expect(failed.html).toContain(escapeHtml(line));
    const page = deploymentSection(failed.html);
    expect(page.rows.map((r) => [r.cls, r.cells[2]])).toEqual(measured.checks.map((c) => (c.ok ? ["ok", "ok"] : ["failed", "FAIL"])));
    // Only the run's checks failed: every per-exam check passed.
    expect(failed.report.findings.failures).toBe(0);
  }, 60_000);

  test("input the run skips: the section says why and has no checks; a skip is not a failure", () => {
    const skipped = { ...report, plan: { ...report.plan, measured: { skipped: tooLargeToPlan(PLAN_MAX_BYTES) } } };
    const page = renderHtml(skipped);
    const section = deploymentSection(page);
    expect(section.section).toContain(`NOT rehearsed: ${escapeHtml(tooLargeToPlan(PLAN_MAX_BYTES))}`);
    expect([section.phases, section.rows]).toEqual([[], []]);
    expect(verdictItems(page).filter((i) => i.cls === "failed")).toEqual([]);
  });
});

describe("costs", () => {
  test("document bytes by table summed over the instances equal one deployment's V1 bytes; V2 tables appear after the migration; cleanup shrinks the exams", async () => {
    // The same dataset in one embedded deployment: every document of V1's tables, measured once.
    const t = createEmbeddedConvex(false);
    await insertDataset(t, generateV1Dataset({ ...SPEC, dirty: true }));
    const v1 = await t.run(async (ctx) => {
      let n = 0;
      for (const table of ["users", "questions", "exams"] as const)
        for (const doc of await ctx.db.query(table).collect()) n += getConvexSize(doc as Value);
      return n;
    });
    const [before, afterMigration, afterCleanup] = report.costs.storage.rows;
    expect(report.costs.storage.v1Bytes).toBe(v1);
    expect(before!.tables.map((x) => x.table).sort()).toEqual(["exams", "questions", "users"]);
    expect(before!.ratioToV1).toBe(1);
    const tablesAfter = afterMigration!.tables.map((x) => x.table);
    expect(tablesAfter).toEqual(expect.arrayContaining(["examEvents", "examParticipations", "examAnswers", "examHeaders"]));
    const rowsOf = (row: typeof before, table: string) => row!.tables.find((x) => x.table === table);
    expect(rowsOf(afterMigration, "examParticipations")!.documents).toBe(report.status.after!.v2.participations);
    expect(rowsOf(afterMigration, "examAnswers")!.documents).toBe(report.status.after!.v2.answers);
    expect(rowsOf(afterCleanup, "exams")!.bytes).toBeLessThan(rowsOf(before, "exams")!.bytes);
    expect(rowsOf(afterCleanup, "users")).toEqual(rowsOf(before, "users"));
    expect(afterCleanup!.ratioToV1).toBeCloseTo(afterCleanup!.bytes / v1, 12);
    // The header check's pass read every exam document once (a pass after the migration, arrays still in place).
    expect(report.costs.headerCheck).toMatchObject({ intervalMinutes: 60, exams: SPEC.exams });
    expect(report.costs.headerCheck!.passBytesRead).toBeGreaterThanOrEqual(rowsOf(afterMigration, "exams")!.bytes);
    expect(report.costs.headerCheck!.bytesReadPerDay).toBe(report.costs.headerCheck!.passBytesRead * 24);
  });

  test("the write functions and the jobs were measured on the sample of exams and thrown away: the rehearsed data is as the status counts it", () => {
    expect(SPEC.exams).toBeGreaterThan(JOB_SAMPLE_EXAMS);
    for (const w of report.costs.writes) {
      for (const side of [w.v1, w.v2]) expect(side).toMatchObject({ calls: JOB_SAMPLE_EXAMS, errors: {} });
      // V1 reads the exam document; its V2 twin does not, and writes the same.
      expect(w.v1.average!.bytesRead).toBeGreaterThan(w.v2.average!.bytesRead);
      expect(w.v1.average!.bytesWritten).toBe(w.v2.average!.bytesWritten);
    }
    const { firstMirror, mirror, fold } = report.costs.jobs;
    expect([firstMirror?.exams, mirror?.exams, fold?.exams]).toEqual([JOB_SAMPLE_EXAMS, JOB_SAMPLE_EXAMS, JOB_SAMPLE_EXAMS]);
    // A mirror run after a live action reads and rewrites the exam document: at least the largest one's bytes.
    expect(mirror!.largest.bytesRead).toBeGreaterThan(Math.max(...report.exams.slice(0, JOB_SAMPLE_EXAMS).map((e) => e.documentBytes)));
    expect(mirror!.average.bytesWritten).toBeGreaterThan(0);
    // Thrown away: no new student, participation or answer is left behind.
    const [, , afterCleanup] = report.costs.storage.rows;
    expect(afterCleanup!.tables.find((x) => x.table === "users")!.documents).toBe(report.input.users);
    expect(report.plan.reconciliation.reconciled).toBe(true); // V2 rows = the V1 users' entries, none more
  });
});
