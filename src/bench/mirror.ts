/**
 * The legacy mirror off the students' write path: an exam of 200
 * students, each doing start, pause, resume and submit through the V2 API,
 * with the mirror asynchronous (the per-exam job) and synchronous. For every
 * action: the documents it writes that another student's action also writes
 * (the contention Convex's optimistic concurrency turns into retries), the
 * documents and bytes it writes, and whether it reads the exam document; then
 * the exam-document writes per 1,000 actions, with the job running after every
 * action, every 10 and every 200, against the synchronous mode; and how many
 * students share a counter shard (64 shards against the former 8).
 *
 * Documents and bytes come from ctx.meta.getTransactionMetrics() and a
 * recording ctx.db (src/bench/recording.ts), so both modes are measured the
 * same way. The job's delay is simulated with a clock of the section's own.
 *
 * @example
 * const section = await bench(); // rows per mode and action, notes with the raw figures
 */
import * as e from "../../convex/exams";
import { internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { COUNTER_SHARDS } from "../../convex/lib/limits";
import { markLegacyBackfilled, syncExamHeader } from "../../convex/headers/examHeaders";
import { MIRROR_RUN_DELAY_MS } from "../../convex/projections/mirrorJob";
import { counterShard } from "../../convex/projections/counters";
import { createEmbeddedConvex, type BenchRow, type BenchSection, type EmbeddedConvex } from "../runtime/embedded";
import { recordCall } from "./recording";

const STUDENTS = 200;
const QUESTIONS = 20;
const ACTIONS = ["start", "pause", "resume", "submit"] as const;
type Action = (typeof ACTIONS)[number];

/**
 * A clock and timers of the section's own while it runs: Date.now() and setTimeout are replaced so that the
 * mirror job's delay (MIRROR_RUN_DELAY_MS) passes when the section says, not in real time. Restored by `restore`.
 */
function installClock() {
  const realNow = Date.now;
  const realSetTimeout = globalThis.setTimeout;
  let now = realNow();
  let queue: { at: number; fn: () => void }[] = [];
  Date.now = () => now;
  globalThis.setTimeout = ((fn: () => void, ms = 0) => {
    queue.push({ at: now + ms, fn });
    return 0;
  }) as unknown as typeof setTimeout;
  return {
    tick: (ms: number) => (now += ms),
    /** Moves the clock by `ms` and fires every timer then due, oldest first. */
    advance(ms: number) {
      now += ms;
      const due = queue.filter((q) => q.at <= now).sort((a, b) => a.at - b.at);
      queue = queue.filter((q) => q.at > now);
      for (const q of due) q.fn();
    },
    pending: () => queue.length,
    restore() {
      Date.now = realNow;
      globalThis.setTimeout = realSetTimeout;
    },
  };
}
type Clock = ReturnType<typeof installClock>;

type Actions = {
  perAction: {
    action: Action;
    student: number;
    written: string[];
    docsWritten: number;
    bytesWritten: number;
    readsExam: boolean;
    bytesRead: number;
  }[];
  examWrites: number;
};

async function setup(t: EmbeddedConvex, sync: boolean) {
  const ids = await t.run(async (ctx) => {
    const questionIds: Id<"questions">[] = [];
    for (let i = 0; i < QUESTIONS; i++)
      questionIds.push(await ctx.db.insert("questions", { text: `Q${i}`, options: ["a", "b", "c", "d"], correctAnswer: "a" }));
    const examId = await ctx.db.insert("exams", { title: "Bench", questionIds, durationMs: 24 * 3_600_000, maxPauses: 2 });
    const users: Id<"users">[] = [];
    for (let i = 0; i < STUDENTS; i++)
      users.push(await ctx.db.insert("users", { name: `s${i}`, tokenIdentifier: `bench|mirror-${i}`, role: "student" }));
    await syncExamHeader(ctx, (await ctx.db.get("exams", examId))!);
    await markLegacyBackfilled(ctx, examId);
    return { examId, questionIds, users };
  });
  if (sync) await t.mutation(internal.legacyMirror.setLegacyMirrorSync, { sync: true });
  return ids;
}

/** Every student's four actions, in rounds; the job's runs come due every `jobEvery` actions (sync: none are scheduled). */
async function run(t: EmbeddedConvex, clock: Clock, sync: boolean, jobEvery: number): Promise<Actions> {
  const { examId, questionIds } = await setup(t, sync);
  const answers = questionIds.map((questionId) => ({ questionId, selectedAnswer: "a" }));
  const perAction: Actions["perAction"] = [];
  const calls = { start: e.startExamV2, pause: e.startPauseV2, resume: e.resumeFromPauseV2, submit: e.submitExamAnswersV2 };
  let done = 0;
  for (const action of ACTIONS) {
    for (let student = 0; student < STUDENTS; student++) {
      clock.tick(50);
      const as = t.withIdentity({ tokenIdentifier: `bench|mirror-${student}` });
      const args = action === "submit" ? { examId, answers } : { examId };
      const { touched, cost } = await recordCall(as, calls[action] as never, args as never);
      perAction.push({
        action,
        student,
        written: [...touched.written],
        docsWritten: cost.documentsWritten,
        bytesWritten: cost.bytesWritten,
        readsExam: touched.tablesRead.has("exams"),
        bytesRead: cost.bytesRead,
      });
      if (++done % jobEvery === 0) {
        clock.advance(MIRROR_RUN_DELAY_MS);
        await t.finishInProgressScheduledFunctions();
      }
    }
  }
  while (clock.pending() > 0) {
    clock.advance(MIRROR_RUN_DELAY_MS);
    await t.finishInProgressScheduledFunctions();
  }
  const state = await t.run((ctx) =>
    ctx.db
      .query("examMirrorStates")
      .withIndex("by_exam", (q) => q.eq("examId", examId))
      .unique(),
  );
  // Synchronous runs happen inside the actions: their exam-document writes are counted from the actions' own writes.
  const examWrites = sync ? perAction.filter((a) => a.written.some((d) => d.startsWith("exams:"))).length : (state?.runs ?? 0);
  return { perAction, examWrites };
}

/** For each action, its written documents that another student's action also writes. */
function sharedWrites(actions: Actions["perAction"]): Map<string, Set<number>> {
  const writers = new Map<string, Set<number>>();
  for (const a of actions) for (const d of a.written) writers.set(d, (writers.get(d) ?? new Set()).add(a.student));
  return writers;
}

const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length);

export async function bench(): Promise<BenchSection> {
  const clock = installClock();
  try {
    const scenarios: { label: string; sync: boolean; jobEvery: number }[] = [
      { label: "async, job every 200 actions", sync: false, jobEvery: 200 },
      { label: "async, job every 10 actions", sync: false, jobEvery: 10 },
      { label: "async, job after every action", sync: false, jobEvery: 1 },
      { label: "sync", sync: true, jobEvery: Infinity },
    ];
    const rows: BenchRow[] = [];
    const notes: string[] = [];
    const writesPer1000: string[] = [];
    for (const s of scenarios) {
      const t = createEmbeddedConvex();
      const { perAction, examWrites } = await run(t, clock, s.sync, s.jobEvery);
      const writers = sharedWrites(perAction);
      writesPer1000.push(
        `${s.label}: ${examWrites} exam-document writes for ${perAction.length} actions = ${((examWrites / perAction.length) * 1000).toFixed(1)} per 1,000`,
      );
      if (s.jobEvery === 10) continue; // its per-action figures are those of the other async runs
      for (const action of ACTIONS) {
        const of = perAction.filter((a) => a.action === action);
        const shared = of.map((a) => a.written.filter((d) => (writers.get(d)?.size ?? 0) > 1));
        const sharedTables = [...new Set(shared.flat().map((d) => d.split(":")[0]!))].sort();
        rows.push({
          mode: s.label,
          action,
          "docs written (mean)": Number(mean(of.map((a) => a.docsWritten)).toFixed(2)),
          "bytes written (mean)": Math.round(mean(of.map((a) => a.bytesWritten))),
          "bytes read (mean)": Math.round(mean(of.map((a) => a.bytesRead))),
          "reads exam doc": `${of.filter((a) => a.readsExam).length}/${of.length}`,
          "shared docs written (mean)": Number(mean(shared.map((x) => x.length)).toFixed(2)),
          "shared docs written (max)": Math.max(...shared.map((x) => x.length)),
          "shared with (tables)": sharedTables.join(", ") || "none",
        });
      }
    }
    // Students per counter shard: the 64 shards now, and the 8 of before (64 is a multiple of 8: shard mod 8).
    const users = await (async () => {
      const t = createEmbeddedConvex();
      return (await setup(t, false)).users;
    })();
    const perShard = (k: number) => {
      const counts = new Map<number, number>();
      for (const u of users) counts.set(counterShard(u) % k, (counts.get(counterShard(u) % k) ?? 0) + 1);
      return [...counts.values()];
    };
    for (const k of [COUNTER_SHARDS, 8]) {
      const c = perShard(k);
      notes.push(
        `${k} counter shards, ${STUDENTS} students: ${c.length} shards used, students per shard mean ${(STUDENTS / c.length).toFixed(1)}, max ${Math.max(...c)} (a student's start or submit contends with the others of its shard)`,
      );
    }
    notes.push(...writesPer1000);
    notes.push(
      `${STUDENTS} students × start, pause (V2), resume, submit ${QUESTIONS} answers; the exam marked backfilled (no legacy-entry lookup). "shared docs written": documents the action writes that another student's action also writes (recorded ids). Target: none but the counter shard (async), at most one exam-document write per job run.`,
      "The job's delay is simulated (the section's own clock): 'job every N actions' runs every scheduled job after N actions, as a burst of N actions within one delay would; one run folds them all.",
    );
    return {
      title: "Legacy mirror off the write path: shared documents per action, exam-document writes, async vs sync (200 students)",
      rows,
      notes,
    };
  } finally {
    clock.restore();
  }
}
