/**
 * Convex's per-transaction and per-document limits (docs.convex.dev/production/state/limits),
 * defined once. Batches budget against a fraction of them.
 */
export const CONVEX_LIMITS = {
  bytesRead: 16 * 1024 * 1024,
  bytesWritten: 16 * 1024 * 1024,
  documentsRead: 32_000,
  documentsWritten: 16_000,
  databaseQueries: 4_096,
  functionsScheduled: 1_000,
  documentBytes: 1024 * 1024,
  arrayElements: 8_192,
} as const;

/** Operator batches stay within this share of every per-transaction limit. */
export const BATCH_LIMIT_SHARE = 0.5;

/** Half of every per-transaction limit: what tests enforce with convex-test's `transactionLimits`. */
export const HALF_TRANSACTION_LIMITS = {
  bytesRead: CONVEX_LIMITS.bytesRead * BATCH_LIMIT_SHARE,
  bytesWritten: CONVEX_LIMITS.bytesWritten * BATCH_LIMIT_SHARE,
  documentsRead: CONVEX_LIMITS.documentsRead * BATCH_LIMIT_SHARE,
  documentsWritten: CONVEX_LIMITS.documentsWritten * BATCH_LIMIT_SHARE,
  databaseQueries: CONVEX_LIMITS.databaseQueries * BATCH_LIMIT_SHARE,
  functionsScheduled: CONVEX_LIMITS.functionsScheduled * BATCH_LIMIT_SHARE,
};

/** Submissions arriving this long after the time limit are still accepted (network latency). */
export const SUBMIT_GRACE_MS = 10_000;

/**
 * Participant counters are split over this many documents per exam so that students acting together
 * rarely share one: 200 students put about 3 on each shard (8 shards put 25). The exam list never reads
 * the shards: it reads one summary per exam that a job of its own folds from them (projections/counters.ts).
 */
export const COUNTER_SHARDS = 64;

/**
 * Complete lists (exam metadata, a student's dashboard) cover at most this many
 * exams / attempts; past it they throw LIMIT_EXCEEDED instead of answering short.
 * Within half of every per-transaction limit at the maximum (tests/exams.scale.test.ts).
 */
export const MAX_LISTED_EXAMS = 1_000;
export const MAX_ATTEMPTS_PER_USER = 1_000;

/** What a `limit` argument is clamped to (documented in docs/exam-api.md). */
export const LIST_LIMITS = {
  leaderboard: { fallback: 10, max: 100 },
  recent: { fallback: 10, max: 100 },
} as const;

/**
 * A transaction's `_creationTime`s are set when it runs, so a document may commit a moment after a
 * later-created one was read. A watermark over creation times stays this far behind "now": far beyond any
 * transaction Convex lets run.
 */
export const CREATION_SETTLE_MS = 5_000;

/** The scheduled header check (headers/keeper.ts) starts a pass this often unless an operator set another interval. */
export const HEADER_CHECK_INTERVAL_MINUTES = 60;
/** How often the cron looks whether a pass is due (the interval is rounded up to it). */
export const HEADER_CHECK_TICK_MINUTES = 5;

/**
 * Work per call, besides Convex's transaction limits (lib/budget.ts), so that no call's JavaScript runs
 * longer than about 0.5 s of Convex's 1 s at the largest valid shapes (`npm run bench` prints the CPU
 * time measured per call beside these bounds).
 */
export const WORK_BOUNDS = {
  /** Exams a header check call visits (each document read whole: up to 1 MiB to decode). */
  headerCheckExams: 32,
  /**
   * V1 entries (imported, rolled forward or verified) one migration or cleanup call handles: measured
   * 243–850 µs of process CPU each at 4,000 × 1 and 6,500 × 0 (`npm run bench -- --only cpu`, idle to loaded
   * machine), so at most about 0.43 s.
   */
  migrationEntriesPerCall: 500,
  /** Attempts one rebuild or verify page replays: measured 158–295 µs each at the largest shapes, about 0.44 s. */
  streamsPerPage: 1_500,
  /** Headers of deleted exams one step of the header check visits. */
  orphanHeadersPerStep: 8,
  /** New question ids an exam edit may name (each is read to check it exists: one index range each). */
  newQuestionIdsPerEdit: 2_000,
  /**
   * Questions one call reads by id (a session, a submission, results, the editor's view: one index range each),
   * within Convex's 4,096 ranges with room for the call's other reads. V1 could not read more either.
   */
  questionsPerCall: 4_000,
} as const;
