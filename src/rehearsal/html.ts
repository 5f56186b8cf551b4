/**
 * The report as one self-contained HTML page: the verdict, the one-deployment
 * run's students and checks, the operator's plan, the costs and five plots
 * drawn as inline SVG by the small helpers below (no script, no font, no
 * address: it opens offline). Every plotted mark carries its
 * value (`data-x`, `data-y`, `data-value`) and every plot its axes (`data-axes`:
 * each axis's domain, pixel range and scale), so a test can map marks back to
 * the JSON report (tests/html.test.ts).
 *
 * @example
 * writeFileSync("report.html", renderHtml(report));
 */
import { BATCH_LIMIT_SHARE, CONVEX_LIMITS } from "../../convex/lib/limits.js";
import {
  USER_CODE_LIMIT_MS,
  bytes,
  DEPLOYMENT_CHECK_HEAD,
  DEPLOYMENT_TITLE,
  deploymentFailures,
  deploymentView,
  exceededLine,
  int,
  LIMIT_LABEL,
  measuredPlanLine,
  pct,
  planCalls,
  renderReport,
  timeLines,
  type Report,
} from "./report.js";
import { PHASES } from "./types.js";

/** The plots, one figure each, in page order. */
export const FIGURES = ["documents", "callWork", "callTime", "reads", "storage"] as const;
export type Figure = (typeof FIGURES)[number];

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const fixed = (n: number) => Math.round(n * 10) / 10;

/** One axis: a domain drawn onto a pixel range, linear or base-10 logarithmic; `binary`: bytes, ticks at powers of two. */
export type Axis = { min: number; max: number; from: number; to: number; log: boolean; binary?: boolean };

export function project(axis: Axis, value: number): number {
  const f = (v: number) => (axis.log ? Math.log10(Math.max(v, axis.min)) : v);
  return axis.from + ((f(value) - f(axis.min)) / (f(axis.max) - f(axis.min))) * (axis.to - axis.from);
}

/** About five round ticks (1, 2 or 5 × 10^k apart, or 2^k for bytes); on a log axis powers of ten (of eight for bytes). */
function ticks(axis: Axis): number[] {
  if (axis.log) {
    const base = axis.binary ? 8 : 10;
    const out: number[] = [];
    const log = (v: number) => Math.log(v) / Math.log(base);
    for (let p = Math.ceil(log(axis.min) - 1e-9); p <= Math.floor(log(axis.max) + 1e-9); p++) out.push(base ** p);
    return out;
  }
  const raw = (axis.max - axis.min) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = axis.binary ? 2 ** Math.ceil(Math.log2(raw)) : [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(axis.min / step) * step; v <= axis.max + step * 1e-9; v += step) out.push(v);
  return out;
}

const WIDTH = 780;
const HEIGHT = 300;
const MARGIN = { left: 78, right: 210, top: 16, bottom: 44 };
/** Where the legend's swatches start, right of the plot (limit labels take the first pixels). */
const LEGEND_X = WIDTH - MARGIN.right + 82;
const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
  "#393b79",
  "#637939",
];

type Plot = { x: Axis; y: Axis; height: number };

/** `bottom`: room under the plot for its x labels. */
function plot(x: Omit<Axis, "from" | "to">, y: Omit<Axis, "from" | "to">, bottom = MARGIN.bottom): Plot {
  const height = HEIGHT - MARGIN.bottom + bottom;
  return { x: { ...x, from: MARGIN.left, to: WIDTH - MARGIN.right }, y: { ...y, from: height - bottom, to: MARGIN.top }, height };
}

/** Axes with ticks and titles; `xTicks` false for a category axis (its labels are the bars'). */
function axes(
  p: Plot,
  o: { xTitle: string; yTitle: string; xLabel?: (v: number) => string; yLabel: (v: number) => string; xTicks?: boolean },
) {
  const out: string[] = [];
  const { x, y } = p;
  out.push(`<line class="axis" x1="${x.from}" y1="${y.from}" x2="${x.to}" y2="${y.from}" stroke="#333"/>`);
  out.push(`<line class="axis" x1="${x.from}" y1="${y.from}" x2="${x.from}" y2="${y.to}" stroke="#333"/>`);
  for (const v of ticks(y)) {
    const py = fixed(project(y, v));
    out.push(`<line x1="${x.from}" y1="${py}" x2="${x.to}" y2="${py}" stroke="#eee"/>`);
    out.push(
      `<text class="tick" data-axis="y" data-value="${v}" x="${x.from - 6}" y="${py + 4}" text-anchor="end">${escape(o.yLabel(v))}</text>`,
    );
  }
  if (o.xTicks !== false) {
    for (const v of ticks(x)) {
      const px = fixed(project(x, v));
      out.push(`<line x1="${px}" y1="${y.from}" x2="${px}" y2="${y.from + 4}" stroke="#333"/>`);
      out.push(
        `<text class="tick" data-axis="x" data-value="${v}" x="${px}" y="${y.from + 16}" text-anchor="middle">${escape((o.xLabel ?? String)(v))}</text>`,
      );
    }
  }
  out.push(`<text class="title" x="${(x.from + x.to) / 2}" y="${p.height - 6}" text-anchor="middle">${escape(o.xTitle)}</text>`);
  out.push(
    `<text class="title" x="14" y="${(y.from + y.to) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(y.from + y.to) / 2})">${escape(o.yTitle)}</text>`,
  );
  return out;
}

/** A limit drawn across the plot, named at its end. */
function limit(p: Plot, along: "x" | "y", value: number, label: string, color = "#c00") {
  if (along === "y") {
    const py = fixed(project(p.y, value));
    return [
      `<line class="limit" data-axis="y" data-value="${value}" x1="${p.x.from}" y1="${py}" x2="${p.x.to}" y2="${py}" stroke="${color}" stroke-dasharray="6 3"/>`,
      `<text class="limit-label" x="${p.x.to + 4}" y="${py + 4}" fill="${color}">${escape(label)}</text>`,
    ];
  }
  const px = fixed(project(p.x, value));
  return [
    `<line class="limit" data-axis="x" data-value="${value}" x1="${px}" y1="${p.y.from}" x2="${px}" y2="${p.y.to}" stroke="${color}" stroke-dasharray="6 3"/>`,
    `<text class="limit-label" x="${px + 4}" y="${p.y.to + 10}" fill="${color}">${escape(label)}</text>`,
  ];
}

function point(p: Plot, x: number, y: number, label: string, color: string, title: string) {
  return `<circle class="point" data-x="${x}" data-y="${y}" data-label="${escape(label)}" cx="${fixed(project(p.x, x))}" cy="${fixed(project(p.y, y))}" r="3.5" fill="${color}" fill-opacity="0.75"><title>${escape(title)}</title></circle>`;
}

/** A bar from `base` to `top` (values on the y axis) at x pixels [left, left + width]. */
function bar(
  p: Plot,
  o: { left: number; width: number; base: number; top: number; label: string; series: string; color: string; title: string },
) {
  // Both ends rounded, so that stacked segments meet exactly.
  const y0 = fixed(project(p.y, o.base));
  const y1 = fixed(project(p.y, o.top));
  return `<rect class="bar" data-label="${escape(o.label)}" data-series="${escape(o.series)}" data-base="${o.base}" data-value="${o.top}" x="${fixed(o.left)}" y="${Math.min(y0, y1)}" width="${fixed(o.width)}" height="${fixed(Math.abs(y0 - y1))}" fill="${o.color}"><title>${escape(o.title)}</title></rect>`;
}

function legend(entries: { label: string; color: string }[]) {
  return entries.map(
    (e, i) =>
      `<rect class="legend" x="${LEGEND_X}" y="${MARGIN.top + i * 16}" width="10" height="10" fill="${e.color}"/><text class="legend" x="${LEGEND_X + 14}" y="${MARGIN.top + 9 + i * 16}">${escape(e.label)}</text>`,
  );
}

function svg(figure: Figure, p: Plot, marks: string[]) {
  const axesData = escape(JSON.stringify({ x: p.x, y: p.y }));
  return `<svg class="plot" data-figure="${figure}" data-axes="${axesData}" width="${WIDTH}" height="${p.height}" viewBox="0 0 ${WIDTH} ${p.height}" role="img">\n${marks.join("\n")}\n</svg>`;
}

const roundUp = (v: number) => {
  const m = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / m) * m;
};

function documentsPlot(r: Report): string {
  const p = plot(
    { min: 0, max: CONVEX_LIMITS.arrayElements * 1.1, log: false },
    { min: 0, max: CONVEX_LIMITS.documentBytes * 1.1, log: false, binary: true },
  );
  const marks = axes(p, {
    xTitle: "largest array in the exam document (entries)",
    yTitle: "exam document (bytes)",
    yLabel: (v) => bytes(v),
    xLabel: (v) => int(v),
  });
  marks.push(...limit(p, "y", CONVEX_LIMITS.documentBytes, "1 MiB"), ...limit(p, "x", CONVEX_LIMITS.arrayElements, "8,192"));
  for (const e of r.exams) {
    marks.push(
      point(
        p,
        e.largestArray,
        e.documentBytes,
        e.examKey,
        PALETTE[0]!,
        `${e.examKey} "${e.title}": ${bytes(e.documentBytes)}, ${int(e.largestArray)} entries`,
      ),
    );
  }
  return svg("documents", p, marks);
}

const phaseColor = (phase: string) => PALETTE[PHASES.findIndex((x) => x.name === phase) % PALETTE.length]!;
const phaseLegend = (r: Report) =>
  legend(PHASES.filter((ph) => r.calls.some((c) => c.phase === ph.name)).map((ph) => ({ label: ph.name, color: phaseColor(ph.name) })));

function callWorkPlot(r: Report): string {
  const seconds = Math.max(1, ...r.calls.map((c) => c.atMs / 1000));
  const top = Math.max(BATCH_LIMIT_SHARE * 100 * 1.2, ...r.calls.map((c) => c.work.share * 100 * 1.1));
  const p = plot({ min: 0, max: roundUp(seconds), log: false }, { min: 0, max: roundUp(top), log: false });
  const marks = axes(p, { xTitle: "time in the run (s)", yTitle: "largest share of a Convex limit (%)", yLabel: (v) => `${v}%` });
  marks.push(...limit(p, "y", BATCH_LIMIT_SHARE * 100, "budget (50%)"));
  for (const c of r.calls) {
    marks.push(
      point(
        p,
        c.atMs / 1000,
        c.work.share * 100,
        `${c.exam} ${c.phase}`,
        phaseColor(c.phase),
        `${c.exam} ${c.phase}: ${pct(c.work.share)} of ${LIMIT_LABEL[c.work.metric]}`,
      ),
    );
  }
  marks.push(...phaseLegend(r));
  return svg("callWork", p, marks);
}

/** Queries and mutations only: Convex's 1 s bounds a transaction's user code, not an action. */
export const timedCalls = (r: Report) => r.calls.filter((c) => c.oneTransaction);

function callTimePlot(r: Report): string {
  const calls = timedCalls(r);
  const seconds = Math.max(1, ...r.calls.map((c) => c.atMs / 1000));
  const top = Math.max(USER_CODE_LIMIT_MS * 1.2, ...calls.map((c) => c.ms * 1.1));
  const p = plot({ min: 0, max: roundUp(seconds), log: false }, { min: 0, max: roundUp(top), log: false });
  const marks = axes(p, { xTitle: "time in the run (s)", yTitle: "wall time of the call (ms)", yLabel: (v) => int(v) });
  marks.push(...limit(p, "y", USER_CODE_LIMIT_MS, "1 s (Convex)"), ...limit(p, "y", USER_CODE_LIMIT_MS / 2, "0.5 s", "#e69500"));
  for (const c of calls) {
    marks.push(point(p, c.atMs / 1000, c.ms, `${c.exam} ${c.phase}`, phaseColor(c.phase), `${c.exam} ${c.phase}: ${int(c.ms)} ms`));
  }
  marks.push(...phaseLegend(r));
  return svg("callTime", p, marks);
}

/** The 12 functions: the smoke pass's 8 reads, then the 4 writes (bytes read per call, averages; a side with no successful call: 0). */
export function readBars(r: Report): { name: string; v1: number; v2: number }[] {
  return [
    ...r.bandwidth.rows.filter((b) => b.pairs > 0).map((b) => ({ name: b.name, v1: b.v1BytesRead, v2: b.v2BytesRead })),
    ...r.costs.writes
      .filter((w) => w.v1.average !== null || w.v2.average !== null)
      .map((w) => ({ name: w.name, v1: w.v1.average?.bytesRead ?? 0, v2: w.v2.average?.bytesRead ?? 0 })),
  ];
}

function readsPlot(r: Report): string {
  const rows = readBars(r);
  const values = rows.flatMap((b) => [b.v1, b.v2]).filter((v) => v > 0);
  const top = 8 ** Math.ceil(Math.log(Math.max(1024, ...values) * 1.01) / Math.log(8));
  const p = plot({ min: 0, max: Math.max(1, rows.length), log: false }, { min: 64, max: top, log: true, binary: true }, 130);
  const marks = axes(p, {
    xTitle: "function (V1 and its V2 twin): 8 reads, 4 writes",
    yTitle: "bytes read per call (log)",
    yLabel: (v) => bytes(v),
    xTicks: false,
  });
  const slot = (p.x.to - p.x.from) / Math.max(1, rows.length);
  rows.forEach((b, i) => {
    const left = p.x.from + i * slot + slot * 0.15;
    const width = slot * 0.35;
    for (const [j, side, value] of [
      [0, "V1", b.v1],
      [1, "V2", b.v2],
    ] as const) {
      if (value <= 0) continue; // no call of that side succeeded
      marks.push(
        bar(p, {
          left: left + j * width,
          width,
          base: p.y.min,
          top: value,
          label: b.name,
          series: side,
          color: PALETTE[j]!,
          title: `${b.name}${side === "V2" ? "V2" : ""}: ${bytes(value)} read per call`,
        }),
      );
    }
    const cx = fixed(left + width);
    marks.push(
      `<text class="category" x="${cx}" y="${p.y.from + 12}" text-anchor="end" transform="rotate(-35 ${cx} ${p.y.from + 12})">${escape(b.name)}</text>`,
    );
  });
  marks.push(
    ...legend([
      { label: "V1", color: PALETTE[0]! },
      { label: "V2", color: PALETTE[1]! },
    ]),
  );
  return svg("reads", p, marks);
}

function storagePlot(r: Report): string {
  const rows = r.costs.storage.rows;
  const tables = [...new Set(rows.flatMap((row) => row.tables.map((t) => t.table)))];
  const color = (table: string) => PALETTE[tables.indexOf(table) % PALETTE.length]!;
  const p = plot(
    { min: 0, max: Math.max(1, rows.length), log: false },
    { min: 0, max: Math.max(1, ...rows.map((row) => row.bytes)) * 1.12, log: false, binary: true },
  );
  const marks = axes(p, { xTitle: "point of the run", yTitle: "document bytes (all tables)", yLabel: (v) => bytes(v), xTicks: false });
  const slot = (p.x.to - p.x.from) / Math.max(1, rows.length);
  rows.forEach((row, i) => {
    const left = p.x.from + i * slot + slot * 0.25;
    let base = 0;
    for (const t of row.tables) {
      marks.push(
        bar(p, {
          left,
          width: slot * 0.5,
          base,
          top: base + t.bytes,
          label: row.point,
          series: t.table,
          color: color(t.table),
          title: `${row.title}: ${t.table} ${bytes(t.bytes)}`,
        }),
      );
      base += t.bytes;
    }
    const ratio = row.ratioToV1 === null ? "" : ` (${row.ratioToV1.toFixed(2)}× V1)`;
    marks.push(
      `<text class="category" x="${fixed(left + slot * 0.25)}" y="${p.y.from + 14}" text-anchor="middle">${escape(row.title)}</text>`,
    );
    marks.push(
      `<text class="total" data-label="${row.point}" data-value="${row.bytes}" x="${fixed(left + slot * 0.25)}" y="${fixed(project(p.y, row.bytes) - 4)}" text-anchor="middle">${escape(bytes(row.bytes) + ratio)}</text>`,
    );
  });
  marks.push(...legend(tables.map((t) => ({ label: t, color: color(t) }))));
  return svg("storage", p, marks);
}

const CAPTIONS: Record<Figure, [string, (r: Report) => string]> = {
  documents: [
    "Exam documents against Convex's limits",
    () => "Each exam as loaded: its size as Convex counts it against 1 MiB, its largest array against 8,192 entries.",
  ],
  callWork: [
    "Each call's work over the run",
    (r) =>
      `${int(r.calls.length)} operator calls: the largest share of any Convex limit in the call's transactions; the embedded runtime enforces 50%.`,
  ],
  callTime: [
    "Each call's time over the run",
    (r) =>
      `${int(timedCalls(r).length)} queries and mutations: wall time in the embedded runtime (user code and the runtime's own overhead), against Convex's 1 s; times vary with the machine's load.`,
  ],
  reads: [
    "Bytes read per call: V1 against V2",
    (r) =>
      `The 8 reads: averages over the smoke pass (${int(r.smoke.pairs)} call pairs, the same student at the same instant); the 4 writes: a new student on each of the first ${int(r.costs.writes[0]?.v1.calls ?? 0)} exams, thrown away after; log scale.`,
  ],
  storage: [
    "Storage before and after",
    (r) =>
      `Document bytes by table (getConvexSize, indexes not counted); V1 = users + questions + exams before: ${bytes(r.costs.storage.v1Bytes)}.`,
  ],
};

function planTable(r: Report): string {
  const head = ["step", "npx convex run --prod …", "calls", "largest transaction", "longest call / 1 s"];
  const rows = r.plan.steps.map((st) => [
    st.step,
    st.command,
    planCalls(st),
    st.largestShare === null ? "-" : `${pct(st.largestShare.share)} of ${LIMIT_LABEL[st.largestShare.metric]}`,
    `${int(st.longestTransactionMs)} ms (${pct(st.longestTransactionMs / USER_CODE_LIMIT_MS)})`,
  ]);
  return `<table class="plan"><tr>${head.map((h) => `<th>${escape(h)}</th>`).join("")}</tr>${rows
    .map((row) => `<tr>${row.map((c, i) => `<td${i >= 2 ? ' class="n"' : ""}>${escape(c)}</td>`).join("")}</tr>`)
    .join("")}</table>`;
}

const STYLE = `body{font:14px/1.4 sans-serif;margin:24px;max-width:1000px;color:#222}
h1.passed{color:#176117}h1.failed{color:#a00}li.exceeded,li.failed,tr.failed{color:#a00}li.slow{color:#a65f00}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.n{text-align:right}
figure{margin:18px 0}figcaption{margin-bottom:4px}figcaption b{display:block}
svg text{font:11px sans-serif}svg text.title{font-size:12px}
pre{font:12px monospace;background:#f6f6f6;padding:8px;overflow-x:auto}`;

/** The verdict's list: each call over its bound and each failure of the one-deployment run, then the longest time and each time warning. */
function verdictList(r: Report): string {
  const items = [
    ...r.bounds.exceeded.map((e) => `<li class="exceeded">over its work bound: ${escape(exceededLine(e))}</li>`),
    ...deploymentFailures(r.plan.measured).map((line) => `<li class="failed">${escape(line)}</li>`),
    ...timeLines(r).map((line) => `<li class="${line.startsWith("WARNING") ? "slow" : "time"}">${escape(line)}</li>`),
  ];
  return `<ul class="bounds">${items.join("")}</ul>`;
}

/** The one-deployment run, from the text report's data: the students' actions by phase, a row per check. */
function deploymentSection(r: Report): string {
  const view = deploymentView(r.plan.measured);
  const phases = view.phases.length === 0 ? "" : `\n<ul class="live">${view.phases.map((p) => `<li>${escape(p)}</li>`).join("")}</ul>`;
  const checks =
    view.checks.length === 0
      ? ""
      : `\n<table class="checks"><tr>${DEPLOYMENT_CHECK_HEAD.map((h) => `<th>${escape(h)}</th>`).join("")}</tr>${view.checks
          .map((row) => `<tr class="${row[2] === "ok" ? "ok" : "failed"}">${row.map((c) => `<td>${escape(c)}</td>`).join("")}</tr>`)
          .join("")}</table>`;
  return `<section id="deployment"><h2>${escape(DEPLOYMENT_TITLE)}</h2>\n<p>${escape(view.intro)}</p>${phases}${checks}</section>`;
}

export function renderHtml(r: Report): string {
  const figures = FIGURES.map((figure) => {
    const [title, caption] = CAPTIONS[figure];
    const body = { documents: documentsPlot, callWork: callWorkPlot, callTime: callTimePlot, reads: readsPlot, storage: storagePlot }[
      figure
    ](r);
    return `<figure id="${figure}"><figcaption><b>${escape(title)}</b>${escape(caption(r))}</figcaption>\n${body}\n</figure>`;
  });
  const verdict = r.passed ? "PASSED" : "FAILED";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Migration rehearsal: ${verdict}</title><style>${STYLE}</style></head>
<body>
<h1 class="${r.passed ? "passed" : "failed"}">Migration rehearsal: ${verdict} (exit code ${r.exitCode})</h1>
<p>${escape(`${int(r.input.exams)} exams, ${int(r.input.participants)} participants, ${int(r.input.answers)} answers; --batch-size ${r.options.batchSize}; ${r.findings.failures} failure(s), ${r.findings.findings} finding(s); V1 = V2 on ${r.smoke.equal}/${r.smoke.pairs} call pairs.`)}</p>
${verdictList(r)}
${deploymentSection(r)}
<h2>Operator's plan</h2>
${planTable(r)}
<p>${escape(measuredPlanLine(r.plan.measured))}</p>
<h2>Figures</h2>
${figures.join("\n")}
<h2>The text report</h2>
<pre>${escape(renderReport(r))}</pre>
</body></html>
`;
}
