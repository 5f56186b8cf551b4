/**
 * A worker thread that rehearses the exams the main thread sends it, one at a
 * time, each in its own embedded Convex (see pool.ts).
 *
 * @example
 * // main thread: startWorker() in pool.ts; then
 * worker.postMessage({ index: 0, examKey: "e0", dataset, options });
 */
import { parentPort } from "node:worker_threads";
import { rehearseExam } from "./exam.js";
import type { ExamTask, WorkerMessage } from "./pool.js";

const port = parentPort!;
port.on("message", async (task: ExamTask) => {
  const send = (m: WorkerMessage) => port.postMessage(m);
  try {
    const outcome = await rehearseExam(
      task.dataset,
      task.examKey,
      task.options,
      (phase) => send({ type: "phase", index: task.index, phase }),
      task.production,
    );
    send({ type: "done", index: task.index, outcome });
  } catch (e) {
    send({ type: "error", index: task.index, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  }
});
