/**
 * The per-exam resync (legacyMirror:setExamLegacyMirror turning the mirror on) at the sizes Convex allows,
 * under half of every transaction limit (newConvexTest enforces it: a call over half throws): an exam of
 * 4,000 participants is resynced in pages, the array ends as the V1 code would have left it, a student
 * acting during the resync is mirrored by the job it schedules; so is the largest array a document holds;
 * an array that would not fit (1 MiB, 8,192 entries) is refused by the page that knows it, with nothing changed.
 */
import { describe, expect, it, vi } from "vitest";
import { getConvexSize, getDocumentSize } from "convex/values";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { setExamLegacyMirror } from "../convex/legacyMirror";
import { CONVEX_LIMITS, HALF_TRANSACTION_LIMITS } from "../convex/lib/limits";
import { errorCode } from "../convex/lib/errors";
import type { V1Participant } from "../convex/lib/validators";
import type { ResyncCursor } from "../convex/projections/resync";
import { MIRROR_SIZE_MARGIN_BYTES } from "../convex/projections/mirrorJob";
import {
  legacyEntry,
  newConvexTest,
  runScheduled,
  seedExam,
  seedUser,
  snapshotTables,
  useFakeClock,
  type TestConvex,
} from "./support/convex";

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
useFakeClock(T0);

type Metrics = { documentsRead: number; bytesRead: number; databaseQueries: number; documentsWritten: number; bytesWritten: number };

/** One call of setExamLegacyMirror's handler in one transaction, with what it used (ctx.meta.getTransactionMetrics). */
async function resyncCall(t: TestConvex, examId: Id<"exams">, cursor: ResyncCursor | null) {
  const { _handler } = setExamLegacyMirror as unknown as {
    _handler: (ctx: unknown, args: object) => Promise<{ isDone?: boolean; continueCursor?: ResyncCursor | null; entriesWritten: number }>;
  };
  return t.run(async (ctx) => {
    const result = await _handler(ctx, { examId, enabled: true, cursor });
    const m = await ctx.meta.getTransactionMetrics();
    const used: Metrics = {
      documentsRead: m.documentsRead.used,
      bytesRead: m.bytesRead.used,
      databaseQueries: m.databaseQueries.used,
      documentsWritten: m.documentsWritten.used,
      bytesWritten: m.bytesWritten.used,
    };
    return { result, used };
  });
}

/** Every page of a resync, until it is done (or throws). */
async function resync(t: TestConvex, examId: Id<"exams">, between?: (cursor: ResyncCursor) => Promise<void>) {
  const calls = [];
  let cursor: ResyncCursor | null = null;
  for (let i = 0; i < 100; i++) {
    const call = await resyncCall(t, examId, cursor);
    calls.push(call);
    if (call.result.isDone) return calls;
    cursor = call.result.continueCursor!;
    await between?.(cursor);
  }
  throw new Error("the resync did not finish");
}

async function insertUsers(t: TestConvex, count: number): Promise<Id<"users">[]> {
  return t.run(async (ctx) => {
    const ids: Id<"users">[] = [];
    for (let i = 0; i < count; i++) ids.push(await ctx.db.insert("users", { name: `S${i}`, tokenIdentifier: `t|${i}`, role: "student" }));
    return ids;
  });
}

/** V2 rows for each entry (as the projector writes them: one participation, one answer row per answer). */
async function insertRows(t: TestConvex, examId: Id<"exams">, entries: V1Participant[]) {
  for (let from = 0; from < entries.length; from += 1_000) {
    await t.run(async (ctx) => {
      for (const { answers, ...p } of entries.slice(from, from + 1_000)) {
        const participationId = await ctx.db.insert("examParticipations", { examId, ...p, version: 1, lastEventHash: "h" });
        for (const [position, a] of answers.entries()) await ctx.db.insert("examAnswers", { participationId, ...a, position });
      }
    });
  }
}

const arrayOf = (t: TestConvex, examId: Id<"exams">) => t.run(async (ctx) => (await ctx.db.get("exams", examId))!.participants ?? []);

describe("setExamLegacyMirror", () => {
  it("resyncs an exam of 4,000 participants in pages, each within half of every limit; a student acting meanwhile is mirrored by the job", async () => {
    const t = newConvexTest();
    const users = await insertUsers(t, 4_000);
    const { examId, questionIds } = await seedExam(t, { questions: 1 });
    const ada = await seedUser(t, "ada");
    const legacyOnly = await seedUser(t, "legacy");
    // The array as it stood when the mirror went off: every student started, none had answered; one user only
    // in V1; a later duplicate entry; the last 500 students not in it yet. The rows: everyone answered and submitted.
    const stale = users.slice(0, 3_500).map((u) => legacyEntry(u, T0 - 3_600_000));
    const entry = (u: Id<"users">, i: number): V1Participant =>
      legacyEntry(u, T0 - 3_600_000, {
        answers: [{ questionId: questionIds[0]!, selectedAnswer: i % 2 === 0 ? "a" : "b", isCorrect: i % 2 === 0 }],
        score: i % 2 === 0 ? 1 : 0,
        completedAt: T0 - 1_800_000,
      });
    const fresh = users.map(entry);
    const duplicate = legacyEntry(users[7]!, T0 - 7_200_000, { score: 9 });
    const legacy = legacyEntry(legacyOnly.userId, T0 - 7_200_000);
    await t.run((ctx) => ctx.db.patch("exams", examId, { participants: [...stale.slice(0, 10), duplicate, legacy, ...stale.slice(10)] }));
    await insertRows(t, examId, fresh);
    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId, enabled: false });
    await ada.as.mutation(api.exams.startExamV2, { examId });
    vi.setSystemTime(T0 + 60_000);

    // Ada submits while the write pass is under way (after its first page): the job the last page schedules mirrors it.
    let writePages = 0;
    const calls = await resync(t, examId, async (cursor) => {
      if (cursor.pass === "write" && cursor.after !== undefined) writePages += 1;
      if (writePages === 1 && cursor.after !== undefined) {
        vi.setSystemTime(Date.now() + 1_000);
        await ada.as.mutation(api.exams.submitExamAnswers, { examId, answers: [{ questionId: questionIds[0]!, selectedAnswer: "a" }] });
      }
      vi.setSystemTime(Date.now() + 1_000);
    });
    expect(writePages).toBeGreaterThan(1);
    expect(calls.length).toBeGreaterThan(4); // two passes over 4,001 participants, one index range each
    for (const { used } of calls) {
      for (const k of Object.keys(used) as (keyof Metrics)[]) expect(used[k]).toBeLessThanOrEqual(HALF_TRANSACTION_LIMITS[k]);
    }
    expect(calls.reduce((n, c) => n + c.result.entriesWritten, 0)).toBe(4_001);

    // The watermark stands before the write pass began: V1 does not trust the array until the job has passed Ada's submit.
    const statusOf = async () => (await t.query(internal.legacyMirror.legacyMirrorStatus, {})).exams.find((e) => e.examId === examId);
    expect(await statusOf()).toMatchObject({ legacyMirror: true, arrayCurrent: false, lag: { events: 1 } });
    await runScheduled(t);
    expect(await statusOf()).toMatchObject({ legacyMirror: true, arrayCurrent: true });
    const array = await arrayOf(t, examId);
    const adaEntry = array.find((p) => p.userId === ada.userId)!;
    expect(adaEntry).toMatchObject({ score: 1, completedAt: expect.any(Number) });
    // First entry per user replaced in place, the duplicate and the V1-only user untouched, the missing appended (by user id).
    const appended = [...fresh.slice(3_500), adaEntry].sort((a, b) => (a.userId < b.userId ? -1 : 1));
    expect(array).toEqual([...fresh.slice(0, 10), duplicate, legacy, ...fresh.slice(10, 3_500), ...appended]);
    expect(getDocumentSize((await t.run((ctx) => ctx.db.get("exams", examId)))!)).toBeLessThan(CONVEX_LIMITS.documentBytes);
  });

  it("resyncs the largest array an exam document holds (about 7,200 entries, just under 1 MiB less the margin), and refuses 8,193 entries", async () => {
    const t = newConvexTest();
    const { examId } = await seedExam(t, { questions: 1 });
    const base = await t.run(async (ctx) => getDocumentSize((await ctx.db.get("exams", examId))!));
    const perEntry = getConvexSize(legacyEntry("k170000000000000000000000000000a" as Id<"users">, T0));
    const count = Math.floor((CONVEX_LIMITS.documentBytes - MIRROR_SIZE_MARGIN_BYTES - base - 64) / perEntry);
    expect(count).toBeGreaterThan(7_000);
    const users = [...(await insertUsers(t, 4_000)), ...(await insertUsers(t, count - 4_000))];
    await insertRows(
      t,
      examId,
      users.map((u) => legacyEntry(u, T0)),
    );
    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId, enabled: false });
    const calls = await resync(t, examId);
    expect(calls.length).toBeGreaterThan(10);
    expect(await arrayOf(t, examId)).toHaveLength(count);
    const size = await t.run(async (ctx) => getDocumentSize((await ctx.db.get("exams", examId))!));
    expect(size).toBeGreaterThan(CONVEX_LIMITS.documentBytes - MIRROR_SIZE_MARGIN_BYTES - 2 * perEntry);

    // Past Convex's 8,192 array elements: the measuring pass refuses; the array, the header and the watermark stay as they were.
    const more = await insertUsers(t, CONVEX_LIMITS.arrayElements + 1 - count);
    const other = await seedExam(t, { questions: 1 });
    await insertRows(
      t,
      other.examId,
      [...users, ...more].map((u) => legacyEntry(u, T0)),
    );
    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId: other.examId, enabled: false });
    const state = () =>
      t.run(async (ctx) => ({
        exam: await ctx.db.get("exams", other.examId),
        header: await ctx.db
          .query("examHeaders")
          .withIndex("by_exam", (q) => q.eq("examId", other.examId))
          .unique(),
        watermark: await ctx.db
          .query("examMirrorStates")
          .withIndex("by_exam", (q) => q.eq("examId", other.examId))
          .unique(),
      }));
    const before = await state();
    const refusal = await resync(t, other.examId).catch((e: unknown) => e);
    expect(errorCode(refusal)).toBe("INVALID_ARGUMENT");
    expect(String(refusal)).toMatch(/8193 entries/);
    expect(await state()).toEqual(before);
  });

  it("refuses, with nothing changed, an array that would pass 1 MiB, found by the last page of the measuring pass", async () => {
    const t = newConvexTest();
    const users = await insertUsers(t, 2_500);
    const { examId, questionIds } = await seedExam(t, { questions: 2 });
    const long = "x".repeat(200);
    const entries = users.map((u) =>
      legacyEntry(u, T0 - 3_600_000, {
        answers: questionIds.map((questionId) => ({ questionId, selectedAnswer: long, isCorrect: false })),
      }),
    );
    await insertRows(t, examId, entries);
    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId, enabled: false });
    const before = await snapshotTables(t);
    let cursor: ResyncCursor | null = null;
    let pages = 0;
    const refusal = await (async () => {
      for (;;) {
        const page: { isDone?: boolean; continueCursor?: ResyncCursor | null } = await t.mutation(
          internal.legacyMirror.setExamLegacyMirror,
          { examId, enabled: true, cursor },
        );
        pages += 1;
        expect(page).toMatchObject({ isDone: false, legacyMirror: false, entriesWritten: 0 });
        cursor = page.continueCursor!;
      }
    })().catch((e: unknown) => e);
    expect(pages).toBeGreaterThan(0);
    expect(errorCode(refusal)).toBe("INVALID_ARGUMENT");
    expect(String(refusal)).toMatch(/exam document would be \d+ bytes/);
    expect(await snapshotTables(t)).toEqual(before);
  });
});
