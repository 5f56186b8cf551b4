/**
 * A worker thread for the one-deployment run (deployment.ts `deploymentInWorker`): it installs a simulated clock (Date.now and
 * setTimeout), which must not touch the thread that draws progress and feeds the exam workers.
 *
 * @example
 * // main thread: deploymentInWorker(dataset, options) in deployment.ts
 */
import { parentPort, workerData } from "node:worker_threads";
import { rehearseOrFailure, type DeploymentOptions } from "./deployment.js";
import type { V1Dataset } from "../dataset/generate.js";

const { dataset, options } = workerData as { dataset: V1Dataset; options: DeploymentOptions };
parentPort!.postMessage(await rehearseOrFailure(dataset, options)); // its size was checked before it was sent
