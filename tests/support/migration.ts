/**
 * One migration batch exactly as `migrations:migrateExamParticipants` runs it (same options, the same
 * ctx.db that keeps exam copies current, one transaction), with faults injected: the tests of aborted
 * batches and quarantined entries. The Convex functions take no faults.
 */
import { withExamHeaders } from "../../convex/headers/keeper";
import { batchOptions, runMigrationBatch, type MigrationFaults } from "../../convex/migration/batch";
import type { TestConvex } from "./convex";

export function migrateWithFaults(t: TestConvex, args: Parameters<typeof batchOptions>[0], faults: MigrationFaults) {
  return t.run((ctx) => runMigrationBatch({ ...ctx, db: withExamHeaders(ctx) }, { ...batchOptions(args), faults }));
}
