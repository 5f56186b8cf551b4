/**
 * Production's plan, measured: every exam of the run in ONE embedded deployment
 * (as production holds them), `migrateExamParticipants` run to isDone and then the
 * cleanup, counting calls and why each stopped. The per-exam instances cannot give
 * these counts: one call's budget (batchSize exams, WORK_BOUNDS, a share of every
 * Convex limit) is shared by every exam of the deployment.
 *
 * @example
 * const plan = await measurePlan(generateV1Dataset(GUIDE_DATASET), 5);
 * // { migrate: { calls: 8, stopped: { budget: 7, done: 1 } }, cleanup: { ... } }
 */
import { internal } from "../../convex/_generated/api.js";
import { examDocumentBytes, insertDataset, type V1Dataset } from "../dataset/generate.js";
import { createEmbeddedConvex } from "../runtime/embedded.js";

/**
 * One deployment must fit in memory beside the rehearsal: input whose exam documents weigh more than this is not
 * planned in one (the report says so). 10× the guide dataset (40 MB of exam documents) raises the peak RSS from
 * about 0.5 to 1.1 GiB.
 */
export const PLAN_MAX_BYTES = 64 * 1024 * 1024;
export const tooLargeToPlan = (maxBytes: number) =>
  `exam documents over ${maxBytes / 1024 / 1024} MiB, more than one deployment should hold in memory`;

export type PlanLoop = { calls: number; stopped: Record<string, number> };
export type MeasuredPlan = { batchSize: number; exams: number; entries: number; migrate: PlanLoop; cleanup: PlanLoop };
/** Why the plan was not measured in one deployment; `failed`: it was tried and a call failed (the rehearsal fails). */
export type SkippedPlan = { skipped: string; failed?: true };

/** As {@link measurePlan}, a dataset over PLAN_MAX_BYTES skipped and a failure reported rather than thrown: the rehearsal goes on and fails with the reason. */
export async function planOrFailure(dataset: V1Dataset, batchSize: number, maxBytes = PLAN_MAX_BYTES): Promise<MeasuredPlan | SkippedPlan> {
  if (dataset.exams.reduce((n, e) => n + examDocumentBytes(e), 0) > maxBytes) return { skipped: tooLargeToPlan(maxBytes) };
  return measurePlan(dataset, batchSize).catch((e: unknown) => ({
    skipped: `the one-deployment run failed: ${e instanceof Error ? e.message : String(e)}`,
    failed: true as const,
  }));
}

/** A loop that never reports isDone is a failure, not a hang. */
const MAX_CALLS = 10_000;

export async function measurePlan(dataset: V1Dataset, batchSize: number): Promise<MeasuredPlan> {
  const t = createEmbeddedConvex();
  await insertDataset(t, dataset);
  const loop = async (args: { clearAfterMigration?: boolean }): Promise<PlanLoop> => {
    const stopped: Record<string, number> = {};
    for (let calls = 1; calls <= MAX_CALLS; calls++) {
      const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize, ...args });
      stopped[r.stoppedBecause] = (stopped[r.stoppedBecause] ?? 0) + 1;
      if (r.isDone) return { calls, stopped };
    }
    throw new Error(`migrateExamParticipants did not report isDone after ${MAX_CALLS} calls in one deployment`);
  };
  const migrate = await loop({});
  const cleanup = await loop({ clearAfterMigration: true });
  const entries = dataset.exams.reduce((n, e) => n + e.participants.length, 0);
  return { batchSize, exams: dataset.exams.length, entries, migrate, cleanup };
}
