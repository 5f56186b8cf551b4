/**
 * A worker thread for the one-deployment run (deployment.ts): it installs a simulated clock (Date.now and
 * setTimeout), which must not touch the thread that draws progress and feeds the exam workers.
 *
 * @example
 * // main thread: runDeploymentInWorker(dataset, options) in deployment.ts
 */
import { parentPort, workerData } from "node:worker_threads";
import { deploymentOrFailure, type DeploymentOptions } from "./deployment.js";
import type { V1Dataset } from "../dataset/generate.js";

const { dataset, options } = workerData as { dataset: V1Dataset; options: DeploymentOptions };
parentPort!.postMessage(await deploymentOrFailure(dataset, options));
