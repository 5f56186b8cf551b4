/**
 * Test support shared by every suite: a convex-test instance with Convex's
 * limits (halved, as operator batches must fit in half), seed helpers, and a
 * snapshot of every table for "a rejected call changes nothing".
 */
import { convexTest } from "convex-test";
import { afterEach, beforeEach, vi } from "vitest";
import schema from "../../convex/schema";
import type { Doc, Id, TableNames } from "../../convex/_generated/dataModel";
import { HALF_TRANSACTION_LIMITS } from "../../convex/lib/limits";
import { IndexedDatabaseFake } from "../../src/runtime/indexedDatabase";
import type { V1Participant } from "../../convex/lib/validators";

export const modules = import.meta.glob("../../convex/**/*.*s");

/**
 * A fresh in-memory Convex with every per-transaction limit enforced at half of
 * Convex's, on the index-aware database the rehearsal uses (so the suites run
 * the runtime the figures come from; tests/indexedDatabase.property.test.ts
 * holds it to convex-test's own scan).
 */
export function newConvexTest() {
  return convexTest({ schema, modules, transactionLimits: HALF_TRANSACTION_LIMITS, DatabaseFake: IndexedDatabaseFake });
}
export type TestConvex = ReturnType<typeof newConvexTest>;

export type SeededUser = { userId: Id<"users">; tokenIdentifier: string; as: ReturnType<TestConvex["withIdentity"]> };

export async function seedUser(t: TestConvex, name: string, role: "student" | "admin" = "student"): Promise<SeededUser> {
  const tokenIdentifier = `test|${name}`;
  const userId = await t.run((ctx) => ctx.db.insert("users", { name, tokenIdentifier, role }));
  return { userId, tokenIdentifier, as: t.withIdentity({ tokenIdentifier, subject: name, name }) };
}

export type SeedExamOptions = {
  title?: string;
  questions?: number;
  options?: string[];
  durationMs?: number;
  maxPauses?: number;
  participants?: V1Participant[];
  points?: (i: number) => number | undefined;
};

export type SeededExam = { examId: Id<"exams">; questionIds: Id<"questions">[]; questions: Doc<"questions">[] };

/** An exam with `questions` questions whose correct answer is always the first option. */
export async function seedExam(t: TestConvex, o: SeedExamOptions = {}): Promise<SeededExam> {
  return t.run(async (ctx) => {
    const options = o.options ?? ["a", "b", "c", "d"];
    const questionIds: Id<"questions">[] = [];
    for (let i = 0; i < (o.questions ?? 3); i++) {
      const points = o.points?.(i);
      questionIds.push(
        await ctx.db.insert("questions", {
          text: `Question ${i + 1}`,
          options,
          correctAnswer: options[0]!,
          ...(points === undefined ? {} : { points }),
        }),
      );
    }
    const examId = await ctx.db.insert("exams", {
      title: o.title ?? "Exam",
      questionIds,
      durationMs: o.durationMs ?? 60 * 60_000,
      maxPauses: o.maxPauses ?? 2,
      ...(o.participants === undefined ? {} : { participants: o.participants }),
    });
    const questions = await Promise.all(questionIds.map(async (id) => (await ctx.db.get("questions", id))!));
    return { examId, questionIds, questions };
  });
}

/** A legacy V1 participant entry: started at `startedAt`, no answers, not paused, score 0; `fields` override. */
export function legacyEntry(userId: Id<"users">, startedAt: number, fields: Partial<V1Participant> = {}): V1Participant {
  return { userId, score: 0, answers: [], startedAt, isPaused: false, pauseCount: 0, totalPausedMs: 0, ...fields };
}

export const TABLES = Object.keys(schema.tables) as TableNames[];

/** Every document of every table, for comparing the database before and after a call. */
export async function snapshotTables(t: TestConvex): Promise<Record<string, unknown[]>> {
  return t.run(async (ctx) => {
    const out: Record<string, unknown[]> = {};
    for (const table of TABLES) out[table] = await ctx.db.query(table).collect();
    return out;
  });
}

/**
 * The fake clock's default start, before every time the suites use: convex-test
 * (like Convex) never lets `_creationTime` go backwards, so documents seeded at
 * the real time would push every later one past the suite's fake times.
 */
export const FAKE_CLOCK_START = Date.UTC(2026, 0, 1);

/**
 * Fake Date and timers for every test of the calling suite, starting at `start`. Scheduled functions
 * (the legacy mirror's job) then run only when a test says so ({@link runScheduled}): every suite is
 * deterministic whatever the job would do in between.
 */
export function useFakeClock(start: number = FAKE_CLOCK_START) {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    vi.setSystemTime(start);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** Runs every scheduled function (the mirror's jobs), advancing the fake clock as their delays require. */
export async function runScheduled(t: TestConvex): Promise<void> {
  await t.finishAllScheduledFunctions(() => vi.runAllTimers());
}
