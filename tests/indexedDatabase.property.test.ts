/**
 * IndexedDatabaseFake (index ranges from sorted trees) is a test double of Convex's database: for
 * every history of writes and reads it returns exactly what stock convex-test returns — every
 * result, its order, every error and every transaction metric. Histories hold every Convex value
 * type in index fields (-0, NaN, ±Infinity, int64, bytes, strings, arrays, objects, null, missing
 * fields), compound indexes with eq / gt / gte / lt / lte on every field including `_creationTime`
 * and `_id` (bounds taken from stored documents), both orders, first / unique / take / collect,
 * `paginate` with cursors, `maximumRowsRead`, `maximumBytesRead` and `endCursor`, writes and
 * stale-snapshot queries under an open query, nested mutations that roll back.
 *
 * `RUNTIME_HISTORIES=3000 npx vitest run tests/indexedDatabase.property.test.ts` runs a long run
 * (docs/runtime.md); `npm test` runs a short one.
 */
import fc from "fast-check";
import { convexTest, documentReplyInternals } from "convex-test";
import { defineSchema, defineTable, internalMutationGeneric, internalQueryGeneric, makeFunctionReference } from "convex/server";
import { jsonToConvex, v, type Value } from "convex/values";
import { afterAll, describe, expect, it, vi } from "vitest";
import { getPage, type IndexKey } from "convex-helpers/server/pagination";
import { IndexedDatabaseFake } from "../src/runtime/indexedDatabase";
import { valueReadsActive } from "../src/runtime/valueReads";
import { modules as projectModules } from "./support/convex";

const HISTORIES = Number(process.env.RUNTIME_HISTORIES ?? 200);

const schema = defineSchema({
  items: defineTable({ a: v.optional(v.any()), b: v.optional(v.any()), n: v.optional(v.any()) })
    .index("by_a", ["a"])
    .index("by_a_and_b", ["a", "b"])
    .index("by_b_and_a", ["b", "a"])
    .index("by_n_x", ["n.x"]),
  others: defineTable({ a: v.optional(v.any()) }).index("by_a", ["a"]),
});

/** Every index's key: its fields, then `_creationTime` and `_id`. */
const INDEXES = {
  by_a: ["a", "_creationTime", "_id"],
  by_a_and_b: ["a", "b", "_creationTime", "_id"],
  by_b_and_a: ["b", "a", "_creationTime", "_id"],
  by_n_x: ["n.x", "_creationTime", "_id"],
  by_creation_time: ["_creationTime", "_id"],
} as const;
type IndexName = keyof typeof INDEXES;
type Table = "items" | "others";

// Few distinct values of every type, so that equal keys, ties, -0 beside 0 and boundaries are common.
const VALUES: Value[] = [
  -0,
  0,
  1,
  -1,
  2.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0n,
  1n,
  -(2n ** 63n),
  "",
  "a",
  "b",
  new Uint8Array([]).buffer,
  new Uint8Array([1]).buffer,
  [],
  [0],
  [-0],
  ["a", 1n],
  {},
  { x: 0 },
  { x: -0, y: "a" },
  null,
  true,
  false,
];
const value = fc.constantFrom(...VALUES);
const fields = fc.record({ a: value, b: value, n: fc.oneof(value, fc.record({ x: value }, { requiredKeys: [] })) }, { requiredKeys: [] });
/** A patch may remove a field (undefined). */
const patchFields = fc.record(
  { a: fc.option(value, { nil: undefined }), b: fc.option(value, { nil: undefined }), n: fc.record({ x: value }) },
  { requiredKeys: [] },
);
type Fields = { a?: Value; b?: Value; n?: Value };

/** A bound's value: from the pool, or the field of the k-th stored document of the table (missing: undefined). */
type Operand = { pool: Value | undefined } | { fromDoc: number };
type Bound = { op: "gt" | "gte" | "lt" | "lte"; value: Operand };
type How =
  | { kind: "collect" }
  | { kind: "first" }
  | { kind: "unique" }
  | { kind: "take"; n: number }
  | {
      kind: "paginate";
      numItems: number;
      pages: number;
      maximumRowsRead?: number;
      maximumBytesRead?: number;
      /** Each page read again with its continueCursor as endCursor, as a reactive client does. */
      reread: boolean;
    };
type Read = {
  table: Table;
  index: IndexName;
  eqs: Operand[];
  lower?: Bound;
  upper?: Bound;
  order: "asc" | "desc";
  how: How;
  filterA?: Value;
};
type Op =
  | { kind: "insert"; table: Table; fields: Fields }
  | { kind: "patch"; target: number; fields: Fields }
  | { kind: "replace"; target: number; fields: Fields }
  | { kind: "delete"; target: number }
  | { kind: "read"; read: Read }
  | { kind: "stale"; read: Read }
  | { kind: "readAcross"; read: Read; after: number; between: { kind: "insert"; fields: Fields } | { kind: "stale"; read: Read } }
  | { kind: "nested"; a: Value; fails: boolean };

const operand = (field: string): fc.Arbitrary<Operand> =>
  field === "_id"
    ? fc.nat(20).map((k) => ({ fromDoc: k }))
    : fc.oneof(
        fc.nat(20).map((k) => ({ fromDoc: k })),
        fc
          .option(field === "_creationTime" ? fc.integer({ min: 0, max: 60 }).map((k) => T0 + k) : value, { nil: undefined })
          .map((pool) => ({ pool })),
      );

const T0 = Date.UTC(2026, 0, 1);

const how: fc.Arbitrary<How> = fc.oneof(
  fc.constant({ kind: "collect" as const }),
  ...[1, 2].map((numItems) => fc.constant({ kind: "paginate" as const, numItems, pages: 4, reread: false })),
  fc.constant({ kind: "first" as const }),
  fc.constant({ kind: "unique" as const }),
  fc.record({ kind: fc.constant("take" as const), n: fc.integer({ min: 0, max: 4 }) }),
  fc.record(
    {
      kind: fc.constant("paginate" as const),
      numItems: fc.integer({ min: 1, max: 3 }),
      pages: fc.integer({ min: 1, max: 4 }),
      maximumRowsRead: fc.integer({ min: 1, max: 4 }),
      maximumBytesRead: fc.integer({ min: 1, max: 300 }),
      reread: fc.boolean(),
    },
    { requiredKeys: ["kind", "numItems", "pages", "reread"] },
  ),
);

const read: fc.Arbitrary<Read> = fc
  .record({
    index: fc.constantFrom(...(Object.keys(INDEXES) as IndexName[])),
    others: fc.boolean(),
    eqCount: fc.constantFrom(0, 0, 0, 1, 1, 2, 3, 4), // mostly wide ranges, so pages hold documents
    lowerOp: fc.constantFrom(undefined, "gt", "gte"),
    upperOp: fc.constantFrom(undefined, "lt", "lte"),
    order: fc.constantFrom("asc" as const, "desc" as const),
    how,
    filterA: fc.option(value, { nil: undefined }),
  })
  .chain((r) => {
    const table: Table = r.others && (r.index === "by_a" || r.index === "by_creation_time") ? "others" : "items";
    const key = INDEXES[r.index];
    const eqCount = Math.min(r.eqCount, key.length);
    const rangeField = key[eqCount];
    return fc
      .record({
        eqs: fc.tuple(...key.slice(0, eqCount).map(operand)),
        lower: rangeField && r.lowerOp ? operand(rangeField) : fc.constant(undefined),
        upper: rangeField && r.upperOp ? operand(rangeField) : fc.constant(undefined),
      })
      .map(({ eqs, lower, upper }): Read => ({
        table,
        index: r.index,
        eqs,
        ...(rangeField && r.lowerOp && lower ? { lower: { op: r.lowerOp, value: lower } } : {}),
        ...(rangeField && r.upperOp && upper ? { upper: { op: r.upperOp, value: upper } } : {}),
        order: r.order,
        how: r.how,
        ...(r.filterA === undefined ? {} : { filterA: r.filterA }),
      }));
  });

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("insert" as const), table: fc.constantFrom<Table>("items", "items", "others"), fields }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("patch" as const), target: fc.nat(), fields: patchFields }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replace" as const), target: fc.nat(), fields }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), target: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("read" as const), read }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("stale" as const), read }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("readAcross" as const),
      read,
      after: fc.nat(3),
      between: fc.oneof(
        fc.record({ kind: fc.constant("insert" as const), fields }),
        fc.record({ kind: fc.constant("stale" as const), read }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("nested" as const), a: value, fails: fc.boolean() }) },
);
/** A transaction: its operations, and whether it throws at the end (rolled back). */
const transaction = fc.record({ ops: fc.array(op, { maxLength: 8 }), fails: fc.constantFrom(false, false, false, true) });
type Transaction = { ops: Op[]; fails: boolean };

/* eslint-disable @typescript-eslint/no-explicit-any -- the test drives both databases through the same untyped schema-generic ctx */
type Ctx = { db: any };

/** Non-empty pages the indexed side returned (a coverage count); counted while `countingPages`. */
let nonEmptyPages = 0;
let countingPages = false;

async function operandValue(ctx: Ctx, table: Table, field: string, o: Operand): Promise<Value | undefined> {
  if ("pool" in o) return o.pool;
  const docs = await ctx.db.query(table).collect();
  if (docs.length === 0) return undefined;
  let x: any = docs[o.fromDoc % docs.length];
  for (const part of field.split(".")) x = x?.[part];
  return x as Value | undefined;
}

async function queryOf(ctx: Ctx, r: Read) {
  const key = INDEXES[r.index];
  const eqs = await Promise.all(r.eqs.map((o, i) => operandValue(ctx, r.table, key[i]!, o)));
  const field = key[r.eqs.length]!;
  const lower = r.lower && { op: r.lower.op, value: await operandValue(ctx, r.table, field, r.lower.value) };
  const upper = r.upper && { op: r.upper.op, value: await operandValue(ctx, r.table, field, r.upper.value) };
  const db = ctx.db as any;
  let q =
    r.index === "by_creation_time" && r.eqs.length === 0 && !lower && !upper
      ? db.query(r.table)
      : db.query(r.table).withIndex(r.index, (b: any) => {
          eqs.forEach((x, i) => (b = b.eq(key[i], x)));
          if (lower) b = b[lower.op](field, lower.value);
          if (upper) b = b[upper.op](field, upper.value);
          return b;
        });
  q = q.order(r.order);
  if (r.filterA !== undefined) q = q.filter((f: any) => f.neq(f.field("a"), r.filterA));
  return q;
}

async function runRead(ctx: Ctx, r: Read): Promise<unknown> {
  try {
    const h = r.how;
    if (h.kind !== "paginate") {
      const q = await queryOf(ctx, r);
      return await (h.kind === "take" ? q.take(h.n) : q[h.kind]());
    }
    const pages = [];
    let cursor: string | null = null;
    for (let i = 0; i < h.pages; i++) {
      const { kind: _, pages: __, reread, ...opts } = h;
      const page: { page: unknown[]; isDone: boolean; continueCursor: string } = await (
        await queryOf(ctx, r)
      ).paginate({ ...opts, cursor });
      pages.push(page);
      if (countingPages && page.page.length > 0) nonEmptyPages++;
      if (reread) pages.push(await (await queryOf(ctx, r)).paginate({ ...opts, cursor, endCursor: page.continueCursor }));
      if (page.isDone) break;
      cursor = page.continueCursor;
    }
    return pages;
  } catch (e) {
    return `read error: ${(e as Error).message}`;
  }
}

/** A child mutation, called with ctx.runMutation: its writes roll back alone when it throws. */
const child = internalMutationGeneric({
  args: { a: v.any(), fails: v.boolean() },
  handler: async (ctx, { a, fails }) => {
    const id = await ctx.db.insert("items", { a });
    const first = await (ctx.db as any)
      .query("items")
      .withIndex("by_a", (q: any) => q.eq("a", a))
      .first();
    if (first !== null) await ctx.db.patch("items", first._id, { b: "b" });
    if (fails) throw new Error("child rolled back");
    return id;
  },
});
/** Reads run by a stale-snapshot query, by key (same process). */
const staleReads = new Map<number, Read>();
const stale = internalQueryGeneric({ args: { key: v.number() }, handler: async (ctx, { key }) => runRead(ctx, staleReads.get(key)!) });
const generated = Object.keys(projectModules).find((path) => path.includes("_generated"))!;
const modules = { ...projectModules, [`${generated.split("_generated")[0]}indexedDatabaseChild.ts`]: async () => ({ child, stale }) };
const childRef = makeFunctionReference<"mutation", { a: Value; fails: boolean }>("indexedDatabaseChild:child");
const staleRef = makeFunctionReference<"query", { key: number }>("indexedDatabaseChild:stale");

async function runStale(ctx: any, r: Read): Promise<unknown> {
  const key = staleReads.size;
  staleReads.set(key, r);
  return ctx.runQuery(staleRef, { key }, { useStaleSnapshot: true }).catch((e: Error) => `stale error: ${e.message}`);
}

/** `others` holds only `a`. */
const fieldsFor = (table: Table, f: Fields): Fields => (table === "others" ? ("a" in f ? { a: f.a } : {}) : f);

async function runTransaction(t: TestConvex, tx: Transaction) {
  const seen: unknown[] = [];
  try {
    await t.run(async (ctx) => {
      const db = ctx.db as any;
      for (const o of tx.ops) {
        if (o.kind === "insert") seen.push(await db.insert(o.table, fieldsFor(o.table, o.fields)));
        else if (o.kind === "nested")
          seen.push(await ctx.runMutation(childRef, { a: o.a, fails: o.fails }).catch((e: Error) => `child error: ${e.message}`));
        else if (o.kind === "read") seen.push(await runRead(ctx, o.read));
        else if (o.kind === "stale") seen.push(await runStale(ctx, o.read));
        else if (o.kind === "readAcross") {
          // A query read partly, then a write or a stale-snapshot query, then the rest: the query keeps its snapshot.
          const got: unknown[] = [];
          const it = (await queryOf(ctx, o.read))[Symbol.asyncIterator]();
          let done = false;
          for (let i = 0; i < o.after && !done; i++) {
            const r = await it.next();
            if (r.done) done = true;
            else got.push(r.value);
          }
          if (o.between.kind === "insert") seen.push(await db.insert(o.read.table, fieldsFor(o.read.table, o.between.fields)));
          else seen.push(await runStale(ctx, o.between.read));
          for (let r = done ? null : await it.next(); r !== null && !r.done; r = await it.next()) got.push(r.value);
          seen.push(got);
        } else {
          const all = await db.query("items").collect();
          if (all.length === 0) continue;
          const id = all[o.target % all.length]._id;
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
  return shape(seen);
}

type TestConvex = ReturnType<typeof convexTest>;

/** Runs each step on stock convex-test and on IndexedDatabaseFake in lockstep (same fake clock: equal ids and times); what each step returned. */
async function lockstep(steps: ((t: TestConvex) => Promise<unknown>)[]): Promise<{ stock: unknown[]; indexed: unknown[] }> {
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    vi.setSystemTime(T0);
    const scan = convexTest({ schema, modules, transactionLimits: true });
    const indexed = convexTest({ schema, modules, transactionLimits: true, DatabaseFake: IndexedDatabaseFake });
    const results = { stock: [] as unknown[], indexed: [] as unknown[] };
    for (const step of steps) {
      const now = Date.now();
      results.stock.push(await step(scan));
      vi.setSystemTime(now);
      countingPages = true;
      results.indexed.push(await step(indexed));
      countingPages = false;
      vi.setSystemTime(now + 7);
    }
    return results;
  } finally {
    vi.useRealTimers();
  }
}
const onBoth = (history: Transaction[]) => lockstep(history.map((tx) => (t: TestConvex) => runTransaction(t, tx)));

/** Whether a history holds a -0 anywhere (stored or in a bound), and a bound on `_id`. */
function holdsNegativeZero(x: unknown): boolean {
  if (Object.is(x, -0)) return true;
  if (typeof x !== "object" || x === null || x instanceof ArrayBuffer) return false;
  return Object.values(x).some(holdsNegativeZero);
}
function boundsId(history: Transaction[]): boolean {
  const reads = (o: Op): Read[] =>
    o.kind === "read" || o.kind === "stale"
      ? [o.read]
      : o.kind === "readAcross"
        ? [o.read, ...(o.between.kind === "stale" ? [o.between.read] : [])]
        : [];
  return history.some((tx) =>
    tx.ops.flatMap(reads).some((r) => {
      const key = INDEXES[r.index];
      return r.eqs.length === key.length || (key[r.eqs.length] === "_id" && (r.lower !== undefined || r.upper !== undefined));
    }),
  );
}

describe("IndexedDatabaseFake against stock convex-test", () => {
  const coverage = { histories: 0, withNegativeZero: 0, withIdBounds: 0, withNonEmptyPages: 0, nonEmptyPages: 0, differences: 0 };
  afterAll(() => console.log(`differential test: ${JSON.stringify(coverage)}`));

  it("returns every result, error and transaction metric stock convex-test returns, for every history", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(transaction, { minLength: 1, maxLength: 6 }), async (history) => {
        coverage.histories++;
        if (holdsNegativeZero(history)) coverage.withNegativeZero++;
        if (boundsId(history)) coverage.withIdBounds++;
        const pagesBefore = nonEmptyPages;
        const { stock, indexed } = await onBoth(history);
        if (nonEmptyPages > pagesBefore) coverage.withNonEmptyPages++;
        coverage.nonEmptyPages = nonEmptyPages;
        if (JSON.stringify(stock) !== JSON.stringify(indexed)) coverage.differences++;
        expect(indexed).toEqual(stock);
      }),
      { numRuns: HISTORIES },
    );
    // The histories reach what the claim is about.
    expect(coverage.withNegativeZero).toBeGreaterThan(0);
    expect(coverage.withIdBounds).toBeGreaterThan(0);
    expect(nonEmptyPages).toBeGreaterThan(0);
  });

  it("keeps the boundary document of a range whose bound reaches `_id`", async () => {
    const insert = (n: number): Transaction => ({
      ops: Array.from({ length: n }, () => ({ kind: "insert", table: "items", fields: { a: 1 } })),
      fails: false,
    });
    const idBound = (index: IndexName, op: Bound["op"], order: "asc" | "desc", eq: number): Read => ({
      table: "items",
      index,
      eqs: INDEXES[index].slice(0, eq).map(() => ({ fromDoc: 1 })),
      ...(op === "gt" || op === "gte" ? { lower: { op, value: { fromDoc: 1 } } } : { upper: { op, value: { fromDoc: 1 } } }),
      order,
      how: { kind: "collect" },
    });
    const reads: Read[] = [];
    for (const [index, eq] of [
      ["by_creation_time", 1],
      ["by_a", 2],
    ] as const)
      for (const op of ["gt", "gte", "lt", "lte"] as const)
        for (const order of ["asc", "desc"] as const) reads.push(idBound(index, op, order, eq));
    reads.push({
      table: "items",
      index: "by_creation_time",
      eqs: [{ fromDoc: 1 }, { fromDoc: 1 }],
      order: "asc",
      how: { kind: "collect" },
    });
    const { stock, indexed } = await onBoth([insert(3), { ops: reads.map((read) => ({ kind: "read", read })), fails: false }]);
    expect(indexed).toEqual(stock);
    // Each document has a _creationTime of its own: with it fixed, gte / lte / eq on the second one's _id hold it.
    const results = (stock[1] as unknown[][]).slice(0, reads.length);
    expect(results.map((r) => r.length)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1]);
  });

  it("orders -0 before 0 and tells them apart in ranges, as Convex does", async () => {
    const ins = (a: Value): Op => ({ kind: "insert", table: "items", fields: { a } });
    const byA = (eqs: Operand[], extra: Partial<Read> = {}): Op => ({
      kind: "read",
      read: { table: "items", index: "by_a", eqs, order: "asc", how: { kind: "collect" }, ...extra },
    });
    const { stock, indexed } = await onBoth([
      { ops: [ins(0), ins(-0), ins(0), ins(-0)], fails: false },
      {
        ops: [
          byA([]),
          byA([{ pool: 0 }]),
          byA([{ pool: -0 }]),
          byA([], { lower: { op: "gte", value: { pool: 0 } } }),
          byA([], { upper: { op: "lt", value: { pool: 0 } }, order: "desc" }),
        ],
        fails: false,
      },
    ]);
    expect(indexed).toEqual(stock);
    // Documents as shape() spells them: [field, value] pairs.
    const [all, eq0, eqMinus0, from0, below0] = stock[1] as [string, unknown][][][];
    expect(all!.map((d) => d.find(([k]) => k === "a")![1])).toEqual(["-0", "-0", 0, 0]);
    expect([eq0, eqMinus0, from0, below0].map((r) => r!.length)).toEqual([2, 2, 2, 2]);
  });

  it("keeps a mutation's open queries across a stale-snapshot query", async () => {
    const all: Read = { table: "items", index: "by_a", eqs: [], order: "asc", how: { kind: "collect" } };
    const { stock, indexed } = await onBoth([
      {
        ops: [
          { kind: "insert", table: "items", fields: { a: 1 } },
          { kind: "insert", table: "items", fields: { a: 2 } },
        ],
        fails: false,
      },
      {
        ops: [
          { kind: "insert", table: "items", fields: { a: 3 } },
          { kind: "readAcross", read: all, after: 1, between: { kind: "stale", read: all } },
        ],
        fails: false,
      },
    ]);
    expect(indexed).toEqual(stock);
    const [, staleSaw, openSaw] = stock[1] as unknown[][];
    expect([(staleSaw as unknown[]).length, (openSaw as unknown[]).length]).toEqual([2, 3]);
  });

  it("serves convex-helpers' getPage as stock convex-test does, paging forward and scrolling back over ties and -0", async () => {
    const A = [1, 1, -0, 0, 1, 2, 0];
    const walk = (order: "asc" | "desc") => async (t: TestConvex) =>
      t.run(async (ctx) => {
        const pages = [];
        let startIndexKey: IndexKey | undefined = undefined;
        for (let more = true; more;) {
          const page: { hasMore: boolean; indexKeys: IndexKey[] } = await getPage(ctx as Ctx, {
            table: "items",
            index: "by_a",
            schema,
            order,
            targetMaxRows: 2,
            startIndexKey,
          });
          pages.push(page);
          more = page.hasMore;
          startIndexKey = page.indexKeys.at(-1);
        }
        return shape(pages);
      });
    const { stock, indexed } = await lockstep([
      (t) => t.run(async (ctx) => Promise.all(A.map((a) => ctx.db.insert("items", { a })))),
      walk("asc"),
      walk("desc"),
    ]);
    expect(indexed).toEqual(stock);
    // Every document once, -0 before 0, in each direction.
    const as = (pages: unknown) =>
      (pages as [string, unknown][][]).flatMap((p) => (p[0]![1] as [string, unknown][][]).map((d) => d.find(([k]) => k === "a")![1]));
    expect(as(stock[1])).toEqual(["-0", 0, 0, 1, 1, 1, 2]);
    expect(as(stock[2])).toEqual([2, 1, 1, 1, 0, 0, "-0"]);
  });

  it("rejects what convex-test rejects: an undeclared index, a range on the wrong field", async () => {
    const indexed = convexTest({ schema, modules, DatabaseFake: IndexedDatabaseFake });
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
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */

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

  it("are what the suites' functions read: convex was loaded with its value reads (vitest.config.ts setupFiles)", () => {
    expect(valueReadsActive()).toBe(true);
  });
});
