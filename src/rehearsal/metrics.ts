/**
 * What every top-level transaction of the embedded Convex cost, observed from
 * convex-test's own per-transaction tracker (the one that enforces the limits),
 * so the rehearsal can measure calls it makes through `t.query` / `t.mutation` /
 * `t.action` with argument validation and auth intact, and actions' inner
 * mutations one by one.
 *
 * @example
 * const { result, transactions } = await observeTransactions(() => t.mutation(ref, args));
 * const largest = maxCost(transactions);
 */
import { TransactionMetricsTracker } from "convex-test/dist/transactionMetrics.js";
import { CONVEX_LIMITS } from "../../convex/lib/limits.js";

/** The per-transaction figures Convex limits. */
export const LIMITED_METRICS = [
  "documentsRead",
  "bytesRead",
  "documentsWritten",
  "bytesWritten",
  "databaseQueries",
  "functionsScheduled",
] as const;
export type LimitedMetric = (typeof LIMITED_METRICS)[number];
export type TransactionCost = Record<LimitedMetric, number>;

export const zeroCost = (): TransactionCost => ({
  documentsRead: 0,
  bytesRead: 0,
  documentsWritten: 0,
  bytesWritten: 0,
  databaseQueries: 0,
  functionsScheduled: 0,
});

type Layer = { metrics: TransactionCost };
type TrackerInternals = { _layers: Layer[] };

let listeners: ((cost: TransactionCost) => void)[] = [];
let patched = false;

/** Hooks the tracker once per thread: the root layer's figures, as it ends, are the transaction's. */
function patchTracker() {
  if (patched) return;
  patched = true;
  const proto = TransactionMetricsTracker.prototype as unknown as Record<"commit" | "rollback", (this: TrackerInternals) => void>;
  for (const method of ["commit", "rollback"] as const) {
    const original = proto[method];
    proto[method] = function (this: TrackerInternals) {
      if (this._layers.length === 1 && listeners.length > 0) {
        const m = this._layers[0]!.metrics;
        const cost = Object.fromEntries(LIMITED_METRICS.map((k) => [k, m[k]])) as TransactionCost;
        for (const listener of listeners) listener(cost);
      }
      return original.call(this);
    };
  }
}

/**
 * Runs `body` and returns every top-level transaction that ended meanwhile.
 * Calls must not overlap with other observed work on this thread.
 */
export async function observeTransactions<T>(body: () => Promise<T>): Promise<{ result: T; transactions: TransactionCost[] }> {
  const transactions: TransactionCost[] = [];
  const stop = listenTransactions((cost) => transactions.push(cost));
  try {
    return { result: await body(), transactions };
  } finally {
    stop();
  }
}

/** Calls `listener` with every top-level transaction that ends until the returned function is called (observations nest). */
export function listenTransactions(listener: (cost: TransactionCost) => void): () => void {
  patchTracker();
  listeners.push(listener);
  return () => {
    listeners = listeners.filter((l) => l !== listener);
  };
}

/** Each figure's maximum over the transactions (not necessarily one transaction's). */
export function maxCost(costs: readonly TransactionCost[]): TransactionCost {
  const out = zeroCost();
  for (const c of costs) for (const k of LIMITED_METRICS) out[k] = Math.max(out[k], c[k]);
  return out;
}

export function sumCost(costs: readonly TransactionCost[]): TransactionCost {
  const out = zeroCost();
  for (const c of costs) for (const k of LIMITED_METRICS) out[k] += c[k];
  return out;
}

/** A figure as a share (0..1) of Convex's own limit (not the halved one the embedded runtime enforces). */
export function limitShare(metric: LimitedMetric, value: number): number {
  return value / CONVEX_LIMITS[metric];
}
