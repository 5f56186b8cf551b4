/**
 * The rehearsal's report: per-exam outcomes aggregated into what an operator
 * wants to know before running the migration on production (global status,
 * backup, batches, verification, findings by exam and user, the largest
 * transaction's share of each Convex limit, V1 against V2 read bandwidth,
 * times), and its text rendering.
 *
 * @example
 * const report = buildReport(outcomes, meta);
 * process.stdout.write(renderReport(report));
 */
import { CONVEX_LIMITS, HALF_TRANSACTION_LIMITS, WORK_BOUNDS } from "../../convex/lib/limits.js";
import { LIMITED_METRICS, limitShare, maxCost, type TransactionCost } from "./metrics.js";
import { BATCH_BUDGET_SHARE } from "../../convex/lib/budget.js";
import { PHASES, type CallRecord, type ExamOptions, type ExamOutcome, type Finding, type PhaseName, type StatusCounts } from "./types.js";
import {
  SHARED_TABLES,
  SINGLE_TABLES,
  STORAGE_POINTS,
  V1_TABLES,
  WRITES,
  JOB_SAMPLE_EXAMS,
  type RunCost,
  type StoragePoint,
  type TableSize,
} from "./costs.js";
import type { DirtyRecord } from "../dataset/generate.js";
import type { DeploymentRun, LiveTally, MeasuredPlan, SkippedPlan } from "./deployment.js";

export type ReportMeta = {
  input: {
    source: "generated" | "snapshot";
    path?: string;
    seed?: number;
    dirty?: boolean;
    users: number;
    questions: number;
    deletedQuestions: number;
    ignoredTables?: string[];
    componentTables?: string[];
    storage?: { files: number; bytes: number; largestBytes: number };
    folder?: string | null;
    /** Documents of this backend's own tables in the snapshot (a deployment already partly migrated). */
    v2Documents?: Record<string, number>;
    /** Only the first `rehearsed` of the snapshot's `of` exams were rehearsed (`--first-exams`); the rest were read and checked. */
    prefix?: { rehearsed: number; of: number };
  };
  options: ExamOptions & { workers: number };
  backup: { path: string; bytes: number };
  planted: DirtyRecord[];
  /** The one-deployment run (deployment.ts): migrate and cleanup calls, live students, rollback; or why not. */
  plan: DeploymentRun | SkippedPlan;
  userNames: Map<string, string>;
  wallMs: number;
  peakRssBytes: number;
};

export type PhaseSummary = {
  name: PhaseName;
  title: string;
  ok: number;
  failed: number;
  skipped: number;
  notes: string[];
  ms: number;
  calls: number;
  transactions: number;
  largest: TransactionCost;
  /** largest as a share (0..1) of Convex's limits. */
  largestShare: TransactionCost;
  /** The longest single query or mutation (embedded runtime): an estimate of its user code time. */
  longestTransactionMs: number;
};

/** One guide step as the operator will run it on production. */
export type PlanStep = {
  step: string;
  command: string;
  /** `npx convex run` calls at the chosen batch size (estimated where the rehearsal's per-exam instances differ from one deployment). */
  calls: number;
  callsEstimated: boolean;
  /** Migrate and cleanup: the estimate from the per-exam instances, beside `calls` measured in one deployment. */
  perExamEstimate?: number;
  /** The most-used Convex limit of the step's largest transaction. */
  largestShare: { metric: string; share: number } | null;
  /** Longest query/mutation in the embedded runtime, and its share of Convex's 1 s user-code limit (estimate). */
  longestTransactionMs: number;
  /** Estimated production time: the embedded work of the step plus PER_CALL_MS per call. */
  productionMs: number;
};

export type Plan = {
  steps: PlanStep[];
  /** Migrate and cleanup run in one deployment holding every exam, as production holds them (the source of their `calls`), or why not. */
  measured: DeploymentRun | SkippedPlan;
  productionMs: number;
  riskiest: { by: "document size" | "participants" | "dirt"; exams: { examKey: string; title: string; value: number }[] }[];
  reconciliation: { lines: string[]; reconciled: boolean };
};

/** Assumed round trip of one `npx convex run` (CLI start, network): added per call to the production estimate. */
export const PER_CALL_MS = 1_000;
/** Convex's limit on user code time per query or mutation. */
export const USER_CODE_LIMIT_MS = 1_000;
/** A query or mutation slower than this is a warning, not a failure: times vary with the machine's load, the work bound decides. */
export const SLOW_CALL_MS = USER_CODE_LIMIT_MS / 2;

/** One operator call, named as the verdict names it: the exam, the phase, the function and its call number in the phase. */
export type NamedCall = { exam: string; phase: PhaseName; name: string; number: number };
/** A call's figure over its bound: half of a Convex limit (HALF_TRANSACTION_LIMITS) or a work bound (WORK_BOUNDS). */
export type BoundExceeded = NamedCall & { figure: string; value: number; limit: number };
export type TimedCall = NamedCall & { ms: number };

export type BandwidthRow = {
  name: string;
  pairs: number;
  v1BytesRead: number;
  v2BytesRead: number;
  v1DocumentsRead: number;
  v2DocumentsRead: number;
  v1ResponseBytes: number;
  v2ResponseBytes: number;
  /** V1 bytes read per V2 byte read (averages). */
  ratio: number | null;
};

export type ReportFinding = Finding & { userName?: string };

/** Document bytes by table at one point of the run, summed over the exams' instances (costs.ts says how). */
export type StorageRow = {
  point: StoragePoint;
  title: string;
  tables: ({ table: string } & TableSize)[];
  documents: number;
  bytes: number;
  /** bytes over V1's (users + questions + exams before the migration). */
  ratioToV1: number | null;
};

export type Costs = {
  storage: { v1Bytes: number; rows: StorageRow[] };
  /** The scheduled header check: one pass over every exam (the instances' passes summed), and a day of passes at the interval. */
  headerCheck: { intervalMinutes: number; exams: number; passBytesRead: number; bytesReadPerDay: number } | null;
  /** The 4 write functions, V1 and V2: averages over the exams where the call succeeded, and the error codes of the others. */
  writes: { name: string; v1: SideCost; v2: SideCost }[];
  /** Per run, over the exams: the mirror's first run after the migration, a run after a new student's start, pause, resume and submit, the counts' fold. */
  jobs: { firstMirror: JobCost | null; mirror: JobCost | null; fold: JobCost | null };
};
export type SideCost = { calls: number; average: RunCost | null; errors: Record<string, number> };
export type JobCost = { exams: number; average: RunCost; largest: RunCost };

/** One operator call, for the plots: when in the run (since the first call), its wall time and its work. */
export type CallPoint = {
  exam: string;
  phase: PhaseName;
  atMs: number;
  ms: number;
  oneTransaction: boolean;
  /** The call's largest share of any Convex limit (each figure's maximum over its transactions), and which. */
  work: { metric: string; share: number };
  /** The function and its call number in the phase. */
  name: string;
  number: number;
  /** Its figure that WORK_BOUNDS bounds, and the bound it was checked against. */
  workBound?: CallRecord["work"];
};

export type Report = {
  passed: boolean;
  exitCode: number;
  input: ReportMeta["input"] & {
    exams: number;
    participants: number;
    answers: number;
    largestExamBytes: number;
    largestArray: number;
  };
  options: ReportMeta["options"];
  status: { before: StatusCounts | null; after: StatusCounts | null };
  backup: ReportMeta["backup"] & { pages: number; exams: number; participants: number; answers: number };
  migration: {
    calls: number;
    maxCallsPerExam: number;
    participants: number;
    answers: number;
    cleanupCalls: number;
    examsCleared: number;
  };
  phases: PhaseSummary[];
  /** The largest single-figure share of a Convex limit over every operator and API call. */
  largestShare: { phase: PhaseName; metric: string; share: number } | null;
  /** What the operator will run, per guide step, with its cost and time. */
  plan: Plan;
  bandwidth: { rows: BandwidthRow[]; total: Omit<BandwidthRow, "name"> };
  costs: Costs;
  /** Every operator call of every exam (JSON only; the HTML page plots them). */
  calls: CallPoint[];
  /** Calls over their bound (each fails the rehearsal), queries and mutations over SLOW_CALL_MS (warnings), and the longest. */
  bounds: { checked: number; exceeded: BoundExceeded[]; slow: TimedCall[]; longest: TimedCall | null };
  smoke: { pairs: number; equal: number; different: number };
  plantedDirt: { planted: number; reported: number; unreported: DirtyRecord[] };
  findings: {
    failures: number;
    findings: number;
    byKind: Record<string, number>;
    byExam: { examKey: string; title: string; items: ReportFinding[] }[];
  };
  timing: { wallMs: number; phaseMs: number; peakRssBytes: number };
  /** One line per exam (JSON only): input size, calls, what each phase said. */
  exams: {
    examKey: string;
    title: string;
    participants: number;
    answers: number;
    documentBytes: number;
    /** Largest array in the exam document (limit 8,192 elements). */
    largestArray: number;
    migrationCalls: number;
    cleared: boolean | null;
    failures: number;
    findings: number;
    phases: Partial<Record<PhaseName, string>>;
  }[];
};

export const EXIT = { passed: 0, failed: 1, badInput: 2, crashed: 3 } as const;

function sumStatus(list: (StatusCounts | undefined)[]): StatusCounts | null {
  const present = list.filter((s): s is StatusCounts => s !== undefined);
  if (present.length === 0) return null;
  return {
    v1: {
      examsWithParticipants: present.reduce((n, s) => n + s.v1.examsWithParticipants, 0),
      totalParticipants: present.reduce((n, s) => n + s.v1.totalParticipants, 0),
      totalAnswers: present.reduce((n, s) => n + s.v1.totalAnswers, 0),
    },
    v2: {
      participations: present.reduce((n, s) => n + s.v2.participations, 0),
      answers: present.reduce((n, s) => n + s.v2.answers, 0),
    },
    migrationComplete: present.length === list.length && present.every((s) => s.migrationComplete),
  };
}

export function buildReport(outcomes: readonly ExamOutcome[], meta: ReportMeta): Report {
  const phases: PhaseSummary[] = PHASES.map(({ name, title }) => {
    const results = outcomes.map((o) => o.phases[name]).filter((r) => r !== undefined);
    const largest = maxCost(results.map((r) => r.largest));
    return {
      name,
      title,
      ok: results.filter((r) => r.status === "ok").length,
      failed: results.filter((r) => r.status === "failed").length,
      skipped: results.filter((r) => r.status === "skipped").length,
      notes: [...new Set(results.map((r) => r.note).filter((n): n is string => n !== undefined && n.startsWith("skipped")))],
      ms: results.reduce((n, r) => n + r.ms, 0),
      calls: results.reduce((n, r) => n + r.calls, 0),
      transactions: results.reduce((n, r) => n + r.transactions, 0),
      largest,
      largestShare: Object.fromEntries(LIMITED_METRICS.map((k) => [k, limitShare(k, largest[k])])) as TransactionCost,
      longestTransactionMs: Math.max(0, ...results.map((r) => r.longestTransactionMs ?? 0)),
    };
  });
  let largestShare: Report["largestShare"] = null;
  for (const p of phases) {
    if (p.name === "load") continue; // seeding the embedded runtime is not part of the migration
    for (const k of LIMITED_METRICS) {
      if (largestShare === null || p.largestShare[k] > largestShare.share)
        largestShare = { phase: p.name, metric: k, share: p.largestShare[k] };
    }
  }

  const smoke = outcomes.flatMap((o) => o.smoke);
  const byName = new Map<string, typeof smoke>();
  for (const c of smoke) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
  const bandwidthRow = (calls: typeof smoke): Omit<BandwidthRow, "name"> => {
    const both = calls.filter((c) => c.v1 !== null && c.v2 !== null && c.v1.error === undefined && c.v2.error === undefined);
    const avg = (f: (c: (typeof both)[number]) => number) =>
      both.length === 0 ? 0 : Math.round(both.reduce((n, c) => n + f(c), 0) / both.length);
    const row = {
      pairs: both.length,
      v1BytesRead: avg((c) => c.v1!.bytesRead),
      v2BytesRead: avg((c) => c.v2!.bytesRead),
      v1DocumentsRead: avg((c) => c.v1!.documentsRead),
      v2DocumentsRead: avg((c) => c.v2!.documentsRead),
      v1ResponseBytes: avg((c) => c.v1!.responseBytes),
      v2ResponseBytes: avg((c) => c.v2!.responseBytes),
    };
    return { ...row, ratio: row.v2BytesRead > 0 ? row.v1BytesRead / row.v2BytesRead : null };
  };

  const enrich = (f: Finding): ReportFinding =>
    f.userKey !== undefined && meta.userNames.has(f.userKey) ? { ...f, userName: meta.userNames.get(f.userKey)! } : f;
  const allFindings = outcomes.flatMap((o) => o.findings.map(enrich));
  const byKind: Record<string, number> = {};
  for (const f of allFindings) byKind[f.kind ?? f.phase] = (byKind[f.kind ?? f.phase] ?? 0) + 1;
  const unreported = meta.planted.filter(
    (d) => !allFindings.some((f) => f.kind === d.kind && f.examKey === d.examKey && (f.userKey === undefined || f.userKey === d.userKey)),
  );
  const failures = allFindings.filter((f) => f.severity === "failure").length;
  const phaseFailures = phases.reduce((n, p) => n + p.failed, 0);
  const bounds = boundsOf(outcomes);
  const planFailed = deploymentFailures(meta.plan).length > 0;
  const passed = failures === 0 && phaseFailures === 0 && unreported.length === 0 && bounds.exceeded.length === 0 && !planFailed;
  const maxCallsPerExam = Math.max(0, ...outcomes.map((o) => o.migration.calls));

  return {
    passed,
    exitCode: passed ? EXIT.passed : EXIT.failed,
    input: {
      ...meta.input,
      exams: outcomes.length,
      participants: outcomes.reduce((n, o) => n + o.input.participants, 0),
      answers: outcomes.reduce((n, o) => n + o.input.answers, 0),
      largestExamBytes: Math.max(0, ...outcomes.map((o) => o.input.documentBytes)),
      largestArray: Math.max(0, ...outcomes.map((o) => o.input.largestArray)),
    },
    options: meta.options,
    status: { before: sumStatus(outcomes.map((o) => o.statusBefore)), after: sumStatus(outcomes.map((o) => o.statusAfter)) },
    backup: {
      ...meta.backup,
      pages: outcomes.reduce((n, o) => n + o.exported.pages, 0),
      exams: outcomes.reduce((n, o) => n + o.exported.entries, 0),
      participants: outcomes.reduce((n, o) => n + o.exported.participants, 0),
      answers: outcomes.reduce((n, o) => n + o.exported.answers, 0),
    },
    migration: {
      calls: outcomes.reduce((n, o) => n + o.migration.calls, 0),
      maxCallsPerExam,
      participants: outcomes.reduce((n, o) => n + o.migration.participants, 0),
      answers: outcomes.reduce((n, o) => n + o.migration.answers, 0),
      cleanupCalls: outcomes.reduce((n, o) => n + o.cleanup.calls, 0),
      examsCleared: outcomes.filter((o) => o.cleanup.cleared === true).length,
    },
    phases,
    largestShare,
    plan: buildPlan(outcomes, phases, meta, allFindings, sumStatus(outcomes.map((o) => o.statusAfter))),
    bandwidth: { rows: [...byName].map(([name, calls]) => ({ name, ...bandwidthRow(calls) })), total: bandwidthRow(smoke) },
    costs: { storage: storageCosts(outcomes), headerCheck: headerCheckCosts(outcomes), ...jobCosts(outcomes) },
    calls: callPoints(outcomes),
    bounds,
    smoke: {
      pairs: smoke.length,
      equal: smoke.filter((c) => c.equal === true).length,
      different: smoke.filter((c) => c.equal === false).length,
    },
    plantedDirt: { planted: meta.planted.length, reported: meta.planted.length - unreported.length, unreported },
    findings: {
      failures,
      findings: allFindings.length - failures,
      byKind,
      byExam: outcomes
        .filter((o) => o.findings.length > 0)
        .map((o) => ({
          examKey: o.examKey,
          title: o.title,
          items: o.findings.map(enrich),
        })),
    },
    timing: { wallMs: meta.wallMs, phaseMs: phases.reduce((n, p) => n + p.ms, 0), peakRssBytes: meta.peakRssBytes },
    exams: outcomes.map((o) => ({
      examKey: o.examKey,
      title: o.title,
      participants: o.input.participants,
      answers: o.input.answers,
      documentBytes: o.input.documentBytes,
      largestArray: o.input.largestArray,
      migrationCalls: o.migration.calls,
      cleared: o.cleanup.cleared,
      failures: o.findings.filter((f) => f.severity === "failure").length,
      findings: o.findings.filter((f) => f.severity === "finding").length,
      phases: Object.fromEntries(Object.entries(o.phases).map(([name, r]) => [name, r.note ? `${r.status}: ${r.note}` : r.status])),
    })),
  };
}

const STORAGE_TITLES: Record<StoragePoint, string> = {
  before: "before migration",
  afterMigration: "after migration",
  afterCleanup: "after cleanup",
};

/**
 * Each point's tables summed over the instances: a table of one exam's data adds up, a shared table's
 * documents count once each (by the input's id), a single table counts its largest instance.
 */
export function storageCosts(outcomes: readonly ExamOutcome[]): Costs["storage"] {
  const shared = new Set<string>(SHARED_TABLES);
  const single = new Set<string>(SINGLE_TABLES);
  const rows = STORAGE_POINTS.flatMap((point): Omit<StorageRow, "ratioToV1">[] => {
    const snapshots = outcomes.map((o) => o.storage[point]).filter((s) => s !== undefined);
    if (snapshots.length === 0) return [];
    const tables = new Map<string, TableSize>();
    const perDocument = new Map<string, Map<string, number>>();
    for (const snapshot of snapshots) {
      for (const [table, size] of Object.entries(snapshot.tables)) {
        const sum = tables.get(table) ?? { documents: 0, bytes: 0 };
        if (single.has(table)) tables.set(table, sum.bytes >= size.bytes ? sum : { ...size });
        else if (!shared.has(table)) tables.set(table, { documents: sum.documents + size.documents, bytes: sum.bytes + size.bytes });
      }
      for (const [table, sizes] of Object.entries(snapshot.shared)) {
        const byKey = perDocument.get(table) ?? new Map<string, number>();
        for (const [key, bytes] of Object.entries(sizes)) byKey.set(key, bytes);
        perDocument.set(table, byKey);
      }
    }
    for (const [table, byKey] of perDocument) {
      if (byKey.size > 0) tables.set(table, { documents: byKey.size, bytes: [...byKey.values()].reduce((n, b) => n + b, 0) });
    }
    const list = [...tables].map(([table, size]) => ({ table, ...size })).sort((a, b) => b.bytes - a.bytes);
    return [
      {
        point,
        title: STORAGE_TITLES[point],
        tables: list,
        documents: list.reduce((n, t) => n + t.documents, 0),
        bytes: list.reduce((n, t) => n + t.bytes, 0),
      },
    ];
  });
  const before = rows.find((r) => r.point === "before");
  const v1Bytes = before?.tables.filter((t) => (V1_TABLES as readonly string[]).includes(t.table)).reduce((n, t) => n + t.bytes, 0) ?? 0;
  return { v1Bytes, rows: rows.map((r) => ({ ...r, ratioToV1: v1Bytes > 0 ? r.bytes / v1Bytes : null })) };
}

function headerCheckCosts(outcomes: readonly ExamOutcome[]): Costs["headerCheck"] {
  const passes = outcomes.map((o) => o.headerCheck).filter((h) => h !== null);
  if (passes.length === 0) return null;
  const intervalMinutes = passes[0]!.intervalMinutes;
  const passBytesRead = passes.reduce((n, h) => n + h.bytesRead, 0);
  return {
    intervalMinutes,
    exams: passes.reduce((n, h) => n + h.exams, 0),
    passBytesRead,
    // As examAdmin:headerCheckStatus computes it from one pass.
    bytesReadPerDay: Math.round(passBytesRead * ((24 * 60) / intervalMinutes)),
  };
}

const RUN_FIGURES = ["bytesRead", "documentsRead", "bytesWritten", "documentsWritten"] as const;
const averageRun = (runs: readonly RunCost[]): RunCost =>
  Object.fromEntries(RUN_FIGURES.map((k) => [k, Math.round(runs.reduce((n, r) => n + r[k], 0) / runs.length)])) as RunCost;
const largestRun = (runs: readonly RunCost[]): RunCost =>
  Object.fromEntries(RUN_FIGURES.map((k) => [k, Math.max(...runs.map((r) => r[k]))])) as RunCost;

function jobCosts(outcomes: readonly ExamOutcome[]): Pick<Costs, "writes" | "jobs"> {
  const runs = outcomes.map((o) => o.jobRuns).filter((j) => j !== null);
  const side = (list: (RunCost | { error: string })[]): SideCost => {
    const ok = list.filter((c): c is RunCost => !("error" in c));
    const errors: Record<string, number> = {};
    for (const c of list) if ("error" in c) errors[c.error] = (errors[c.error] ?? 0) + 1;
    return { calls: list.length, average: ok.length === 0 ? null : averageRun(ok), errors };
  };
  const writes = WRITES.map((name) => {
    const measured = runs.flatMap((j) => j.writes.filter((w) => w.name === name));
    return { name, v1: side(measured.map((w) => w.v1)), v2: side(measured.map((w) => w.v2)) };
  });
  const job = (list: (RunCost | null)[]): JobCost | null => {
    const ok = list.filter((c) => c !== null);
    return ok.length === 0 ? null : { exams: ok.length, average: averageRun(ok), largest: largestRun(ok) };
  };
  return {
    writes,
    jobs: { firstMirror: job(runs.map((j) => j.firstMirror)), mirror: job(runs.map((j) => j.mirror)), fold: job(runs.map((j) => j.fold)) },
  };
}

/** Every call's figures against its bounds, and its time against SLOW_CALL_MS (queries and mutations: an action's time is not one transaction's). */
export function boundsOf(outcomes: readonly Pick<ExamOutcome, "examKey" | "calls">[]): Report["bounds"] {
  const out: Report["bounds"] = { checked: 0, exceeded: [], slow: [], longest: null };
  for (const o of outcomes) {
    for (const c of o.calls) {
      out.checked++;
      const named = { exam: o.examKey, phase: c.phase, name: c.name, number: c.number };
      for (const k of LIMITED_METRICS)
        if (c.largest[k] > HALF_TRANSACTION_LIMITS[k])
          out.exceeded.push({ ...named, figure: k, value: c.largest[k], limit: HALF_TRANSACTION_LIMITS[k] });
      if (c.work !== undefined && c.work.value > c.work.limit)
        out.exceeded.push({ ...named, figure: c.work.bound, value: c.work.value, limit: c.work.limit });
      if (!c.oneTransaction) continue;
      if (c.ms > SLOW_CALL_MS) out.slow.push({ ...named, ms: c.ms });
      if (out.longest === null || c.ms > out.longest.ms) out.longest = { ...named, ms: c.ms };
    }
  }
  return out;
}

function callPoints(outcomes: readonly ExamOutcome[]): CallPoint[] {
  const start = Math.min(...outcomes.flatMap((o) => o.calls.map((c) => c.at)));
  return outcomes
    .flatMap((o) =>
      o.calls.map((c) => {
        let work = { metric: LIMITED_METRICS[0] as string, share: 0 };
        for (const k of LIMITED_METRICS)
          if (limitShare(k, c.largest[k]) > work.share) work = { metric: k, share: limitShare(k, c.largest[k]) };
        return {
          exam: o.examKey,
          phase: c.phase,
          name: c.name,
          number: c.number,
          atMs: c.at - start,
          ms: c.ms,
          oneTransaction: c.oneTransaction,
          work,
          ...(c.work === undefined ? {} : { workBound: c.work }),
        };
      }),
    )
    .sort((a, b) => a.atMs - b.atMs);
}

function buildPlan(
  outcomes: readonly ExamOutcome[],
  phases: PhaseSummary[],
  meta: ReportMeta,
  findings: readonly Finding[],
  after: StatusCounts | null,
): Plan {
  const phase = (name: PhaseName) => phases.find((p) => p.name === name)!;
  const batch = meta.options.batchSize;
  const extraCalls = (calls: (o: ExamOutcome) => number) => outcomes.reduce((n, o) => n + Math.max(0, calls(o) - 1), 0);
  const withParticipants = outcomes.filter((o) => o.input.participants > 0).length;
  const documentBytes = outcomes.reduce((n, o) => n + o.input.documentBytes, 0);
  const measured = meta.plan;
  // Migrate and cleanup share one call's budget across exams: the one-deployment count is production's, the per-exam one an estimate.
  const sharedBudget = (stepName: string, command: string, name: "migrate" | "cleanup", estimate: number): PlanStep =>
    "skipped" in measured
      ? step(stepName, command, name, estimate, true)
      : { ...step(stepName, command, name, measured[name].calls, false), perExamEstimate: estimate };
  const step = (stepName: string, command: string, name: PhaseName, calls: number, callsEstimated: boolean): PlanStep => {
    const p = phase(name);
    let largest: PlanStep["largestShare"] = null;
    for (const k of LIMITED_METRICS)
      if (largest === null || p.largestShare[k] > largest.share) largest = { metric: k, share: p.largestShare[k] };
    return {
      step: stepName,
      command,
      calls,
      callsEstimated,
      largestShare: largest,
      longestTransactionMs: p.longestTransactionMs,
      productionMs: p.ms + calls * PER_CALL_MS,
    };
  };
  const steps = [
    step("2. status", "migrations:checkMigrationStatus", "status", 1, false),
    // Pages hold whole exams up to the read budget.
    step(
      "3. backup",
      "migrations:exportV1ParticipantData",
      "export",
      Math.max(1, Math.ceil(documentBytes / (CONVEX_LIMITS.bytesRead * BATCH_BUDGET_SHARE))),
      true,
    ),
    sharedBudget(
      "4. migrate",
      `migrations:migrateExamParticipants {"batchSize": ${batch}}`,
      "migrate",
      Math.ceil(withParticipants / batch) + extraCalls((o) => o.migration.calls) + 1,
    ),
    step("5. verify", "migrations:verifyMigrationIntegrity", "verify", 1, false),
    step(
      "views",
      "projections/rebuild:rebuildProjections + verifyProjections",
      "projections",
      outcomes.reduce((n, o) => n + (o.phases.projections?.calls ?? 0), 0),
      false,
    ),
    step(
      "audit",
      "audit:verifyAuditChain",
      "audit",
      outcomes.reduce((n, o) => n + (o.phases.audit?.calls ?? 0), 0),
      false,
    ),
  ];
  if (meta.options.cleanup) {
    steps.push(
      sharedBudget(
        "8. cleanup",
        `migrations:migrateExamParticipants {"clearAfterMigration": true, "batchSize": ${batch}}`,
        "cleanup",
        Math.ceil(withParticipants / batch) + extraCalls((o) => o.cleanup.calls) + 1,
      ),
    );
  }
  const top = (value: (o: ExamOutcome) => number) =>
    [...outcomes]
      .sort((a, b) => value(b) - value(a))
      .slice(0, 3)
      .filter((o) => value(o) > 0)
      .map((o) => ({ examKey: o.examKey, title: o.title, value: value(o) }));
  const dirt = new Map<string, number>();
  for (const f of findings) if (f.severity === "finding") dirt.set(f.examKey, (dirt.get(f.examKey) ?? 0) + 1);

  // V1 against V2, line by line: duplicate entries are kept in the log (no row), their answers too.
  const p = outcomes.reduce((n, o) => n + o.input.participants, 0);
  const a = outcomes.reduce((n, o) => n + o.input.answers, 0);
  const d = outcomes.reduce((n, o) => n + o.input.duplicateEntries, 0);
  const da = outcomes.reduce((n, o) => n + o.input.duplicateAnswers, 0);
  const lines = [
    `V1 participants ${int(p)} = ${int(p - d)} users + ${int(d)} duplicate entr${d === 1 ? "y" : "ies"} (kept in the log as LegacyDuplicateImported, no row of their own)`,
    `V1 answers ${int(a)} = ${int(a - da)} in users' first entries + ${int(da)} in duplicate entries (kept in the log)`,
  ];
  let reconciled = true;
  if (after !== null) {
    const live = after.v2.participations - (p - d);
    lines.push(
      `V2 participations ${int(after.v2.participations)} = ${int(p - d)} users${live !== 0 ? ` ${live > 0 ? "+" : "−"} ${int(Math.abs(live))} (live attempts, or missing)` : ""}`,
    );
    lines.push(
      `V2 answer rows ${int(after.v2.answers)} = ${int(a - da)} first-entry answers${after.v2.answers !== a - da ? ` (differs by ${int(after.v2.answers - (a - da))})` : ""}`,
    );
    reconciled = live === 0 && after.v2.answers === a - da;
  }
  return {
    steps,
    measured,
    productionMs: steps.reduce((n, s) => n + s.productionMs, 0),
    riskiest: [
      { by: "document size", exams: top((o) => o.input.documentBytes) },
      { by: "participants", exams: top((o) => o.input.participants) },
      { by: "dirt", exams: top((o) => dirt.get(o.examKey) ?? 0) },
    ],
    reconciliation: { lines, reconciled },
  };
}

// ---- Text rendering ----

/** A step's calls; migrate and cleanup measured in one deployment show the per-exam estimate beside. */
export const planCalls = (st: PlanStep) =>
  `${st.callsEstimated ? "≈ " : ""}${int(st.calls)}${st.perExamEstimate === undefined ? "" : ` (per-exam estimate ≈ ${int(st.perExamEstimate)})`}`;

const stoppedBy = (l: MeasuredPlan["migrate"]) =>
  Object.entries(l.stopped)
    .map(([why, n]) => `${int(n)} ${why}`)
    .join(", ");

export function measuredPlanLine(m: Plan["measured"]): string {
  if ("skipped" in m)
    return `migrate and cleanup calls NOT measured in one deployment (${m.skipped}): the per-exam estimates shown may be off several-fold.`;
  return (
    `migrate and cleanup calls measured in one deployment holding all ${int(m.exams)} exams (${int(m.entries)} V1 entries), as production holds them:` +
    ` migrate ${int(m.migrate.calls)} (stopped by: ${stoppedBy(m.migrate)}), ` +
    (m.cleanup.calls === 0 ? "cleanup not run (--no-cleanup)," : `cleanup ${int(m.cleanup.calls)} (stopped by: ${stoppedBy(m.cleanup)}),`) +
    (m.liveRate === 0
      ? " no student acting."
      : m.cleanup.calls === 0
        ? ` ${int(m.liveRate)} student action(s) before each call.`
        : ` ${int(m.liveRate)} student action(s) before each call: their mirror jobs pass the imported events of the exams they touch, which the cleanup otherwise passes itself, so a deployment where no student acts takes more cleanup calls (--live-students 0).`)
  );
}

export const DEPLOYMENT_TITLE = "One deployment: students live, rollback (every exam in one embedded deployment, on a simulated clock)";
export const DEPLOYMENT_CHECK_HEAD = ["after", "check", "result", "what it said"];

/** The one-deployment run as the text report and the HTML page show it: a line on the students, their actions by phase, every check as a row (DEPLOYMENT_CHECK_HEAD); or why it was not made. */
export function deploymentView(m: Plan["measured"]): { intro: string; phases: string[]; checks: string[][] } {
  if ("skipped" in m)
    return {
      intro: `NOT rehearsed: ${m.skipped}. Live students and both rollbacks are rehearsed only on input that fits one deployment.`,
      phases: [],
      checks: [],
    };
  const actions = (l: LiveTally) =>
    Object.entries(l.done)
      .map(([k, n]) => `${int(n)} ${k}`)
      .join(", ");
  const refused = (l: LiveTally) =>
    Object.keys(l.refused).length === 0
      ? "none refused"
      : `refused: ${Object.entries(l.refused)
          .map(([k, n]) => `${int(n)} ${k}`)
          .join(", ")}`;
  return {
    intro: `${int(m.liveRate)} student action(s) before each migration or cleanup call (--live-students); ${secs(m.simulatedMs)} of simulated time in ${secs(m.wallMs)}:`,
    phases: m.live.map((l) => `${l.phase} (${l.functions} functions): ${actions(l)}; ${refused(l)}; ${int(l.students)} student(s) acted`),
    checks: m.checks.map((c) => [c.step, c.name, c.ok ? "ok" : "FAIL", c.note]),
  };
}

/** The text report's section on the one-deployment run. */
export function deploymentLines(m: Plan["measured"]): string[] {
  const view = deploymentView(m);
  if ("skipped" in m) return [view.intro];
  return [view.intro, ...view.phases.map((p) => `  ${p}`), table(DEPLOYMENT_CHECK_HEAD, view.checks, 4)];
}

/** The verdict's lines on the one-deployment run: why it failed, or each check that failed. */
export function deploymentFailures(m: Plan["measured"]): string[] {
  if ("skipped" in m) return "failed" in m ? [`one deployment: ${m.skipped}`] : [];
  return m.checks.filter((c) => !c.ok).map((c) => `one deployment, ${c.step}: ${c.name} FAILED: ${c.note}`);
}

export const int = (n: number) => Math.round(n).toLocaleString("en-US");
export const pct = (share: number) => `${(share * 100).toFixed(share < 0.001 && share > 0 ? 3 : 1)}%`;
export const bytes = (n: number) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${int(n)} B`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A plain text table: the first `leftColumns` columns left-aligned, the others (figures) right-aligned. */
export function table(head: string[], rows: (string | number)[][], leftColumns = 1): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

export const LIMIT_LABEL: Record<string, string> = {
  documentsRead: "docs read",
  bytesRead: "bytes read",
  documentsWritten: "docs written",
  bytesWritten: "bytes written",
  databaseQueries: "queries",
  functionsScheduled: "scheduled",
};

const WORK_LABEL: Record<keyof typeof WORK_BOUNDS, string> = {
  headerCheckExams: "exams visited",
  migrationEntriesPerCall: "V1 entries",
  streamsPerPage: "attempts replayed",
  orphanHeadersPerStep: "orphan headers",
  newQuestionIdsPerEdit: "new question ids",
  questionsPerCall: "questions read",
};
const phaseTitle = (name: PhaseName) => PHASES.find((p) => p.name === name)!.title;
/** `e0 step 4 · migrate: migrations:migrateExamParticipants call 1` */
export const callName = (c: NamedCall) => `${c.exam} ${phaseTitle(c.phase)}: ${c.name} call ${c.number}`;
/** What the verdict says of a call over its bound. */
export function exceededLine(e: BoundExceeded): string {
  const work = WORK_BOUNDS[e.figure as keyof typeof WORK_BOUNDS] as number | undefined;
  const bound =
    work === undefined
      ? `half of Convex's ${int(CONVEX_LIMITS[e.figure as keyof typeof CONVEX_LIMITS])}`
      : work === e.limit
        ? `WORK_BOUNDS.${e.figure}`
        : `lowered by --fault over-bound from WORK_BOUNDS.${e.figure}, ${int(work)}`;
  const label = LIMIT_LABEL[e.figure] ?? WORK_LABEL[e.figure as keyof typeof WORK_BOUNDS];
  return `${callName(e)}: ${int(e.value)} ${label}, over its bound of ${int(e.limit)} (${bound})`;
}
/** The verdict's lines on time: the longest query or mutation against Convex's 1 s, and the warnings. */
export function timeLines(r: Report): string[] {
  const b = r.bounds;
  if (b.longest === null) return [];
  return [
    `longest query or mutation ${int(b.longest.ms)} ms of Convex's 1 s (${pct(b.longest.ms / USER_CODE_LIMIT_MS)}): ${callName(b.longest)}`,
    ...b.slow.map(
      (c) =>
        `WARNING: ${callName(c)} took ${int(c.ms)} ms, over ${int(SLOW_CALL_MS)} ms (wall time: it varies with load; the bound decides)`,
    ),
  ];
}

export function renderReport(r: Report, maxFindings = 40): string {
  const out: string[] = [];
  const h = (title: string) => out.push("", `== ${title} ==`);
  out.push(`Migration rehearsal: ${r.passed ? "PASSED" : "FAILED"} (exit code ${r.exitCode})`);

  h("Input");
  const src =
    r.input.source === "snapshot"
      ? `snapshot ${r.input.path}`
      : `generated dataset (seed ${r.input.seed}, ${r.input.dirty ? "with" : "without"} dirty data)`;
  out.push(
    `${src}: ${int(r.input.exams)} exams, ${int(r.input.participants)} participants, ${int(r.input.answers)} answers, ${int(r.input.users)} users, ${int(r.input.questions)} questions (${int(r.input.deletedQuestions)} deleted but still answered)`,
    `largest exam document ${bytes(r.input.largestExamBytes)} (${pct(r.input.largestExamBytes / CONVEX_LIMITS.documentBytes)} of 1 MiB), largest array ${int(r.input.largestArray)} elements (${pct(r.input.largestArray / CONVEX_LIMITS.arrayElements)} of 8,192)`,
  );
  if (r.input.ignoredTables?.length) out.push(`tables in the export not rehearsed: ${r.input.ignoredTables.join(", ")}`);
  if (r.input.prefix) {
    out.push(
      `ONLY THE FIRST ${int(r.input.prefix.rehearsed)} OF ${int(r.input.prefix.of)} EXAMS were rehearsed (--first-exams); the others were read and checked, not migrated`,
    );
  }

  h("Status (step 2 and final)");
  const s = (x: StatusCounts | null) =>
    x === null
      ? ["-", "-", "-", "-", "-", "-"]
      : [
          int(x.v1.examsWithParticipants),
          int(x.v1.totalParticipants),
          int(x.v1.totalAnswers),
          int(x.v2.participations),
          int(x.v2.answers),
          String(x.migrationComplete),
        ];
  out.push(
    table(
      ["", "V1 exams", "V1 participants", "V1 answers", "V2 participations", "V2 answers", "complete"],
      [
        ["before", ...s(r.status.before)],
        ["after", ...s(r.status.after)],
      ],
    ),
  );

  h("Backup (step 3) and migration (step 4)");
  out.push(
    `backup ${r.backup.path} (${bytes(r.backup.bytes)}): ${int(r.backup.exams)} exams, ${int(r.backup.participants)} participants, ${int(r.backup.answers)} answers in ${int(r.backup.pages)} page(s)`,
    `migration: ${int(r.migration.calls)} migrateExamParticipants call(s) in the rehearsal (at most ${r.migration.maxCallsPerExam} per exam, one deployment per exam); production's calls: the plan below`,
    `migrated ${int(r.migration.participants)} participants and ${int(r.migration.answers)} answers; cleanup: ${int(r.migration.cleanupCalls)} call(s), ${int(r.migration.examsCleared)} exam array(s) cleared`,
  );

  h("Operator's plan (per guide step, at --batch-size " + r.options.batchSize + ")");
  out.push(
    table(
      ["step", "npx convex run --prod …", "calls", "largest transaction", "longest call / 1 s", "production time"],
      r.plan.steps.map((st) => [
        st.step,
        st.command,
        planCalls(st),
        st.largestShare === null ? "-" : `${pct(st.largestShare.share)} of ${LIMIT_LABEL[st.largestShare.metric]}`,
        `${int(st.longestTransactionMs)} ms (${pct(st.longestTransactionMs / USER_CODE_LIMIT_MS)})`,
        `≈ ${secs(st.productionMs)}`,
      ]),
      2,
    ),
    `production time ≈ ${secs(r.plan.productionMs)} in all. Estimates: the embedded runtime's time for the same work plus ${int(PER_CALL_MS)} ms per call;` +
      ` "longest call" is a query or mutation's wall time in the embedded runtime (user code and convex-test's own overhead), against Convex's 1 s user-code limit.`,
    measuredPlanLine(r.plan.measured),
  );
  for (const risk of r.plan.riskiest) {
    if (risk.exams.length === 0) continue;
    const show = (v: number) => (risk.by === "document size" ? bytes(v) : int(v));
    out.push(`riskiest by ${risk.by}: ${risk.exams.map((e) => `${e.examKey} "${e.title}" (${show(e.value)})`).join(", ")}`);
  }
  out.push(
    `V1 against V2${r.plan.reconciliation.reconciled ? "" : " (NOT reconciled)"}:`,
    ...r.plan.reconciliation.lines.map((l) => `  ${l}`),
  );

  h(DEPLOYMENT_TITLE);
  out.push(...deploymentLines(r.plan.measured));

  h("Phases (times summed over exams; largest transaction of each phase as a share of Convex's limits)");
  out.push(
    table(
      ["phase", "ok", "failed", "skipped", "time", "calls", ...LIMITED_METRICS.map((k) => LIMIT_LABEL[k]!)],
      r.phases.map((p) => [
        p.title,
        p.ok,
        p.failed,
        p.skipped,
        secs(p.ms),
        int(p.calls),
        ...LIMITED_METRICS.map((k) => (p.name === "load" ? "-" : pct(p.largestShare[k]))),
      ]),
    ),
  );
  for (const p of r.phases) for (const note of p.notes) out.push(`  ${p.title}: ${note}`);
  if (r.largestShare)
    out.push(
      `largest share of any limit: ${pct(r.largestShare.share)} of ${LIMIT_LABEL[r.largestShare.metric]} (${r.largestShare.phase}); the embedded runtime enforces 50%`,
    );

  h("Bandwidth: V1 against V2, per read call (averages over the smoke pass)");
  if (r.bandwidth.rows.length === 0) out.push("no smoke calls were made");
  else {
    const row = (name: string, b: Omit<BandwidthRow, "name">) => [
      name,
      int(b.pairs),
      bytes(b.v1BytesRead),
      bytes(b.v2BytesRead),
      b.ratio === null ? "-" : `${b.ratio.toFixed(1)}×`,
      int(b.v1DocumentsRead),
      int(b.v2DocumentsRead),
      bytes(b.v1ResponseBytes),
      bytes(b.v2ResponseBytes),
    ];
    out.push(
      table(
        ["call", "pairs", "V1 read", "V2 read", "V1/V2", "V1 docs", "V2 docs", "V1 reply", "V2 reply"],
        [...r.bandwidth.rows.map((b) => row(b.name, b)), row("all calls", r.bandwidth.total)],
      ),
    );
    out.push(`V1 = V2 results: ${r.smoke.equal}/${r.smoke.pairs} call pairs${r.smoke.different ? ` (${r.smoke.different} differ)` : ""}`);
  }

  h("Costs: storage, writes and scheduled jobs");
  out.push("Document bytes by table (getConvexSize of each document, indexes not counted):");
  const storage = r.costs.storage;
  if (storage.rows.length === 0) out.push("not measured (no exam loaded)");
  else {
    const names = [...new Set(storage.rows.flatMap((row) => row.tables.map((t) => t.table)))];
    const cell = (row: StorageRow, table: string) => {
      const t = row.tables.find((x) => x.table === table);
      return t === undefined ? "-" : bytes(t.bytes);
    };
    out.push(
      table(
        ["table", ...storage.rows.map((row) => row.title)],
        [
          ...names.map((name) => [name, ...storage.rows.map((row) => cell(row, name))]),
          ["all tables", ...storage.rows.map((row) => bytes(row.bytes))],
          ["× V1", ...storage.rows.map((row) => (row.ratioToV1 === null ? "-" : `${row.ratioToV1.toFixed(2)}×`))],
        ],
      ),
      `V1 = users + questions + exams before the migration: ${int(storage.v1Bytes)} bytes. users and questions count each document once; migrationProgress and examApiSettings one exam's instance (production holds one set).`,
    );
  }
  const hc = r.costs.headerCheck;
  out.push(
    hc === null
      ? "scheduled header check: no pass measured"
      : `scheduled header check (examAdmin:headerCheckStatus, its pass after the migration): ${bytes(hc.passBytesRead)} read over ${int(hc.exams)} exam(s), every ${hc.intervalMinutes} min ${bytes(hc.bytesReadPerDay)} a day; it reads each exam document whole, so a pass reads about the exams table's bytes (above: ${storage.rows.map((row) => `${row.title} ${bytes(row.tables.find((t) => t.table === "exams")?.bytes ?? 0)}`).join(", ")})`,
  );

  const sideCell = (c: SideCost) => (c.average === null ? "-" : `${bytes(c.average.bytesRead)} / ${int(c.average.documentsRead)} docs`);
  const errorsOf = (c: SideCost) =>
    Object.entries(c.errors)
      .map(([code, n]) => `${code} ${n}`)
      .join(", ");
  out.push(
    "",
    `Writes, V1 against V2, per call (a new student on each of the first ${JOB_SAMPLE_EXAMS} exams after the migration, in a transaction thrown away; read / written):`,
    table(
      ["call", "exams", "V1 read", "V2 read", "V1/V2", "V1 written", "V2 written", "errors (V1 | V2)"],
      r.costs.writes.map((w) => [
        w.name,
        int(w.v1.calls),
        sideCell(w.v1),
        sideCell(w.v2),
        w.v1.average && w.v2.average && w.v2.average.bytesRead > 0
          ? `${(w.v1.average.bytesRead / w.v2.average.bytesRead).toFixed(1)}×`
          : "-",
        w.v1.average ? bytes(w.v1.average.bytesWritten) : "-",
        w.v2.average ? bytes(w.v2.average.bytesWritten) : "-",
        `${errorsOf(w.v1) || "-"} | ${errorsOf(w.v2) || "-"}`,
      ]),
    ),
  );
  const job = (name: string, j: JobCost | null, how: string) =>
    j === null
      ? `${name}: did not run`
      : `${name}: ${bytes(j.average.bytesRead)} read (${int(j.average.documentsRead)} docs), ${bytes(j.average.bytesWritten)} written per run on average over ${int(j.exams)} exam(s), largest ${bytes(j.largest.bytesRead)} read; ${how}`;
  out.push(
    job(
      "mirror job, first run after the migration",
      r.costs.jobs.firstMirror,
      "once per exam: it passes every imported event (it writes no entry)",
    ),
    job(
      "mirror job, a run after a new student's start, pause, resume and submit",
      r.costs.jobs.mirror,
      "it reads the new events, their attempts' streams and the exam document whole (until cleanup), and rewrites the document: about the document's bytes per run; at most one effective run per action, one run serving every action of the exam in the 6 s before it",
    ),
    job(
      "counts' fold after them",
      r.costs.jobs.fold,
      "the exam's summary and counter shards (at most 64): constant in the exam's size; one effective fold per exam per 6 s of actions",
    ),
  );

  h("Work bound and time per call (the bound fails the rehearsal, the time warns)");
  out.push(
    `${int(r.bounds.checked)} operator call(s) checked against half of every Convex limit and WORK_BOUNDS (${int(WORK_BOUNDS.migrationEntriesPerCall)} V1 entries a migration or cleanup call, ${int(WORK_BOUNDS.streamsPerPage)} attempts a rebuild page, ${int(WORK_BOUNDS.headerCheckExams)} exams a header check batch): ${r.bounds.exceeded.length === 0 ? "all within" : `${r.bounds.exceeded.length} OVER`}`,
    ...r.bounds.exceeded.map((e) => `FAIL ${exceededLine(e)}`),
    ...timeLines(r),
  );

  h("Findings by exam and user");
  out.push(
    `${r.findings.failures} failure(s), ${r.findings.findings} finding(s) (dirty data reported, not failures)` +
      (Object.keys(r.findings.byKind).length
        ? `: ${Object.entries(r.findings.byKind)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ")}`
        : ""),
  );
  if (r.plantedDirt.planted > 0) {
    out.push(`dirty records planted by the generator: ${r.plantedDirt.planted}, reported: ${r.plantedDirt.reported}`);
    for (const d of r.plantedDirt.unreported) out.push(`  NOT REPORTED: ${d.kind} in exam ${d.examKey}, user ${d.userKey}`);
  }
  let shown = 0;
  const ordered = r.findings.byExam.map((e) => ({
    ...e,
    items: [...e.items].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "failure" ? -1 : 1)),
  }));
  for (const exam of ordered) {
    if (shown >= maxFindings) break;
    out.push(`exam ${exam.examKey} (${exam.title}):`);
    for (const f of exam.items) {
      if (shown++ >= maxFindings) break;
      const who = f.userKey === undefined ? "" : ` user ${f.userKey}${f.userName ? ` (${f.userName})` : ""}`;
      out.push(`  ${f.severity === "failure" ? "FAIL" : "note"} [${f.phase}${f.kind ? ` ${f.kind}` : ""}]${who}: ${f.message}`);
    }
  }
  const total = r.findings.failures + r.findings.findings;
  if (total > shown) out.push(`… ${total - Math.min(shown, total)} more (write them all with --json)`);

  h("Time");
  out.push(
    `wall ${secs(r.timing.wallMs)} with ${r.options.workers} worker(s); phase time summed over exams ${secs(r.timing.phaseMs)}; peak memory (RSS) ${bytes(r.timing.peakRssBytes)}`,
  );
  const verdict = r.input.prefix
    ? `Rehearsal of a prefix (${int(r.input.prefix.rehearsed)} of ${int(r.input.prefix.of)} exams) passed: rehearse the whole export before production.`
    : "Rehearsal passed: the migration can be run on production (see docs/rehearsal.md).";
  out.push("", r.passed ? verdict : "Rehearsal FAILED: see the failures above.");
  for (const e of r.bounds.exceeded) out.push(`over its work bound: ${exceededLine(e)}`);
  out.push(...deploymentFailures(r.plan.measured));
  if (r.bounds.slow.length > 0)
    out.push(
      `${r.bounds.slow.length} time warning(s): queries or mutations over ${int(SLOW_CALL_MS)} ms, the longest ${int(r.bounds.longest!.ms)} ms of 1 s`,
    );
  return out.join("\n") + "\n";
}
