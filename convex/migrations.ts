/**
 * The operator's migration commands (docs/operations.md, the guide's steps 2–5
 * and 8). Internal functions, run with `npx convex run --prod migrations:<name>`.
 * Every transaction stays within half of Convex's per-transaction limits on any
 * data the V1 schema allows: reads of exam documents are paged by bytes, the
 * migration stops inside an exam and resumes there.
 *
 * @example
 * npx convex run --prod migrations:checkMigrationStatus
 * npx convex run --prod migrations:exportV1ParticipantData > v1_backup.json
 * npx convex run --prod migrations:migrateExamParticipants '{"batchSize": 5}'
 * npx convex run --prod migrations:startMigration '{"batchSize": 10}'   # background, to the end
 * npx convex run --prod migrations:verifyMigrationIntegrity
 * npx convex run --prod migrations:migrateExamParticipants '{"clearAfterMigration": true, "batchSize": 5}'
 */
import { v, type Infer } from "convex/values";
import { nullable, vRequired } from "convex-helpers/validators";
import { internal } from "./_generated/api";
import type { Id } from "./_generated/dataModel";
import { internalAction, internalQuery, type ActionCtx, type QueryCtx } from "./_generated/server";
import { internalMutation } from "./headers/functions";
import { vV1Participant, type V1Participant } from "./lib/validators";
import { vIssue, type Issue } from "./lib/issues";
import schema from "./schema";
import { loadAnswers } from "./projections/tables";
import { countParticipants } from "./projections/counters";
import { getExamHeader } from "./lib/examHeaders";
import { roomForOneRead } from "./lib/budget";
import { entryIndexesByUser, participantFindings, examFindings, approximateBytes } from "./migration/plan";
import { batchOptions, loadProgress, nextExam, runMigrationBatch, vBatchReport, verifyEntry, vPass, type Pass } from "./migration/batch";
import { unmirroredCheck } from "./projections/mirrorJob";

/** Default exams per call when batchSize is not given. */

/** Participation rows per verification page: small documents, well within every limit. */
const PARTICIPATION_PAGE = 2_000;
/** Participations whose answers one query call counts (one index range each). */
const ANSWER_COUNT_CHUNK = 500;

// ---------------------------------------------------------------- status (step 2)

const vInside = v.object({ examId: v.id("exams"), nextIndex: v.number() });
const vMirrorFailure = vRequired(schema.tables.examHeaders.validator.fields.legacyMirrorFailure).extend({ examId: v.id("exams") });
type MirrorFailure = Infer<typeof vMirrorFailure>;

const vStatusPage = v.object({
  examsWithParticipants: v.number(),
  totalParticipants: v.number(),
  totalAnswers: v.number(),
  participations: v.number(),
  answers: v.number(),
  pendingExams: v.array(v.id("exams")),
  participantsWithoutV2: v.number(),
  clearedExams: v.number(),
  mirrorFailures: v.array(vMirrorFailure),
  afterCreationTime: v.optional(v.number()),
  inside: v.optional(vInside),
  isDone: v.boolean(),
});
type StatusPage = Infer<typeof vStatusPage>;

/**
 * One page of the status census: exams read until the byte budget is spent. Each V1 user
 * of an exam is looked up by identity (one index point read), so a page may stop inside an
 * exam (`inside`) and the next one resume there.
 */
export const statusPage = internalQuery({
  args: {
    afterCreationTime: v.optional(v.number()),
    inside: v.optional(vInside),
  },
  returns: vStatusPage,
  handler: async (ctx, { afterCreationTime, inside }): Promise<StatusPage> => {
    const page = {
      examsWithParticipants: 0,
      totalParticipants: 0,
      totalAnswers: 0,
      participations: 0,
      answers: 0,
      pendingExams: [] as Id<"exams">[],
      participantsWithoutV2: 0,
      clearedExams: 0,
      mirrorFailures: [] as MirrorFailure[],
    };
    let after = afterCreationTime;
    let resume = inside;
    for (;;) {
      if (!(await roomForOneRead(ctx))) return { ...page, afterCreationTime: after, inside: resume, isDone: false };
      const exam = resume !== undefined ? await ctx.db.get("exams", resume.examId) : await nextExam(ctx, after);
      if (exam === null) return { ...page, afterCreationTime: after, isDone: true };
      const participants = exam.participants ?? [];
      const fromIndex = resume?.nextIndex ?? 0;
      resume = undefined;
      if (fromIndex === 0) {
        const v2 = await countParticipants(ctx, exam._id);
        page.participations += v2.participants;
        page.answers += v2.answers;
        const header = await getExamHeader(ctx, exam._id);
        if (header?.legacyCleared) page.clearedExams += 1;
        if (header?.legacyMirrorFailure) page.mirrorFailures.push({ examId: exam._id, ...header.legacyMirrorFailure });
        if (participants.length > 0) {
          page.examsWithParticipants += 1;
          page.totalParticipants += participants.length;
          page.totalAnswers += participants.reduce((n, p) => n + p.answers.length, 0);
        }
      }
      // Migrated = every V1 user has their participation, judged by identity (a live attempt never stands in for another user).
      const byUser = entryIndexesByUser(participants);
      let missing = 0;
      for (let i = fromIndex; i < participants.length; i++) {
        if (i > fromIndex && !(await roomForOneRead(ctx))) {
          if (missing > 0) page.pendingExams.push(exam._id);
          page.participantsWithoutV2 += missing;
          return { ...page, afterCreationTime: after, inside: { examId: exam._id, nextIndex: i }, isDone: false };
        }
        const { userId } = participants[i]!;
        if (byUser.get(userId)![0] !== i) continue;
        const row = await ctx.db
          .query("examParticipations")
          .withIndex("by_exam_and_user", (q) => q.eq("examId", exam._id).eq("userId", userId))
          .first();
        if (row === null) missing += 1;
      }
      if (missing > 0) page.pendingExams.push(exam._id);
      page.participantsWithoutV2 += missing;
      after = exam._creationTime;
    }
  },
});

const vQuarantinedEntry = schema.tables.migrationQuarantine.validator.omit("at");
export type QuarantinedEntry = Infer<typeof vQuarantinedEntry>;
const vQuarantinePage = v.object({ entries: v.array(vQuarantinedEntry), continueCursor: v.string(), isDone: v.boolean() });

/** V1 entries the migration set aside, a page at a time. */
export const quarantinePage = internalQuery({
  args: { cursor: v.union(v.string(), v.null()) },
  returns: vQuarantinePage,
  handler: async (ctx, { cursor }) => {
    const page = await ctx.db.query("migrationQuarantine").paginate({ cursor, numItems: 500 });
    return {
      entries: page.page.map(({ examId, userId, sourceIndex, reason }) => ({ examId, userId, sourceIndex, reason })),
      continueCursor: page.continueCursor,
      isDone: page.isDone,
    };
  },
});

/** A V1 entry that differs from its rows only because the legacy mirror has not reached its latest events yet. */
const vPendingEntry = v.object({ examId: v.id("exams"), userId: v.id("users"), reason: v.string() });
type PendingEntry = Infer<typeof vPendingEntry>;

/** Every quarantined entry (the action pages through them). */
async function allQuarantined(ctx: { runQuery: ActionCtx["runQuery"] }): Promise<QuarantinedEntry[]> {
  const out: QuarantinedEntry[] = [];
  for (let cursor: string | null = null, done = false; !done;) {
    const page: Infer<typeof vQuarantinePage> = await ctx.runQuery(internal.migrations.quarantinePage, { cursor });
    out.push(...page.entries);
    cursor = page.continueCursor;
    done = page.isDone;
  }
  return out;
}
const progressFields = schema.tables.migrationProgress.validator.fields;
const vPassSummary = v.object({
  current: nullable(vRequired(progressFields.current)),
  totals: progressFields.totals,
  background: nullable(vRequired(progressFields.background)),
});
type PassSummary = Infer<typeof vPassSummary>;
const vProgressOfPasses = v.object({ migrate: nullable(vPassSummary), cleanup: nullable(vPassSummary) });

async function progressSummary(ctx: QueryCtx, pass: Pass): Promise<PassSummary | null> {
  const p = await loadProgress(ctx, pass);
  if (p === null) return null;
  return { current: p.current ?? null, totals: p.totals, background: p.background ?? null };
}

export const progressOfPasses = internalQuery({
  args: {},
  returns: vProgressOfPasses,
  handler: async (ctx) => ({ migrate: await progressSummary(ctx, "migrate"), cleanup: await progressSummary(ctx, "cleanup") }),
});

/**
 * V1 and V2 record counts (migration-guide step 2). V1 totals need every exam
 * document: read page by page, each page its own bounded query. V2 counts come
 * from the sharded counters, never from the rows.
 */
export const checkMigrationStatus = internalAction({
  args: {},
  returns: v.object({
    v1: v.object({ examsWithParticipants: v.number(), totalParticipants: v.number(), totalAnswers: v.number() }),
    v2: v.object({ participations: v.number(), answers: v.number() }),
    migrationComplete: v.boolean(),
    pendingExams: v.array(v.id("exams")),
    participantsWithoutV2: v.number(),
    quarantined: v.array(vQuarantinedEntry),
    clearedExams: v.number(),
    mirrorFailures: v.array(vMirrorFailure),
    progress: vProgressOfPasses,
  }),
  handler: async (ctx) => {
    const v1 = { examsWithParticipants: 0, totalParticipants: 0, totalAnswers: 0 };
    const v2 = { participations: 0, answers: 0 };
    const pending = new Set<Id<"exams">>();
    const mirrorFailures: MirrorFailure[] = [];
    let clearedExams = 0;
    let participantsWithoutV2 = 0;
    let afterCreationTime: number | undefined;
    let inside: StatusPage["inside"];
    for (;;) {
      const page: StatusPage = await ctx.runQuery(internal.migrations.statusPage, { afterCreationTime, inside });
      v1.examsWithParticipants += page.examsWithParticipants;
      v1.totalParticipants += page.totalParticipants;
      v1.totalAnswers += page.totalAnswers;
      v2.participations += page.participations;
      v2.answers += page.answers;
      for (const id of page.pendingExams) pending.add(id);
      participantsWithoutV2 += page.participantsWithoutV2;
      mirrorFailures.push(...page.mirrorFailures);
      clearedExams += page.clearedExams;
      afterCreationTime = page.afterCreationTime;
      inside = page.inside;
      if (page.isDone) break;
    }
    const progress: Infer<typeof vProgressOfPasses> = await ctx.runQuery(internal.migrations.progressOfPasses, {});
    const quarantined = await allQuarantined(ctx);
    return {
      v1,
      v2,
      // Complete = every V1 user of every exam has their V2 participation (by identity); true when there is nothing to migrate.
      migrationComplete: pending.size === 0,
      pendingExams: [...pending],
      participantsWithoutV2,
      quarantined,
      clearedExams,
      mirrorFailures,
      progress,
    };
  },
});

// ---------------------------------------------------------------- export (step 3)

/**
 * Every V1 participant, unchanged, page by page (migration-guide step 3). A page
 * holds whole exams up to the byte budget; pass `continueCursor` back as `cursor`
 * until `isDone`.
 */
export const exportV1ParticipantData = internalQuery({
  args: { cursor: v.optional(v.union(v.string(), v.null())) },
  returns: v.object({
    exams: v.array(v.object({ examId: v.id("exams"), title: v.string(), participants: v.array(vV1Participant) })),
    isDone: v.boolean(),
    continueCursor: v.string(),
  }),
  handler: async (ctx, { cursor }) => {
    let after = cursor ? Number(cursor) : undefined;
    if (after !== undefined && !Number.isFinite(after)) throw new Error(`Invalid cursor ${cursor}`);
    const exams: { examId: Id<"exams">; title: string; participants: V1Participant[] }[] = [];
    for (;;) {
      if (exams.length > 0 && !(await roomForOneRead(ctx))) {
        return { exams, isDone: false, continueCursor: String(after) };
      }
      const exam = await nextExam(ctx, after);
      if (exam === null) return { exams, isDone: true, continueCursor: after === undefined ? "" : String(after) };
      after = exam._creationTime;
      if ((exam.participants ?? []).length > 0) {
        exams.push({ examId: exam._id, title: exam.title, participants: exam.participants! });
      }
    }
  },
});

// ---------------------------------------------------------------- migration (steps 4 and 8)

const vBatchArgs = {
  batchSize: v.optional(v.number()),
  clearAfterMigration: v.optional(v.boolean()),
  dryRun: v.optional(v.boolean()),
};

/**
 * Migrates up to `batchSize` exams (migration-guide step 4), stopping early
 * (inside an exam if need be) before half of any transaction limit; repeat until
 * `isDone`. Safe to re-run and to overlap: imports use deterministic idempotency
 * keys. `dryRun` reports the same figures and writes nothing. With
 * `clearAfterMigration` (step 8) each exam is migrated, verified, and its V1
 * array emptied only if its V2 copy verifies. `examId` (+ `fromIndex`) re-runs one
 * exam without moving the pass's cursor.
 */
export const migrateExamParticipants = internalMutation({
  args: { ...vBatchArgs, examId: v.optional(v.id("exams")), fromIndex: v.optional(v.number()) },
  returns: vBatchReport,
  handler: async (ctx, args) => runMigrationBatch(ctx, { ...batchOptions(args), examId: args.examId, fromIndex: args.fromIndex }),
});

/** Starts (or restarts) the migration in the background: each batch schedules the next until done. */
export const startMigration = internalMutation({
  args: { batchSize: v.optional(v.number()), clearAfterMigration: v.optional(v.boolean()) },
  returns: v.object({ started: v.boolean(), pass: vPass, batchSize: v.number() }),
  handler: async (ctx, args) => {
    const { batchSize, clearAfterMigration } = batchOptions(args);
    const pass: Pass = clearAfterMigration ? "cleanup" : "migrate";
    const progress = await loadProgress(ctx, pass);
    const background = { running: true, batchSize, startedAt: Date.now(), batches: 0 };
    if (progress === null) {
      await ctx.db.insert("migrationProgress", { pass, totals: { exams: 0, participants: 0, answers: 0, batches: 0 }, background });
    } else {
      await ctx.db.patch("migrationProgress", progress._id, { background });
    }
    await ctx.scheduler.runAfter(0, internal.migrations.runMigrationInBackground, { pass });
    return { started: true, pass, batchSize };
  },
});

/** Stops a background run after its current batch. */
export const stopMigration = internalMutation({
  args: { clearAfterMigration: v.optional(v.boolean()) },
  returns: v.object({ stopped: v.boolean() }),
  handler: async (ctx, args) => {
    const progress = await loadProgress(ctx, args.clearAfterMigration ? "cleanup" : "migrate");
    if (progress?.background?.running !== true) return { stopped: false };
    await ctx.db.patch("migrationProgress", progress._id, {
      background: { ...progress.background, running: false, stoppedReason: "stopped by the operator" },
    });
    return { stopped: true };
  },
});

/** One background batch; schedules the next one until the pass is done or stopped. */
export const runMigrationInBackground = internalMutation({
  args: { pass: vPass },
  returns: nullable(vBatchReport),
  handler: async (ctx, { pass }) => {
    const before = await loadProgress(ctx, pass);
    const background = before?.background;
    if (background?.running !== true) return null;
    const report = await runMigrationBatch(ctx, {
      batchSize: background.batchSize,
      clearAfterMigration: pass === "cleanup",
      dryRun: false,
    });
    const progress = (await loadProgress(ctx, pass))!;
    await ctx.db.patch("migrationProgress", progress._id, {
      background: {
        ...background,
        running: !report.isDone,
        batches: background.batches + 1,
        lastBatchAt: Date.now(),
        ...(report.isDone ? { stoppedReason: "done" } : {}),
      },
    });
    if (!report.isDone) await ctx.scheduler.runAfter(0, internal.migrations.runMigrationInBackground, { pass });
    return report;
  },
});

// ---------------------------------------------------------------- verification (step 5)

/** Exam ids with their creation times, a page at a time (the documents are read whole, so pages are bounded by bytes). */
export const examIdsPage = internalQuery({
  args: { afterCreationTime: v.optional(v.number()) },
  returns: v.object({ examIds: v.array(v.id("exams")), afterCreationTime: v.optional(v.number()), isDone: v.boolean() }),
  handler: async (ctx, { afterCreationTime }) => {
    const examIds: Id<"exams">[] = [];
    let after = afterCreationTime;
    for (;;) {
      if (examIds.length > 0 && !(await roomForOneRead(ctx))) return { examIds, afterCreationTime: after, isDone: false };
      const exam = await nextExam(ctx, after);
      if (exam === null) return { examIds, afterCreationTime: after, isDone: true };
      examIds.push(exam._id);
      after = exam._creationTime;
    }
  },
});

const vVerifySummary = v.object({
  v1Participants: v.number(),
  v2Participants: v.number(),
  v1Answers: v.number(),
  v2Answers: v.number(),
  missingParticipations: v.number(),
  missingAnswers: v.number(),
});

const vVerifyExamPage = v.object({
  issues: v.array(vIssue),
  pending: v.array(vPendingEntry),
  findings: v.array(vIssue),
  ...vVerifySummary.fields,
  users: v.array(v.string()),
  nextIndex: nullable(v.number()),
  cleared: v.boolean(),
});

/** Verifies one exam's V1 entries from `fromIndex` against their V2 rows, as far as the budget allows. */
export const verifyExamPage = internalQuery({
  args: { examId: v.id("exams"), fromIndex: v.number() },
  returns: vVerifyExamPage,
  handler: async (ctx, { examId, fromIndex }) => {
    const exam = await ctx.db.get("exams", examId);
    if (exam === null) throw new Error(`Exam ${examId} does not exist.`);
    const participants = exam.participants ?? [];
    const header = await getExamHeader(ctx, examId);
    const byUser = entryIndexesByUser(participants);
    const issues: Issue[] = [];
    const pending: PendingEntry[] = [];
    const unmirrored = await unmirroredCheck(ctx, examId, header);
    const questions = new Map<string, { points?: number } | null>();
    const findings: Issue[] = [];
    if (fromIndex === 0) {
      // Listed questions that no longer exist: one read each.
      const missing: string[] = [];
      for (const id of new Set(exam.questionIds)) {
        const doc = await ctx.db.get("questions", id);
        questions.set(id, doc === null ? null : { points: doc.points });
        if (doc === null) missing.push(id);
      }
      findings.push(...examFindings(examId, participants, approximateBytes(exam), exam.questionIds, missing));
      // Entries the migration set aside: their missing participation is listed in issues, the reason here.
      for await (const q of ctx.db.query("migrationQuarantine").withIndex("by_exam_and_index", (r) => r.eq("examId", examId))) {
        findings.push({
          kind: "quarantined_participant",
          examId,
          userId: q.userId,
          sourceIndex: q.sourceIndex,
          message: `not imported: ${q.reason}`,
        });
      }
    }
    const examQuestions = new Set<string>(exam.questionIds);
    let v1Answers = 0;
    let missingParticipations = 0;
    let missingAnswers = 0;
    let v2Participants = 0;
    let v2Answers = 0;
    let index = fromIndex;
    for (; index < participants.length; index++) {
      if (index > fromIndex && !(await roomForOneRead(ctx))) break;
      const entry = participants[index]!;
      v1Answers += entry.answers.length;
      for (const id of entry.answers.map((a) => a.questionId as string)) {
        if (questions.has(id)) continue;
        const qid = ctx.db.normalizeId("questions", id);
        const doc = qid === null ? null : await ctx.db.get("questions", qid);
        questions.set(id, doc === null ? null : { points: doc.points });
      }
      findings.push(
        ...participantFindings(examId, examQuestions, entry, index, byUser.get(entry.userId)![0]!, (id) => questions.get(id) ?? null),
      );
      const checked = await verifyEntry(ctx, examId, participants, index, byUser);
      if (checked.issues.length > 0 && (await unmirrored(entry.userId))) {
        // The mirror has not reached this attempt's latest events yet: pending, not an issue.
        pending.push({ examId, userId: entry.userId, reason: `${checked.issues.length} difference(s) with live events not yet mirrored` });
        checked.issues = [];
      }
      issues.push(...checked.issues);
      findings.push(...checked.findings);
      v2Participants += checked.rows;
      v2Answers += checked.answers;
      if (checked.issues.some((i) => i.kind === "missing_participation")) {
        missingParticipations += 1;
        missingAnswers += entry.answers.length;
      } else {
        missingAnswers += checked.issues.filter((i) => i.kind === "missing_answer").length;
      }
    }
    return {
      issues,
      pending,
      findings,
      v1Participants: index - fromIndex,
      v1Answers,
      v2Participants,
      v2Answers,
      missingParticipations,
      missingAnswers,
      users: participants.slice(fromIndex, index).map((p) => p.userId as string),
      nextIndex: index < participants.length ? index : null,
      cleared: header?.legacyCleared === true && participants.length === 0,
    };
  },
});

const vParticipationUsersPage = v.object({
  rows: v.array(v.object({ participationId: v.id("examParticipations"), userId: v.id("users") })),
  afterUserId: v.optional(v.id("users")),
  isDone: v.boolean(),
});

/** The users of an exam's participation rows, a page at a time (one streamed index range per page). */
export const participationUsersPage = internalQuery({
  args: { examId: v.id("exams"), afterUserId: v.optional(v.id("users")) },
  returns: vParticipationUsersPage,
  handler: async (ctx, { examId, afterUserId }) => {
    const rows: { participationId: Id<"examParticipations">; userId: Id<"users"> }[] = [];
    const range = ctx.db
      .query("examParticipations")
      .withIndex("by_exam_and_user", (q) =>
        afterUserId === undefined ? q.eq("examId", examId) : q.eq("examId", examId).gt("userId", afterUserId),
      );
    for await (const row of range) {
      // A page ends between users, so that a user's rows are never split.
      if (rows.length >= PARTICIPATION_PAGE && row.userId !== rows[rows.length - 1]!.userId) {
        return { rows, afterUserId: rows[rows.length - 1]!.userId, isDone: false };
      }
      rows.push({ participationId: row._id, userId: row.userId });
    }
    return { rows, afterUserId: undefined, isDone: true };
  },
});

/**
 * Of these users, those whose attempt the log began with an import of a V1 entry (one index range
 * each): an attempt with no V1 entry left whose entries other code removed, not one the array never had.
 */
export const importedAttempts = internalQuery({
  args: { examId: v.id("exams"), userIds: v.array(v.id("users")) },
  returns: v.array(v.id("users")),
  handler: async (ctx, { examId, userIds }) => {
    const imported: Id<"users">[] = [];
    for (const userId of userIds) {
      const first = await ctx.db
        .query("examEvents")
        .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", examId).eq("userId", userId))
        .first();
      if (first?.type === "LegacyParticipantImported") imported.push(userId);
    }
    return imported;
  },
});

/** Answer rows of participations that no V1 entry accounts for (extras), for the summary. */
export const answerCounts = internalQuery({
  args: { participationIds: v.array(v.id("examParticipations")) },
  returns: v.number(),
  handler: async (ctx, { participationIds }) => {
    let answers = 0;
    for (const id of participationIds) answers += (await loadAnswers(ctx, id)).length;
    return answers;
  },
});

/**
 * Compares V1 and V2 field by field and answer by answer (migration-guide step 5).
 * `issues` are real differences (missing, extra, changed, duplicated), each naming
 * the exam, the user and what differs; dirty V1 data migrated faithfully is listed
 * in `findings` and does not make the result invalid.
 */
export const verifyMigrationIntegrity = internalAction({
  args: { examId: v.optional(v.id("exams")) },
  returns: v.object({
    isValid: v.boolean(),
    issues: v.array(vIssue),
    pending: v.array(vPendingEntry),
    summary: vVerifySummary,
    findings: v.array(vIssue),
    clearedExams: v.number(),
  }),
  handler: async (ctx, { examId }) => {
    const issues: Issue[] = [];
    const pending: PendingEntry[] = [];
    const findings: Issue[] = [];
    const summary = {
      v1Participants: 0,
      v2Participants: 0,
      v1Answers: 0,
      v2Answers: 0,
      missingParticipations: 0,
      missingAnswers: 0,
    };
    let clearedExams = 0;
    const examIds: Id<"exams">[] = [];
    if (examId !== undefined) examIds.push(examId);
    else {
      let afterCreationTime: number | undefined;
      for (;;) {
        const page = await ctx.runQuery(internal.migrations.examIdsPage, { afterCreationTime });
        examIds.push(...page.examIds);
        afterCreationTime = page.afterCreationTime;
        if (page.isDone) break;
      }
    }
    for (const id of examIds) {
      const v1Users = new Set<string>();
      let cleared = false;
      for (let fromIndex: number | null = 0; fromIndex !== null;) {
        const page: Infer<typeof vVerifyExamPage> = await ctx.runQuery(internal.migrations.verifyExamPage, { examId: id, fromIndex });
        issues.push(...page.issues);
        pending.push(...page.pending);
        findings.push(...page.findings);
        summary.v1Participants += page.v1Participants;
        summary.v1Answers += page.v1Answers;
        summary.v2Participants += page.v2Participants;
        summary.v2Answers += page.v2Answers;
        summary.missingParticipations += page.missingParticipations;
        summary.missingAnswers += page.missingAnswers;
        for (const u of page.users) v1Users.add(u);
        cleared = page.cleared;
        fromIndex = page.nextIndex;
      }
      if (cleared) clearedExams += 1;
      // Rows no V1 entry accounts for: extras (a cleared exam's V1 copy lives in the log; the mirror adds live attempts).
      const extras: { participationId: Id<"examParticipations">; userId: Id<"users"> }[] = [];
      for (let afterUserId: Id<"users"> | undefined, done = false; !done;) {
        const page: Infer<typeof vParticipationUsersPage> = await ctx.runQuery(internal.migrations.participationUsersPage, {
          examId: id,
          afterUserId,
        });
        extras.push(...page.rows.filter((row) => !v1Users.has(row.userId)));
        afterUserId = page.afterUserId;
        done = page.isDone;
      }
      for (let i = 0; i < extras.length; i += ANSWER_COUNT_CHUNK) {
        const chunk = extras.slice(i, i + ANSWER_COUNT_CHUNK);
        summary.v2Participants += chunk.length;
        summary.v2Answers += await ctx.runQuery(internal.migrations.answerCounts, {
          participationIds: chunk.map((r) => r.participationId),
        });
        if (cleared) continue;
        const all = [...new Set(chunk.map((r) => r.userId))];
        // An attempt the log imported from the array, which holds none of its entries any more: other code removed them.
        const removed = new Set<string>(await ctx.runQuery(internal.migrations.importedAttempts, { examId: id, userIds: all }));
        for (const userId of removed) {
          findings.push({
            kind: "removed_after_import",
            examId: id,
            userId,
            message: `${id}/${userId}: every V1 entry imported into this attempt is no longer in the array (removed by other code, e.g. old code after a rollback); kept in the log and in V2`,
          });
        }
        const users = all.filter((u) => !removed.has(u));
        const notYetMirrored = new Set<string>(await ctx.runQuery(internal.legacyMirror.unmirroredUsers, { examId: id, userIds: users }));
        for (const userId of users) {
          if (notYetMirrored.has(userId)) {
            pending.push({ examId: id, userId, reason: "live attempt not yet mirrored into the V1 array" });
            continue;
          }
          issues.push({ kind: "extra_participation", examId: id, userId, message: `${id}/${userId}: V2 participation with no V1 entry` });
        }
      }
    }
    return { isValid: issues.length === 0, issues, pending, summary, findings, clearedExams };
  },
});
