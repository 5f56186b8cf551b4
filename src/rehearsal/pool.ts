/**
 * Runs the per-exam rehearsals on worker threads (one per core by default), or
 * in this thread when there is one worker. Each exam is independent: its own
 * embedded Convex, its own data. Outcomes come back in completion order.
 * Tasks are pulled one at a time as a worker becomes free, so they can come
 * from a stream (a snapshot being read) and are never all held at once.
 *
 * @example
 * await runExams(tasks, 2, { onPhase: (i, phase) => bars.tick(phase), onDone: (i, outcome) => keep(outcome) });
 */
import { Worker } from "node:worker_threads";
import type { V1Dataset } from "../dataset/generate.js";
import type { ProductionState } from "../snapshot/load.js";
import { rehearseExam } from "./exam.js";
import type { ExamOptions, ExamOutcome, PhaseName } from "./types.js";

export type ExamTask = { index: number; examKey: string; dataset: V1Dataset; options: ExamOptions; production?: ProductionState };
export type WorkerMessage =
  | { type: "phase"; index: number; phase: PhaseName }
  | { type: "done"; index: number; outcome: ExamOutcome }
  | { type: "error"; index: number; message: string };

export type PoolEvents = {
  onPhase: (index: number, phase: PhaseName) => void;
  onDone: (index: number, outcome: ExamOutcome) => void;
};

/**
 * A worker running worker.ts through tsx, with the runtime's value reads (docs/runtime.md) registered
 * before convex is loaded (Node 20 does not pass the main thread's loader hooks to workers).
 */
export function startWorker(file = "./worker.ts", workerData?: unknown): Worker {
  const tsx = import.meta.resolve("tsx/esm/api");
  const valueReads = new URL("../runtime/valueReads.ts", import.meta.url).href;
  const entry = new URL(file, import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(valueReads)}); }).then(() => import(${JSON.stringify(entry)}))`;
  return new Worker(boot, { eval: true, workerData });
}

/** Tasks as an array or as a stream; several workers pull from one iterator (an async one queues their calls). */
function pull(tasks: Iterable<ExamTask> | AsyncIterable<ExamTask>): () => Promise<ExamTask | undefined> {
  const it = Symbol.asyncIterator in tasks ? tasks[Symbol.asyncIterator]() : tasks[Symbol.iterator]();
  return async () => {
    const r = await it.next();
    return r.done === true ? undefined : r.value;
  };
}

export async function runExams(tasks: Iterable<ExamTask> | AsyncIterable<ExamTask>, workers: number, events: PoolEvents): Promise<void> {
  const next = pull(tasks);
  if (workers <= 1 || (Array.isArray(tasks) && tasks.length <= 1)) {
    for (let task = await next(); task !== undefined; task = await next()) {
      events.onDone(
        task.index,
        await rehearseExam(task.dataset, task.examKey, task.options, (p) => events.onPhase(task!.index, p), task.production),
      );
    }
    return;
  }
  const pool = Array.from({ length: Array.isArray(tasks) ? Math.min(workers, tasks.length) : workers }, () => startWorker());
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const feed = () =>
              next().then((task) => {
                if (task === undefined) return resolve();
                worker.postMessage(task);
              }, reject);
            worker.on("message", (m: WorkerMessage) => {
              if (m.type === "phase") events.onPhase(m.index, m.phase);
              else if (m.type === "done") {
                events.onDone(m.index, m.outcome);
                void feed();
              } else reject(new Error(`exam #${m.index} crashed the rehearsal: ${m.message}`));
            });
            worker.on("error", reject);
            worker.on("exit", (code) => {
              if (code !== 0) reject(new Error(`a rehearsal worker exited with code ${code}`));
            });
            void feed();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
