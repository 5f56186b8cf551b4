/**
 * One exam's rehearsal in its own embedded Convex: load the exam with its users
 * and questions, then run the migration guide's steps against the project's
 * functions (status, export, batched migration, verification), a smoke pass
 * through the V1 and V2 APIs as real students, projection rebuild and check,
 * the audit chain check, cleanup and a final status. Every function is called
 * through its typed reference (`internal.*`, `api.*`), its result read through
 * its returns validator's type. A phase that throws is a failure; the run
 * always goes on to the end so the report is complete.
 *
 * Per exam, because convex-test's queries cost time in proportion to the data
 * the instance holds: N exams in one instance cost ~N², N instances ~N.
 *
 * @example
 * const outcome = await rehearseExam(subsetForExam(dataset, "e0"), "e0", options, (phase) => bar.increment());
 */
import { convexToJson, getConvexSize, type Value } from "convex/values";
import { getFunctionName, type FunctionReference } from "convex/server";
import { WORK_BOUNDS } from "../../convex/lib/limits.js";
import { api, internal } from "../../convex/_generated/api.js";
import { canonicalJson } from "../../convex/events/hash.js";
import { sameValue } from "../../convex/lib/values.js";
import { errorCode } from "../../convex/lib/errors.js";
import type { Id } from "../../convex/_generated/dataModel.js";
import type { Issue } from "../../convex/lib/issues.js";
import { insertDataset, type ExtraKeys, type V1Dataset } from "../dataset/generate.js";
import type { ProductionState } from "../snapshot/load.js";
import { insertProduction, referencedDocuments } from "../snapshot/production.js";
import { createEmbeddedConvex, type EmbeddedConvex } from "../runtime/embedded.js";
import { IdTranslator } from "./ids.js";
import { listenTransactions, maxCost, observeTransactions, type TransactionCost } from "./metrics.js";
import { measureJobRuns, measureStorage, type StoragePoint } from "./costs.js";
import type { ExamOptions, ExamOutcome, Finding, PhaseName, ReadCost, SmokeCall } from "./types.js";

/** A loop that never reports isDone is a failure, not a hang. */
const MAX_CALLS_PER_LOOP = 10_000;

/**
 * `--fault over-bound` checks the first exam's migration calls against this many entries a call instead of
 * WORK_BOUNDS.migrationEntriesPerCall: the functions enforce their own bounds (and the embedded runtime half of
 * Convex's limits), so no valid data can make a call pass one; a lowered bound shows the verdict naming the call.
 */
export const OVER_BOUND_FAULT_ENTRIES = 1;

type CalledFunction = FunctionReference<"query" | "mutation" | "action", "public" | "internal">;
/** The figure of a call's result that a work bound (WORK_BOUNDS) limits. */
type WorkOf<R> = { bound: keyof typeof WORK_BOUNDS; of: (result: R) => number };

/**
 * The dataset cut down to one exam and what it references (plus the admin, and the users and questions
 * of `extra`: those its production state refers to), to load into its own instance.
 */
export function subsetForExam(dataset: V1Dataset, examKey: string, extra: ExtraKeys = {}): V1Dataset {
  const exam = dataset.exams.find((e) => e.key === examKey);
  if (exam === undefined) throw new Error(`no exam ${examKey}`);
  const userKeys = new Set(["admin", ...exam.participants.map((p) => p.userKey), ...(extra.users ?? [])]);
  const questionKeys = new Set([
    ...exam.questionKeys,
    ...exam.participants.flatMap((p) => p.answers.map((a) => a.questionKey)),
    ...(extra.questions ?? []),
  ]);
  return {
    users: dataset.users.filter((u) => userKeys.has(u.key)),
    questions: dataset.questions.filter((q) => questionKeys.has(q.key)),
    exams: [exam],
    deletedQuestionKeys: dataset.deletedQuestionKeys.filter((k) => questionKeys.has(k)),
    dirt: dataset.dirt.filter((d) => d.examKey === examKey),
  };
}

/** Entries of a user already listed earlier in the array, and their answers: kept in the log, not as rows (the V1/V2 reconciliation). */
function duplicatesOf(participants: readonly { userKey: string; answers: unknown[] }[]) {
  const seen = new Set<string>();
  let duplicateEntries = 0;
  let duplicateAnswers = 0;
  for (const p of participants) {
    if (seen.has(p.userKey)) {
      duplicateEntries++;
      duplicateAnswers += p.answers.length;
    }
    seen.add(p.userKey);
  }
  return { duplicateEntries, duplicateAnswers };
}
/** What the report lists of an operator command's issue or finding (and of the rehearsal's own notes, whose kinds are its own). */
type Reported = Pick<Issue, "examId" | "userId" | "message"> & { kind: string };

/** Issues and findings of any operator command, as the report lists them. */
function toFindings(list: readonly Reported[], phase: PhaseName, severity: Finding["severity"]): Finding[] {
  return list.map((item) => ({
    phase,
    severity,
    examKey: item.examId,
    ...(item.userId === undefined ? {} : { userKey: item.userId }),
    kind: item.kind,
    message: item.message,
  }));
}

function describeError(e: unknown): string {
  const code = errorCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return code === undefined ? message : `${code}: ${message}`;
}

export async function rehearseExam(
  dataset: V1Dataset,
  examKey: string,
  options: ExamOptions,
  onPhase: (phase: PhaseName) => void = () => {},
  production?: ProductionState,
): Promise<ExamOutcome> {
  const exam = dataset.exams.find((e) => e.key === examKey)!;
  const outcome: ExamOutcome = {
    examKey,
    title: exam.title,
    input: {
      participants: exam.participants.length,
      answers: exam.participants.reduce((n, p) => n + p.answers.length, 0),
      ...duplicatesOf(exam.participants),
      documentBytes: 0,
      largestArray: 0,
    },
    phases: {},
    exported: { pages: 0, entries: 0, participants: 0, answers: 0, exams: [] },
    migration: { calls: 0, participants: 0, answers: 0 },
    cleanup: { calls: 0, cleared: null },
    smoke: [],
    findings: [],
    storage: {},
    headerCheck: null,
    jobRuns: null,
    calls: [],
  };
  let ids!: IdTranslator;
  let t!: EmbeddedConvex;
  let examId!: Id<"exams">;
  let calls = 0;
  let current: PhaseName = "load";
  /** The longest single query or mutation of the phase (one transaction: its time bounds the user code's). */
  let longestTransactionMs = 0;
  /** Calls of each function in the current phase. */
  let numbers = new Map<string, number>();
  /** WORK_BOUNDS, but for the migration's entries under `--fault over-bound` (a bound its calls pass: the verdict must name them). */
  const workLimit = (bound: keyof typeof WORK_BOUNDS) =>
    options.fault === "over-bound" && bound === "migrationEntriesPerCall" && current === "migrate"
      ? OVER_BOUND_FAULT_ENTRIES
      : WORK_BOUNDS[bound];
  /**
   * Counts and records one call of `ref`; a query's or mutation's time is one transaction's (`oneTransaction`), an action's is not.
   * `work`: the figure of its result that WORK_BOUNDS bounds. Results come back with embedded ids (cursors must go back unchanged);
   * what is kept is translated.
   */
  const call = async <R>(ref: CalledFunction, run: () => Promise<R>, oneTransaction = true, work?: WorkOf<R>): Promise<R> => {
    calls++;
    const name = getFunctionName(ref);
    const number = (numbers.get(name) ?? 0) + 1;
    numbers.set(name, number);
    const transactions: TransactionCost[] = [];
    const stop = listenTransactions((cost) => transactions.push(cost));
    const started = performance.now();
    let result: { value: R } | undefined;
    try {
      result = { value: await run() };
      return result.value;
    } finally {
      const ms = performance.now() - started;
      stop();
      if (oneTransaction) longestTransactionMs = Math.max(longestTransactionMs, ms);
      const at = performance.timeOrigin + started;
      outcome.calls.push({
        phase: current,
        name,
        number,
        ...(work && result ? { work: { bound: work.bound, value: work.of(result.value), limit: workLimit(work.bound) } } : {}),
        at,
        ms,
        oneTransaction,
        transactions: transactions.length,
        largest: maxCost(transactions),
      });
    }
  };
  const seen = new Set<string>();
  /** Records findings once: the cleanup and the verifier report again what the migration found. */
  const record = (list: readonly Reported[], phase: PhaseName, severity: Finding["severity"]) => {
    for (const f of toFindings(ids.translate(list), phase, severity)) {
      const key = canonicalJson([f.severity, f.kind, f.examKey, f.userKey, f.message]);
      if (!seen.has(key)) outcome.findings.push(f);
      seen.add(key);
    }
  };
  const fail = (phase: PhaseName, message: string, extra: Partial<Finding> = {}) =>
    outcome.findings.push({ phase, severity: "failure", examKey, message, ...extra });

  /** Runs one phase, recording its time, calls and largest transaction; never throws. */
  const phase = async (name: PhaseName, body: () => Promise<string | void>) => {
    const started = performance.now();
    calls = 0;
    numbers = new Map();
    current = name;
    longestTransactionMs = 0;
    try {
      const { result, transactions } = await observeTransactions(body);
      outcome.phases[name] = {
        status: "ok",
        ...(result ? { note: result } : {}),
        ms: performance.now() - started,
        calls,
        transactions: transactions.length,
        largest: maxCost(transactions),
        longestTransactionMs,
      };
    } catch (e) {
      fail(name, describeError(e));
      outcome.phases[name] = {
        status: "failed",
        note: describeError(e),
        ms: performance.now() - started,
        calls,
        transactions: 0,
        largest: maxCost([]),
      };
    }
    onPhase(name);
  };
  const loaded = () => outcome.phases.load?.status === "ok";
  /** Document bytes by table now (between phases: in no phase's figures); a failure to measure fails the run. */
  const measure = async (point: StoragePoint, after: PhaseName) => {
    if (!loaded()) return;
    try {
      outcome.storage[point] = await measureStorage(t, ids);
    } catch (e) {
      fail(after, `document bytes by table could not be measured: ${describeError(e)}`, { kind: "measure_failed" });
    }
  };

  await phase("load", async () => {
    t = createEmbeddedConvex();
    const inserted = await insertDataset(t, dataset, [examKey], production === undefined ? {} : referencedDocuments(production));
    ids = new IdTranslator(inserted);
    examId = inserted.exams.get(examKey)!;
    let note: string | undefined;
    if (production !== undefined) {
      // Rehearse from where production stands: its log, V2 rows and copies, loaded as they are.
      const loadedState = await insertProduction(t, production, inserted);
      ids = new IdTranslator(inserted); // with the ids of documents production deleted since
      for (const message of loadedState.failures) fail("load", `as exported: ${message}`, { kind: "damaged_in_export" });
      note = loadedState.notes.join("; ") || undefined;
      if (note !== undefined) {
        // Production's views as exported must already equal a replay of its log: damage there is not the rehearsal's doing.
        const views = await call(
          internal.projections.rebuild.verifyProjections,
          () => t.action(internal.projections.rebuild.verifyProjections, { examId }),
          false,
        );
        if (!views.isValid) {
          for (const issue of toFindings(ids.translate(views.issues), "load", "failure"))
            outcome.findings.push({ ...issue, message: `as exported: ${issue.message}` });
        }
        note += `; views ${views.isValid ? "match" : "DO NOT match"} the log as exported`;
      }
    }
    const doc = await t.run((ctx) => ctx.db.get("exams", examId));
    outcome.input.documentBytes = getConvexSize(doc as Value);
    outcome.input.largestArray = Math.max(
      doc!.questionIds.length,
      doc!.participants?.length ?? 0,
      ...(doc!.participants ?? []).map((p) => p.answers.length),
    );
    return note;
  });
  await measure("before", "load");
  const run = async (name: PhaseName, body: () => Promise<string | void>) => {
    if (loaded()) return phase(name, body);
    outcome.phases[name] = {
      status: "skipped",
      note: "skipped: the exam did not load",
      ms: 0,
      calls: 0,
      transactions: 0,
      largest: maxCost([]),
    };
    onPhase(name);
  };

  const status = () => call(internal.migrations.checkMigrationStatus, () => t.action(internal.migrations.checkMigrationStatus, {}), false);

  await run("status", async () => {
    outcome.statusBefore = await status();
  });

  await run("export", async () => {
    let cursor: string | undefined = undefined;
    for (let page = 0; page < MAX_CALLS_PER_LOOP; page++) {
      const result = await call(internal.migrations.exportV1ParticipantData, () =>
        t.query(internal.migrations.exportV1ParticipantData, cursor === undefined ? {} : { cursor }),
      );
      outcome.exported.pages++;
      for (const e of result.exams) {
        outcome.exported.exams.push(ids.translate(e));
        outcome.exported.entries++;
        outcome.exported.participants += e.participants.length;
        outcome.exported.answers += e.participants.reduce((n, p) => n + p.answers.length, 0);
      }
      if (result.isDone) break;
      cursor = result.continueCursor;
    }
    const before = outcome.statusBefore?.v1;
    if (before && (before.totalParticipants !== outcome.exported.participants || before.totalAnswers !== outcome.exported.answers)) {
      fail(
        "export",
        `the backup holds ${outcome.exported.participants} participants and ${outcome.exported.answers} answers; status counted ${before.totalParticipants} and ${before.totalAnswers}`,
      );
    }
    return `${outcome.exported.pages} page(s)`;
  });

  /** Calls migrateExamParticipants until isDone; returns the calls made. */
  const migrateUntilDone = async (phaseName: PhaseName, args: { clearAfterMigration?: boolean }) => {
    for (let n = 1; n <= MAX_CALLS_PER_LOOP; n++) {
      const progress = await call(
        internal.migrations.migrateExamParticipants,
        () => t.mutation(internal.migrations.migrateExamParticipants, { batchSize: options.batchSize, ...args }),
        true,
        { bound: "migrationEntriesPerCall", of: (r) => r.participantsMigrated + r.alreadyMigrated + r.rolledForward + r.quarantined },
      );
      record(progress.findings, phaseName, "finding");
      record(
        progress.examsNotCleared.map((e) => ({ ...e, kind: "not_cleared", message: `V1 array kept: ${e.reason}` })),
        phaseName,
        "failure",
      );
      if (phaseName === "migrate") {
        outcome.migration.participants += progress.participantsMigrated;
        outcome.migration.answers += progress.answersMigrated;
      }
      if (progress.isDone) return n;
    }
    throw new Error(`migrateExamParticipants did not report isDone after ${MAX_CALLS_PER_LOOP} calls`);
  };

  await run("migrate", async () => {
    outcome.migration.calls = await migrateUntilDone("migrate", {});
    const m = outcome.migration;
    return `${m.calls} call(s): ${m.participants} participants, ${m.answers} answer rows`;
  });
  await measure("afterMigration", "migrate");
  // Faults go in between phases, so that no phase's figures include them.
  if (options.fault === "drop-answer" && loaded()) {
    await t.run(async (ctx) => {
      const answer = await ctx.db.query("examAnswers").first();
      if (answer) await ctx.db.delete("examAnswers", answer._id);
    });
    outcome.findings.push({
      phase: "migrate",
      severity: "finding",
      examKey,
      kind: "fault_injected",
      message: "--fault drop-answer: one examAnswers row deleted after the migration",
    });
  }

  await run("verify", async () => {
    const result = await call(
      internal.migrations.verifyMigrationIntegrity,
      () => t.action(internal.migrations.verifyMigrationIntegrity, {}),
      false,
    );
    const valid = result.isValid;
    record(result.issues, "verify", valid ? "finding" : "failure");
    record(result.findings, "verify", "finding");
    const s = result.summary;
    return `${valid ? "valid" : "NOT valid"}: ${s.v2Participants}/${s.v1Participants} participants, ${s.v2Answers}/${s.v1Answers} answers`;
  });

  // What the cron does in production meanwhile: a pass of the header check, which the lists rely on.
  await run("headers", async () => {
    const { startedAt } = await call(internal.examAdmin.startHeaderCheckNow, () => t.mutation(internal.examAdmin.startHeaderCheckNow, {}));
    if (startedAt === undefined) throw new Error("a header check pass was already running");
    let batches = 0;
    let visited = 0;
    for (; batches < MAX_CALLS_PER_LOOP; batches++) {
      await call(internal.examAdmin.runHeaderCheck, () => t.mutation(internal.examAdmin.runHeaderCheck, { startedAt }));
      const batch = outcome.calls.at(-1)!;
      const status = await call(internal.examAdmin.headerCheckStatus, () => t.query(internal.examAdmin.headerCheckStatus, {}), false);
      // The batch returns nothing: the exams it visited are what the pass's count grew by.
      const exams = (status.running ?? status.lastPass)?.exams ?? visited;
      batch.work = { bound: "headerCheckExams", value: exams - visited, limit: WORK_BOUNDS.headerCheckExams };
      visited = exams;
      if (status.lastPass !== null) {
        const { exams, bytesRead } = status.lastPass;
        outcome.headerCheck = { intervalMinutes: status.intervalMinutes, exams, bytesRead };
      }
      if (status.running === null) return `${batches + 1} batch(es), ${status.lastPass?.healed ?? 0} header(s) healed`;
    }
    throw new Error(`the header check did not finish in ${MAX_CALLS_PER_LOOP} batches`);
  });

  await run("smoke", () => smokePass(t, ids, examId, dataset, examKey, options, outcome, () => calls++));
  if (loaded() && options.measureJobs === true) {
    try {
      outcome.jobRuns = await measureJobRuns(t, examId);
    } catch (e) {
      fail("smoke", `the write functions and jobs could not be measured: ${describeError(e)}`, { kind: "measure_failed" });
    }
  }

  await run("projections", async () => {
    let rebuildCalls = 0;
    let cursor: string | undefined = undefined;
    for (; rebuildCalls < MAX_CALLS_PER_LOOP;) {
      rebuildCalls++;
      const progress = await call(
        internal.projections.rebuild.rebuildProjections,
        () => t.mutation(internal.projections.rebuild.rebuildProjections, { examId, ...(cursor === undefined ? {} : { cursor }) }),
        true,
        { bound: "streamsPerPage", of: (r) => r.streamsRebuilt },
      );
      if (progress.isDone) break;
      cursor = progress.continueCursor;
    }
    const result = await call(
      internal.projections.rebuild.verifyProjections,
      () => t.action(internal.projections.rebuild.verifyProjections, { examId }),
      false,
    );
    const valid = result.isValid;
    record(result.issues, "projections", valid ? "finding" : "failure");
    return `${rebuildCalls} rebuild call(s); views ${valid ? "match" : "DO NOT match"} a replay of the log`;
  });

  if (options.fault === "tamper-event" && loaded()) {
    await t.run(async (ctx) => {
      const event = await ctx.db.query("examEvents").first();
      if (event) await ctx.db.patch("examEvents", event._id, { recordedAt: event.recordedAt + 1 });
    });
    outcome.findings.push({
      phase: "audit",
      severity: "finding",
      examKey,
      kind: "fault_injected",
      message: "--fault tamper-event: one event's recordedAt edited in place",
    });
  }
  await run("audit", async () => {
    let cursor: string | null = null;
    let events = 0;
    let valid = true;
    for (let n = 0; n < MAX_CALLS_PER_LOOP; n++) {
      const result = await call(internal.audit.verifyAuditChain, () => t.query(internal.audit.verifyAuditChain, { examId, cursor }));
      valid &&= result.isValid;
      record(result.issues, "audit", result.isValid ? "finding" : "failure");
      events += result.summary.eventsChecked;
      if (result.isDone) break;
      cursor = result.continueCursor;
    }
    return `${events} events checked, chain ${valid ? "intact" : "BROKEN"}`;
  });

  await run("cleanup", async () => {
    if (!options.cleanup) return "skipped: --no-cleanup";
    outcome.cleanup.calls = await migrateUntilDone("cleanup", { clearAfterMigration: true });
    const doc = await t.run((ctx) => ctx.db.get("exams", examId));
    outcome.cleanup.cleared = (doc?.participants?.length ?? 0) === 0;
    return `${outcome.cleanup.calls} call(s); V1 array ${outcome.cleanup.cleared ? "cleared" : "KEPT"}`;
  });
  if (options.cleanup) await measure("afterCleanup", "cleanup");

  await run("final", async () => {
    outcome.statusAfter = await status();
    if (options.cleanup && !outcome.statusAfter.migrationComplete) {
      fail("final", "checkMigrationStatus reports the migration incomplete after cleanup");
    }
  });
  return outcome;
}

export type SmokeContext = { examId: Id<"exams">; questionId: Id<"questions"> | undefined };
export type Student = ReturnType<EmbeddedConvex["withIdentity"]>;
type Read = () => Promise<Value>;

/**
 * The read calls of the smoke pass: a V1 function and its V2 twin (`${name}V2`), or null when the exam
 * gives nothing to call it with; `once`: the result does not depend on the student, so one student calls it: once per
 * exam (`"exam"`: the leaderboard) or once per deployment (`"deployment"`: the list of every exam).
 */
export const SMOKE_READS: { name: string; once?: "exam" | "deployment"; twins: (as: Student, c: SmokeContext) => [Read, Read] | null }[] = [
  {
    name: "getExamSession",
    twins: (as, { examId }) => [
      () => as.query(api.exams.getExamSession, { examId }),
      () => as.query(api.exams.getExamSessionV2, { examId }),
    ],
  },
  {
    name: "getPauseStatus",
    twins: (as, { examId }) => [
      () => as.query(api.exams.getPauseStatus, { examId }),
      () => as.query(api.exams.getPauseStatusV2, { examId }),
    ],
  },
  {
    name: "getParticipantExamResults",
    twins: (as, { examId }) => [
      () => as.query(api.exams.getParticipantExamResults, { examId }),
      () => as.query(api.exams.getParticipantExamResultsV2, { examId }),
    ],
  },
  {
    name: "validateQuestionAccess",
    twins: (as, { examId, questionId }) =>
      questionId === undefined
        ? null
        : [
            () => as.query(api.exams.validateQuestionAccess, { examId, questionId }),
            () => as.query(api.exams.validateQuestionAccessV2, { examId, questionId }),
          ],
  },
  {
    name: "getExamLeaderboard",
    once: "exam",
    twins: (as, { examId }) => [
      () => as.query(api.exams.getExamLeaderboard, { examId, limit: 10 }),
      () => as.query(api.exams.getExamLeaderboardV2, { examId, limit: 10 }),
    ],
  },
  {
    name: "getMyDashboardStats",
    twins: (as) => [() => as.query(api.exams.getMyDashboardStats, {}), () => as.query(api.exams.getMyDashboardStatsV2, {})],
  },
  {
    name: "getMyRecentExams",
    twins: (as) => [() => as.query(api.exams.getMyRecentExams, { limit: 5 }), () => as.query(api.exams.getMyRecentExamsV2, { limit: 5 })],
  },
  {
    name: "getAllExamsMetadata",
    once: "deployment",
    twins: (as) => [() => as.query(api.exams.getAllExamsMetadata, {}), () => as.query(api.exams.getAllExamsMetadataV2, {})],
  },
];

/** Where two JSON values first differ, e.g. `answers[0].questionId: "q0_0" ≠ "q0_1"`. */
export function firstDifference(a: unknown, b: unknown, path = "", sides: readonly [string, string] = ["V1", "V2"]): string {
  const show = (v: unknown) => (v === undefined ? "(absent)" : JSON.stringify(v).slice(0, 80));
  if (sameValue(a, b)) return "";
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return `${path || "(top)"}: ${a.length} ≠ ${b.length} elements`;
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const sub = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k,
        sides,
      );
      if (sub !== "") return sub;
    }
  }
  return `${path || "(top)"}: ${sides[0]} ${show(a)} ≠ ${sides[1]} ${show(b)}`;
}

/** Students to sign in as: the first who completed, the first still in progress, then others, distinct. */
function smokeStudents(dataset: V1Dataset, examKey: string, count: number): string[] {
  const participants = dataset.exams.find((e) => e.key === examKey)!.participants;
  const ordered = [
    ...participants.filter((p) => p.completedAt !== undefined).slice(0, 1),
    ...participants.filter((p) => p.completedAt === undefined).slice(0, 1),
    ...participants,
  ].map((p) => p.userKey);
  return [...new Set(ordered)].slice(0, count);
}

/** V1 and V2 twins called as the same student at the same instant: they must agree; their costs are compared. */
async function smokePass(
  t: EmbeddedConvex,
  ids: IdTranslator,
  examId: Id<"exams">,
  dataset: V1Dataset,
  examKey: string,
  options: ExamOptions,
  outcome: ExamOutcome,
  countCall: () => void,
): Promise<string> {
  const questionId = await t.run(async (ctx) => (await ctx.db.get("exams", examId))?.questionIds[0]);
  const context = { examId, questionId };
  const students = smokeStudents(dataset, examKey, options.smokeUsers);
  for (const [i, userKey] of students.entries()) {
    const user = dataset.users.find((u) => u.key === userKey);
    if (!user) continue;
    const as = t.withIdentity({ tokenIdentifier: user.tokenIdentifier, subject: user.key, name: user.name });
    for (const read of SMOKE_READS) {
      const twins = read.twins(as, context);
      if (twins === null || (read.once !== undefined && i > 0)) continue; // one exam per instance: once either way
      const measure = async (run: Read): Promise<{ cost: ReadCost; value: string }> => {
        countCall();
        try {
          const { result, transactions } = await observeTransactions(run);
          const json = JSON.stringify(convexToJson(result));
          const cost = maxCost(transactions);
          return {
            cost: { bytesRead: cost.bytesRead, documentsRead: cost.documentsRead, responseBytes: Buffer.byteLength(json) },
            value: canonicalJson(JSON.parse(json)),
          };
        } catch (e) {
          const code = errorCode(e);
          return {
            cost: { bytesRead: 0, documentsRead: 0, responseBytes: 0, error: code ?? describeError(e) },
            value: `error:${code ?? "crash"}`,
          };
        }
      };
      // Time-dependent fields (remaining time) must be computed at the same instant on both sides.
      const realNow = Date.now;
      const frozen = realNow();
      Date.now = () => frozen;
      let v1, v2;
      try {
        v1 = await measure(twins[0]);
        v2 = await measure(twins[1]);
      } finally {
        Date.now = realNow;
      }
      const call: SmokeCall = { name: read.name, userKey, v1: v1.cost, v2: v2.cost, equal: v1.value === v2.value };
      outcome.smoke.push(call);
      for (const [side, r] of [
        ["V1", v1],
        ["V2", v2],
      ] as const) {
        if (r.cost.error !== undefined && r.value === "error:crash") {
          outcome.findings.push({
            phase: "smoke",
            severity: "failure",
            examKey,
            userKey,
            kind: "call_failed",
            message: `${read.name}${side === "V2" ? "V2" : ""} failed: ${r.cost.error}`,
          });
        }
      }
      if (call.equal === false) {
        outcome.findings.push({
          phase: "smoke",
          severity: "failure",
          examKey,
          userKey,
          kind: "v1_v2_differ",
          message: `${read.name} and ${read.name}V2 differ at ${ids.translate(firstDifference(JSON.parse(v1.value), JSON.parse(v2.value)))}`,
        });
      }
    }
  }
  if (students.length === 0) return "no participants: no student to sign in as";
  const compared = outcome.smoke.filter((c) => c.equal !== null);
  return `${outcome.smoke.length} call pair(s) as ${students.length} student(s); ${compared.filter((c) => c.equal).length}/${compared.length} V1 = V2`;
}
