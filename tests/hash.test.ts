/**
 * The event hash's building blocks, rewritten for speed, must give exactly the
 * text and digest they gave before: stored hash chains depend on it.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { canonicalJson } from "../convex/events/hash";
import { sha256Hex } from "../convex/events/sha256";

/**
 * canonicalJson as first written (entries, filter, sort, map, join): the reference. Non-finite
 * numbers, which it refused (so no stored hash covers one), are spelled as Convex's JSON tags them.
 */
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return `{"$float":"${value}"}`;
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value))
    return `[${value.map(referenceCanonicalJson).join(",")}]`;
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
  return Array.from(new Uint8Array(digest), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
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
        expect(outcome(() => canonicalJson(value))).toBe(
          outcome(() => referenceCanonicalJson(value)),
        );
      }),
      { numRuns: 2000 },
    );
    expect(
      canonicalJson({ b: 1, a: [undefined, { d: undefined, c: "é\n" }] }),
    ).toBe('{"a":[null,{"c":"é\\n"}],"b":1}');
  });

  it("NaN and ±Infinity (values V1 may store) hash as themselves: never equal to null, to each other or to a string", () => {
    const texts = [NaN, Infinity, -Infinity, null, "NaN"].map((score) => canonicalJson({ score }));
    expect(texts).toEqual(['{"score":{"$float":"NaN"}}', '{"score":{"$float":"Infinity"}}', '{"score":{"$float":"-Infinity"}}', '{"score":null}', '{"score":"NaN"}']);
    expect(canonicalJson({ score: NaN })).toBe(canonicalJson({ score: Number("x") }));
  });

  it("sha256Hex equals Web Crypto's SHA-256 for any bytes, across block boundaries", async () => {
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const bytes = Uint8Array.from(
        { length },
        (_, i) => (i * 31 + length) & 0xff,
      );
      expect(sha256Hex(bytes)).toBe(await subtleHex(bytes));
    }
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 3000 }),
        async (generated) => {
          const bytes = Uint8Array.from(generated);
          expect(sha256Hex(bytes)).toBe(await subtleHex(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });
});
