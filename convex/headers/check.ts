/**
 * The scheduled header check: a pass of the walk over every exam
 * (headers/keeper.ts walkExamHeaders), healing, in budgeted batches each
 * scheduling the next. The cron's tick starts a pass every `intervalMinutes`
 * (examAdmin:setHeaderCheckInterval), never while one runs: a batch of a pass
 * that is no longer the running one does nothing, so two passes never overlap.
 * Its state is the "headers" document of `migrationProgress`, written only here.
 *
 * At its end a pass records `headersThrough`: every exam created up to then (a
 * settle time before the pass started) has a header, which V1's lists rely on
 * (reads/examSources.ts). An edit made around the keeper is healed within an
 * interval, a tick and a pass ({@link headerCheckStatusOf} states the bound and
 * the bytes a day the check reads).
 *
 * @example
 * await startHeaderCheck(ctx, { now: false });          // the cron's tick
 * const more = await runHeaderCheckBatch(ctx, startedAt); // one batch; true: schedule the next
 */
import { v } from "convex/values";
import type { Doc } from "../_generated/dataModel";
import type { MutationCtx, QueryCtx } from "../_generated/server";
import { internal } from "../_generated/api";
import { domainError } from "../lib/errors";
import { CREATION_SETTLE_MS, HEADER_CHECK_INTERVAL_MINUTES, HEADER_CHECK_TICK_MINUTES } from "../lib/limits";
import { healExamHeader, walkExamHeaders } from "./keeper";
import { loadHeaderPass } from "../lib/examHeaders";

type HeaderPass = Doc<"migrationProgress">;
type HeaderCheck = NonNullable<HeaderPass["headerCheck"]>;

/** Writes the pass's state (created on first use). */
async function saveHeaderPass(
  ctx: Pick<MutationCtx, "db">,
  pass: HeaderPass | null,
  fields: Partial<HeaderPass> & { headerCheck: HeaderCheck },
) {
  if (pass === null) {
    await ctx.db.insert("migrationProgress", { pass: "headers", totals: { exams: 0, participants: 0, answers: 0, batches: 0 }, ...fields });
  } else {
    await ctx.db.patch("migrationProgress", pass._id, fields);
  }
}

const intervalOf = (pass: HeaderPass | null) => pass?.headerCheck?.intervalMinutes ?? HEADER_CHECK_INTERVAL_MINUTES;

export const vStarted = v.object({ started: v.boolean(), startedAt: v.optional(v.number()) });

/**
 * Starts a pass unless one is running (one whose last batch is older than two ticks has died: it is
 * replaced); unless `now`, only when the last one started at least `intervalMinutes` ago.
 */
export async function startHeaderCheck(ctx: MutationCtx, { now: force }: { now: boolean }): Promise<typeof vStarted.type> {
  const now = Date.now();
  const pass = await loadHeaderPass(ctx);
  const check = pass?.headerCheck ?? {};
  const alive = check.running !== undefined && now - check.running.lastBatchAt < 2 * HEADER_CHECK_TICK_MINUTES * 60_000;
  const due = force || check.lastPass === undefined || now - check.lastPass.startedAt >= intervalOf(pass) * 60_000;
  if (alive || (!due && check.running === undefined)) return { started: false }; // a dead pass is replaced at once
  const headerCheck = { ...check, running: { startedAt: now, lastBatchAt: now, exams: 0, bytesRead: 0, healed: 0 } };
  await saveHeaderPass(ctx, pass, { afterCreationTime: undefined, headerCheck });
  await ctx.scheduler.runAfter(0, internal.examAdmin.runHeaderCheck, { startedAt: now });
  return { started: true, startedAt: now };
}

/** One batch of the pass started at `startedAt`, healing. True when the walk goes on (schedule the next batch). */
export async function runHeaderCheckBatch(ctx: MutationCtx, startedAt: number): Promise<boolean> {
  const pass = await loadHeaderPass(ctx);
  const running = pass?.headerCheck?.running;
  if (pass === null || running === undefined || running.startedAt !== startedAt) return false; // another pass replaced it
  const walked = await walkExamHeaders(ctx, { after: pass.afterCreationTime ?? null }, (examId, exam) => healExamHeader(ctx, examId, exam));
  const now = Date.now();
  const progress = {
    exams: running.exams + walked.checked,
    bytesRead: running.bytesRead + walked.bytesRead,
    healed: running.healed + walked.stale.length,
  };
  const totals = { ...pass.totals, exams: pass.totals.exams + walked.checked, batches: pass.totals.batches + 1 };
  if (walked.next !== null) {
    const headerCheck = { ...pass.headerCheck, running: { ...running, ...progress, lastBatchAt: now } };
    await saveHeaderPass(ctx, pass, { afterCreationTime: walked.next.after ?? undefined, totals, headerCheck });
    return true;
  }
  // Every exam created a settle time before the pass started was visited by it (and any before the last one it saw).
  const last = await ctx.db.query("exams").withIndex("by_creation_time").order("desc").first();
  const settled = startedAt - CREATION_SETTLE_MS;
  const headersThrough = Math.min(settled, last?._creationTime ?? settled);
  const headerCheck = {
    intervalMinutes: pass.headerCheck?.intervalMinutes,
    headersThrough,
    lastPass: { startedAt, finishedAt: now, ...progress },
  };
  await saveHeaderPass(ctx, pass, { afterCreationTime: undefined, totals, headerCheck });
  return false;
}

/** Sets how often a pass starts (whole minutes, at least one tick of the cron). */
export async function setHeaderCheckMinutes(ctx: MutationCtx, minutes: number): Promise<{ intervalMinutes: number }> {
  if (!Number.isInteger(minutes) || minutes < HEADER_CHECK_TICK_MINUTES) {
    throw domainError("INVALID_ARGUMENT", `minutes must be a whole number ≥ ${HEADER_CHECK_TICK_MINUTES} (the cron's tick).`);
  }
  const pass = await loadHeaderPass(ctx);
  await saveHeaderPass(ctx, pass, { headerCheck: { ...pass?.headerCheck, intervalMinutes: minutes } });
  return { intervalMinutes: minutes };
}

const vPassFigures = { startedAt: v.number(), exams: v.number(), bytesRead: v.number(), healed: v.number() };
export const vHeaderCheckStatus = v.object({
  intervalMinutes: v.number(),
  headersThrough: v.union(v.number(), v.null()),
  running: v.union(v.object(vPassFigures), v.null()),
  lastPass: v.union(v.object({ ...vPassFigures, finishedAt: v.number() }), v.null()),
  /** The last pass's bytes read times the passes a day at the interval. */
  bytesReadPerDay: v.union(v.number(), v.null()),
  /** An edit made around the keeper is healed within this long: an interval, a tick and the last pass's length. */
  convergenceBoundMinutes: v.union(v.number(), v.null()),
});

export async function headerCheckStatusOf(ctx: QueryCtx): Promise<typeof vHeaderCheckStatus.type> {
  const pass = await loadHeaderPass(ctx);
  const intervalMinutes = intervalOf(pass);
  const check = pass?.headerCheck;
  const last = check?.lastPass ?? null;
  const passMinutes = last === null ? null : Math.ceil((last.finishedAt - last.startedAt) / 60_000);
  const running = check?.running;
  return {
    intervalMinutes,
    headersThrough: check?.headersThrough ?? null,
    running:
      running === undefined
        ? null
        : { startedAt: running.startedAt, exams: running.exams, bytesRead: running.bytesRead, healed: running.healed },
    lastPass: last,
    bytesReadPerDay: last === null ? null : Math.round(last.bytesRead * ((24 * 60) / intervalMinutes)),
    convergenceBoundMinutes: passMinutes === null ? null : intervalMinutes + HEADER_CHECK_TICK_MINUTES + passMinutes,
  };
}
