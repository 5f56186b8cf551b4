/**
 * The whole rehearsal: load the input (a generated dataset or a Convex export),
 * rehearse every exam in its own embedded Convex (on worker threads), write the
 * V1 backup as one JSON file, and aggregate the outcomes into the report.
 * Global figures (status totals, backup) are sums over the per-exam instances:
 * every V1 fact the operator commands count belongs to exactly one exam.
 *
 * @example
 * const report = await rehearse({ input: { kind: "generated", spec: { ...GUIDE_DATASET, dirty: true } }, outDir: ".rehearsal",
 *   batchSize: 5, smokeUsers: 3, cleanup: true, workers: 2 });
 */
import { closeSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { generateV1Dataset, type DatasetSpec, type V1Dataset } from "../dataset/generate.js";
import { loadSnapshot, type ProductionState } from "../snapshot/load.js";
import { productionForExam } from "../snapshot/production.js";
import { subsetForExam } from "./exam.js";
import { runExams, type ExamTask } from "./pool.js";
import { buildReport, type Report, type ReportMeta } from "./report.js";
import type { ExamOptions, ExamOutcome, PhaseName } from "./types.js";

export type RehearsalInput = { kind: "generated"; spec: DatasetSpec } | { kind: "snapshot"; path: string };

/** Progress as exams pass through the phases (the CLI draws a bar per phase). */
export type ProgressSink = {
  start(exams: number): void;
  /** `exam`: which exam (its input key and position) passed the phase. */
  phaseDone(phase: PhaseName, exam?: { index: number; key: string; status?: string }): void;
  stop(): void;
};

export type RehearsalOptions = ExamOptions & {
  input: RehearsalInput;
  outDir: string;
  workers: number;
  progress?: ProgressSink;
};

/** Writes the backup file as the exams finish, in exam order, without holding it all in memory. */
class BackupWriter {
  private readonly fd: number;
  private readonly pending = new Map<number, unknown[]>();
  private next = 0;
  private first = true;

  constructor(readonly path: string, header: Record<string, unknown>) {
    this.fd = openSync(path, "w");
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
    return statSync(this.path).size;
  }
}

async function loadInput(input: RehearsalInput): Promise<{ dataset: V1Dataset; production: ProductionState | null; meta: ReportMeta["input"] }> {
  if (input.kind === "snapshot") {
    const snapshot = await loadSnapshot(input.path);
    return {
      dataset: snapshot.dataset,
      production: snapshot.production,
      meta: {
        source: "snapshot",
        path: input.path,
        users: snapshot.documents.users,
        questions: snapshot.documents.questions,
        deletedQuestions: snapshot.dataset.deletedQuestionKeys.length,
        ignoredTables: snapshot.ignoredTables,
        componentTables: snapshot.componentTables,
        storage: snapshot.storage,
        folder: snapshot.folder,
        v2Documents: Object.fromEntries(Object.entries(snapshot.documents).filter(([t]) => !["users", "questions", "exams"].includes(t))),
      },
    };
  }
  const dataset = generateV1Dataset(input.spec);
  return {
    dataset,
    production: null,
    meta: {
      source: "generated",
      seed: input.spec.seed ?? 42,
      dirty: input.spec.dirty ?? false,
      users: dataset.users.length,
      questions: dataset.questions.length,
      deletedQuestions: dataset.deletedQuestionKeys.length,
    },
  };
}

export async function rehearse(o: RehearsalOptions): Promise<Report> {
  const started = performance.now();
  const { dataset, production, meta } = await loadInput(o.input);
  mkdirSync(o.outDir, { recursive: true });
  const examOptions: ExamOptions = { batchSize: o.batchSize, smokeUsers: o.smokeUsers, cleanup: o.cleanup };
  const tasks: ExamTask[] = dataset.exams.map((exam, index) => ({
    index,
    examKey: exam.key,
    dataset: subsetForExam(dataset, exam.key),
    ...(production === null ? {} : { production: productionForExam(production, exam.key) }),
    // A fault goes into the first exam only: one is enough to fail the run.
    options: index === 0 && o.fault !== undefined ? { ...examOptions, fault: o.fault } : examOptions,
  }));
  const backup = new BackupWriter(join(o.outDir, "v1_backup.json"), {
    command: "migrations:exportV1ParticipantData",
    note: "Every V1 participant as exported by the rehearsal, one entry per exam; ids are the input's.",
    source: meta.source === "snapshot" ? meta.path : "generated",
  });
  const outcomes: ExamOutcome[] = new Array(tasks.length);
  o.progress?.start(tasks.length);
  try {
    await runExams(tasks, o.workers, {
      onPhase: (index, phase) => o.progress?.phaseDone(phase, { index, key: tasks[index]!.examKey }),
      onDone: (index, outcome) => {
        backup.add(index, outcome.exported.exams);
        // The backup is on disk; the report only needs the counts.
        outcomes[index] = { ...outcome, exported: { ...outcome.exported, exams: [] } };
      },
    });
  } finally {
    o.progress?.stop();
  }
  const backupBytes = backup.close();
  return buildReport(outcomes, {
    input: meta,
    options: { ...examOptions, ...(o.fault ? { fault: o.fault } : {}), workers: o.workers },
    backup: { path: backup.path, bytes: backupBytes },
    planted: dataset.dirt,
    userNames: new Map(dataset.users.map((u) => [u.key, u.name])),
    wallMs: performance.now() - started,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  });
}
