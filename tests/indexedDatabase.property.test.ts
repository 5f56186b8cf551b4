/**
 * For every history of writes and reads: IndexedDatabaseFake (index ranges from
 * sorted trees) returns exactly what convex-test's own scan returns, in the
 * same order, with the same transaction metrics — committed and pending
 * writes, rolled-back transactions, queries left open across a write, every
 * range operator, both orders, first / take / collect / paginate.
 */
import fc from "fast-check";
import { convexTest, documentReplyInternals } from "convex-test";
import { defineSchema, defineTable, internalMutationGeneric, makeFunctionReference } from "convex/server";
import { jsonToConvex, v, type Value } from "convex/values";
import { describe, expect, it, vi } from "vitest";
import { IndexedDatabaseFake } from "../src/runtime/indexedDatabase";
import { modules as projectModules } from "./support/convex";

/** A child mutation, called with ctx.runMutation: its writes roll back alone when it throws. */
const child = internalMutationGeneric({
  args: { a: v.number(), fails: v.boolean() },
  handler: async (ctx, { a, fails }) => {
    const id = await ctx.db.insert("items", { a });
    const first = await ctx.db
      .query("items")
      .withIndex("by_a", (q) => q.eq("a", a))
      .first();
    if (first !== null) await ctx.db.patch("items", first._id, { b: "bb" });
    if (fails) throw new Error("child rolled back");
    return id;
  },
});
const generated = Object.keys(projectModules).find((path) => path.includes("_generated"))!;
const modules = { ...projectModules, [`${generated.split("_generated")[0]}indexedDatabaseChild.ts`]: async () => ({ child }) };
const childRef = makeFunctionReference<"mutation", { a: number; fails: boolean }>("indexedDatabaseChild:child");

const schema = defineSchema({
  items: defineTable({
    a: v.number(),
    b: v.optional(v.string()),
    c: v.optional(v.union(v.null(), v.number(), v.string(), v.boolean())),
    n: v.optional(v.object({ x: v.number() })),
  })
    .index("by_a", ["a"])
    .index("by_b_and_a", ["b", "a"])
    .index("by_c", ["c"])
    .index("by_a_and_b_and_c", ["a", "b", "c"])
    .index("by_n_x", ["n.x"]),
  others: defineTable({ a: v.number() }).index("by_a", ["a"]),
});

const INDEXES = {
  by_a: ["a"],
  by_b_and_a: ["b", "a"],
  by_c: ["c"],
  by_a_and_b_and_c: ["a", "b", "c"],
  by_n_x: ["n.x"],
  by_creation_time: ["_creationTime"],
} as const;
type IndexName = keyof typeof INDEXES;

// Few distinct values, so that equal keys, ties and boundaries are common.
const num = fc.constantFrom(-1, 0, 1, 2, 2.5, 3);
const str = fc.constantFrom("", "a", "b", "bb");
const fields = fc.record(
  {
    a: num,
    b: str,
    c: fc.oneof(fc.constant(null), num, str, fc.boolean()),
    n: fc.record({ x: num }),
  },
  { requiredKeys: ["a"] },
);
type Fields = { a: number; b?: string; c?: Value; n?: { x: number } };

type Bound = { op: "gt" | "gte" | "lt" | "lte"; value: Value | undefined };
type Read = {
  table: "items" | "others";
  index: IndexName;
  eqs: (Value | undefined)[];
  lower?: Bound;
  upper?: Bound;
  order: "asc" | "desc";
  how: { kind: "collect" } | { kind: "first" } | { kind: "take"; n: number } | { kind: "paginate"; numItems: number; pages: number };
  filterA?: number;
};
type Op =
  | { kind: "insert"; table: "items" | "others"; fields: Fields }
  | { kind: "patch"; target: number; fields: Partial<Fields> }
  | { kind: "replace"; target: number; fields: Fields }
  | { kind: "delete"; target: number }
  | { kind: "read"; read: Read }
  | { kind: "readAcrossWrite"; read: Read; after: number; write: Fields }
  | { kind: "nested"; a: number; fails: boolean };

const valueFor = (field: string): fc.Arbitrary<Value | undefined> =>
  field === "b"
    ? fc.oneof(str, fc.constant(undefined))
    : field === "c"
      ? fc.oneof(fc.constant(null), num, str, fc.boolean(), fc.constant(undefined))
      : field === "_creationTime"
        ? fc.integer({ min: 0, max: 40 }).map((k) => T0 + k)
        : num;

const T0 = Date.UTC(2026, 0, 1);

const read: fc.Arbitrary<Read> = fc
  .record({
    index: fc.constantFrom(...(Object.keys(INDEXES) as IndexName[])),
    others: fc.boolean(),
    eqCount: fc.nat(3),
    lowerOp: fc.constantFrom(undefined, "gt", "gte"),
    upperOp: fc.constantFrom(undefined, "lt", "lte"),
    order: fc.constantFrom("asc", "desc"),
    how: fc.oneof(
      fc.constant({ kind: "collect" as const }),
      fc.constant({ kind: "first" as const }),
      fc.record({ kind: fc.constant("take" as const), n: fc.integer({ min: 0, max: 4 }) }),
      fc.record({
        kind: fc.constant("paginate" as const),
        numItems: fc.integer({ min: 1, max: 3 }),
        pages: fc.integer({ min: 1, max: 4 }),
      }),
    ),
    filterA: fc.option(num, { nil: undefined }),
    seed: fc.array(fc.oneof(num, str, fc.constant(null), fc.constant(undefined)), { minLength: 6, maxLength: 6 }),
  })
  .chain((r) => {
    const table = r.others && (r.index === "by_a" || r.index === "by_creation_time") ? "others" : "items";
    const keyFields = INDEXES[r.index];
    const eqCount = Math.min(r.eqCount, keyFields.length);
    const rangeField = keyFields[eqCount];
    return fc
      .record({
        eqs: fc.tuple(...keyFields.slice(0, eqCount).map(valueFor)),
        lower: rangeField && r.lowerOp ? valueFor(rangeField) : fc.constant(undefined),
        upper: rangeField && r.upperOp ? valueFor(rangeField) : fc.constant(undefined),
      })
      .map(({ eqs, lower, upper }) => ({
        table,
        index: r.index,
        eqs: eqs as (Value | undefined)[],
        ...(rangeField && r.lowerOp ? { lower: { op: r.lowerOp, value: lower } } : {}),
        ...(rangeField && r.upperOp ? { upper: { op: r.upperOp, value: upper } } : {}),
        order: r.order,
        how: r.how,
        ...(r.filterA === undefined ? {} : { filterA: r.filterA }),
      })) as fc.Arbitrary<Read>;
  });

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      table: fc.constantFrom("items" as const, "items" as const, "others" as const),
      fields,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("patch" as const),
      target: fc.nat(),
      fields: fc.record({ a: num, b: str, n: fc.record({ x: num }) }, { requiredKeys: [] }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replace" as const), target: fc.nat(), fields }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), target: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("read" as const), read }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("readAcrossWrite" as const), read, after: fc.nat(3), write: fields }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("nested" as const), a: num, fails: fc.boolean() }) },
);
/** A transaction: its operations, and whether it throws at the end (rolled back). */
const transaction = fc.record({ ops: fc.array(op, { maxLength: 8 }), fails: fc.boolean() });

type Ctx = Parameters<Parameters<ReturnType<typeof convexTest>["run"]>[0]>[0];
/* eslint-disable @typescript-eslint/no-explicit-any -- the test drives both databases through the same untyped schema-generic ctx */
function rangeOf(r: Read) {
  return (q: any) => {
    const keyFields = INDEXES[r.index];
    let b = q;
    r.eqs.forEach((value, i) => (b = b.eq(keyFields[i], value)));
    const field = keyFields[r.eqs.length];
    if (r.lower) b = b[r.lower.op](field, r.lower.value);
    if (r.upper) b = b[r.upper.op](field, r.upper.value);
    return b;
  };
}
function queryOf(ctx: Ctx, r: Read) {
  const db = ctx.db as any;
  let q =
    r.index === "by_creation_time" && r.eqs.length === 0 && !r.lower && !r.upper
      ? db.query(r.table)
      : db.query(r.table).withIndex(r.index, rangeOf(r));
  q = q.order(r.order);
  if (r.filterA !== undefined) q = q.filter((f: any) => f.neq(f.field("a"), r.filterA));
  return q;
}
async function runRead(ctx: Ctx, r: Read): Promise<unknown> {
  const q = queryOf(ctx, r);
  switch (r.how.kind) {
    case "collect":
      return q.collect();
    case "first":
      return q.first();
    case "take":
      return q.take(r.how.n);
    case "paginate": {
      const pages = [];
      let cursor: string | null = null;
      for (let i = 0; i < r.how.pages; i++) {
        const page: { page: unknown[]; isDone: boolean; continueCursor: string } = await queryOf(ctx, r).paginate({
          numItems: r.how.numItems,
          cursor,
        });
        pages.push(page);
        if (page.isDone) break;
        cursor = page.continueCursor;
      }
      return pages;
    }
  }
}

async function runTransaction(t: ReturnType<typeof convexTest>, tx: { ops: Op[]; fails: boolean }) {
  const seen: unknown[] = [];
  try {
    await t.run(async (ctx) => {
      const ids = async () => [...(await ctx.db.query("items" as any).collect()).map((d: any) => d._id)];
      for (const o of tx.ops) {
        const db = ctx.db as any;
        if (o.kind === "insert") seen.push(await db.insert(o.table, o.fields));
        else if (o.kind === "nested")
          seen.push(await ctx.runMutation(childRef, { a: o.a, fails: o.fails }).catch((e: Error) => `child error: ${e.message}`));
        else if (o.kind === "read") seen.push(await runRead(ctx, o.read));
        else if (o.kind === "readAcrossWrite") {
          // A query read partly, then a write to its table, then the rest: the query keeps its snapshot.
          const got: unknown[] = [];
          const it = queryOf(ctx, o.read)[Symbol.asyncIterator]();
          for (let i = 0; i < o.after; i++) {
            const r = await it.next();
            if (r.done) break;
            got.push(r.value);
          }
          seen.push(await db.insert(o.read.table, o.read.table === "others" ? { a: o.write.a } : o.write));
          for (let r = await it.next(); !r.done; r = await it.next()) got.push(r.value);
          seen.push(got);
        } else {
          const all = await ids();
          if (all.length === 0) continue;
          const id = all[o.target % all.length];
          if (o.kind === "patch") await db.patch("items", id, o.fields);
          else if (o.kind === "replace") await db.replace("items", id, o.fields);
          else await db.delete("items", id);
        }
      }
      seen.push(await ctx.meta.getTransactionMetrics());
      if (tx.fails) throw new Error("rolled back");
    });
  } catch (e) {
    seen.push(`error: ${(e as Error).message}`);
  }
  return seen;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

describe("IndexedDatabaseFake", () => {
  it("returns what convex-test's scan returns, in order, with the same metrics, for every history", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(transaction, { minLength: 1, maxLength: 8 }), async (history) => {
          vi.setSystemTime(T0);
          const scan = convexTest({ schema, modules, transactionLimits: true });
          const indexed = convexTest({ schema, modules, transactionLimits: true, DatabaseFake: IndexedDatabaseFake });
          for (const tx of history) {
            // Same clock for both: equal ids and creation times.
            const now = Date.now();
            const expected = await runTransaction(scan, tx);
            vi.setSystemTime(now);
            const actual = await runTransaction(indexed, tx);
            expect(actual).toEqual(expected);
            vi.setSystemTime(now + 7);
          }
        }),
        { numRuns: 150 },
      );
    } finally {
      vi.useRealTimers();
    }
  });

  it("rejects what convex-test rejects: an undeclared index, a range on the wrong field", async () => {
    const indexed = convexTest({ schema, modules, DatabaseFake: IndexedDatabaseFake });
    /* eslint-disable @typescript-eslint/no-explicit-any */
    await expect(indexed.run((ctx) => (ctx.db as any).query("items").withIndex("by_nothing").collect())).rejects.toThrow(
      /not declared in the schema/,
    );
    await expect(
      indexed.run((ctx) =>
        (ctx.db as any)
          .query("items")
          .withIndex("by_b_and_a", (q: any) => q.eq("a", 1))
          .collect(),
      ),
    ).rejects.toThrow(/Incorrect field used in `withIndex`/);
    /* eslint-enable @typescript-eslint/no-explicit-any */
  });
});

/** A value's full shape, key order included: numbers as -0 / NaN / ±Infinity are told apart, bytes and bigints spelled out. */
function shape(value: unknown): unknown {
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : Number.isFinite(value) ? value : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value instanceof ArrayBuffer) return { bytes: [...new Uint8Array(value)] };
  if (Array.isArray(value)) return value.map(shape);
  if (typeof value === "object" && value !== null) return Object.keys(value).map((k) => [k, shape((value as Record<string, unknown>)[k])]);
  return value;
}

/** Stored field values: every Convex type, nested, and undefined fields (a patch that removed a field leaves one). */
const storedValue = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.string({ unit: "binary" }),
    fc.uint8Array({ maxLength: 4 }).map((bytes) => new Uint8Array(bytes).buffer),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom("a", "B", "b", "z", "_x", "10", "2", "a-b"), fc.option(tie("value"), { nil: undefined }), { maxKeys: 5 }),
  ),
}));
const storedDocument = fc
  .dictionary(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,4}$/), fc.option(storedValue.value, { nil: undefined }), { maxKeys: 6 })
  .map((fields) => ({ ...fields, _id: "10001;items", _creationTime: 1_700_000_000_000.5 }));

describe("convex-test's value replies (asyncSyscallValue)", () => {
  it("hand a function exactly what the JSON reply decodes to, as a copy of its own, for every stored document", () => {
    fc.assert(
      fc.property(storedDocument, (doc) => {
        const before = shape(doc);
        const fromJson = jsonToConvex(JSON.parse(documentReplyInternals.toJson(doc)));
        const value = documentReplyInternals.toValue(doc)!;
        expect(shape(value)).toEqual(shape(fromJson));
        // The caller owns the copy: changing it leaves the stored document as it was.
        const scribble = (x: unknown) => {
          if (typeof x !== "object" || x === null || x instanceof ArrayBuffer) return;
          for (const k of Object.keys(x)) {
            scribble((x as Record<string, unknown>)[k]);
            (x as Record<string, unknown>)[k] = "changed";
          }
        };
        scribble(value);
        expect(shape(doc)).toEqual(before);
      }),
      { numRuns: 500 },
    );
    expect(documentReplyInternals.toValue(null)).toBeNull();
  });
});
