/**
 * convex-test's database with index ranges served from sorted structures, as
 * Convex serves them: a `withIndex` range costs O(log n + k) in the documents
 * of its own table, `.first()` / `.take()` stop early, pagination seeks to its
 * cursor. What a query returns (order, `_creationTime` / `_id` tie-breaks,
 * read-your-own-writes, the snapshot a query sees while its transaction
 * writes), validation and transaction metrics stay convex-test's own: this
 * class only changes how the candidates of a range are found, and defers to
 * convex-test for everything else (search, vector search, `by_id`, errors).
 * tests/indexedDatabase.property.test.ts checks it against convex-test's scan.
 *
 * Structures: per table and index, a B+ tree (sorted-btree) of the committed
 * documents keyed by the index fields + `_creationTime` + `_id`, built on the
 * index's first use and updated on every top-level commit; per table, an
 * overlay of the open transaction's pending writes with the same trees, merged
 * into each range as it is read.
 *
 * @example
 * const t = convexTest({ schema, modules, DatabaseFake: IndexedDatabaseFake });
 */
import BTreeModule from "sorted-btree";
import { DatabaseFake, databaseFakeInternals as engine } from "convex-test";
import { compareValues, getDocumentSize, type Value } from "convex/values";

// sorted-btree is CommonJS with `exports.default`; under some loaders the default import is the module object.
const BTree = ((BTreeModule as unknown as { default?: typeof BTreeModule }).default ?? BTreeModule) as typeof BTreeModule;
type BTree<K, V> = InstanceType<typeof BTreeModule<K, V>>;

type Doc = { _id: string; _creationTime: number } & Record<string, Value>;

/** Below / above every value: seek keys only, never stored. */
const LOWEST = Symbol("lowest");
const HIGHEST = Symbol("highest");
type KeyPart = Value | undefined | typeof LOWEST | typeof HIGHEST;
type Key = KeyPart[];

/**
 * Tuple order with Convex's value order (compareValues: numbers by IEEE-754 total order, so -0 sorts
 * before 0 and is not equal to it). A seek key is a key with LOWEST or HIGHEST after its last part, so
 * it sorts just below or above every key it is a prefix of, document keys of a full index included;
 * otherwise a key that is a prefix of another sorts first.
 */
function compareKeys(a: Key, b: Key): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y && x !== 0) continue; // 0 === -0, which compareValues tells apart
    if (x === LOWEST || y === HIGHEST) return -1;
    if (x === HIGHEST || y === LOWEST) return 1;
    const c = compareValues(x as Value, y as Value);
    if (c !== 0) return c;
  }
  if (a.length === b.length) return 0;
  const aLonger = a.length > b.length;
  const next = (aLonger ? a : b)[n];
  if (next === LOWEST) return aLonger ? -1 : 1;
  return aLonger ? 1 : -1;
}

type RangeExpression = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: unknown };
type QuerySource =
  | { type: "FullTableScan"; tableName: string; order?: "asc" | "desc" | null }
  | { type: "IndexRange"; indexName: string; range: RangeExpression[]; order?: "asc" | "desc" | null }
  | { type: "Search" };
type Query = { source: QuerySource; operators: ({ filter: unknown } | { limit: number })[] };

/** An index range to read: its table and index, its key fields, and where to start reading in each direction. */
type Plan = {
  table: string;
  index: string;
  fields: string[];
  order: "asc" | "desc";
  range: RangeExpression[];
  /** The first key of the range (asc) or the last (desc), as a seek key. */
  start: Key;
};

type Overlay = {
  /** The open transaction's latest value of every document it wrote in this table (null: deleted). */
  latest: Map<string, Doc | null>;
  /** The pending documents by index, built when a range first reads them. */
  trees: Map<string, BTree<Key, Doc>>;
};

/** A query's results, read lazily; turned into a list before a write could change what it reads. */
class LiveQuery implements Iterator<Doc> {
  private buffer: Doc[] | null = null;
  constructor(
    private source: Iterator<Doc>,
    readonly table: string,
  ) {}
  next(): IteratorResult<Doc> {
    if (this.buffer !== null) {
      const value = this.buffer.shift();
      return value === undefined ? { value: undefined, done: true } : { value, done: false };
    }
    return this.source.next();
  }
  /** Reads the rest now, from the database as it is before the write about to happen. */
  settle() {
    if (this.buffer !== null) return;
    const rest: Doc[] = [];
    for (let r = this.source.next(); !r.done; r = this.source.next()) rest.push(r.value);
    this.buffer = rest;
  }
}

export class IndexedDatabaseFake extends DatabaseFake {
  /** Committed documents by table and index. */
  private committed = new Map<string, Map<string, BTree<Key, Doc>>>();
  /** Pending writes by table, for the open transaction (rebuilt after a rollback). */
  private overlays = new Map<string, Overlay>();
  private stashedOverlays: Map<string, Overlay>[] = [];
  /** Queries of the open transaction that have not been read to the end, by table. */
  private live = new Map<string, Set<LiveQuery>>();
  private mergingNestedCommit = false;

  // ---- Planning ----------------------------------------------------------

  /** The index range a query reads, or null where convex-test's own path serves it (search, by_id, an unknown index). */
  private plan(source: QuerySource): Plan | null {
    if (source.type === "FullTableScan") {
      const order = source.order ?? "asc";
      return {
        table: source.tableName,
        index: "by_creation_time",
        fields: ["_creationTime", "_id"],
        order,
        range: [],
        start: [order === "asc" ? LOWEST : HIGHEST],
      };
    }
    if (source.type !== "IndexRange") return null;
    const [table, index] = source.indexName.split(".") as [string, string];
    let fields: string[];
    if (index === "by_creation_time") fields = ["_creationTime", "_id"];
    else {
      const declared = this._schema?.tables.get(table)?.indexes.find((i) => i.indexDescriptor === index);
      if (declared === undefined) return null; // convex-test throws its own error
      fields = [...declared.fields, "_creationTime", "_id"];
    }
    engine.validateIndexRangeExpression(source, fields);
    const order = source.order ?? "asc";
    const eq: KeyPart[] = [];
    let lower: { value: KeyPart; inclusive: boolean } | null = null;
    let upper: { value: KeyPart; inclusive: boolean } | null = null;
    for (const r of source.range) {
      const value = engine.evaluateQueryValue(r.value) as KeyPart;
      if (r.type === "Eq") eq.push(value);
      else if (r.type === "Gt" || r.type === "Gte") lower = { value, inclusive: r.type === "Gte" };
      else upper = { value, inclusive: r.type === "Lte" };
    }
    const start: Key =
      order === "asc"
        ? lower === null
          ? [...eq, LOWEST]
          : [...eq, lower.value, lower.inclusive ? LOWEST : HIGHEST]
        : upper === null
          ? [...eq, HIGHEST]
          : [...eq, upper.value, upper.inclusive ? HIGHEST : LOWEST];
    return { table, index, fields, order, range: source.range, start };
  }

  private keyOf(fields: string[], doc: Doc): Key {
    return fields.map((f) => engine.evaluateFieldPath(f, doc) as KeyPart);
  }

  private newTree(): BTree<Key, Doc> {
    return new BTree<Key, Doc>(undefined, compareKeys);
  }

  private committedTree(table: string, index: string, fields: string[]): BTree<Key, Doc> {
    let byIndex = this.committed.get(table);
    if (byIndex === undefined) this.committed.set(table, (byIndex = new Map()));
    let tree = byIndex.get(index);
    if (tree === undefined) {
      tree = this.newTree();
      for (const id of this._tableIds.get(table) ?? []) {
        const doc = this._documents[id] as Doc;
        tree.set(this.keyOf(fields, doc), doc);
      }
      byIndex.set(index, tree);
    }
    return tree;
  }

  private overlay(table: string): Overlay {
    let overlay = this.overlays.get(table);
    if (overlay === undefined) {
      const latest = new Map<string, Doc | null>();
      for (const level of this._writes) {
        for (const [id, doc] of Object.entries(level)) {
          if (engine.tableNameFromId(id) === table) latest.set(id, doc as Doc | null);
        }
      }
      this.overlays.set(table, (overlay = { latest, trees: new Map() }));
    }
    return overlay;
  }

  private pendingTree(overlay: Overlay, index: string, fields: string[]): BTree<Key, Doc> {
    let tree = overlay.trees.get(index);
    if (tree === undefined) {
      tree = this.newTree();
      for (const doc of overlay.latest.values()) if (doc !== null) tree.set(this.keyOf(fields, doc), doc);
      overlay.trees.set(index, tree);
    }
    return tree;
  }

  /**
   * Every document of the range in order, committed and pending merged, from
   * `from` (a seek key) or the range's start. The state it reads is taken now,
   * not at the first `next()`: a write in between must not show.
   */
  private rangeDocs(plan: Plan, from: Key = plan.start): Iterator<Doc> {
    const asc = plan.order === "asc";
    const committed = this.committedTree(plan.table, plan.index, plan.fields);
    const overlay = this.overlay(plan.table);
    const pending = overlay.latest.size === 0 ? null : this.pendingTree(overlay, plan.index, plan.fields);
    const read = (tree: BTree<Key, Doc>) => (asc ? tree.entries(from) : tree.entriesReversed(from));
    const fromCommitted = read(committed);
    const fromPending = pending === null ? null : read(pending);
    const shadowed = overlay.latest;
    return (function* () {
      const nextCommitted = () => {
        for (let r = fromCommitted.next(); !r.done; r = fromCommitted.next()) {
          if (!shadowed.has(r.value[1]._id)) return r.value; // else a pending write replaces it
        }
        return null;
      };
      const nextPending = () => fromPending?.next().value ?? null;
      let c = nextCommitted();
      let p = nextPending();
      while (c !== null || p !== null) {
        let doc: Doc;
        if (p === null || (c !== null && compareKeys(c[0], p[0]) * (asc ? 1 : -1) < 0)) {
          doc = c![1];
          c = nextCommitted();
        } else {
          doc = p[1];
          p = nextPending();
        }
        // The seek key is exact (it sorts right before the range's first key), so the first
        // document outside the range is past its end, and so is the rest of the index.
        if (!plan.range.every((r) => engine.evaluateRangeFilter(doc, r))) return;
        yield doc;
      }
    })();
  }

  // ---- Queries -------------------------------------------------------------

  override _evaluateQuery(query: Query): Iterator<Doc> {
    const plan = this.plan(query.source);
    if (plan === null) return super._evaluateQuery(query);
    const filters = query.operators.flatMap((o) => ("filter" in o ? [o.filter] : []));
    const limit = query.operators.find((o): o is { limit: number } => "limit" in o)?.limit ?? null;
    const docs = this.rangeDocs(plan);
    const results = (function* () {
      let returned = 0;
      while (limit === null || returned < limit) {
        const r = docs.next();
        if (r.done) return;
        if (filters.every((f) => engine.evaluateFilter(r.value, f))) {
          returned++;
          yield r.value;
        }
      }
    })();
    const query_ = new LiveQuery(results, plan.table);
    let open = this.live.get(plan.table);
    if (open === undefined) this.live.set(plan.table, (open = new Set()));
    open.add(query_);
    return query_;
  }

  /** convex-test's paginate, reading from the cursor's position in the index instead of from the start of the range. */
  override paginate(args: {
    query: Query;
    cursor: string | null;
    endCursor?: string | null;
    pageSize: number;
    maximumRowsRead?: number;
    maximumBytesRead?: number;
    /** Charges a row read to the transaction, filtered out or not. */
    onRead: (doc: Doc) => void;
  }) {
    const plan = this.plan(args.query.source);
    if (plan === null) return super.paginate(args);
    const { cursor, endCursor, pageSize, maximumRowsRead, maximumBytesRead, onRead } = args;
    const filters = args.query.operators.flatMap((o) => ("filter" in o ? [o.filter] : []));
    const filterFn = (doc: Doc) => filters.every((f) => engine.evaluateFilter(doc, f));
    const cursorFields = plan.fields; // index fields + _creationTime + _id: what convex-test encodes
    const parseCursor = (c: string | null | undefined): KeyPart[] | null =>
      c ? (JSON.parse(c) as (string | null)[]).map((k) => (k === null ? undefined : engine.evaluateQueryValue(JSON.parse(k)))) : null;
    const encodeCursor = (doc: Doc) => super._encodeCursor(doc, cursorFields) as string;
    const asc = plan.order === "asc";
    const cursorKeys = cursor !== "_end_cursor" ? parseCursor(cursor) : null;
    const hasEndBoundary = !!endCursor && endCursor !== "_end_cursor";
    const endCursorKeys = hasEndBoundary ? parseCursor(endCursor) : null;
    const afterCursor = (doc: Doc, keys: KeyPart[]) => compareKeys(this.keyOf(cursorFields, doc), keys) * (asc ? 1 : -1);

    // Docs strictly after the cursor; none past the end cursor "_end_cursor".
    const source: Iterator<Doc> =
      cursor === "_end_cursor"
        ? [][Symbol.iterator]()
        : this.rangeDocs(plan, cursorKeys === null ? plan.start : [...cursorKeys, asc ? HIGHEST : LOWEST]);
    let lookahead = source.next();
    const page: Doc[] = [];
    let continueCursor = "_end_cursor";
    let pageStatus: string | null = null;
    let rowsRead = 0;
    let bytesRead = 0;
    const readDocCursors: string[] = [];
    while (!lookahead.done) {
      const doc = lookahead.value;
      lookahead = source.next();
      if (cursorKeys !== null && afterCursor(doc, cursorKeys) <= 0) continue;
      const isLastDoc = lookahead.done === true;
      if (hasEndBoundary && endCursorKeys) {
        const cmp = afterCursor(doc, endCursorKeys);
        if (cmp >= 0) {
          if (cmp === 0) {
            onRead(doc);
            rowsRead += 1;
            readDocCursors.push(encodeCursor(doc));
            if (filterFn(doc)) page.push(doc);
            continueCursor = encodeCursor(doc);
          }
          break;
        }
      }
      onRead(doc);
      rowsRead += 1;
      bytesRead += getDocumentSize(doc);
      readDocCursors.push(encodeCursor(doc));
      // With an end cursor the whole interval is read, as Convex does; the transaction limits still apply (onRead).
      const hitLimit =
        !endCursor && ((!!maximumRowsRead && rowsRead >= maximumRowsRead) || (!!maximumBytesRead && bytesRead >= maximumBytesRead));
      if (filterFn(doc)) page.push(doc);
      if (hitLimit) {
        pageStatus = "SplitRequired";
        continueCursor = encodeCursor(doc);
        break;
      }
      if (!endCursor && page.length >= pageSize) {
        if (!isLastDoc) continueCursor = encodeCursor(doc);
        break;
      }
    }
    let splitCursor: string | null = null;
    if (pageStatus === "SplitRequired" && readDocCursors.length >= 2) {
      splitCursor = readDocCursors[Math.floor((readDocCursors.length - 1) / 2)]!;
    } else if (pageStatus === null && rowsRead > pageSize + 1 && readDocCursors.length >= 2) {
      pageStatus = "SplitRecommended";
      splitCursor = readDocCursors[Math.floor((readDocCursors.length - 1) / 2)]!;
    }
    return { page, isDone: continueCursor === "_end_cursor", continueCursor, splitCursor, pageStatus };
  }

  // ---- Writes and transactions -------------------------------------------

  override _addWrite(id: string, newValue: Doc | null) {
    super._addWrite(id, newValue);
    if (this.mergingNestedCommit) return; // a child's writes moving up a level: the latest values do not change
    const table = engine.tableNameFromId(id)!;
    for (const q of this.live.get(table) ?? []) q.settle();
    this.live.delete(table);
    const overlay = this.overlays.get(table);
    if (overlay === undefined) return;
    const before = overlay.latest.get(id);
    for (const [index, tree] of overlay.trees) {
      const fields = this.fieldsOf(table, index);
      if (before) tree.delete(this.keyOf(fields, before));
      if (newValue !== null) tree.set(this.keyOf(fields, newValue), newValue);
    }
    overlay.latest.set(id, newValue);
  }

  override commit(commitTs: bigint | null = null) {
    const nested = this._writes.length > 1 || this.snapshotDepth() > 0;
    if (nested) {
      this.mergingNestedCommit = true;
      try {
        super.commit(commitTs);
      } finally {
        this.mergingNestedCommit = false;
      }
      return;
    }
    const writes = this._writes[this._writes.length - 1] ?? {};
    const before = new Map<string, Doc | undefined>();
    for (const id of Object.keys(writes)) before.set(id, this._documents[id] as Doc | undefined);
    super.commit(commitTs);
    for (const [id, old] of before) {
      const table = engine.tableNameFromId(id)!;
      const byIndex = this.committed.get(table);
      if (byIndex === undefined) continue;
      const now = this._documents[id] as Doc | undefined;
      for (const [index, tree] of byIndex) {
        const fields = this.fieldsOf(table, index);
        if (old !== undefined) tree.delete(this.keyOf(fields, old));
        if (now !== undefined) tree.set(this.keyOf(fields, now), now);
      }
    }
    this.endTransaction();
  }

  override rollbackWrites() {
    super.rollbackWrites();
    this.overlays.clear(); // rebuilt from the remaining levels when next read
    if (this._writes.length === 0 && this.snapshotDepth() === 0) this.endTransaction();
  }

  override stashWrites() {
    this.stashedOverlays.push(this.overlays);
    this.overlays = new Map();
    return super.stashWrites();
  }

  override restoreWrites(stashed: Record<string, unknown>[]) {
    super.restoreWrites(stashed);
    this.overlays = this.stashedOverlays.pop() ?? new Map();
  }

  /**
   * How many stale-snapshot queries (`runQuery(…, { useStaleSnapshot: true })`) are running inside a
   * mutation: their transaction is nested though the mutation's writes are stashed away, and its end
   * must not end the mutation's open queries.
   */
  private snapshotDepth() {
    return this.stashedOverlays.length;
  }

  /** Queries never outlive their transaction: drop their state (convex-test keeps every query's results forever). */
  private endTransaction() {
    this.overlays.clear();
    this.live.clear();
    this._queryResults = {};
  }

  // ---- Export and import, as the CLI does them (no function, no transaction limits) ----

  /** Every document of every app table (system tables left out), as `npx convex export` reads them. */
  exportTables(): Record<string, Doc[]> {
    if (this._writes.length > 0) throw new Error("export while a transaction is open");
    const tables: Record<string, Doc[]> = Object.fromEntries([...(this._schema?.tables.keys() ?? [])].map((name) => [name, []]));
    for (const [table, ids] of this._tableIds) {
      if (table.startsWith("_")) continue;
      // No spread into push: a table of hundreds of thousands of documents would overflow the stack.
      tables[table] = [...ids].map((id) => this._documents[id] as Doc).sort((a, b) => a._creationTime - b._creationTime);
    }
    return tables;
  }

  /**
   * As `npx convex import --replace-all`: afterwards every app table holds exactly `tables`' documents (a
   * table the backup lacks is cleared), each under its own `_id` and `_creationTime`, validated against the
   * schema; system tables (scheduled functions, files) are left as they are. All or nothing.
   */
  importReplaceAll(tables: Record<string, readonly Doc[]>) {
    if (this._writes.length > 0) throw new Error("import while a transaction is open");
    const validate = (this as unknown as { _validate(table: string, value: Record<string, Value>): void })._validate.bind(this);
    this.startTransaction();
    try {
      for (const [table, ids] of this._tableIds) if (!table.startsWith("_")) for (const id of ids) this._addWrite(id, null);
      for (const [table, docs] of Object.entries(tables)) {
        if (this._schema !== null && !this._schema.tables.has(table)) throw new Error(`import: table "${table}" is not in the schema`);
        for (const doc of docs) {
          const { _id, _creationTime, ...fields } = doc;
          if (engine.tableNameFromId(_id) !== table) throw new Error(`import: ${_id} is not an id of table "${table}"`);
          validate(table, fields);
          this._addWrite(_id, doc);
        }
      }
      this.commit();
    } catch (e) {
      this.rollbackWrites();
      throw e;
    }
  }

  private fieldsOf(table: string, index: string): string[] {
    if (index === "by_creation_time") return ["_creationTime", "_id"];
    const declared = this._schema!.tables.get(table)!.indexes.find((i) => i.indexDescriptor === index)!;
    return [...declared.fields, "_creationTime", "_id"];
  }
}
