/**
 * Exams at V1's document limits migrate within half of every transaction limit
 * (newConvexTest enforces it: a call over half would throw), stopping inside an
 * exam and resuming exactly there.
 */
import { getConvexSize, getDocumentSize } from "convex/values";
import { describe, expect, it } from "vitest";
import { internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import type { V1Participant } from "../convex/lib/validators";
import { CONVEX_LIMITS } from "../convex/lib/limits";
import { newConvexTest, seedExam, type TestConvex } from "./support/convex";

async function insertUsers(t: TestConvex, count: number): Promise<Id<"users">[]> {
  const ids: Id<"users">[] = [];
  for (let from = 0; from < count; from += 4000) {
    ids.push(
      ...(await t.run(async (ctx) => {
        const chunk: Id<"users">[] = [];
        for (let i = from; i < Math.min(count, from + 4000); i++) {
          chunk.push(await ctx.db.insert("users", { name: `S${i}`, tokenIdentifier: `t|${i}`, role: "student" }));
        }
        return chunk;
      })),
    );
  }
  return ids;
}

function participant(userId: Id<"users">, answers: V1Participant["answers"] = []): V1Participant {
  return {
    userId,
    score: answers.filter((a) => a.isCorrect).length,
    answers,
    startedAt: 1_700_000_000_000,
    isPaused: false,
    pauseCount: 0,
    totalPausedMs: 0,
  };
}

describe("migration at V1's limits", () => {
  it("the largest exam Convex can hold without answers (about 7,400 participants, just under 1 MiB) is split across calls and resumed where it stopped", async () => {
    const t = newConvexTest();
    // As many participants as one exam document holds (Convex counts bytes with getDocumentSize; convex-test 0.0.71 enforces it).
    const { examId } = await seedExam(t, { questions: 1 });
    const base = await t.run(async (ctx) => getDocumentSize((await ctx.db.get("exams", examId))!));
    const perEntry = getConvexSize(participant("k170000000000000000000000000000a" as Id<"users">));
    const count = Math.floor((CONVEX_LIMITS.documentBytes - base - 1024) / perEntry);
    expect(count).toBeGreaterThan(7_000);
    const users = await insertUsers(t, count);
    await t.run((ctx) => ctx.db.patch("exams", examId, { participants: users.map((u) => participant(u)) }));
    const size = await t.run(async (ctx) => getDocumentSize((await ctx.db.get("exams", examId))!));
    expect(size).toBeGreaterThan(0.99 * CONVEX_LIMITS.documentBytes);
    expect(size).toBeLessThanOrEqual(CONVEX_LIMITS.documentBytes);

    const first = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 1 });
    expect(first.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(["near_document_limit", "near_array_limit"]));
    expect(first.stoppedBecause).toBe("budget");
    const stoppedAt = first.stoppedInsideExam!.nextIndex;
    expect(first.stoppedInsideExam).toEqual({ examId, step: "import", nextIndex: first.participantsMigrated });
    expect(stoppedAt).toBeGreaterThan(100);
    expect(stoppedAt).toBeLessThan(CONVEX_LIMITS.arrayElements);
    expect(first).toMatchObject({ isDone: false, examsMigrated: 0, examsRemaining: 1 });

    // The next call resumes at exactly that position: no entry twice, none skipped.
    const second = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 1 });
    expect(second.alreadyMigrated).toBe(0);
    expect(second.stoppedInsideExam!.nextIndex).toBe(stoppedAt + second.participantsMigrated);
    const indexes = await t.run(async (ctx) =>
      (
        await ctx.db
          .query("examEvents")
          .withIndex("by_exam", (q) => q.eq("examId", examId))
          .collect()
      ).map((e) => e.data.sourceIndex as number),
    );
    expect(indexes.sort((a, b) => a - b)).toEqual(Array.from({ length: second.stoppedInsideExam!.nextIndex }, (_, i) => i));
  });

  it("an exam document near 1 MiB of answers migrates across several calls and verifies", async () => {
    const t = newConvexTest();
    const users = await insertUsers(t, 7);
    const { examId, questionIds } = await seedExam(t, { questions: 1650 });
    const participants = users.map((u) =>
      participant(
        u,
        questionIds.map((questionId, i) => ({ questionId, selectedAnswer: i % 3 === 0 ? "b" : "a", isCorrect: i % 3 !== 0 })),
      ),
    );
    await t.run((ctx) => ctx.db.patch("exams", examId, { participants }));
    const size = await t.run(async (ctx) => getDocumentSize((await ctx.db.get("exams", examId))!));
    expect(size).toBeGreaterThan(0.8 * CONVEX_LIMITS.documentBytes);
    expect(size).toBeLessThan(CONVEX_LIMITS.documentBytes);

    const reports = [];
    for (let i = 0; i < 20; i++) {
      const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 1 });
      reports.push(r);
      if (r.isDone) break;
    }
    expect(reports.length).toBeGreaterThan(1);
    expect(reports.at(-1)!.isDone).toBe(true);
    expect(reports.reduce((n, r) => n + r.answersMigrated, 0)).toBe(7 * 1650);
    const verified = await t.action(internal.migrations.verifyMigrationIntegrity, { examId });
    expect(verified).toMatchObject({
      isValid: true,
      summary: { v1Participants: 7, v2Participants: 7, v1Answers: 11_550, v2Answers: 11_550 },
    });
    // Cleanup re-checks the exam across calls too, then clears it.
    const cleared = [];
    for (let i = 0; i < 20; i++) {
      const r = await t.mutation(internal.migrations.migrateExamParticipants, { clearAfterMigration: true, batchSize: 1 });
      cleared.push(...r.examsCleared);
      expect(r.examsNotCleared).toEqual([]);
      if (r.isDone) break;
    }
    expect(cleared).toEqual([examId]);
    expect((await t.run((ctx) => ctx.db.get("exams", examId)))!.participants).toEqual([]);
  });
});
