import { describe, expect, it } from "vitest";
import { internal } from "../convex/_generated/api";
import type { Doc, Id } from "../convex/_generated/dataModel";
import { eventHash } from "../convex/events/hash";
import { errorCode } from "../convex/lib/errors";
import { newConvexTest, seedExam, seedUser, useFakeClock, type TestConvex } from "./support/convex";
import { MINUTE, T0, attemptDriver, verifyWholeChain } from "./support/audit";

useFakeClock();

/** Two exams; ada has 5 events in exam 1 (the target of tampering), bob 3 there and ada 1 in exam 2. */
async function setup() {
  const t = newConvexTest();
  const exam = await seedExam(t, { maxPauses: 10 });
  const other = await seedExam(t, { title: "Other" });
  const ada = await seedUser(t, "ada");
  const bob = await seedUser(t, "bob");
  const a = attemptDriver(t, exam, ada.userId);
  const b = attemptDriver(t, exam, bob.userId);
  await a.start(T0);
  await b.start(T0 + 1);
  await a.pause(T0 + MINUTE);
  await a.resume(T0 + 2 * MINUTE);
  await b.pause(T0 + 2 * MINUTE + 1);
  await a.pause(T0 + 3 * MINUTE);
  await a.resume(T0 + 4 * MINUTE);
  await b.resume(T0 + 4 * MINUTE + 1);
  await attemptDriver(t, other, ada.userId).start(T0 + 5 * MINUTE);
  const events = await t.run((ctx) =>
    ctx.db
      .query("examEvents")
      .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", exam.examId).eq("userId", ada.userId))
      .collect(),
  );
  return { t, exam, other, ada, bob, events };
}

/** The stored content of an event with its hash recomputed, as a careful tamperer would. */
async function rehashed(fields: Omit<Doc<"examEvents">, "_id" | "_creationTime" | "hash">) {
  return { ...fields, hash: await eventHash(fields) };
}

function contentOf(doc: Doc<"examEvents">) {
  const { _id: _i, _creationTime: _c, hash: _h, ...fields } = doc;
  return fields;
}

async function participationOf(t: TestConvex, examId: Id<"exams">, userId: Id<"users">) {
  return t.run(
    async (ctx) =>
      (await ctx.db
        .query("examParticipations")
        .withIndex("by_exam_and_user", (q) => q.eq("examId", examId).eq("userId", userId))
        .unique())!,
  );
}

describe("verifyAuditChain", () => {
  it("reports nothing on an untouched log, whole or per exam, in one call or many", async () => {
    const { t, exam } = await setup();
    const whole = await verifyWholeChain(t);
    expect(whole.issues).toEqual([]);
    expect(whole.totals).toEqual({ eventsChecked: 9, streamsChecked: 3, rowsChecked: 3 });
    const small = await verifyWholeChain(t, { batchSize: 2 }); // streams cut across calls
    expect(small.issues).toEqual([]);
    expect(small.calls).toBeGreaterThan(5);
    expect(small.totals).toEqual(whole.totals);
    const oneExam = await verifyWholeChain(t, { examId: exam.examId, batchSize: 3 });
    expect(oneExam.issues).toEqual([]);
    expect(oneExam.totals).toEqual({ eventsChecked: 8, streamsChecked: 2, rowsChecked: 2 });
  });

  it("names an event edited without recomputing its hash", async () => {
    const { t, events } = await setup();
    const paused = events[1]!;
    await t.run((ctx) => ctx.db.patch("examEvents", paused._id, { data: { pausedAt: T0 + 90_000 } }));
    const { issues } = await verifyWholeChain(t, { batchSize: 2 });
    expect(issues).toEqual([
      expect.objectContaining({ kind: "hash_mismatch", examId: paused.examId, userId: paused.userId, version: 2, eventId: paused._id }),
    ]);
  });

  it("names the event after one edited with its own hash recomputed (the link breaks)", async () => {
    const { t, events } = await setup();
    const paused = events[1]!;
    await t.run(async (ctx) =>
      ctx.db.replace("examEvents", paused._id, await rehashed({ ...contentOf(paused), data: { pausedAt: T0 + 90_000 } })),
    );
    const { issues } = await verifyWholeChain(t);
    expect(issues).toEqual([expect.objectContaining({ kind: "broken_link", version: 3, eventId: events[2]!._id })]);
  });

  it("names an event removed from the middle of a stream", async () => {
    const { t, events } = await setup();
    await t.run((ctx) => ctx.db.delete("examEvents", events[2]!._id));
    const { issues } = await verifyWholeChain(t);
    expect(issues).toEqual([expect.objectContaining({ kind: "missing_versions", version: 4, eventId: events[3]!._id })]);
    expect(issues[0]!.message).toContain("v3 missing");
  });

  it("sees the removal of a stream's last event only through the projection row", async () => {
    const { t, events, exam, ada } = await setup();
    const last = events[4]!;
    await t.run((ctx) => ctx.db.delete("examEvents", last._id));
    const { issues } = await verifyWholeChain(t);
    expect(issues).toEqual([
      expect.objectContaining({ kind: "projection_head_mismatch", examId: exam.examId, userId: ada.userId, version: 4 }),
    ]);
    expect(issues[0]!.message).toMatch(/reflects v5 .* head is v4/);
  });

  it("names an inserted event that repeats a version", async () => {
    const { t, events } = await setup();
    const copy = events[2]!;
    const inserted = await t.run(async (ctx) =>
      ctx.db.insert("examEvents", await rehashed({ ...contentOf(copy), data: { resumedAt: T0 + 2 * MINUTE, pausedMs: 0 } })),
    );
    const { issues } = await verifyWholeChain(t);
    expect(issues).toEqual([expect.objectContaining({ kind: "duplicate_version", version: 3, eventId: inserted })]);
  });

  it("names an event inserted with a version that cannot follow", async () => {
    const { t, events } = await setup();
    const inserted = await t.run(async (ctx) => ctx.db.insert("examEvents", { ...contentOf(events[1]!), version: 2.5, hash: "x" }));
    const { issues } = await verifyWholeChain(t);
    expect(issues.map((i) => [i.kind, i.eventId])).toEqual([
      ["hash_mismatch", inserted],
      ["unexpected_version", inserted],
    ]);
  });

  it("catches an event appended at the head with a consistent hash through the projection row", async () => {
    const { t, events } = await setup();
    const head = events[4]!;
    await t.run(async (ctx) =>
      ctx.db.insert(
        "examEvents",
        await rehashed({
          ...contentOf(head),
          version: 6,
          type: "ExamPaused",
          schemaVersion: 2,
          data: { pausedAt: T0 + 9 * MINUTE },
          prevHash: head.hash,
        }),
      ),
    );
    const { issues } = await verifyWholeChain(t);
    expect(issues).toEqual([expect.objectContaining({ kind: "projection_head_mismatch", version: 6 })]);
  });

  it("names an edited type the catalog cannot read", async () => {
    const { t, events } = await setup();
    await t.run((ctx) => ctx.db.patch("examEvents", events[1]!._id, { type: "ExamCancelled" }));
    const { issues } = await verifyWholeChain(t);
    expect(issues.map((i) => [i.kind, i.version])).toEqual([
      ["hash_mismatch", 2],
      ["unreadable_event", 2],
    ]);
  });

  it("names a projection row that was edited, removed, or whose whole stream was deleted", async () => {
    const { t, exam, other, ada, bob } = await setup();
    const adaRow = await participationOf(t, exam.examId, ada.userId);
    const bobRow = await participationOf(t, exam.examId, bob.userId);
    await t.run(async (ctx) => {
      await ctx.db.patch("examParticipations", adaRow._id, { version: 4 }); // edited row
      await ctx.db.delete("examParticipations", bobRow._id); // removed row
      const otherEvents = await ctx.db
        .query("examEvents")
        .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", other.examId).eq("userId", ada.userId))
        .collect();
      for (const e of otherEvents) await ctx.db.delete("examEvents", e._id); // a whole stream, its row kept
    });
    const { issues } = await verifyWholeChain(t, { batchSize: 4 });
    expect(issues.map((i) => [i.kind, i.examId, i.userId])).toEqual([
      ["projection_head_mismatch", exam.examId, ada.userId],
      ["missing_projection_row", exam.examId, bob.userId],
      ["projection_row_without_events", other.examId, ada.userId],
    ]);
  });

  it("rejects a cursor from a check of another exam", async () => {
    const { t, exam, other } = await setup();
    const first = await t.query(internal.audit.verifyAuditChain, { examId: exam.examId, batchSize: 1 });
    const error = await t
      .query(internal.audit.verifyAuditChain, { examId: other.examId, cursor: first.continueCursor })
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe("INVALID_ARGUMENT");
  });
});
