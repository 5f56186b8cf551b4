/**
 * What the migration costs, measured in one exam's embedded instance: document
 * bytes by table (`getConvexSize` of each document, indexes not counted) at a
 * point of the run, and what the scheduled header check read in its pass.
 * The report sums the instances (report.ts `storageCosts`): tables of one exam's
 * data add up; `users` and `questions`, which several exams' instances hold, are
 * kept per document by the input's key and counted once; the deployment's own
 * bookkeeping (`SINGLE_TABLES`) counts one instance's worth.
 *
 * @example
 * outcome.storage.before = await measureStorage(t, ids);
 */
import { getConvexSize, type Value } from "convex/values";
import type { TableNames } from "../../convex/_generated/dataModel.js";
import schema from "../../convex/schema.js";
import { CONVEX_LIMITS } from "../../convex/lib/limits.js";
import type { EmbeddedConvex } from "../runtime/embedded.js";
import type { IdTranslator } from "./ids.js";

/** Tables several instances hold copies of: counted once per document, by the input's id. */
export const SHARED_TABLES = ["users", "questions"] as const satisfies readonly TableNames[];
/** The deployment's own few documents (pass progress, switches): every instance has its own, production one set. */
export const SINGLE_TABLES = ["migrationProgress", "examApiSettings"] as const satisfies readonly TableNames[];
/** The tables V1 had (the migration's "before" is their bytes). */
export const V1_TABLES = ["users", "questions", "exams"] as const satisfies readonly TableNames[];

export type TableSize = { documents: number; bytes: number };
export type StorageSnapshot = {
  tables: Partial<Record<TableNames, TableSize>>;
  /** Bytes of each document of SHARED_TABLES, by the input's id (the report counts each once). */
  shared: Partial<Record<(typeof SHARED_TABLES)[number], Record<string, number>>>;
};
export const STORAGE_POINTS = ["before", "afterMigration", "afterCleanup"] as const;
export type StoragePoint = (typeof STORAGE_POINTS)[number];

/** Documents a page reads: within the embedded runtime's limits whatever their size (each at most 1 MiB). */
const PAGE = { numItems: 512, maximumBytesRead: 4 * CONVEX_LIMITS.documentBytes };

/** Every table's documents and bytes in the instance now (read in pages, outside any phase's figures). */
export async function measureStorage(t: EmbeddedConvex, ids: IdTranslator): Promise<StorageSnapshot> {
  const out: StorageSnapshot = { tables: {}, shared: {} };
  for (const table of Object.keys(schema.tables) as TableNames[]) {
    const size: TableSize = { documents: 0, bytes: 0 };
    const shared: Record<string, number> | null = (SHARED_TABLES as readonly string[]).includes(table) ? {} : null;
    let cursor: string | null = null;
    for (let done = false; !done;) {
      const page = await t.run((ctx) => ctx.db.query(table).paginate({ ...PAGE, cursor }));
      for (const doc of page.page) {
        const bytes = getConvexSize(doc as unknown as Value);
        size.documents++;
        size.bytes += bytes;
        if (shared !== null) shared[ids.key(doc._id)] = bytes;
      }
      done = page.isDone;
      cursor = page.continueCursor;
    }
    if (size.documents > 0) out.tables[table] = size;
    if (shared !== null) out.shared[table as (typeof SHARED_TABLES)[number]] = shared;
  }
  return out;
}
