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
 * the shards: it reads one summary per exam that the mirror job folds from them (projections/tables.ts).
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
 * An exam's question sheet (what a session shows of its questions, one document) is kept only
 * while it is at most this big; a larger exam's sessions read the live question documents
 * instead. Half a document: a question edit rewrites the sheet of every exam holding it.
 */
export const MAX_QUESTION_SHEET_BYTES = CONVEX_LIMITS.documentBytes / 2;

/**
 * An attempt's result copy (its graded answers with the questions' text and correct answers, one
 * document) is kept only while it is at most this big; a larger attempt's results read its answer
 * rows and the live questions instead. A quarter of a document (222 answers make ~28 KB): the copy
 * repair reads one copy per exam of a batch, ten exams beside 4 MiB of exam documents.
 */
export const MAX_ATTEMPT_RESULT_BYTES = CONVEX_LIMITS.documentBytes / 4;

/** The scheduled repair of exam copies runs this often; a pass visits every exam in budgeted batches. */
export const EXAM_COPY_REPAIR_INTERVAL_MINUTES = 5;
