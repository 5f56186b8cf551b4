import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { convexToJson, type Value } from "convex/values";
import { canonicalJson } from "../convex/events/hash";
import { sameValue } from "../convex/lib/values";

/** Convex values of every type, numbers drawn where they differ: NaN, ±0, ±Infinity. */
const leaf = fc.oneof(
  fc.constantFrom(0, -0, Number.NaN, Infinity, -Infinity, 1, 1n, 0n, null, true, false, "", "a"),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.string({ maxLength: 3 }),
  fc.uint8Array({ maxLength: 3 }).map((b) => b.buffer as ArrayBuffer),
);
const value: fc.Arbitrary<Value> = fc.letrec<{ v: Value }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    leaf,
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "b", "c"), tie("v"), { maxKeys: 3 }),
  ),
})).v;

/** Convex's own equality: the same value has the same JSON encoding, keys aside. */
const convexEqual = (a: Value, b: Value) => canonicalJson(convexToJson(a)) === canonicalJson(convexToJson(b));

describe("sameValue: stored values compared as Convex compares them", () => {
  it("NaN equals NaN, −0 and 0 differ, an int64 is not a float, an undefined field is no field", () => {
    expect(sameValue({ score: Number.NaN }, { score: Number.NaN })).toBe(true);
    expect(sameValue(-0, 0)).toBe(false);
    expect(sameValue([0], [-0])).toBe(false);
    expect(sameValue({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameValue(1n, 1)).toBe(false);
    expect(sameValue(new Uint8Array([1, 2]).buffer, new Uint8Array([1, 2]).buffer)).toBe(true);
    expect(sameValue(new Uint8Array([1, 2]).buffer, new Uint8Array([1, 3]).buffer)).toBe(false);
  });

  it("agrees with Convex's encoding for every pair of values (equal pairs drawn often)", () => {
    fc.assert(
      fc.property(value, value, fc.boolean(), (a, b, same) => {
        const other = same ? structuredClone(a) : b;
        expect(sameValue(a, other)).toBe(convexEqual(a, other));
      }),
      { numRuns: 3000 },
    );
  });
});
