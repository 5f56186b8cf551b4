import { describe, expect, it } from "vitest";
import { appendToStream, readStream, readStreamHead } from "../convex/events/store";
import { eventHash } from "../convex/events/hash";
import { parseStoredEvent } from "../convex/events/catalog";
import { errorCode } from "../convex/lib/errors";
import { newConvexTest, seedExam, seedUser, snapshotTables } from "./support/convex";

async function setup() {
  const t = newConvexTest();
  const { examId } = await seedExam(t);
  const { userId } = await seedUser(t, "ada");
  const stream = { examId, userId };
  const meta = { actor: { kind: "user" as const, userId }, origin: "live_v2" as const, commandId: "c1" };
  return { t, stream, meta };
}

describe("appendToStream", () => {
  it("appends with sequence numbers and a hash chain", async () => {
    const { t, stream, meta } = await setup();
    const events = await t.run(async (ctx) => {
      await appendToStream(ctx, stream, 0, [{ type: "ExamStarted", data: { startedAt: 1 } }], meta);
      await appendToStream(ctx, stream, 1, [{ type: "ExamPaused", data: { pausedAt: 2 } }], { ...meta, commandId: "c2" });
      return readStream(ctx, stream);
    });
    expect(events.map((e) => [e.type, e.metadata.version])).toEqual([
      ["ExamStarted", 1],
      ["ExamPaused", 2],
    ]);
    expect(events[0]!.metadata.prevHash).toBe("");
    expect(events[1]!.metadata.prevHash).toBe(events[0]!.metadata.hash);
    const docs = await t.run((ctx) => ctx.db.query("examEvents").collect());
    for (const doc of docs) expect(await eventHash(doc)).toBe(doc.hash);
  });

  it("rejects a stale expected version and writes nothing", async () => {
    const { t, stream, meta } = await setup();
    await t.run((ctx) => appendToStream(ctx, stream, 0, [{ type: "ExamStarted", data: { startedAt: 1 } }], meta));
    const before = await snapshotTables(t);
    const error = await t
      .run((ctx) => appendToStream(ctx, stream, 0, [{ type: "ExamStarted", data: { startedAt: 2 } }], meta))
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe("CONCURRENCY_CONFLICT");
    expect(await snapshotTables(t)).toEqual(before);
  });

  it("with the head its caller read, checks against it and chains from it, reading nothing", async () => {
    // Given a stream of one event whose head the caller has read
    const { t, stream, meta } = await setup();
    await t.run((ctx) => appendToStream(ctx, stream, 0, [{ type: "ExamStarted", data: { startedAt: 1 } }], meta));
    const before = await snapshotTables(t);
    const stale = await t
      .run(async (ctx) => {
        const head = await readStreamHead(ctx, stream);
        return appendToStream(ctx, stream, 0, [{ type: "ExamPaused", data: { pausedAt: 2 } }], { ...meta, head });
      })
      .catch((e: unknown) => e);
    // When the expected version is stale: CONCURRENCY_CONFLICT, nothing written
    expect(errorCode(stale)).toBe("CONCURRENCY_CONFLICT");
    expect(await snapshotTables(t)).toEqual(before);
    // When it is current: the event follows the head, and the append itself read no document
    const { appended, reads } = await t.run(async (ctx) => {
      const head = await readStreamHead(ctx, stream);
      const used = (await ctx.meta.getTransactionMetrics()).documentsRead.used;
      const appended = await appendToStream(ctx, stream, 1, [{ type: "ExamPaused", data: { pausedAt: 2 } }], {
        ...meta,
        commandId: "c2",
        head,
      });
      return { appended, reads: (await ctx.meta.getTransactionMetrics()).documentsRead.used - used };
    });
    expect(reads).toBe(0);
    const events = await t.run((ctx) => readStream(ctx, stream));
    expect(appended.events[0]!.metadata).toMatchObject({ version: 2, prevHash: events[0]!.metadata.hash });
  });

  it("turns a repeated idempotency key into a no-op returning the first result", async () => {
    const { t, stream, meta } = await setup();
    const withKey = { ...meta, idempotencyKey: "start-once" };
    const first = await t.run((ctx) => appendToStream(ctx, stream, 0, [{ type: "ExamStarted", data: { startedAt: 1 } }], withKey));
    const before = await snapshotTables(t);
    // Same key, even with a stale version and other data: nothing is written.
    const second = await t.run((ctx) => appendToStream(ctx, stream, 0, [{ type: "ExamStarted", data: { startedAt: 99 } }], withKey));
    expect(second.duplicate).toBe(true);
    expect(second.version).toBe(first.version);
    expect(second.events.map((e) => e.metadata.eventId)).toEqual(first.events.map((e) => e.metadata.eventId));
    expect(await snapshotTables(t)).toEqual(before);
  });

  it("validates events against the catalog and writes nothing for a bad one", async () => {
    const { t, stream, meta } = await setup();
    const before = await snapshotTables(t);
    const error = await t
      .run((ctx) =>
        appendToStream(
          ctx,
          stream,
          0,
          [
            { type: "ExamStarted", data: { startedAt: 1 } },
            { type: "ExamPaused", data: { pausedAt: "soon" as unknown as number } },
          ],
          meta,
        ),
      )
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe("INVALID_EVENT");
    expect(await snapshotTables(t)).toEqual(before);
  });
});

describe("event catalog", () => {
  it("upcasts ExamPaused v1 ({ at }) to v2 ({ pausedAt })", () => {
    expect(parseStoredEvent({ type: "ExamPaused", schemaVersion: 1, data: { at: 5 } })).toEqual({
      type: "ExamPaused",
      data: { pausedAt: 5 },
    });
  });
  it("rejects unknown types, versions from the future and malformed data", () => {
    for (const stored of [
      { type: "ExamExploded", schemaVersion: 1, data: {} },
      { type: "ExamStarted", schemaVersion: 7, data: { startedAt: 1 } },
      { type: "ExamPaused", schemaVersion: 1, data: { pausedAt: 5 } },
    ]) {
      expect(() => parseStoredEvent(stored)).toThrow();
      try {
        parseStoredEvent(stored);
      } catch (e) {
        expect(errorCode(e)).toBe("INVALID_EVENT");
      }
    }
  });
});
