/**
 * Whether the rehearsal is linear in data: one exam at several sizes Convex
 * can hold (many participants with one answer each; few with 200), each
 * rehearsed in full (status, export, migration, verification, smoke, rebuild,
 * audit chain, cleanup) in its own embedded instance, in this thread. Time per
 * V1 record (a participant or an answer) at each size, and the ratio of the
 * largest shape's to the smallest's of the same kind: 1.0 is linear (target
 * ≤ 1.3). Each shape is run twice and the faster run kept (the machine is
 * shared); a warm-up exam first, not counted.
 *
 * @example
 * const section = await bench(); // npm run bench -- --only scaling
 */
import { generateV1Dataset } from "../dataset/generate.js";
import { rehearseExam, subsetForExam } from "../rehearsal/exam.js";
import type { BenchRow, BenchSection } from "../runtime/embedded.js";

/** Participants × answers each; the 200-answer shapes stop below 1 MiB of the generator's entries. */
export const SCALING_SHAPES = [
  { kind: "1 answer each", participants: 500, answersEach: 1 },
  { kind: "1 answer each", participants: 2_000, answersEach: 1 },
  { kind: "1 answer each", participants: 4_000, answersEach: 1 },
  { kind: "200 answers each", participants: 20, answersEach: 200 },
  { kind: "200 answers each", participants: 65, answersEach: 200 },
] as const;

const OPTIONS = { batchSize: 5, smokeUsers: 2, cleanup: true };

async function rehearseOnce(participants: number, answersEach: number): Promise<{ ms: number; records: number; passed: boolean }> {
  const dataset = generateV1Dataset({ exams: 1, participants, answers: participants * answersEach, dirty: false, seed: 42 });
  const exam = dataset.exams[0]!;
  const records = exam.participants.length + exam.participants.reduce((n, p) => n + p.answers.length, 0);
  const started = performance.now();
  const outcome = await rehearseExam(subsetForExam(dataset, exam.key), exam.key, OPTIONS);
  const ms = performance.now() - started;
  const passed = Object.values(outcome.phases).every((p) => p?.status !== "failed");
  return { ms, records, passed };
}

export async function bench(): Promise<BenchSection> {
  await rehearseOnce(50, 2); // warm-up: JIT and module loading, not counted
  const rows: BenchRow[] = [];
  const perRecord = new Map<string, number[]>();
  const failures: string[] = [];
  for (const shape of SCALING_SHAPES) {
    const runs = [await rehearseOnce(shape.participants, shape.answersEach), await rehearseOnce(shape.participants, shape.answersEach)];
    const best = runs.reduce((a, b) => (b.ms < a.ms ? b : a));
    if (!runs.every((r) => r.passed)) failures.push(`${shape.participants} × ${shape.answersEach}: the rehearsal failed`);
    const us = (best.ms * 1000) / best.records;
    perRecord.set(shape.kind, [...(perRecord.get(shape.kind) ?? []), us]);
    rows.push({
      shape: `${shape.participants.toLocaleString("en-US")} × ${shape.answersEach}`,
      "V1 records": best.records,
      "wall ms (best of 2)": Math.round(best.ms),
      "µs per record": Number(us.toFixed(1)),
    });
  }
  const ratios = [...perRecord.entries()].map(([kind, us]) => ({ kind, ratio: us[us.length - 1]! / us[0]! }));
  for (const { kind, ratio } of ratios) {
    rows.push({ shape: `${kind}: largest ÷ smallest`, "µs per record": Number(ratio.toFixed(2)) });
    if (ratio > 1.3)
      failures.push(`${kind}: time per record grows ${ratio.toFixed(2)}× from the smallest shape to the largest (target ≤ 1.3)`);
  }
  return {
    title: "Rehearsal scaling: one exam at sizes Convex can hold, time per V1 record",
    rows,
    notes: [
      "Each shape rehearsed in full in its own embedded instance (IndexedDatabaseFake), in this thread; best of two runs after a warm-up.",
      "A V1 record is one participant entry or one answer; the ratio compares time per record at the largest shape of a kind with the smallest (1.0 = linear).",
      ...(failures.length === 0
        ? ["Target met: time per record at the largest shape ≤ 1.3 × at the smallest, for each kind."]
        : failures.map((f) => `MISSED: ${f}`)),
    ],
  };
}
