import { describe, expect, it } from "vitest";
import { executeCommand, importLegacyEntries } from "../convex/attempts/writePath";
import { readStream } from "../convex/events/store";
import { loadStoredAttempt } from "../convex/projections/tables";
import { newConvexTest, seedExam, seedUser, snapshotTables } from "./support/convex";

async function setup() {
  const t = newConvexTest();
  const exam = await seedExam(t);
  const { userId } = await seedUser(t, "ada");
  return { t, exam, userId, stream: { examId: exam.examId, userId } };
}

describe("executeCommand", () => {
  it("records actor, origin and one command id on the events, and projects the row", async () => {
    const { t, userId, stream } = await setup();
    const result = await t.run((ctx) =>
      executeCommand(ctx, {
        stream,
        command: { type: "StartExam", data: { at: 1_000 } },
        actor: { kind: "user", userId },
        origin: "live_v1",
        commandId: "cmd-1",
      }),
    );
    expect(result.events[0]!.metadata).toMatchObject({ actor: { kind: "user", userId }, origin: "live_v1", commandId: "cmd-1" });
    const stored = await t.run((ctx) => loadStoredAttempt(ctx, stream));
    expect(stored.row).toMatchObject({ startedAt: 1_000, version: 1, isPaused: false, pauseCount: 0 });
  });

  it("with a repeated idempotency key returns the first result and writes nothing", async () => {
    const { t, userId, stream } = await setup();
    const run = (at: number) =>
      t.run((ctx) =>
        executeCommand(ctx, {
          stream,
          command: { type: "StartExam", data: { at } },
          actor: { kind: "user", userId },
          origin: "live_v2",
          idempotencyKey: "tab-1:start",
        }),
      );
    const first = await run(1_000);
    const before = await snapshotTables(t);
    const again = await run(2_000);
    expect(again.duplicate).toBe(true);
    expect(again.events.map((e) => e.metadata.eventId)).toEqual(first.events.map((e) => e.metadata.eventId));
    expect(await snapshotTables(t)).toEqual(before);
  });

  it("decides from the log when the projected row was damaged, and repairs the row", async () => {
    const { t, userId, stream } = await setup();
    const act = (type: "StartExam" | "ResumeExam", at: number) =>
      t.run((ctx) => executeCommand(ctx, { stream, command: { type, data: { at } }, actor: { kind: "user", userId }, origin: "live_v2" }));
    await act("StartExam", 1_000);
    await t.run((ctx) =>
      executeCommand(ctx, {
        stream,
        command: { type: "PauseExam", data: { at: 2_000, durationMs: 60_000, maxPauses: 2 } },
        actor: { kind: "user", userId },
        origin: "live_v2",
      }),
    );
    // Someone edits the row behind the application's back: it now claims the attempt is running.
    await t.run(async (ctx) => {
      const { row } = await loadStoredAttempt(ctx, stream);
      await ctx.db.patch("examParticipations", row!._id, { isPaused: false, version: 7 });
    });
    await act("ResumeExam", 5_000); // allowed: the log says the attempt is paused
    const stored = await t.run((ctx) => loadStoredAttempt(ctx, stream));
    expect(stored.row).toMatchObject({ isPaused: false, totalPausedMs: 3_000, pauseCount: 1, version: 3 });
  });
});

describe("importLegacyEntries", () => {
  it("imports the first entry, keeps a later one as a duplicate, and is idempotent", async () => {
    const { t, exam, userId, stream } = await setup();
    const participant = {
      userId,
      score: 5,
      answers: [{ questionId: exam.questionIds[0]!, selectedAnswer: "a", isCorrect: true }],
      startedAt: 100,
      completedAt: 200,
      isPaused: false,
      pauseCount: 0,
      totalPausedMs: 0,
    };
    const entries = [
      { participant, sourceIndex: 0 },
      { participant: { ...participant, score: 0 }, sourceIndex: 4 },
    ];
    const first = await t.run((ctx) => importLegacyEntries(ctx, stream, entries));
    expect(first.eventsWritten).toBe(2);
    const before = await snapshotTables(t);
    const again = await t.run((ctx) => importLegacyEntries(ctx, stream, entries));
    expect(again.eventsWritten).toBe(0);
    expect(await snapshotTables(t)).toEqual(before);
    const events = await t.run((ctx) => readStream(ctx, stream));
    expect(events.map((e) => [e.type, e.metadata.origin])).toEqual([
      ["LegacyParticipantImported", "legacy_import"],
      ["LegacyDuplicateImported", "legacy_import"],
    ]);
    const stored = await t.run((ctx) => loadStoredAttempt(ctx, stream));
    expect(stored.row).toMatchObject({
      score: 5,
      startedAt: 100,
      completedAt: 200,
      legacyEntries: [
        { startedAt: 100, sourceIndex: 0 },
        { startedAt: 100, sourceIndex: 4 },
      ],
    });
    expect(stored.answers).toHaveLength(1);
  });
});
