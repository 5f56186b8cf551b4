/**
 * The event hash's building blocks, rewritten for speed, must give exactly the
 * text and digest they gave before: stored hash chains depend on it.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { canonicalJson, eventHash, type HashedEventContent } from "../convex/events/hash";

/**
 * canonicalJson as first written (entries, filter, sort, map, join): the reference. Non-finite
 * numbers, which it refused (so no stored hash covers one), are spelled as Convex's JSON tags them.
 */
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return `{"$float":"${value}"}`;
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) return `[${value.map(referenceCanonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${referenceCanonicalJson(v)}`).join(",")}}`;
}

function outcome(f: () => string): string {
  try {
    return f();
  } catch (error) {
    return `throws ${String(error)}`;
  }
}

async function subtleHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("event hash building blocks", () => {
  it("canonicalJson gives the reference text for every JSON-like value (holes, undefined, odd keys included)", () => {
    const values = fc.anything({
      withSparseArray: true,
      withNullPrototype: true,
      withDate: true,
      maxDepth: 4,
    });
    fc.assert(
      fc.property(values, (value) => {
        expect(outcome(() => canonicalJson(value))).toBe(outcome(() => referenceCanonicalJson(value)));
      }),
      { numRuns: 2000 },
    );
    expect(canonicalJson({ b: 1, a: [undefined, { d: undefined, c: "é\n" }] })).toBe('{"a":[null,{"c":"é\\n"}],"b":1}');
  });

  it("NaN and ±Infinity (values V1 may store) hash as themselves: never equal to null, to each other or to a string", () => {
    const texts = [NaN, Infinity, -Infinity, null, "NaN"].map((score) => canonicalJson({ score }));
    expect(texts).toEqual([
      '{"score":{"$float":"NaN"}}',
      '{"score":{"$float":"Infinity"}}',
      '{"score":{"$float":"-Infinity"}}',
      '{"score":null}',
      '{"score":"NaN"}',
    ]);
    expect(canonicalJson({ score: NaN })).toBe(canonicalJson({ score: Number("x") }));
  });

  it("eventHash is Web Crypto's SHA-256 of the canonical JSON, for any event content", async () => {
    const text = fc.string({ unit: "binary", maxLength: 40 });
    const content: fc.Arbitrary<HashedEventContent> = fc.record(
      {
        examId: text,
        userId: text,
        version: fc.nat(),
        type: text,
        schemaVersion: fc.nat(5),
        data: fc.jsonValue({ maxDepth: 3 }),
        actor: fc.record({ kind: fc.constant("user"), userId: text }),
        origin: text,
        commandId: text,
        idempotencyKey: text,
        recordedAt: fc.nat(),
        prevHash: fc.stringMatching(/^[0-9a-f]{64}$/),
      },
      {
        requiredKeys: [
          "examId",
          "userId",
          "version",
          "type",
          "schemaVersion",
          "data",
          "actor",
          "origin",
          "commandId",
          "recordedAt",
          "prevHash",
        ],
      },
    );
    await fc.assert(
      fc.asyncProperty(content, async (c) => {
        expect(await eventHash(c)).toBe(await subtleHex(new TextEncoder().encode(canonicalJson(c))));
      }),
      { numRuns: 500 },
    );
  });
});
