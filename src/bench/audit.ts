/**
 * The audit trail's costs at stream lengths 10 and 1,000. The claim: appending
 * one event (the hash chain included) reads and writes the same documents
 * whatever the stream's length, because it reads only the stream's head. Reading
 * a history page is bounded by the page; the state at a moment replays the
 * stream up to that moment, so it grows with it (one attempt: pauses are few).
 *
 * @example
 * const section = await (await import("./audit.js")).bench();
 */
import type { FunctionReturnType } from "convex/server";
import { internal } from "../../convex/_generated/api";
import { getParticipationHistory, getParticipationStateAt, verifyAuditChain } from "../../convex/audit";
import type { ExamEvent } from "../../convex/events/catalog";
import { appendToStream, readStream } from "../../convex/events/store";
import { executeCommand } from "../../convex/attempts/writePath";
import { syncExamHeader } from "../../convex/headers/examHeaders";
import { projectStream } from "../../convex/projections/attempt";
import { loadStoredAttempt, writeAttemptRows } from "../../convex/projections/tables";
import { createEmbeddedConvex, measureCall, measureRun, type BenchRow, type BenchSection, type CallCost } from "../runtime/embedded";

const LENGTHS = [10, 1_000];

const T0 = Date.UTC(2026, 0, 1);
const STEP_MS = 1_000;
const timing = { durationMs: 24 * 3_600_000, maxPauses: 100_000 };

/** An attempt whose stream holds `length` events (start, then pause/resume alternately), projected. */
async function attemptOfLength(length: number) {
  const t = createEmbeddedConvex();
  const setup = await t.run(async (ctx) => {
    const examId = await ctx.db.insert("exams", { title: "Bench", questionIds: [], ...timing });
    const header = await syncExamHeader(ctx, (await ctx.db.get("exams", examId))!);
    // The event-sourced path alone: the V1 mirror's cost is the exam API benchmark's.
    await ctx.db.patch("examHeaders", header._id, { legacyMirror: false });
    const userId = await ctx.db.insert("users", { name: "ada", tokenIdentifier: "bench|ada", role: "student" });
    await ctx.db.insert("users", { name: "root", tokenIdentifier: "bench|root", role: "admin" });
    const events: ExamEvent[] = [{ type: "ExamStarted", data: { startedAt: T0 } }];
    for (let i = 1; i < length; i++) {
      const at = T0 + i * STEP_MS;
      events.push(
        i % 2 === 1 ? { type: "ExamPaused", data: { pausedAt: at } } : { type: "ExamResumed", data: { resumedAt: at, pausedMs: STEP_MS } },
      );
    }
    return { examId, userId, events };
  });
  const stream = { examId: setup.examId, userId: setup.userId };
  const actor = { kind: "user" as const, userId: setup.userId };
  for (let from = 0; from < setup.events.length; from += 250) {
    await t.run((ctx) =>
      appendToStream(ctx, stream, from, setup.events.slice(from, from + 250), { actor, origin: "live_v2", commandId: `seed-${from}` }),
    );
  }
  await t.run(async (ctx) => {
    await writeAttemptRows(ctx, stream, await loadStoredAttempt(ctx, stream), projectStream(await readStream(ctx, stream)));
  });
  return { t, stream, actor, admin: t.withIdentity({ tokenIdentifier: "bench|root", subject: "root" }) };
}

export async function bench(): Promise<BenchSection> {
  const costs = new Map<string, Map<number, CallCost>>();
  const record = (name: string, length: number, cost: CallCost) => {
    costs.set(name, (costs.get(name) ?? new Map<number, CallCost>()).set(length, cost));
  };
  for (const length of LENGTHS) {
    const { t, stream, actor, admin } = await attemptOfLength(length); // ends paused (odd number of pause/resume)
    let at = T0 + length * STEP_MS;
    const append = await measureRun(t, (ctx) =>
      appendToStream(ctx, stream, length, [{ type: "ExamResumed", data: { resumedAt: at, pausedMs: STEP_MS } }], {
        actor,
        origin: "live_v2",
        commandId: "bench-append",
      }),
    );
    record("appendToStream: 1 event", length, append.cost);
    await t.run(async (ctx) => {
      await writeAttemptRows(ctx, stream, await loadStoredAttempt(ctx, stream), projectStream(await readStream(ctx, stream)));
    });
    at += STEP_MS;
    const command = await measureRun(t, (ctx) =>
      executeCommand(ctx, { stream, command: { type: "PauseExam", data: { at, ...timing } }, actor, origin: "live_v2" }),
    );
    record("executeCommand: pause (load, decide, append, project)", length, command.cost);
    const page = await measureCall(admin, getParticipationHistory, {
      ...stream,
      paginationOpts: { numItems: 50, cursor: null },
    });
    record("getParticipationHistory: page of 50", length, page.cost);
    const stateAt = await measureCall(admin, getParticipationStateAt, { ...stream, at });
    record("getParticipationStateAt: at the end", length, stateAt.cost);
    // Registered functions carry no return type; the generated reference does.
    const verify = (await measureCall(t, verifyAuditChain, { examId: stream.examId })) as {
      result: FunctionReturnType<typeof internal.audit.verifyAuditChain>;
      cost: CallCost;
    };
    if (!verify.result.isValid) throw new Error(`verifyAuditChain found issues: ${JSON.stringify(verify.result.issues)}`);
    record("verifyAuditChain: first call (≤ 1,000 events)", length, verify.cost);
  }
  const rows: BenchRow[] = [...costs].map(([call, byLength]) => {
    const row: BenchRow = { call };
    for (const length of LENGTHS) {
      const c = byLength.get(length)!;
      row[`docs read @${length}`] = c.documentsRead;
      row[`docs written @${length}`] = c.documentsWritten;
      row[`bytes read @${length}`] = c.bytesRead;
      row[`bytes written @${length}`] = c.bytesWritten;
    }
    return row;
  });
  return {
    title: "Audit trail: cost at stream lengths 10 and 1,000 events",
    rows,
    notes: [
      "Appending reads the stream's head only (one document), so its cost does not depend on the stream's length.",
      "The state at a moment replays the stream up to it: linear in the events before `at` (an attempt has few).",
      "verifyAuditChain hashes at most 1,000 events per call and resumes with its cursor.",
      "Legacy mirror off. Figures from ctx.meta.getTransactionMetrics().",
    ],
  };
}
