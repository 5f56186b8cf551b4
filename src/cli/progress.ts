/**
 * Progress of the rehearsal on stderr: one bar per phase, counting the exams
 * that have passed it. Without a terminal (CI logs, pipes) one line per exam
 * and phase as it happens (so a long run is never silent), and one when a
 * phase is done for every exam; nothing with --quiet. A snapshot's exam count
 * is known only once it has been read (it streams): until then lines say
 * "exam 3", not "exam 3/654", and bars grow their total.
 *
 * @example
 * const progress = phaseProgress({ quiet: false });
 * await rehearse({ ...options, progress });
 */
import cliProgress from "cli-progress";
import { PHASES, type PhaseName } from "../rehearsal/types.js";
import type { ProgressSink } from "../rehearsal/run.js";

export function phaseProgress({
  quiet,
  stream = process.stderr,
}: {
  quiet: boolean;
  stream?: NodeJS.WriteStream;
}): ProgressSink | undefined {
  if (quiet) return undefined;
  const width = Math.max(...PHASES.map((p) => p.title.length));
  const counts = new Map<PhaseName, number>();
  let total: number | null = null;
  let started = 0;

  if (!stream.isTTY) {
    const titleOf = (phase: PhaseName) => PHASES.find((p) => p.name === phase)!.title;
    const phaseComplete = (phase: PhaseName) =>
      stream.write(`${titleOf(phase).padEnd(width)}  ${total}/${total} exams  ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return {
      start(exams) {
        total = exams;
        started = performance.now();
      },
      total(exams) {
        total = exams;
        for (const p of PHASES) if (counts.get(p.name) === exams) phaseComplete(p.name);
      },
      phaseDone(phase, exam) {
        const n = (counts.get(phase) ?? 0) + 1;
        counts.set(phase, n);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        if (exam !== undefined)
          stream.write(
            `${seconds.padStart(7)} s  exam ${exam.index + 1}${total === null ? "" : `/${total}`} (${exam.key})  ${titleOf(phase)}\n`,
          );
        if (n === total) phaseComplete(phase);
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
  let known = true;
  let seen = 0;
  return {
    start(exams) {
      known = exams !== null;
      for (const p of PHASES) bars.set(p.name, multibar.create(exams ?? 0, 0, { phase: p.title.padEnd(width) }));
    },
    total(exams) {
      known = true;
      for (const bar of bars.values()) bar.setTotal(exams);
    },
    phaseDone(phase, exam) {
      // While a snapshot is still being read, the total is the exams handed on so far.
      if (!known && exam !== undefined && exam.index + 1 > seen) {
        seen = exam.index + 1;
        for (const bar of bars.values()) bar.setTotal(seen);
      }
      bars.get(phase)?.increment();
    },
    stop() {
      multibar.stop();
    },
  };
}
