/**
 * Progress of the rehearsal on stderr: one bar per phase, counting the exams
 * that have passed it. Without a terminal (CI logs, pipes) one line per exam
 * and phase as it happens (so a long run is never silent), and one when a
 * phase is done for every exam; nothing with --quiet.
 *
 * @example
 * const progress = phaseProgress({ quiet: false });
 * await rehearse({ ...options, progress });
 */
import cliProgress from "cli-progress";
import { PHASES, type PhaseName } from "../rehearsal/types.js";
import type { ProgressSink } from "../rehearsal/run.js";

export function phaseProgress({ quiet, stream = process.stderr }: { quiet: boolean; stream?: NodeJS.WriteStream }): ProgressSink | undefined {
  if (quiet) return undefined;
  const width = Math.max(...PHASES.map((p) => p.title.length));
  const counts = new Map<PhaseName, number>();
  let total = 0;
  let started = 0;

  if (!stream.isTTY) {
    return {
      start(exams) {
        total = exams;
        started = performance.now();
      },
      phaseDone(phase, exam) {
        const n = (counts.get(phase) ?? 0) + 1;
        counts.set(phase, n);
        const title = PHASES.find((p) => p.name === phase)!.title;
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        if (exam !== undefined) stream.write(`${seconds.padStart(7)} s  exam ${exam.index + 1}/${total} (${exam.key})  ${title}\n`);
        if (n === total) stream.write(`${title.padEnd(width)}  ${total}/${total} exams  ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      },
      stop() {},
    };
  }

  const multibar = new cliProgress.MultiBar(
    {
      stream,
      format: `{phase} |{bar}| {value}/{total} exams`,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<PhaseName, cliProgress.SingleBar>();
  return {
    start(exams) {
      for (const p of PHASES) bars.set(p.name, multibar.create(exams, 0, { phase: p.title.padEnd(width) }));
    },
    phaseDone(phase) {
      bars.get(phase)?.increment();
    },
    stop() {
      multibar.stop();
    },
  };
}
