/**
 * The whole rehearsal: load the input (a generated dataset or a Convex export),
 * rehearse every exam in its own embedded Convex (on worker threads), write the
 * V1 backup as one JSON file, and aggregate the outcomes into the report.
 * A snapshot streams: each exam goes to the worker pool as the loader reads it
 * (the loader waits for a free worker), so memory is the workers' exams plus the
 * users, questions and id sets the loader keeps, never the file; the outcomes
 * kept for the report carry counts and findings, not the exam's data.
 * Global figures (status totals, backup) are sums over the per-exam instances:
 * every V1 fact the operator commands count belongs to exactly one exam.
 *
 * @example
 * const report = await rehearse({ input: { kind: "generated", spec: { ...GUIDE_DATASET, dirty: true } }, outDir: ".rehearsal",
 *   batchSize: 5, smokeUsers: 3, cleanup: true, workers: 2 });
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { examDocumentBytes, generateV1Dataset, type DatasetExam, type DatasetSpec, type DirtyRecord } from "../dataset/generate.js";
import { Channel } from "./channel.js";
import { scanSnapshot } from "../snapshot/load.js";
import { productionForExam, referencedDocuments } from "../snapshot/production.js";
import { subsetForExam } from "./exam.js";
import { JOB_SAMPLE_EXAMS } from "./costs.js";
import { runExams, type ExamTask, type PoolEvents } from "./pool.js";
import { buildReport, type Report, type ReportMeta } from "./report.js";
import { DEFAULT_LIVE_RATE, deploymentInWorker, PLAN_MAX_BYTES, tooLargeToPlan, type DeploymentOptions } from "./deployment.js";
import type { ExamOptions, ExamOutcome, PhaseName } from "./types.js";

export type RehearsalInput =
  | { kind: "generated"; spec: DatasetSpec }
  /** `firstExams`: rehearse only that many exams from the start of the exams table (a prefix, to time a large export); the rest is still read and checked. */
  | { kind: "snapshot"; path: string; firstExams?: number };

/** Progress as exams pass through the phases (the CLI draws a bar per phase). */
export type ProgressSink = {
  /** `exams`: how many will be rehearsed; null while a snapshot is still being read (then `total` tells). */
  start(exams: number | null): void;
  /** The number of exams, once the snapshot has been read to its end. */
  total(exams: number): void;
  /** `exam`: which exam (its input key and position) passed the phase. */
  phaseDone(phase: PhaseName, exam?: { index: number; key: string; status?: string }): void;
  stop(): void;
};

export type RehearsalOptions = ExamOptions & {
  input: RehearsalInput;
  outDir: string;
  workers: number;
  /** Student actions before each migration or cleanup call in the one-deployment run (deployment.ts). */
  liveRate?: number;
  progress?: ProgressSink;
};

/**
 * Writes the backup file as the exams finish, in exam order, without holding it all in memory.
 * Written beside its name and renamed when complete: a run that stops (a bad snapshot found
 * half-way) leaves no partial backup and does not overwrite an earlier one.
 */
class BackupWriter {
  private readonly partPath: string;
  private readonly fd: number;
  private readonly pending = new Map<number, unknown[]>();
  private next = 0;
  private first = true;

  constructor(
    readonly path: string,
    header: Record<string, unknown>,
  ) {
    this.partPath = `${path}.part`;
    this.fd = openSync(this.partPath, "w");
    const head = JSON.stringify(header, null, 2);
    writeSync(this.fd, `${head.slice(0, -2)},\n  "exams": [`);
  }

  add(index: number, exams: unknown[]) {
    this.pending.set(index, exams);
    for (let ready = this.pending.get(this.next); ready !== undefined; ready = this.pending.get(this.next)) {
      this.pending.delete(this.next++);
      for (const exam of ready) {
        writeSync(this.fd, `${this.first ? "" : ","}\n    ${JSON.stringify(exam)}`);
        this.first = false;
      }
    }
  }

  close(): number {
    writeSync(this.fd, "\n  ]\n}\n");
    closeSync(this.fd);
    renameSync(this.partPath, this.path);
    return statSync(this.path).size;
  }

  abandon() {
    closeSync(this.fd);
    rmSync(this.partPath, { force: true });
  }
}

type Source = { meta: ReportMeta["input"]; planted: DirtyRecord[]; userNames: Map<string, string>; plan: ReportMeta["plan"] };
type Run = {
  optionsFor: (index: number) => ExamOptions;
  deployment: DeploymentOptions;
  workers: number;
  events: PoolEvents;
  keys: string[];
  progress?: ProgressSink;
};

function rehearseGenerated(spec: DatasetSpec, run: Run): Promise<Source> {
  const dataset = generateV1Dataset(spec);
  const tasks: ExamTask[] = dataset.exams.map((exam, index) => {
    run.keys[index] = exam.key;
    return { index, examKey: exam.key, dataset: subsetForExam(dataset, exam.key), options: run.optionsFor(index) };
  });
  run.progress?.start(tasks.length);
  // The one-deployment run (production's plan, live students, rollback) runs beside the pool, on a thread of its own.
  const stop = new AbortController(); // a failed pool stops the one-deployment worker too
  const planned = deploymentInWorker(dataset, run.deployment, stop.signal);
  const pooled = runExams(tasks, run.workers, run.events).catch((e: unknown) => {
    stop.abort();
    throw e;
  });
  return Promise.all([pooled, planned]).then(([, plan]) => ({
    plan,
    meta: {
      source: "generated",
      seed: spec.seed ?? 42,
      dirty: spec.dirty ?? false,
      users: dataset.users.length,
      questions: dataset.questions.length,
      deletedQuestions: dataset.deletedQuestionKeys.length,
    },
    planted: dataset.dirt,
    userNames: new Map(dataset.users.map((u) => [u.key, u.name])),
  }));
}

/** The loader and the pool run together: each exam is cut (its users, questions, production state) and handed on as it is read. */
async function rehearseSnapshot(input: Extract<RehearsalInput, { kind: "snapshot" }>, run: Run): Promise<Source> {
  const channel = new Channel<ExamTask>();
  let handedOn = 0;
  // The one-deployment run needs every exam: kept while they fit (PLAN_MAX_BYTES), dropped as soon as they do not.
  let planExams: DatasetExam[] | null = [];
  let planBytes = 0;
  let planSkipped = "";
  let failedFirst: "scan" | "pool" | null = null;
  run.progress?.start(null);
  const scanning = scanSnapshot(input.path, {
    onExam: async (exam, _lineBytes, { users, questions, deletedQuestionKeys, production }) => {
      if (input.firstExams !== undefined && handedOn >= input.firstExams) return;
      const index = handedOn++;
      run.keys[index] = exam.key;
      const state = production === null ? undefined : productionForExam(production, exam);
      if (planExams !== null) {
        planBytes += examDocumentBytes(exam);
        if (state !== undefined) planSkipped = "the snapshot holds V2 documents (a deployment already partly migrated)";
        else if (planBytes > PLAN_MAX_BYTES) planSkipped = tooLargeToPlan(PLAN_MAX_BYTES);
        else planExams.push(exam);
        if (planSkipped !== "") planExams = null;
      }
      const dataset = subsetForExam(
        { users, questions, exams: [exam], deletedQuestionKeys: [...deletedQuestionKeys], dirt: [] },
        exam.key,
        state === undefined ? {} : referencedDocuments(state),
      );
      await channel.put({
        index,
        examKey: exam.key,
        dataset,
        ...(state === undefined ? {} : { production: state }),
        options: run.optionsFor(index),
      });
    },
  }).then(
    (summary) => {
      channel.close();
      run.progress?.total(handedOn);
      return summary;
    },
    (e: unknown) => {
      failedFirst ??= "scan";
      channel.fail(e);
      throw e;
    },
  );
  const pooling = runExams(channel, run.workers, run.events).catch((e: unknown) => {
    failedFirst ??= "pool";
    channel.fail(e);
    throw e;
  });
  const [scan, pool] = await Promise.allSettled([scanning, pooling]);
  // The first failure is the cause (a bad document stops the pool; a crashed worker stops the loader).
  if (scan.status === "rejected" && (failedFirst === "scan" || pool.status === "fulfilled")) throw scan.reason;
  if (pool.status === "rejected") throw pool.reason;
  const snapshot = (scan as PromiseFulfilledResult<Awaited<typeof scanning>>).value;
  if (planExams !== null && handedOn < snapshot.documents.exams) planSkipped = "only a prefix of the exams was rehearsed (--first-exams)";
  const plan: ReportMeta["plan"] =
    planSkipped !== "" || planExams === null
      ? { skipped: planSkipped }
      : await deploymentInWorker(
          {
            users: snapshot.users,
            questions: snapshot.questions,
            exams: planExams,
            deletedQuestionKeys: [...snapshot.deletedQuestionKeys],
            dirt: [],
          },
          run.deployment,
        );
  return {
    plan,
    meta: {
      source: "snapshot",
      path: input.path,
      users: snapshot.documents.users,
      questions: snapshot.documents.questions,
      deletedQuestions: snapshot.deletedQuestionKeys.length,
      ignoredTables: snapshot.ignoredTables,
      componentTables: snapshot.componentTables,
      storage: snapshot.storage,
      folder: snapshot.folder,
      v2Documents: Object.fromEntries(Object.entries(snapshot.documents).filter(([t]) => !["users", "questions", "exams"].includes(t))),
      ...(handedOn < snapshot.documents.exams ? { prefix: { rehearsed: handedOn, of: snapshot.documents.exams } } : {}),
    },
    planted: [],
    userNames: new Map(snapshot.users.map((u) => [u.key, u.name])),
  };
}

export async function rehearse(o: RehearsalOptions): Promise<Report> {
  const started = performance.now();
  const examOptions: ExamOptions = { batchSize: o.batchSize, smokeUsers: o.smokeUsers, cleanup: o.cleanup };
  const backupPath = join(o.outDir, "v1_backup.json");
  let backup: BackupWriter | null = null;
  // Opened with the first outcome (or at the end): a snapshot found bad before any exam is rehearsed writes nothing.
  const openBackup = () => {
    if (backup !== null) return backup;
    mkdirSync(o.outDir, { recursive: true });
    return (backup = new BackupWriter(backupPath, {
      command: "migrations:exportV1ParticipantData",
      note: "Every V1 participant as exported by the rehearsal, one entry per exam; ids are the input's.",
      source: o.input.kind === "snapshot" ? o.input.path : "generated",
    }));
  };
  const outcomes: ExamOutcome[] = [];
  const keys: string[] = [];
  const run: Run = {
    // A fault goes into the first exam only: one is enough to fail the run. Writes and jobs are measured on a sample.
    optionsFor: (index) => ({
      ...examOptions,
      ...(index === 0 && o.fault !== undefined ? { fault: o.fault } : {}),
      ...(index < JOB_SAMPLE_EXAMS ? { measureJobs: true } : {}),
    }),
    deployment: {
      batchSize: o.batchSize,
      liveRate: o.liveRate ?? DEFAULT_LIVE_RATE,
      cleanup: o.cleanup,
      ...(o.fault ? { fault: o.fault } : {}),
    },
    workers: o.workers,
    keys,
    ...(o.progress ? { progress: o.progress } : {}),
    events: {
      onPhase: (index, phase) => o.progress?.phaseDone(phase, { index, key: keys[index]! }),
      onDone: (index, outcome) => {
        openBackup().add(index, outcome.exported.exams);
        // The backup is on disk; the report only needs the counts.
        outcomes[index] = { ...outcome, exported: { ...outcome.exported, exams: [] } };
      },
    },
  };
  let source: Source;
  try {
    source = o.input.kind === "snapshot" ? await rehearseSnapshot(o.input, run) : await rehearseGenerated(o.input.spec, run);
  } catch (e) {
    (backup as BackupWriter | null)?.abandon();
    throw e;
  } finally {
    o.progress?.stop();
  }
  const backupBytes = openBackup().close();
  return buildReport(outcomes, {
    input: source.meta,
    options: { ...examOptions, ...(o.fault ? { fault: o.fault } : {}), workers: o.workers },
    backup: { path: backupPath, bytes: backupBytes },
    planted: source.planted,
    plan: source.plan,
    userNames: source.userNames,
    wallMs: performance.now() - started,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  });
}
