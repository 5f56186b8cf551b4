/**
 * What the migration costs in storage: the bytes of every document, by table,
 * on the migration guide's dataset (15 exams, 234 participants, 46,800
 * answers): V1 as it stands, after the migration (arrays kept) and after
 * cleanup (arrays emptied), each beside its ratio to V1's bytes. A document's
 * bytes are getConvexSize of it as stored, system fields included; indexes are
 * not counted. Target: after cleanup below 5.0 × V1 (a failure of the section
 * otherwise).
 *
 * @example
 * const section = await bench(); // npm run bench -- --only storage
 */
import { getConvexSize, type Value } from "convex/values";
import { internal } from "../../convex/_generated/api";
import type { TableNames } from "../../convex/_generated/dataModel";
import schema from "../../convex/schema";
import { GUIDE_DATASET, generateV1Dataset, insertDataset } from "../dataset/generate";
import { createEmbeddedConvex, type BenchRow, type BenchSection, type EmbeddedConvex } from "../runtime/embedded";

/** After cleanup, the documents may weigh less than this many times V1's. */
export const STORAGE_TARGET = 5.0;

/** Documents read per transaction while weighing (15 exam documents of the guide's ≈ 270 KB fit well in half the read limit). */
const PAGE = 1_000;

type Weights = Map<string, { documents: number; bytes: number }>;

/** Every document's bytes, by table (tables in the schema's order). */
async function weigh(t: EmbeddedConvex): Promise<Weights> {
  const weights: Weights = new Map();
  for (const table of Object.keys(schema.tables) as TableNames[]) {
    const total = { documents: 0, bytes: 0 };
    for (let cursor: string | null = null, done = false; !done;) {
      const page = await t.run((ctx) => ctx.db.query(table).paginate({ cursor, numItems: PAGE }));
      for (const doc of page.page) {
        total.documents++;
        total.bytes += getConvexSize(doc as Value);
      }
      ({ continueCursor: cursor, isDone: done } = page);
    }
    weights.set(table, total);
  }
  return weights;
}

async function migrateUntilDone(t: EmbeddedConvex, clearAfterMigration: boolean) {
  for (;;) {
    const progress = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 5, clearAfterMigration });
    if (progress.isDone) return;
  }
}

const MiB = 1024 * 1024;
const sum = (w: Weights) => [...w.values()].reduce((n, x) => n + x.bytes, 0);

export async function bench(): Promise<BenchSection> {
  const t = createEmbeddedConvex();
  await insertDataset(t, generateV1Dataset({ ...GUIDE_DATASET, dirty: false }));
  const v1 = await weigh(t);
  await migrateUntilDone(t, false);
  const migrated = await weigh(t);
  await migrateUntilDone(t, true);
  const cleaned = await weigh(t);
  const stages = [
    ["V1", v1],
    ["migrated", migrated],
    ["cleaned", cleaned],
  ] as const;
  const cell = (w: Weights, table: string) => {
    const x = w.get(table)!;
    return x.documents === 0 ? "-" : `${x.bytes.toLocaleString("en-US")} (${x.documents.toLocaleString("en-US")})`;
  };
  const rows: BenchRow[] = [...v1.keys()]
    .filter((table) => stages.some(([, w]) => w.get(table)!.documents > 0))
    .map((table) => ({
      table,
      "V1 bytes (docs)": cell(v1, table),
      "after migration": cell(migrated, table),
      "after cleanup": cell(cleaned, table),
    }));
  const v1Bytes = sum(v1);
  const total = (w: Weights) => `${sum(w).toLocaleString("en-US")} (${(sum(w) / MiB).toFixed(2)} MiB)`;
  const ratio = (w: Weights) => `${(sum(w) / v1Bytes).toFixed(2)} ×`;
  rows.push({ table: "all tables", "V1 bytes (docs)": total(v1), "after migration": total(migrated), "after cleanup": total(cleaned) });
  rows.push({ table: "÷ V1", "V1 bytes (docs)": ratio(v1), "after migration": ratio(migrated), "after cleanup": ratio(cleaned) });
  const cleanedRatio = sum(cleaned) / v1Bytes;
  const failures =
    cleanedRatio < STORAGE_TARGET
      ? []
      : [
          `after cleanup the documents weigh ${cleanedRatio.toFixed(2)} × V1's (${sum(cleaned)} vs ${v1Bytes} bytes; target < ${STORAGE_TARGET})`,
        ];
  return {
    title: "Document bytes by table, guide dataset: V1, after migration, after cleanup",
    rows,
    failures,
    notes: [
      "Bytes: getConvexSize of every document as stored, system fields (_id, _creationTime) included; indexes not counted. Documents in brackets.",
      "Migration and cleanup through migrations:migrateExamParticipants (5 exams a call; cleanup with clearAfterMigration), limits enforced.",
      ...(failures.length === 0
        ? [`Target met: after cleanup ${cleanedRatio.toFixed(2)} × V1's bytes (target < ${STORAGE_TARGET}).`]
        : failures.map((f) => `FAILED: ${f}`)),
    ],
  };
}
