// @vitest-environment node
/**
 * The report people look at: `--html` writes one self-contained page whose
 * plots are inline SVG, and every plotted mark stands where the JSON report's
 * figure puts it (the SVG parsed here, each mark's coordinates recomputed from
 * the JSON through the axes the plot declares). And the costs behind the
 * storage plot: document bytes summed over the exams' instances equal one
 * deployment's, shared documents counted once.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getConvexSize, type Value } from "convex/values";
import { main } from "../src/cli/main";
import { FIGURES, project, timedCalls, type Axis, type Figure } from "../src/rehearsal/html";
import type { Report } from "../src/rehearsal/report";
import { generateV1Dataset, insertDataset } from "../src/dataset/generate";
import { createEmbeddedConvex } from "../src/runtime/embedded";
import { JOB_SAMPLE_EXAMS } from "../src/rehearsal/costs";

const SPEC = { exams: 4, participants: 12, answers: 80, seed: 5 };
const root = mkdtempSync(join(tmpdir(), "html-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Element = { tag: string; attrs: Record<string, string>; text: string };
type Svg = { figure: string; axes: { x: Axis; y: Axis }; elements: Element[] };

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
  let stderr = "";
  const args = [
    "--exams",
    `${SPEC.exams}`,
    "--participants",
    `${SPEC.participants}`,
    "--answers",
    `${SPEC.answers}`,
    "--seed",
    `${SPEC.seed}`,
  ];
  const code = await main(
    [
      "node",
      "exam-migrate",
      ...args,
      "-q",
      "--workers",
      "1",
      "--out-dir",
      root,
      "--json",
      join(root, "r.json"),
      "--html",
      join(root, "r.html"),
    ],
    { stdout: () => {}, stderr: (s) => void (stderr += s) },
  );
  expect(code, stderr).toBe(0);
  report = JSON.parse(readFileSync(join(root, "r.json"), "utf8")) as Report;
  html = readFileSync(join(root, "r.html"), "utf8");
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
