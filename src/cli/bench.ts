/**
 * `npm run bench`: runs every section registered in src/bench/index.ts, prints
 * one table per section under a combined header, and writes them all to
 * bench-report.json. A section that throws, or reports failures (a check it
 * makes that did not hold), is flagged and makes the exit code 1; the others
 * still run.
 *
 * @example
 * const code = await runBench({ jsonPath: "bench-report.json", write: (s) => process.stdout.write(s) });
 */
import { writeFileSync } from "node:fs";
import { benchSections } from "../bench/index.js";
import type { BenchRow, BenchSection } from "../runtime/embedded.js";
import { table } from "../rehearsal/report.js";

export type BenchReport = {
  generatedAt: string;
  node: string;
  sections: ({ name: string; ms: number } & (BenchSection | { error: string }))[];
};

const cell = (v: string | number | undefined) =>
  v === undefined ? "" : typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(2)) : v;

/** A section's rows as one table; the columns are every key, in first-seen order. */
export function renderSection(section: BenchSection): string {
  const columns = [...new Set(section.rows.flatMap((r: BenchRow) => Object.keys(r)))];
  const body =
    section.rows.length === 0
      ? "(no rows)"
      : table(
          columns,
          section.rows.map((r) => columns.map((c) => cell(r[c]))),
        );
  return [`## ${section.title}`, "", body, ...(section.notes ?? []).map((n) => `  · ${n}`)].join("\n");
}

export async function runBench(o: { jsonPath: string; only?: string[]; write: (s: string) => void }): Promise<number> {
  const selected = benchSections.filter((s) => o.only === undefined || o.only.includes(s.name));
  const unknown = (o.only ?? []).filter((n) => !benchSections.some((s) => s.name === n));
  if (unknown.length > 0) {
    o.write(`unknown section(s): ${unknown.join(", ")}; registered: ${benchSections.map((s) => s.name).join(", ")}\n`);
    return 2;
  }
  const report: BenchReport = { generatedAt: new Date().toISOString(), node: process.version, sections: [] };
  o.write(
    `# Benchmark report: ${selected.length} section(s) (${selected.map((s) => s.name).join(", ")})\n` +
      "Documents and bytes are Convex's own per-transaction figures (deterministic); times only as ratios within one run.\n",
  );
  let failed = 0;
  for (const { name, load } of selected) {
    const started = performance.now();
    try {
      const section = await (await load()).bench();
      const ms = Math.round(performance.now() - started);
      report.sections.push({ name, ms, ...section });
      if ((section.failures ?? []).length > 0) failed++;
      o.write(`\n${renderSection(section)}\n  (${(ms / 1000).toFixed(1)} s)\n`);
    } catch (e) {
      failed++;
      const error = e instanceof Error ? e.message : String(e);
      report.sections.push({ name, ms: Math.round(performance.now() - started), error });
      o.write(`\n## ${name}\n\nFAILED: ${error}\n`);
    }
  }
  o.write(
    `\n## Summary\n\n${table(
      ["section", "title", "rows", "time", "status"],
      report.sections.map((s) =>
        [
          "error" in s ? [s.name, "-", "-"] : [s.name, s.title, s.rows.length],
          `${(s.ms / 1000).toFixed(1)} s`,
          "error" in s ? "FAILED" : (s.failures ?? []).length > 0 ? `FAILED (${s.failures!.length} check(s))` : "ok",
        ].flat(),
      ),
      2,
    )}\n`,
  );
  writeFileSync(o.jsonPath, JSON.stringify(report, null, 2) + "\n");
  o.write(`\nwritten to ${o.jsonPath}${failed ? `; ${failed} section(s) failed` : ""}\n`);
  return failed === 0 ? 0 : 1;
}
