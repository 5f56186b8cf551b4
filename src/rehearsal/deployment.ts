/**
 * The migration as production lives it, in ONE embedded deployment holding every
 * exam, on a simulated clock (clock.ts) so scheduled jobs run when they would:
 *
 * 1. a backup of the deployment is taken (`npx convex export`);
 * 2. step 4: `migrateExamParticipants` to isDone, simulated students acting through
 *    the V1 functions before each of its calls; the calls are production's plan (one
 *    call's budget is shared by every exam of the deployment);
 * 3. the monitoring period: the students act through the V2 functions;
 * 4. rollback option 2: the mirror drained, the old code's writer edits arrays
 *    (a start and a submit), the migration rolls them forward;
 * 5. step 8: cleanup to isDone, the students acting through V2 before each of its calls;
 * 6. rollback option 1: the backup replaces every table (`--replace-all`).
 *
 * After each, the checks an operator would run: verification (nothing left pending
 * once no mirror job is to run), the views against a replay, V1 = V2 and each
 * student's accepted actions standing for every student who acted; after the restore,
 * every table against the backup document for document, before and after the jobs
 * scheduled before it, and V1's reads against a deployment that never migrated. A
 * check that fails fails the rehearsal.
 *
 * @example
 * const run = await rehearseDeployment(generateV1Dataset(GUIDE_DATASET), { batchSize: 5, liveRate: 3, cleanup: true });
 * // run.migrate.calls, run.live, run.checks.filter((c) => !c.ok)
 */
import { convexToJson, type Value } from "convex/values";
import { api, internal } from "../../convex/_generated/api.js";
import type { Id } from "../../convex/_generated/dataModel.js";
import { canonicalJson } from "../../convex/events/hash.js";
import { gradeAnswers } from "../../convex/events/decider.js";
import { errorCode } from "../../convex/lib/errors.js";
import { sameValue } from "../../convex/lib/values.js";
import type { V1Participant } from "../../convex/lib/validators.js";
import { MIRROR_RUN_DELAY_MS } from "../../convex/projections/mirrorJob.js";
import { CREATION_SETTLE_MS } from "../../convex/lib/limits.js";
import { examDocumentBytes, insertDataset, prng, type V1Dataset } from "../dataset/generate.js";
import { createEmbeddedConvex, type EmbeddedConvex } from "../runtime/embedded.js";
import { SimulatedClock } from "./clock.js";
import { firstDifference, SMOKE_READS, type Student } from "./exam.js";
import { IdTranslator } from "./ids.js";
import { startWorker } from "./pool.js";
import type { Fault } from "./types.js";

/**
 * One deployment must fit in memory beside the rehearsal: input whose exam documents weigh more than this is not
 * rehearsed in one (the report says so). 10× the guide dataset (40 MB of exam documents) peaks at about 1.9 GiB.
 */
export const PLAN_MAX_BYTES = 64 * 1024 * 1024;
export const tooLargeToPlan = (maxBytes: number) =>
  `exam documents over ${maxBytes / 1024 / 1024} MiB, more than one deployment should hold in memory`;

/** Student actions before each migration or cleanup call, unless `--live-students` says otherwise. */
export const DEFAULT_LIVE_RATE = 3;
/** Simulated time between two student actions: jobs they schedule (the mirror's, 6 s later) run in between. */
const ACTION_GAP_MS = 2_000;
/** A loop that never reports isDone is a failure, not a hang. */
const MAX_CALLS = 10_000;

export type PlanLoop = { calls: number; stopped: Record<string, number> };
export type MeasuredPlan = { batchSize: number; exams: number; entries: number; migrate: PlanLoop; cleanup: PlanLoop };

export type StudentAction = "start" | "pause" | "resume" | "submit";
/** When students act: during step 4 (V1 functions), the monitoring period and step 8 (V2 functions). */
export type LivePhase = "migrate" | "monitor" | "cleanup";
export type LiveTally = {
  phase: LivePhase;
  functions: "V1" | "V2";
  /** Actions that succeeded, by kind. */
  done: Record<StudentAction, number>;
  /** Actions the backend refused with a code a student can meet (TIME_UP, NO_PAUSES_LEFT, …), by code. */
  refused: Record<string, number>;
  /** Distinct (exam, student) pairs that acted. */
  students: number;
};
/** One check of the run: what an operator would run at that point, and what it said. */
export type DeploymentCheck = { step: string; name: string; ok: boolean; note: string };
export type DeploymentRun = MeasuredPlan & {
  liveRate: number;
  live: LiveTally[];
  checks: DeploymentCheck[];
  /** Simulated time the run covered (student actions and the jobs' delays), and the wall time it took. */
  simulatedMs: number;
  wallMs: number;
};
/** Why the one-deployment run was not made; `failed`: it was tried and threw (the rehearsal fails). */
export type SkippedPlan = { skipped: string; failed?: true };

export type DeploymentOptions = { batchSize: number; liveRate: number; cleanup: boolean; fault?: Fault };

/** Why `dataset` is not rehearsed in one deployment (its exam documents weigh more than `maxBytes`), or null. */
function tooLarge(dataset: V1Dataset, maxBytes: number): SkippedPlan | null {
  return dataset.exams.reduce((n, e) => n + examDocumentBytes(e), 0) > maxBytes ? { skipped: tooLargeToPlan(maxBytes) } : null;
}

/** As {@link rehearseDeployment}, a crash reported rather than thrown (the rehearsal goes on and fails with the reason). */
export function rehearseOrFailure(dataset: V1Dataset, options: DeploymentOptions): Promise<DeploymentRun | SkippedPlan> {
  return rehearseDeployment(dataset, options).catch((e: unknown) => ({
    skipped: `the one-deployment run failed: ${e instanceof Error ? e.message : String(e)}`,
    failed: true as const,
  }));
}

/** As {@link rehearseOrFailure}, a dataset over `maxBytes` skipped. */
export async function deploymentOrFailure(
  dataset: V1Dataset,
  options: DeploymentOptions,
  maxBytes = PLAN_MAX_BYTES,
): Promise<DeploymentRun | SkippedPlan> {
  return tooLarge(dataset, maxBytes) ?? rehearseOrFailure(dataset, options);
}

/** {@link deploymentOrFailure} with {@link rehearseOrFailure} on a worker thread of its own (its simulated clock replaces that thread's timers). */
export function deploymentInWorker(
  dataset: V1Dataset,
  options: DeploymentOptions,
  signal?: AbortSignal,
): Promise<DeploymentRun | SkippedPlan> {
  // Checked here, before the dataset is copied into a worker only to be refused there.
  const skipped = tooLarge(dataset, PLAN_MAX_BYTES);
  if (skipped !== null) return Promise.resolve(skipped);
  return new Promise((resolve, reject) => {
    const worker = startWorker("./deploymentWorker.ts", { dataset, options });
    const stop = (settle: () => void) => {
      signal?.removeEventListener("abort", abort);
      void worker.terminate();
      settle();
    };
    const abort = () => stop(() => reject(new Error("the one-deployment run was stopped")));
    signal?.addEventListener("abort", abort);
    worker.once("message", (result: DeploymentRun | SkippedPlan) => stop(() => resolve(result)));
    worker.once("error", (e) => stop(() => reject(e)));
    worker.once("exit", (code) => stop(() => reject(new Error(`the one-deployment worker exited with code ${code}`))));
  });
}

/** The clock starts a minute after the data's last V1 timestamp: attempts still running then can be paused and submitted. */
function startOf(dataset: V1Dataset): number {
  let last = 0;
  for (const e of dataset.exams) for (const p of e.participants) last = Math.max(last, p.startedAt, p.completedAt ?? 0, p.pausedAt ?? 0);
  return (last === 0 ? Date.UTC(2026, 0, 1) : Math.ceil(last / 1000) * 1000) + 60_000;
}

/** An attempt as its student believes it; `accepted`: their last action on it was accepted. */
type Attempt = { paused: boolean; completed: boolean; accepted?: boolean };
type Acted = { examKey: string; userKey: string };

/**
 * Simulated students (seeded: the same run every time): each action picks an exam, then either a student who
 * has not started it (start) or one whose attempt runs (pause or resume, or submit a few answers). What the
 * backend answered is what they believe next; a refusal with a code is theirs to meet (time up, no pauses left).
 */
class Students {
  private readonly random = prng(7);
  /** Each exam's attempts as the students know them (their first V1 entry), by user key. */
  private readonly attempts = new Map<string, Map<string, Attempt>>();
  private readonly studentKeys: string[];
  private readonly answerable: Map<string, { key: string; options: string[] }[]>;

  constructor(private readonly dataset: V1Dataset) {
    this.studentKeys = dataset.users.filter((u) => u.role === "student").map((u) => u.key);
    const questions = new Map(dataset.questions.map((q) => [q.key, q]));
    this.answerable = new Map(
      dataset.exams.map((e) => [
        e.key,
        [...new Set(e.questionKeys)].flatMap((k) => {
          const q = questions.get(k);
          return q === undefined || q.options.length === 0 ? [] : [{ key: k, options: q.options }];
        }),
      ]),
    );
    for (const e of dataset.exams) {
      const byUser = new Map<string, Attempt>();
      for (const p of e.participants)
        if (!byUser.has(p.userKey)) byUser.set(p.userKey, { paused: p.isPaused, completed: p.completedAt !== undefined });
      this.attempts.set(e.key, byUser);
    }
  }

  private pick<T>(list: readonly T[]): T | undefined {
    return list[Math.floor(this.random() * list.length)];
  }

  /** Whether the exam gives a student something to do: a running attempt, or a student who has not started it. */
  private open(examKey: string): boolean {
    const attempts = this.attempts.get(examKey)!;
    return [...attempts.values()].some((a) => !a.completed) || this.studentKeys.some((k) => !attempts.has(k));
  }

  /** The next action, or null when no exam with a question to answer has anything left to do. */
  next(): { examKey: string; userKey: string; action: StudentAction; answers: { questionKey: string; selectedAnswer: string }[] } | null {
    const exams = this.dataset.exams.filter((e) => (this.answerable.get(e.key)?.length ?? 0) > 0 && this.open(e.key));
    const exam = this.pick(exams);
    if (exam === undefined) return null;
    const attempts = this.attempts.get(exam.key)!;
    const running = [...attempts].filter(([, a]) => !a.completed);
    const newcomers = this.studentKeys.filter((k) => !attempts.has(k));
    if (newcomers.length > 0 && (running.length === 0 || this.random() < 0.3)) {
      return { examKey: exam.key, userKey: this.pick(newcomers)!, action: "start", answers: [] };
    }
    const [userKey, attempt] = this.pick(running)!;
    if (attempt.paused) return { examKey: exam.key, userKey, action: "resume", answers: [] };
    if (this.random() < 0.4) return { examKey: exam.key, userKey, action: "pause", answers: [] };
    const questions = this.answerable.get(exam.key)!.slice(0, 1 + Math.floor(this.random() * 5));
    return {
      examKey: exam.key,
      userKey,
      action: "submit",
      answers: questions.map((q) => ({ questionKey: q.key, selectedAnswer: this.pick(q.options)! })),
    };
  }

  /** What the student believes of their attempt, if their last action on it was accepted (else null: they met a refusal). */
  belief(examKey: string, userKey: string): { paused: boolean; completed: boolean } | null {
    const a = this.attempts.get(examKey)?.get(userKey);
    return a?.accepted === true ? { paused: a.paused, completed: a.completed } : null;
  }

  /** A student who signs up now (the old code's start when every known student has an attempt on every exam). */
  addStudent(userKey: string) {
    this.studentKeys.push(userKey);
  }

  /** What the student now believes: the backend accepted `action`, or refused it with `code`. */
  learn(examKey: string, userKey: string, action: StudentAction, code: string | null) {
    const attempts = this.attempts.get(examKey)!;
    if (!attempts.has(userKey)) attempts.set(userKey, { paused: false, completed: false, accepted: false });
    const a = attempts.get(userKey)!;
    a.accepted = code === null;
    if (code === null) {
      if (action === "pause") a.paused = true;
      else if (action === "resume") a.paused = false;
      else if (action === "submit") a.completed = true;
    } else if (code === "TIME_UP" || code === "ALREADY_COMPLETED")
      a.completed = true; // nothing more to do on it
    else if (code === "PAUSED") a.paused = true;
    else if (code === "NOT_PAUSED") a.paused = false;
  }

  /** A student the old code may start on the exam (none of their entries there), and one whose attempt it may submit. */
  forOldCode(examKey: string): { starter?: string; submitter?: string } {
    const attempts = this.attempts.get(examKey)!;
    return {
      starter: this.studentKeys.find((k) => !attempts.has(k)),
      submitter: [...attempts].find(([, a]) => !a.completed && !a.paused)?.[0],
    };
  }
}

export async function rehearseDeployment(dataset: V1Dataset, options: DeploymentOptions): Promise<DeploymentRun> {
  const started = performance.now();
  const clock = SimulatedClock.install(startOf(dataset));
  const origin = clock.now();
  try {
    const result = await run(dataset, options, clock);
    return { ...result, simulatedMs: clock.now() - origin, wallMs: performance.now() - started };
  } finally {
    clock.uninstall();
  }
}

async function run(
  dataset: V1Dataset,
  o: DeploymentOptions,
  clock: SimulatedClock,
): Promise<Omit<DeploymentRun, "simulatedMs" | "wallMs">> {
  const t = createEmbeddedConvex();
  const settle = () => t.finishInProgressScheduledFunctions();
  const wait = (ms: number) => clock.advance(ms, settle);
  const ids = await insertDataset(t, dataset);
  const names = new IdTranslator(ids);
  const examId = (key: string) => ids.exams.get(key)!;
  const userOf = new Map(dataset.users.map((u) => [u.key, u]));
  const as = (userKey: string, on: EmbeddedConvex = t): Student => {
    const u = userOf.get(userKey)!;
    return on.withIdentity({ tokenIdentifier: u.tokenIdentifier, subject: u.key, name: u.name });
  };
  const checks: DeploymentCheck[] = [];
  const check = (step: string, name: string, ok: boolean, note: string) => checks.push({ step, name, ok, note: names.translate(note) });
  const students = new Students(dataset);
  const live: LiveTally[] = [];
  let faultPlanted = false;

  // 1. The backup, as `npx convex export` takes it before the migration: the tables that hold documents then.
  const backup = Object.fromEntries(Object.entries(t.exportTables()).filter(([, docs]) => docs.length > 0));

  /**
   * The reads each student makes of their exam, V1's and (with `twins`) V2's, at this instant, by
   * "exam student function": a read whose result is the same for every student is made once per exam
   * (the leaderboard) or once (the list of exams).
   */
  async function reads(who: Iterable<Acted>, twins: boolean, on: EmbeddedConvex = t): Promise<Map<string, { v1: string; v2?: string }>> {
    const out = new Map<string, { v1: string; v2?: string }>();
    const made = new Set<string>();
    for (const { examKey, userKey } of who) {
      const questionId = await on.run(async (ctx) => (await ctx.db.get("exams", examId(examKey)))?.questionIds[0]);
      for (const read of SMOKE_READS) {
        const pair = read.twins(as(userKey, on), { examId: examId(examKey), questionId });
        const once = read.once === "deployment" ? read.name : `${read.name} ${examKey}`;
        if (pair === null || (read.once !== undefined && made.has(once))) continue;
        made.add(once);
        out.set(`${examKey} ${userKey} ${read.name}`, { v1: await outcomeOf(pair[0]), ...(twins ? { v2: await outcomeOf(pair[1]) } : {}) });
      }
    }
    return out;
  }

  /** `count` student actions through the V1 or the V2 functions, the clock moving ACTION_GAP_MS after each. */
  async function act(phase: LivePhase, functions: "V1" | "V2", count: number, acted: Map<string, Acted>) {
    let tally = live.find((l) => l.phase === phase);
    if (tally === undefined) {
      tally = { phase, functions, done: { start: 0, pause: 0, resume: 0, submit: 0 }, refused: {}, students: 0 };
      live.push(tally);
    }
    for (let i = 0; i < count; i++) {
      const next = students.next();
      if (next === null) return;
      const { examKey, userKey, action, answers } = next;
      const student = as(userKey);
      const args = { examId: examId(examKey) };
      const v2 = functions === "V2";
      let code: string | null = null;
      try {
        if (action === "start") await student.mutation(v2 ? api.exams.startExamV2 : api.exams.startExam, args);
        else if (action === "pause") await student.mutation(v2 ? api.exams.startPauseV2 : api.exams.startPause, args);
        else if (action === "resume") await student.mutation(v2 ? api.exams.resumeFromPauseV2 : api.exams.resumeFromPause, args);
        else {
          const submitted = answers.map((a) => ({ questionId: ids.questions.get(a.questionKey)!, selectedAnswer: a.selectedAnswer }));
          await student.mutation(v2 ? api.exams.submitExamAnswersV2 : api.exams.submitExamAnswers, { ...args, answers: submitted });
        }
        tally.done[action]++;
      } catch (e) {
        code = errorCode(e) ?? null;
        if (code === null) {
          check(
            phase,
            `a student's ${action} (${functions})`,
            false,
            `${examKey} ${userKey}: ${e instanceof Error ? e.message : String(e)}`,
          );
          code = "crash";
        }
        tally.refused[code] = (tally.refused[code] ?? 0) + 1;
      }
      students.learn(examKey, userKey, action, code);
      acted.set(`${examKey} ${userKey}`, { examKey, userKey });
      tally.students = acted.size;
      if (o.fault === "live-drop-answer" && !faultPlanted && v2 && action === "submit" && code === null) {
        // The fault: one answer the student just submitted is lost from the V2 tables behind the log's back.
        faultPlanted = await t.run(async (ctx) => {
          const attempt = await ctx.db
            .query("examParticipations")
            .withIndex("by_exam_and_user", (q) => q.eq("examId", args.examId).eq("userId", ids.users.get(userKey)!))
            .first();
          const row =
            attempt === null
              ? null
              : await ctx.db
                  .query("examAnswers")
                  .withIndex("by_participation_and_question", (q) => q.eq("participationId", attempt._id))
                  .first();
          if (row !== null) await ctx.db.delete("examAnswers", row._id);
          return row !== null;
        });
      }
      await wait(ACTION_GAP_MS);
    }
  }

  /** `migrateExamParticipants` until isDone, students acting before each call; its calls and why each stopped. */
  async function migrateLoop(
    args: { clearAfterMigration?: boolean },
    before: (() => Promise<void>) | null,
  ): Promise<PlanLoop & { rolledForward: number }> {
    const stopped: Record<string, number> = {};
    let rolledForward = 0;
    for (let calls = 1; calls <= MAX_CALLS; calls++) {
      await before?.(); // students act before each call, the first included: a one-call migration has them too
      const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: o.batchSize, ...args });
      stopped[r.stoppedBecause] = (stopped[r.stoppedBecause] ?? 0) + 1;
      rolledForward += r.rolledForward;
      if (r.isDone) return { calls, stopped, rolledForward };
    }
    throw new Error(`migrateExamParticipants did not report isDone after ${MAX_CALLS} calls in one deployment`);
  }

  /** What an operator checks after each step: verification, the views against a replay, V1 = V2 for the students who acted. */
  async function verifyAll(step: string, actedOnce: Iterable<Acted>, { views: checkViews = false, beliefs = true } = {}) {
    const acted = [...actedOnce]; // read twice below
    await wait(MIRROR_RUN_DELAY_MS); // the mirror's jobs for the last actions run
    const integrity = await t.action(internal.migrations.verifyMigrationIntegrity, {});
    // An entry is pending only while a job that will mirror it is still to run: with none left, it never will be.
    const stuck = clock.pending() === 0 ? integrity.pending : [];
    check(
      step,
      "verifyMigrationIntegrity",
      integrity.isValid && stuck.length === 0,
      !integrity.isValid
        ? issuesNote(integrity.issues)
        : stuck.length > 0
          ? `${stuck.length} pending with no mirror job left to run: ${stuck
              .slice(0, 3)
              .map((p) => `${p.userId} (${p.reason})`)
              .join("; ")}`
          : `valid: ${int(integrity.summary.v2Participants)} participations, ${integrity.pending.length} pending`,
    );
    if (checkViews) {
      const views = await t.action(internal.projections.rebuild.verifyProjections, {});
      check(
        step,
        "verifyProjections",
        views.isValid,
        views.isValid ? `views match a replay of ${int(views.summary.events)} events` : issuesNote(views.issues),
      );
    }
    const pairs = await reads(acted, true);
    const differ = [...pairs]
      .filter(([, r]) => r.v1 !== r.v2)
      .map(([key, r]) => `${key}: ${firstDifference(JSON.parse(r.v1), JSON.parse(r.v2!))}`);
    check(
      step,
      "V1 = V2",
      differ.length === 0,
      differ.length === 0
        ? pairs.size === 0
          ? "no student acted: nothing to compare"
          : `${int(pairs.size)} read pair(s) equal`
        : `${differ.length} of ${pairs.size} differ: ${differ.slice(0, 3).join("; ")}`,
    );
    // No student's accepted action is lost: each attempt is, in V2, what its student last saw it become.
    if (!beliefs) return;
    const lost: string[] = [];
    let believed = 0;
    for (const { examKey, userKey } of acted) {
      const belief = students.belief(examKey, userKey);
      if (belief === null) continue;
      let session;
      try {
        session = await as(userKey).query(api.exams.getExamSessionV2, { examId: examId(examKey) });
      } catch (e) {
        // A refusal with a code (an exam past a work bound) is V1 = V2's to judge; a crash is lost too.
        if (errorCode(e) === undefined)
          lost.push(`${examKey} ${userKey}: the session crashed: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      believed++;
      const seen = { paused: session.isPaused, completed: session.status === "completed" };
      if (seen.paused !== belief.paused || seen.completed !== belief.completed)
        lost.push(`${examKey} ${userKey}: believes ${JSON.stringify(belief)}, V2 shows ${JSON.stringify(seen)}`);
    }
    check(
      step,
      "students' actions stand",
      lost.length === 0,
      lost.length === 0
        ? believed === 0
          ? "no action accepted since the last check: nothing to compare"
          : `${int(believed)} attempt(s) as their students last saw them`
        : `${lost.length} of ${believed} not: ${lost.slice(0, 3).join("; ")}`,
    );
  }
  // The V2 code is deployed: its cron's header check passes over every exam before the migration starts (until one
  // has, V1's lists read every exam document, as V1 did).
  await wait(CREATION_SETTLE_MS + 1_000);
  const { startedAt } = await t.mutation(internal.examAdmin.startHeaderCheckNow, {});
  if (startedAt === undefined) throw new Error("a header check pass was already running");
  for (let batch = 0; (await t.query(internal.examAdmin.headerCheckStatus, {})).running !== null; batch++) {
    if (batch >= MAX_CALLS) throw new Error(`the header check did not finish in ${MAX_CALLS} batches`);
    await t.mutation(internal.examAdmin.runHeaderCheck, { startedAt });
  }

  // 2. Step 4 with students on V1.
  const migrateActed = new Map<string, Acted>();
  const migrate = await migrateLoop({}, () => act("migrate", "V1", o.liveRate, migrateActed));
  await verifyAll("4. migrate", migrateActed.values());
  // 3. The monitoring period: students on V2 (as many actions as during the migration).
  const monitorActed = new Map<string, Acted>();
  await act("monitor", "V2", o.liveRate * migrate.calls, monitorActed);
  await verifyAll("7. monitor", monitorActed.values());
  // 4. Rollback option 2: the mirror drained, the old code edits arrays, the new code rolls them forward. Rehearsed on
  // a copy: the deployment is put back as it was before (export, then import), so the cleanup meets what production's
  // would (a drain passes every exam's imported events, which the cleanup otherwise pays for: fewer calls).
  await wait(MIRROR_RUN_DELAY_MS);
  if (dataset.exams.length > 0 && dataset.exams.every((e) => students.forOldCode(e.key).starter === undefined)) {
    // Every student has an attempt on every exam: the old code's start is a student who signs up now.
    const newcomer = {
      key: "old-code-student",
      name: "Old code's student",
      tokenIdentifier: "rehearsal|old-code-student",
      role: "student" as const,
    };
    const { key: _key, ...user } = newcomer;
    ids.users.set(newcomer.key, await t.run((ctx) => ctx.db.insert("users", user)));
    userOf.set(newcomer.key, newcomer);
    students.addStudent(newcomer.key);
  }
  const beforeRollback = t.exportTables();
  const drained = await t.action(internal.legacyMirror.drainLegacyMirror, {});
  check(
    "rollback 2",
    "drainLegacyMirror",
    drained.arraysCurrent,
    drained.arraysCurrent ? `arrays current (${drained.entriesWritten} entries written)` : `${drained.lagging.length} exam(s) lagging`,
  );
  const oldCode = await oldCodeEdits(t, dataset, ids, students, clock.now());
  check("rollback 2", "old code's edits", oldCode.edited.length > 0 || dataset.exams.length === 0, oldCode.note);
  let rolledForward = 0;
  if (o.fault !== "skip-roll-forward") rolledForward = (await migrateLoop({}, null)).rolledForward;
  const imported = oldCode.edited.length;
  check(
    "rollback 2",
    "roll forward",
    o.fault !== "skip-roll-forward",
    o.fault === "skip-roll-forward"
      ? "skipped (--fault skip-roll-forward)"
      : `${rolledForward} entr${rolledForward === 1 ? "y" : "ies"} rolled forward, ${imported} edited by the old code`,
  );
  await verifyAll("rollback 2", oldCode.edited, { views: !o.cleanup, beliefs: false }); // the old code acted, not the students
  await wait(MIRROR_RUN_DELAY_MS); // the jobs the roll forward scheduled run before the copy is put back
  t.importReplaceAll(beforeRollback);

  // 5. Step 8 with students on V2.
  const cleanupActed = new Map<string, Acted>();
  let cleanup: PlanLoop = { calls: 0, stopped: {} };
  if (o.cleanup) {
    cleanup = await migrateLoop({ clearAfterMigration: true }, () => act("cleanup", "V2", o.liveRate, cleanupActed));
    await verifyAll("8. cleanup", cleanupActed.values(), { views: true }); // the views once, at the end: the log holds every phase's writes
    const status = await t.action(internal.migrations.checkMigrationStatus, {});
    check("8. cleanup", "checkMigrationStatus", status.migrationComplete, `migrationComplete: ${status.migrationComplete}`);
  }
  if (o.fault === "live-drop-answer" && !faultPlanted)
    check("7. monitor", "--fault live-drop-answer", false, "not planted: no student's submit through V2 was accepted");

  // 6. Rollback option 1: the backup replaces every table, as `npx convex import --replace-all` does, while students
  // act (their jobs, scheduled before the restore, run after it).
  await act(o.cleanup ? "cleanup" : "monitor", "V2", o.liveRate, o.cleanup ? cleanupActed : monitorActed);
  const jobsAtRestore = clock.pending();
  const now = t.exportTables();
  const restored = o.fault === "restore-replace" ? { ...now, ...backup } : backup; // `--replace`: only the backup's tables
  t.importReplaceAll(restored);
  const differences = compareTables(t.exportTables(), backup);
  check(
    "rollback 1",
    "every table equals the backup",
    differences.length === 0,
    differences.length === 0
      ? `${int(Object.values(backup).reduce((sum, d) => sum + d.length, 0))} documents in ${Object.keys(backup).length} tables, every other table empty`
      : differences.join("; "),
  );
  // Jobs scheduled before the restore still run (Convex keeps scheduled functions): they must leave the restored data alone.
  await wait(60 * 60_000);
  const afterJobs = compareTables(t.exportTables(), backup);
  check(
    "rollback 1",
    "every table after the jobs scheduled before the restore",
    afterJobs.length === 0 && (jobsAtRestore > 0 || o.liveRate === 0),
    afterJobs.length > 0
      ? afterJobs.join("; ")
      : jobsAtRestore > 0
        ? `unchanged after ${int(jobsAtRestore)} job(s) scheduled before the restore ran`
        : o.liveRate === 0
          ? "unchanged (no student acted: no job was pending)"
          : "NOT rehearsed: no job was pending at the restore",
  );
  // V1 as students see it: the same as a deployment that holds only the backup and never migrated, at the same instant
  // (a transaction's time never goes back before the last commit, so "as before the migration" is read this way).
  const fresh = createEmbeddedConvex();
  fresh.importReplaceAll(backup);
  const sample = dataset.exams.flatMap((e) => e.participants.slice(0, 1).map((p) => ({ examKey: e.key, userKey: p.userKey })));
  const [restoredReads, freshReads] = [await reads(sample, false), await reads(sample, false, fresh)];
  const changed = [...freshReads]
    .filter(([k, r]) => restoredReads.get(k)?.v1 !== r.v1)
    .map(
      ([k, r]) =>
        `${k}: ${firstDifference(JSON.parse(restoredReads.get(k)?.v1 ?? "null"), JSON.parse(r.v1), "", ["restored", "never migrated"])}`,
    );
  check(
    "rollback 1",
    "V1 reads as a deployment that never migrated",
    changed.length === 0,
    changed.length === 0
      ? `${int(freshReads.size)} reads of ${int(sample.length)} students equal`
      : `${changed.length} differ: ${changed.slice(0, 3).join("; ")}`,
  );
  return {
    batchSize: o.batchSize,
    exams: dataset.exams.length,
    entries: dataset.exams.reduce((n, e) => n + e.participants.length, 0),
    migrate: { calls: migrate.calls, stopped: migrate.stopped },
    cleanup,
    liveRate: o.liveRate,
    live,
    checks,
  };
}

/** A verifier's issues in a check's note: how many, and the first three. */
const issuesNote = (issues: readonly { message: string }[]) =>
  `${issues.length} issue(s): ${issues
    .slice(0, 3)
    .map((i) => i.message)
    .join("; ")}`;

/** A count as the report writes it (1,234). */
const int = (count: number) => count.toLocaleString("en-US");

/** A read's result, or its error code, as canonical JSON (what the twins must agree on). */
async function outcomeOf(read: () => Promise<Value>): Promise<string> {
  try {
    return canonicalJson(convexToJson(await read()));
  } catch (e) {
    return JSON.stringify(`error:${errorCode(e) ?? "crash"}`);
  }
}

type Tables = Record<string, readonly ({ _id: string } & Record<string, Value>)[]>;

/** Where `actual` differs from `expected`, table by table, by `_id` and Convex's equality (a table `expected` lacks must be empty). */
export function compareTables(actual: Tables, expected: Tables): string[] {
  const out: string[] = [];
  for (const table of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    const have = new Map((actual[table] ?? []).map((d) => [d._id, d]));
    const want = new Set((expected[table] ?? []).map((d) => d._id));
    const missing = (expected[table] ?? []).filter((d) => !have.has(d._id)).length;
    const extra = (actual[table] ?? []).filter((d) => !want.has(d._id)).length;
    const changed = (expected[table] ?? []).filter((d) => have.has(d._id) && !sameValue(have.get(d._id)!, d)).map((d) => d._id);
    const parts = [
      missing > 0 ? `${missing} missing` : "",
      extra > 0 ? `${extra} not in the backup` : "",
      changed.length > 0 ? `${changed.length} changed (${changed[0]})` : "",
    ].filter((p) => p !== "");
    if (parts.length > 0) out.push(`${table}: ${parts.join(", ")}`);
  }
  return out;
}

/**
 * Rollback option 2's old code, as the V1 functions wrote: it starts a student (appends their entry) and submits
 * another's attempt (grades the answers, sets score and completedAt), each in its own transaction on the exam document.
 */
async function oldCodeEdits(
  t: ReturnType<typeof createEmbeddedConvex>,
  dataset: V1Dataset,
  ids: Awaited<ReturnType<typeof insertDataset>>,
  students: Pick<Students, "forOldCode">,
  now: number,
): Promise<{ edited: Acted[]; note: string }> {
  // An exam where it can start one student and submit another's running attempt; else it submits the one it started.
  const candidates = dataset.exams.map((exam) => ({ exam, ...students.forOldCode(exam.key) }));
  const chosen =
    candidates.find((c) => c.starter !== undefined && c.submitter !== undefined) ?? candidates.find((c) => c.starter !== undefined);
  if (chosen !== undefined) {
    const { exam, starter } = chosen as { exam: (typeof dataset.exams)[number]; starter: string };
    const submitter = chosen.submitter ?? starter;
    const examId = ids.exams.get(exam.key)! as Id<"exams">;
    const starterId = ids.users.get(starter)!;
    const submitterId = ids.users.get(submitter)!;
    await t.run(async (ctx) => {
      const doc = (await ctx.db.get("exams", examId))!;
      const entry: V1Participant = {
        userId: starterId,
        score: 0,
        answers: [],
        startedAt: now,
        isPaused: false,
        pauseCount: 0,
        totalPausedMs: 0,
      };
      await ctx.db.patch("exams", examId, { participants: [...(doc.participants ?? []), entry] });
    });
    const submitted = await t.run(async (ctx) => {
      const doc = (await ctx.db.get("exams", examId))!;
      const questions = [];
      for (const questionId of doc.questionIds.slice(0, 3)) {
        const q = await ctx.db.get("questions", questionId);
        if (q !== null && q.options.length > 0)
          questions.push({
            questionId,
            options: q.options,
            correctAnswer: q.correctAnswer,
            ...(q.points === undefined ? {} : { points: q.points }),
          });
      }
      const graded = gradeAnswers(
        questions.map((q) => ({ questionId: q.questionId, selectedAnswer: q.options[0]! })),
        questions,
      );
      const participants = [...(doc.participants ?? [])];
      const at = participants.findIndex((p) => p.userId === submitterId);
      participants[at] = { ...participants[at]!, answers: graded.answers, score: graded.score, completedAt: now };
      await ctx.db.patch("exams", examId, { participants });
      return graded.answers.length;
    });
    return {
      edited: [...new Set([starter, submitter])].map((userKey) => ({ examKey: exam.key, userKey })),
      note: `${exam.key}: ${starter} started, ${submitter} submitted ${submitted} answer(s), in the array only`,
    };
  }
  return { edited: [], note: "not rehearsed: every student already has an attempt on every exam" };
}
