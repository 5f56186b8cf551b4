// @vitest-environment node
/**
 * The plan is production's: the migrate and cleanup calls the report gives for a batch size are those of one
 * deployment holding every exam (one call's budget is shared across exams). With no student acting
 * (`--live-students 0`), checked against one deployment computed here on our own with the same functions and an
 * hour between migration and cleanup: within 10%. Shown beside the per-exam estimate in the text, the JSON and
 * the HTML page.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test, vi } from "vitest";
import { main } from "../src/cli/main";
import type { Report } from "../src/rehearsal/report";
import { deploymentOrFailure, tooLargeToPlan } from "../src/rehearsal/deployment";
import { createEmbeddedConvex } from "../src/runtime/embedded";
import { generateV1Dataset, GUIDE_DATASET, insertDataset } from "../src/dataset/generate";
import { internal } from "../convex/_generated/api";
import { MIRROR_RUN_DELAY_MS } from "../convex/projections/mirrorJob";

const root = mkdtempSync(join(tmpdir(), "plan-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Calls until isDone in one deployment holding the whole guide dataset (as `npm start` generates it: dirty, seed 42), an hour between migration and cleanup. */
async function oneDeployment(batchSize: number) {
  vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
  try {
    vi.setSystemTime(Date.UTC(2026, 1, 1));
    const t = createEmbeddedConvex();
    await insertDataset(t, generateV1Dataset({ ...GUIDE_DATASET, seed: 42, dirty: true }));
    const until = async (args: { clearAfterMigration?: boolean }) => {
      let calls = 0;
      for (let done = false; !done; calls++)
        done = (await t.mutation(internal.migrations.migrateExamParticipants, { batchSize, ...args })).isDone;
      return calls;
    };
    const migrate = await until({});
    vi.advanceTimersByTime(MIRROR_RUN_DELAY_MS);
    await t.finishAllScheduledFunctions(() => vi.advanceTimersByTime(60 * 60_000));
    return { migrate, cleanup: await until({ clearAfterMigration: true }) };
  } finally {
    vi.useRealTimers();
  }
}

/** Within 10% of `expected`. */
const near = (actual: number, expected: number) => Math.abs(actual - expected) <= 0.1 * expected;

describe("the plan", () => {
  test.each([1, 5, 10])(
    "at --batch-size %i, migrate and cleanup calls are one deployment's",
    async (batchSize) => {
      const out = join(root, `b${batchSize}`);
      let stdout = "";
      const code = await main(
        [
          "node",
          "exam-migrate",
          "-q",
          "--batch-size",
          String(batchSize),
          "--live-students",
          "0",
          "--workers",
          "2",
          "--out-dir",
          out,
          "--json",
          `${out}.json`,
          "--html",
          `${out}.html`,
        ],
        { stdout: (s) => void (stdout += s), stderr: (s) => void (stdout += s) },
      );
      expect(code, stdout).toBe(0);
      const report = JSON.parse(readFileSync(`${out}.json`, "utf8")) as Report;
      const expected = await oneDeployment(batchSize);
      const step = (name: string) => report.plan.steps.find((s) => s.step === name)!;
      const measured = { migrate: step("4. migrate").calls, cleanup: step("8. cleanup").calls };
      expect(
        near(measured.migrate, expected.migrate) && near(measured.cleanup, expected.cleanup),
        JSON.stringify({ measured, expected }),
      ).toBe(true);
      expect(step("4. migrate").callsEstimated).toBe(false);
      expect(report.plan.measured).toMatchObject({
        exams: 15,
        entries: 234,
        migrate: { calls: measured.migrate },
        cleanup: { calls: measured.cleanup },
      });
      // Every call but the last stopped short (batch size or budget); the last is done.
      for (const loop of ["migrate", "cleanup"] as const) {
        const stopped = (report.plan.measured as { [k in typeof loop]: { calls: number; stopped: Record<string, number> } })[loop];
        expect(stopped.stopped.done).toBe(1);
        expect(Object.values(stopped.stopped).reduce((n, k) => n + k, 0)).toBe(stopped.calls);
      }
      const line = `migrate ${measured.migrate} (stopped by:`;
      expect(stdout).toContain(line);
      expect(readFileSync(`${out}.html`, "utf8")).toContain(line);
      expect(stdout).toMatch(new RegExp(` ${measured.migrate} \\(per-exam estimate ≈ \\d+\\)`));
    },
    180_000,
  );

  test("input heavier than one deployment should hold is not planned in one, and says why", async () => {
    const guide = generateV1Dataset({ ...GUIDE_DATASET, dirty: true });
    // The guide dataset weighs about 4 MB of exam documents.
    const options = { batchSize: 5, liveRate: 0, cleanup: false };
    expect(await deploymentOrFailure(guide, options, 1024 * 1024)).toEqual({ skipped: tooLargeToPlan(1024 * 1024) });
    const small = generateV1Dataset({ exams: 2, participants: 6, answers: 30 });
    expect(await deploymentOrFailure(small, options, 1024 * 1024)).toMatchObject({ exams: 2, entries: 6 });
  }, 60_000);
});
