/**
 * Transaction budgeting, in one place: what a call has used so far (one reader
 * of ctx.meta.getTransactionMetrics()), and whether a budgeted loop may take one
 * more step. Every budgeted loop (migration batches, rebuild and verify, the
 * mirror's runs and pages, exports) spends a share of Convex's limits
 * (lib/limits.ts) through these functions.
 *
 * @example
 * if (!fitsBudget(await transactionUsage(ctx), ONE_DOCUMENT_READ)) return page;   // a step of estimated cost
 * if (await budgetSpent(ctx, LOOP_SHARES.statusPage)) return page;              // a share of every limit
 */
import { BATCH_LIMIT_SHARE, CONVEX_LIMITS } from "./limits";

/** The per-transaction metrics a batch budgets against. */
export type Usage = {
  bytesRead: number;
  bytesWritten: number;
  documentsRead: number;
  documentsWritten: number;
  databaseQueries: number;
};

type UsageMetric = keyof Usage;

/** The per-transaction figures a batch can spend; reads only, or all of them. */
export const READ_METRICS = ["bytesRead", "documentsRead", "databaseQueries"] as const satisfies readonly UsageMetric[];
export const ALL_METRICS = [...READ_METRICS, "bytesWritten", "documentsWritten"] as const satisfies readonly UsageMetric[];

export const NO_USAGE: Usage = { bytesRead: 0, bytesWritten: 0, documentsRead: 0, documentsWritten: 0, databaseQueries: 0 };

/**
 * What a batch may use: BATCH_LIMIT_SHARE of each Convex limit, less a margin
 * for the estimates' error, so that every transaction stays within half.
 */
export const BATCH_BUDGET_SHARE = BATCH_LIMIT_SHARE * 0.9;

/**
 * The shares of Convex's limits the loops that stop on budgetSpent take (all below BATCH_LIMIT_SHARE,
 * each leaving room for what its call does after the loop).
 */
export const LOOP_SHARES = {
  /** A mirror run's reads of events and streams: room for the exam document (read and written, up to 1 MiB each) after it. */
  mirrorRunReads: 0.3,
  /** A mirror status page (each exam's lag). */
  statusPage: 0.15,
  /** A drain page: each exam drained is a whole mirror run (up to mirrorRunReads) of its own. */
  drainPage: 0.05,
  /** A resync page's reads of rows and answers (one range per participant): room for the exam document (read and written) after it. */
  resyncReads: 0.3,
  /** The changes a page of an exam's audit trail carries besides its events (a change read whole: up to about 2 MiB). */
  trailChanges: 0.2,
  /** The changes state-at reads to undo those made after `at`. */
  stateAtChanges: 0.3,
} as const;

/** `share` of each of Convex's limits. */
export function budget(share = BATCH_BUDGET_SHARE): Usage {
  return mapUsage((k) => CONVEX_LIMITS[k] * share);
}

function mapUsage(f: (k: UsageMetric) => number): Usage {
  return Object.fromEntries(ALL_METRICS.map((k) => [k, f(k)])) as Usage;
}

export function addUsage(a: Usage, b: Usage): Usage {
  return mapUsage((k) => a[k] + b[k]);
}

/** What was spent between two readings of the same transaction. */
export function costBetween(before: Usage, after: Usage): Usage {
  return mapUsage((k) => after[k] - before[k]);
}

/** The larger of two costs on every metric (a loop's costliest step so far). */
export function maxUsage(a: Usage, b: Usage): Usage {
  return mapUsage((k) => Math.max(a[k], b[k]));
}

/** The read figures only (writes counted as none): for loops that only read. */
export function readsOf(used: Usage): Usage {
  return { ...NO_USAGE, bytesRead: used.bytesRead, documentsRead: used.documentsRead, databaseQueries: used.databaseQueries };
}

/** True when `used + more` stays within `limit` on every metric. */
export function fitsBudget(used: Usage, more: Usage, limit: Usage = budget()): boolean {
  const total = addUsage(used, more);
  return (Object.keys(limit) as UsageMetric[]).every((k) => total[k] <= limit[k]);
}

/** Room to read one more document of up to Convex's maximum size. */
export const ONE_DOCUMENT_READ: Usage = { ...NO_USAGE, bytesRead: CONVEX_LIMITS.documentBytes, documentsRead: 1, databaseQueries: 1 };

type MetricsCtx = { meta: { getTransactionMetrics(): Promise<Record<UsageMetric, { used: number }>> } };

/** What this transaction has used so far: the one reader of Convex's transaction metrics. */
export async function transactionUsage(ctx: MetricsCtx): Promise<Usage> {
  const m = await ctx.meta.getTransactionMetrics();
  return mapUsage((k) => m[k].used);
}

/** Whether the transaction has used `share` of any of Convex's limits on `metrics` (a budgeted loop stops there). */
export async function budgetSpent(ctx: MetricsCtx, share: number, metrics: readonly UsageMetric[] = ALL_METRICS): Promise<boolean> {
  const used = await transactionUsage(ctx);
  return metrics.some((k) => used[k] >= CONVEX_LIMITS[k] * share);
}

/** Whether this transaction can still read one more document of up to Convex's maximum size (reads only). */
export async function roomForOneRead(ctx: MetricsCtx): Promise<boolean> {
  return fitsBudget(readsOf(await transactionUsage(ctx)), ONE_DOCUMENT_READ);
}
