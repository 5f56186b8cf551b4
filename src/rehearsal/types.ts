/**
 * The rehearsal's phases (the migration guide's steps 2–5 and 8, plus the
 * checks this backend adds) and what one exam's run of them produces.
 *
 * @example
 * for (const { name, title } of PHASES) console.log(name, title);
 */
import type { FunctionReturnType } from "convex/server";
import type { internal } from "../../convex/_generated/api.js";
import type { TransactionCost } from "./metrics.js";
import type { JobRuns, StoragePoint, StorageSnapshot } from "./costs.js";
import type { WORK_BOUNDS } from "../../convex/lib/limits.js";

export const PHASES = [
  { name: "load", title: "load V1 data" },
  { name: "status", title: "step 2 · status" },
  { name: "export", title: "step 3 · export backup" },
  { name: "migrate", title: "step 4 · migrate" },
  { name: "verify", title: "step 5 · verify" },
  { name: "headers", title: "header check (scheduled)" },
  { name: "smoke", title: "V2 smoke as students" },
  { name: "projections", title: "rebuild + verify views" },
  { name: "audit", title: "audit chain" },
  { name: "cleanup", title: "step 8 · cleanup" },
  { name: "final", title: "final status" },
] as const;
export type PhaseName = (typeof PHASES)[number]["name"];

/** Faults the rehearsal can inject into the first exam, to see the failure path (tests, drills). */
export const FAULTS = ["drop-answer", "tamper-event", "over-bound", "live-drop-answer", "skip-roll-forward", "restore-replace"] as const;
export type Fault = (typeof FAULTS)[number];

export type ExamOptions = {
  /** batchSize passed to migrateExamParticipants (migration and cleanup). */
  batchSize: number;
  /** Students per exam the smoke pass signs in as. */
  smokeUsers: number;
  /** Run step 8 (clear the V1 arrays of verified exams). */
  cleanup: boolean;
  fault?: Fault;
  /** Measure the write functions and the jobs on this exam (costs.ts: a sample of the exams). */
  measureJobs?: boolean;
};

export type PhaseResult = {
  status: "ok" | "failed" | "skipped";
  note?: string;
  ms: number;
  /** Function calls the phase made. */
  calls: number;
  /** Top-level transactions (an action's mutations count one each). */
  transactions: number;
  /** Each figure's largest value over the phase's transactions. */
  largest: TransactionCost;
  /** Wall time of the phase's longest query or mutation in the embedded runtime: an estimate of its user code time (Convex allows 1 s). */
  longestTransactionMs?: number;
};

/** Something a phase reported. Failures fail the rehearsal; findings (dirty data, notes) are reported only. */
export type Finding = {
  phase: PhaseName;
  severity: "failure" | "finding";
  examKey: string;
  userKey?: string;
  kind?: string;
  message: string;
};

/** What the report keeps of migrations:checkMigrationStatus (docs/operations.md). */
export type StatusCounts = Pick<FunctionReturnType<typeof internal.migrations.checkMigrationStatus>, "v1" | "v2" | "migrationComplete">;

/** One read call's cost: database bytes and documents read, and the bytes returned to the client. */
export type ReadCost = { bytesRead: number; documentsRead: number; responseBytes: number; error?: string };

export type SmokeCall = {
  /** The V1 function name (the V2 twin is the same plus `V2`). */
  name: string;
  userKey: string;
  v1: ReadCost | null;
  v2: ReadCost | null;
  /** V1 and V2 returned the same result (or the same error code); null when one side is unavailable. */
  equal: boolean | null;
};

export type ExamInputStats = {
  participants: number;
  answers: number;
  /** Entries of users listed earlier in the same array, and their answers (migrated as LegacyDuplicateImported events, no rows). */
  duplicateEntries: number;
  duplicateAnswers: number;
  /** Size of the exam document as Convex counts it (limit 1 MiB). */
  documentBytes: number;
  /** Largest array in the document (limit 8,192 elements). */
  largestArray: number;
};

export type ExamOutcome = {
  examKey: string;
  title: string;
  input: ExamInputStats;
  phases: Partial<Record<PhaseName, PhaseResult>>;
  statusBefore?: StatusCounts;
  statusAfter?: StatusCounts;
  /** What exportV1ParticipantData returned for this exam, ids translated back to the input's. */
  exported: { pages: number; entries: number; participants: number; answers: number; exams: unknown[] };
  migration: { calls: number; participants: number; answers: number };
  cleanup: { calls: number; cleared: boolean | null };
  smoke: SmokeCall[];
  findings: Finding[];
  /** Document bytes by table before the migration, after it and after cleanup (costs.ts). */
  storage: Partial<Record<StoragePoint, StorageSnapshot>>;
  /** The header check's pass over this exam (examAdmin:headerCheckStatus's last pass). */
  headerCheck: { intervalMinutes: number; exams: number; bytesRead: number } | null;
  /** The write functions and the jobs a student's action starts, measured on this exam after the migration and thrown away (costs.ts). */
  jobRuns: JobRuns | null;
  /** Every operator call the phases made, in order. */
  calls: CallRecord[];
};

/** One operator call (a query, mutation or action) as the rehearsal made it. */
export type CallRecord = {
  phase: PhaseName;
  /** The function called, as `npx convex run` names it (`migrations:migrateExamParticipants`). */
  name: string;
  /** Its calls in the phase so far, this one included (1 for the first). */
  number: number;
  /** The work the call reports against its bound in WORK_BOUNDS (a migration call's entries, a rebuild page's attempts). */
  work?: { bound: keyof typeof WORK_BOUNDS; value: number; limit: number };
  /** When it started: milliseconds since the epoch, comparable across worker threads. */
  at: number;
  /** Wall time in the embedded runtime. */
  ms: number;
  /** A query or mutation (one transaction): its time bounds its user code's; an action's does not. */
  oneTransaction: boolean;
  transactions: number;
  /** Each figure's largest value over the call's transactions. */
  largest: TransactionCost;
};
