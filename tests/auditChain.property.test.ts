/** The pure chain check, for every stream and every way of cutting it into batches. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eventHash } from "../convex/events/hash";
import { checkChainBatch, checkProjectionHead, type ChainEvent, type ClosedStream } from "../convex/events/chain";
import type { Issue } from "../convex/lib/issues";

type Step = { type: "ExamStarted" | "ExamPaused" | "ExamResumed"; data: Record<string, number> };

/** A valid attempt stream of `length` events: start, then pause/resume alternately. */
async function chain(streamNo: number, length: number, t0: number): Promise<ChainEvent[]> {
  const events: ChainEvent[] = [];
  let prevHash = "";
  for (let i = 0; i < length; i++) {
    const at = t0 + i * 1000;
    const step: Step =
      i === 0
        ? { type: "ExamStarted", data: { startedAt: at } }
        : i % 2 === 1
          ? { type: "ExamPaused", data: { pausedAt: at } }
          : { type: "ExamResumed", data: { resumedAt: at, pausedMs: 1000 } };
    const content = {
      examId: "exam1",
      userId: `user${streamNo}`,
      version: i + 1,
      ...step,
      schemaVersion: step.type === "ExamPaused" ? 2 : 1,
      actor: { kind: "system", name: "test" },
      origin: "live_v2",
      commandId: `c${streamNo}-${i}`,
      recordedAt: at,
      prevHash,
    };
    const hash = await eventHash(content);
    events.push({ ...content, eventId: `e${streamNo}-${i}`, hash });
    prevHash = hash;
  }
  return events;
}

/** Runs the check over `events` cut at `cuts`; returns the issues and the closed streams' heads. */
async function check(events: ChainEvent[], cuts: number[]) {
  const bounds = [...new Set([0, ...cuts.map((c) => c % (events.length + 1)), events.length])].sort((a, b) => a - b);
  const issues: Issue[] = [];
  const closed: ClosedStream[] = [];
  let open = null;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const result = await checkChainBatch(events.slice(bounds[i], bounds[i + 1]), open, i + 2 === bounds.length);
    issues.push(...result.issues);
    closed.push(...result.closed);
    open = result.open;
  }
  return { issues, closed };
}

const arbStreams = fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 3 });
const arbCuts = fc.array(fc.nat(30), { maxLength: 4 });

async function streamsOf(lengths: number[]) {
  return (await Promise.all(lengths.map((n, s) => chain(s, n, 1_000_000 * (s + 1))))).flat();
}

describe("checkChainBatch", () => {
  it("reports nothing on untouched streams, however they are cut into batches, and closes each at its head", async () => {
    await fc.assert(
      fc.asyncProperty(arbStreams, arbCuts, async (lengths, cuts) => {
        const events = await streamsOf(lengths);
        const { issues, closed } = await check(events, cuts);
        expect(issues).toEqual([]);
        expect(closed.map((c) => [c.userId, c.version, c.events])).toEqual(lengths.map((n, s) => [`user${s}`, n, n]));
      }),
      { numRuns: 60 },
    );
  });

  it("names every single edit, removal or insertion (a removed head through the projection row)", async () => {
    await fc.assert(
      fc.asyncProperty(arbStreams, arbCuts, fc.nat(), fc.constantFrom("edit", "remove", "insert"), async (lengths, cuts, pick, tamper) => {
        const events = await streamsOf(lengths);
        const original = await check(events, []);
        const target = events[pick % events.length]!;
        const index = events.indexOf(target);
        const tampered = [...events];
        if (tamper === "edit") tampered[index] = { ...target, recordedAt: target.recordedAt + 1 };
        if (tamper === "remove") tampered.splice(index, 1);
        if (tamper === "insert") tampered.splice(index + 1, 0, { ...target, eventId: "inserted", commandId: "forged" });
        const { issues, closed } = await check(tampered, cuts);
        const rowIssues = original.closed.flatMap((head) => {
          const now = closed.find((c) => c.userId === head.userId);
          return now === undefined ? [] : checkProjectionHead(now, { version: head.version, lastEventHash: head.hash });
        });
        const all = [...issues, ...rowIssues];
        const next = events[index + 1];
        const isHead = next === undefined || next.userId !== target.userId;
        if (tamper === "edit") expect(all).toContainEqual(expect.objectContaining({ kind: "hash_mismatch", eventId: target.eventId }));
        if (tamper === "insert") expect(all).toContainEqual(expect.objectContaining({ eventId: "inserted" }));
        if (tamper === "remove" && !isHead) {
          expect(all).toContainEqual(expect.objectContaining({ kind: "missing_versions", eventId: next!.eventId }));
        }
        if (tamper === "remove" && isHead && target.version > 1) {
          expect(all).toContainEqual(expect.objectContaining({ kind: "projection_head_mismatch", userId: target.userId }));
        }
        // (Removing a one-event stream leaves no events: the row scan reports it, not the chain.)
        for (const issue of all) expect(issue.userId).toBe(target.userId);
      }),
      { numRuns: 150 },
    );
  });
});
