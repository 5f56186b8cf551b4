/**
 * No silent caps, at sizes production reaches, under half of every Convex limit
 * (newConvexTest enforces it: a call over half throws):
 * - 1,000 exams and a student with an attempt on each: metadata and dashboard
 *   complete through V1 and V2, equal; recent exams and the leaderboard return
 *   their first `limit`; one exam more: LIMIT_EXCEEDED naming the limit;
 * - 17 exams of about 1 MB before cleanup: V1's aggregates answer (from V2 data
 *   once migrated; a named LIMIT_EXCEEDED, never "read too much", before).
 */
import { getDocumentSize } from "convex/values";
import { describe, expect, it } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { CONVEX_LIMITS, MAX_LISTED_EXAMS } from "../convex/lib/limits";
import type { V1Participant } from "../convex/lib/validators";
import { executeCommand } from "../convex/attempts/writePath";
import { markLegacyBackfilled, syncExamHeader } from "../convex/headers/examHeaders";
import { newConvexTest, seedUser, useFakeClock, type SeededUser, type TestConvex } from "./support/convex";
import { attempt, fn, runHeaderCheckPass } from "./support/exams";
import { examDocumentBytes, generateV1Dataset } from "../src/dataset/generate";

const T0 = Date.UTC(2026, 5, 1, 9, 0, 0);
useFakeClock(T0);

/** `count` exams, each with the student's started attempt (through the write path, mirror on). */
async function examsWithAttempts(t: TestConvex, ada: SeededUser, count: number, from = 0): Promise<Id<"exams">[]> {
  const ids: Id<"exams">[] = [];
  for (let start = from; start < from + count; start += 100) {
    ids.push(
      ...(await t.run(async (ctx) => {
        const chunk: Id<"exams">[] = [];
        for (let i = start; i < Math.min(from + count, start + 100); i++) {
          const examId = await ctx.db.insert("exams", { title: `Exam ${i}`, questionIds: [], durationMs: 60_000, maxPauses: 0 });
          await syncExamHeader(ctx, (await ctx.db.get("exams", examId))!);
          await executeCommand(ctx, {
            stream: { examId, userId: ada.userId },
            command: { type: "StartExam", data: { at: T0 + i } },
            actor: { kind: "user", userId: ada.userId },
            origin: "live_v2",
          });
          chunk.push(examId);
        }
        return chunk;
      })),
    );
  }
  return ids;
}

async function markAllBackfilled(t: TestConvex, examIds: Id<"exams">[]) {
  for (let i = 0; i < examIds.length; i += 200) {
    await t.run(async (ctx) => {
      for (const examId of examIds.slice(i, i + 200)) await markLegacyBackfilled(ctx, examId);
    });
  }
}

const LISTS = ["getAllExamsMetadata", "getMyDashboardStats", "getMyRecentExams"] as const;

async function lists(ada: SeededUser, which: "" | "V2") {
  return Promise.all(LISTS.map((name) => attempt(() => ada.as.query(fn(name, which === "" ? "v1" : "v2"), {}))));
}

describe("1,000 exams and a student with an attempt on each", () => {
  it(
    "metadata and dashboard are complete and equal through V1 and V2; one exam more is LIMIT_EXCEEDED; limited lists still answer",
    { timeout: 240_000 },
    async () => {
      const t = newConvexTest();
      const ada = await seedUser(t, "ada");
      // Before any header check (mirror on, its job not run): both lists read each exam document (a header lookup more for V1).
      const first = await examsWithAttempts(t, ada, 400);
      const before = (await lists(ada, "")) as [{ examId: string; participantCount: number }[], unknown, unknown[]];
      expect(before[0].map((m) => m.examId).sort()).toEqual([...first].sort());
      expect(before[0].every((m) => m.participantCount === 1)).toBe(true);
      expect(before[1]).toEqual({ examsStarted: 400, examsCompleted: 0, averageScore: null, bestScore: null });
      expect(await lists(ada, "V2")).toEqual(before);
      // 1,000 exams before any header check: V1's list reads each exam's document and header, past half the
      // index-range limit: it refuses by name. Its dashboard and recent exams answer from V2 data: an exam created
      // with no V1 entry is born backfilled (nothing to look for in its array).
      const examIds = [...first, ...(await examsWithAttempts(t, ada, MAX_LISTED_EXAMS - 400, 400))];
      const v1 = await lists(ada, "");
      expect(v1[0]).toEqual({ error: "LIMIT_EXCEEDED" });
      await expect(ada.as.query(api.exams.getAllExamsMetadata, {})).rejects.toThrow(/index-range limit: run the migration/);
      const [metadata, dashboard, recent] = (await lists(ada, "V2")) as [
        { examId: string; participantCount: number }[],
        unknown,
        unknown[],
      ];
      expect(metadata.map((m) => m.examId).sort()).toEqual([...examIds].sort());
      expect(metadata.every((m) => m.participantCount === 1)).toBe(true);
      expect(dashboard).toEqual({ examsStarted: 1_000, examsCompleted: 0, averageScore: null, bestScore: null });
      expect(recent).toHaveLength(10);
      expect(v1.slice(1)).toEqual([dashboard, recent]);

      // Migrated (backfilled, arrays not cleared) and the header check run: V1 serves the lists from V2 data.
      await markAllBackfilled(t, examIds);
      await runHeaderCheckPass(t);
      expect(await lists(ada, "")).toEqual([metadata, dashboard, recent]);

      // One more than the maximum: the complete lists refuse, naming the limit; the limited ones still answer.
      const [extra] = await examsWithAttempts(t, ada, 1, MAX_LISTED_EXAMS);
      await markAllBackfilled(t, [extra!]);
      for (const which of ["", "V2"] as const) {
        const [m, d, r] = await lists(ada, which);
        expect(m).toEqual({ error: "LIMIT_EXCEEDED" });
        expect(d).toEqual({ error: "LIMIT_EXCEEDED" });
        expect((r as { examId: string }[]).map((e) => e.examId)[0]).toBe(extra);
      }
      await expect(ada.as.query(api.exams.getAllExamsMetadataV2, {})).rejects.toThrow(/MAX_LISTED_EXAMS/);
      const limited = await ada.as.query(api.exams.getMyRecentExamsV2, { limit: 100 });
      expect(limited).toHaveLength(100);
      expect(await ada.as.query(api.exams.getMyRecentExams, { limit: 100 })).toEqual(limited);
    },
  );
});

describe("17 exams of about 1 MB before cleanup", () => {
  it(
    "V1's aggregates answer within limits once migrated, and refuse by name (not 'read too much') before",
    { timeout: 240_000 },
    async () => {
      const t = newConvexTest();
      const ada = await seedUser(t, "ada");
      const users = await t.run(async (ctx) => {
        const ids: Id<"users">[] = [ada.userId];
        for (let i = 0; i < 4; i++) ids.push(await ctx.db.insert("users", { name: `S${i}`, tokenIdentifier: `s|${i}`, role: "student" }));
        return ids;
      });
      const examIds: Id<"exams">[] = [];
      for (let e = 0; e < 17; e++) {
        examIds.push(
          await t.run(async (ctx) => {
            const questionId = await ctx.db.insert("questions", { text: "Q", options: ["a", "b"], correctAnswer: "a" });
            // 5 participants × 200 answers of 960-character selections: about 1 MB, under 1 MiB.
            const participants: V1Participant[] = users.map((userId, i) => ({
              userId,
              score: 0,
              answers: Array.from({ length: 200 }, () => ({ questionId, selectedAnswer: "x".repeat(960), isCorrect: false })),
              startedAt: T0 - 1_000 * (e * 10 + i),
              completedAt: T0 - 500,
              isPaused: false,
              pauseCount: 0,
              totalPausedMs: 0,
            }));
            return ctx.db.insert("exams", { title: `Big ${e}`, questionIds: [questionId], durationMs: 60_000, maxPauses: 0, participants });
          }),
        );
      }
      const size = await t.run(async (ctx) => getDocumentSize((await ctx.db.get("exams", examIds[0]!))!));
      expect(size).toBeGreaterThan(0.9 * CONVEX_LIMITS.documentBytes);
      expect(size).toBeLessThan(CONVEX_LIMITS.documentBytes);
      // Right after deploy (no header yet): V1 would need 17 MB, as it always did: a named refusal.
      for (const name of ["getAllExamsMetadata", "getMyDashboardStats", "getMyRecentExams"] as const) {
        await expect(ada.as.query(api.exams[name], {})).rejects.toThrow(/run the migration/);
      }
      // The headers exist (the header check has run), the arrays are not migrated: still 17 MB, still a named refusal.
      await runHeaderCheckPass(t);
      for (const name of ["getAllExamsMetadata", "getMyDashboardStats", "getMyRecentExams"] as const) {
        await expect(ada.as.query(api.exams[name], {})).rejects.toThrow(/run the migration/);
      }
      // Migrated, not cleaned up: V1 answers from V2 data, equal to V2.
      for (let i = 0; i < 200; i++) {
        const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 2 });
        if (r.isDone) break;
      }
      await runHeaderCheckPass(t); // the scheduled check's next pass: lists read headers, not 17 MB of documents
      const v1 = [
        await ada.as.query(api.exams.getAllExamsMetadata, {}),
        await ada.as.query(api.exams.getMyDashboardStats, {}),
        await ada.as.query(api.exams.getMyRecentExams, { limit: 20 }),
      ];
      expect(v1[0]).toHaveLength(17);
      expect(v1[1]).toMatchObject({ examsStarted: 17, examsCompleted: 17 });
      expect(v1[2]).toHaveLength(17);
      expect(v1).toEqual([
        await ada.as.query(api.exams.getAllExamsMetadataV2, {}),
        await ada.as.query(api.exams.getMyDashboardStatsV2, {}),
        await ada.as.query(api.exams.getMyRecentExamsV2, { limit: 20 }),
      ]);
      const afterCleanup = await t.run(async (ctx) => (await ctx.db.get("exams", examIds[0]!))!.participants?.length);
      expect(afterCleanup).toBe(5); // not cleaned up: the arrays are still there
    },
  );
});

describe("the dataset generator", () => {
  it("refuses exams Convex cannot hold, with a clear message, and sizes documents as Convex does", () => {
    expect(() => generateV1Dataset({ exams: 1, participants: 8_193, answers: 0 })).toThrow(/8193 elements; Convex allows 8192/);
    expect(() => generateV1Dataset({ exams: 1, participants: 80, answers: 80 * 200 })).toThrow(/would be \d+ bytes; Convex allows 1048576/);
    const ok = generateV1Dataset({ exams: 1, participants: 60, answers: 60 * 200 });
    expect(examDocumentBytes(ok.exams[0]!)).toBeLessThan(CONVEX_LIMITS.documentBytes);
    expect(examDocumentBytes(ok.exams[0]!)).toBeGreaterThan(0.8 * CONVEX_LIMITS.documentBytes);
  });
});
