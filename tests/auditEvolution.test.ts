/**
 * Event evolution: ExamPaused was stored as v1 `{ at }` by older code and is
 * v2 `{ pausedAt }` today. Old events stay in the log as written (their hashes
 * cover the old shape) and are read through the catalog's upcaster everywhere.
 */
import { describe, expect, it, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { eventHash } from "../convex/events/hash";
import { readStream, readStreamHead, type StreamId } from "../convex/events/store";
import { projectStream, participationRowOf, answerRowOf } from "../convex/projections/attempt";
import { loadStoredAttempt, writeAttemptRows } from "../convex/projections/tables";
import { newConvexTest, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";
import { MINUTE, T0, attemptDriver, verifyWholeChain } from "./support/audit";

useFakeClock();

/** What the code of the time wrote: ExamPaused at schema version 1, hashed over its stored (old) data, projected. */
async function appendOldPause(t: TestConvex, stream: StreamId, at: number) {
  vi.setSystemTime(at);
  await t.run(async (ctx) => {
    const head = (await readStreamHead(ctx, stream))!;
    const content = {
      ...stream,
      version: head.version + 1,
      type: "ExamPaused",
      schemaVersion: 1,
      data: { at },
      actor: { kind: "user" as const, userId: stream.userId },
      origin: "live_v1" as const,
      commandId: `old-code-${at}`,
      recordedAt: at,
      prevHash: head.hash,
    };
    await ctx.db.insert("examEvents", { ...content, hash: await eventHash(content) });
    await writeAttemptRows(ctx, stream, await loadStoredAttempt(ctx, stream), projectStream(await readStream(ctx, stream)));
  });
}

describe("old-version events", () => {
  it("are read through the upcaster by history, point in time, the write path, rebuild, verify and the tamper check", async () => {
    const t = newConvexTest();
    const exam = await seedExam(t, { maxPauses: 10 });
    const ada = await seedUser(t, "ada");
    const admin = await seedUser(t, "root", "admin");
    const a = attemptDriver(t, exam, ada.userId);
    await a.start(T0);
    await appendOldPause(t, a.stream, T0 + 10 * MINUTE);
    await a.resume(T0 + 14 * MINUTE); // today's code decides from the upcast pause
    await appendOldPause(t, a.stream, T0 + 20 * MINUTE);
    await a.resume(T0 + 21 * MINUTE);

    // Stored as written: never migrated in place.
    const stored = await t.run((ctx) => ctx.db.query("examEvents").withIndex("by_exam_and_user_and_version").collect());
    expect(stored.map((e) => [e.type, e.schemaVersion, e.data])).toEqual([
      ["ExamStarted", 1, { startedAt: T0 }],
      ["ExamPaused", 1, { at: T0 + 10 * MINUTE }],
      ["ExamResumed", 1, { resumedAt: T0 + 14 * MINUTE, pausedMs: 4 * MINUTE }],
      ["ExamPaused", 1, { at: T0 + 20 * MINUTE }],
      ["ExamResumed", 1, { resumedAt: T0 + 21 * MINUTE, pausedMs: MINUTE }],
    ]);

    // History: the current shape, with the stored schema version.
    const history = await ada.as.query(api.audit.getParticipationHistory, {
      examId: exam.examId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(history.page[1]).toMatchObject({
      type: "ExamPaused",
      schemaVersion: 1,
      data: { pausedAt: T0 + 10 * MINUTE },
      occurredAt: T0 + 10 * MINUTE,
      origin: "live_v1",
    });
    const trail = await admin.as.query(api.audit.getExamAuditTrail, {
      examId: exam.examId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(trail.page[3]!.data).toEqual({ pausedAt: T0 + 20 * MINUTE });

    // Point in time: during and after an old pause.
    const at = (time: number) => ada.as.query(api.audit.getParticipationStateAt, { examId: exam.examId, at: time });
    expect(await at(T0 + 12 * MINUTE)).toMatchObject({ status: "paused", participation: { pausedAt: T0 + 10 * MINUTE, pauseCount: 1 } });
    expect(await at(T0 + 30 * MINUTE)).toMatchObject({
      status: "in_progress",
      participation: { pauseCount: 2, totalPausedMs: 5 * MINUTE },
      version: 5,
    });

    // Replay (what rebuild and verify run per stream) equals the rows the write path projected.
    const { replayed, rows } = await t.run(async (ctx) => ({
      replayed: projectStream(await readStream(ctx, a.stream)),
      rows: await loadStoredAttempt(ctx, a.stream),
    }));
    expect(replayed.participation).toEqual(participationRowOf(rows.row!));
    expect(replayed.answers).toEqual(rows.answers.map(answerRowOf));
    expect(replayed.participation).toMatchObject({ version: 5, pauseCount: 2, totalPausedMs: 5 * MINUTE });

    // The chain covers the stored old shape: nothing to report.
    expect((await verifyWholeChain(t)).issues).toEqual([]);

    // verifyProjections replays the old events and agrees with the rows; rebuild writes the same rows back.
    expect(await t.action(internal.projections.rebuild.verifyProjections, { examId: exam.examId })).toMatchObject({
      isValid: true,
      issues: [],
    });
    await t.run((ctx) => ctx.db.patch("examParticipations", rows.row!._id, { totalPausedMs: 0 })); // a damaged row
    expect((await t.action(internal.projections.rebuild.verifyProjections, { examId: exam.examId })).isValid).toBe(false);
    await t.action(internal.projections.rebuild.rebuildAllProjections, { examId: exam.examId });
    const rebuilt = await t.run((ctx) => loadStoredAttempt(ctx, a.stream));
    expect(participationRowOf(rebuilt.row!)).toEqual(replayed.participation);
    expect(rebuilt.row!._id).toBe(rows.row!._id);
    expect(await t.action(internal.projections.rebuild.verifyProjections, { examId: exam.examId })).toMatchObject({ isValid: true });
  });
});
