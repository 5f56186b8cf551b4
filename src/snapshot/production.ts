/**
 * "Rehearse from where production stands": this backend's tables of a snapshot
 * taken after the deploy (the log, the rows, the exams' headers, the audit of
 * edits, the mirror's watermark, the counts, the passes' progress: every table
 * of the schema but the V1 ones, load.ts V2_TABLES) are cut per exam and loaded
 * into the exam's embedded instance as they are, so that the rehearsal goes on
 * from production's real state (the rest of the migration, or the cleanup)
 * instead of starting over. Headers are loaded stale or not: the rehearsal sees
 * production's state as it is.
 *
 * The embedded runtime gives documents its own ids and creation times. So:
 * - every event's hash covers its exam and user ids: the chain is first checked
 *   as exported (the production hashes over the production ids: a break there
 *   is a failure of the rehearsal), then each stream is re-sealed under the
 *   embedded ids with the same hash function, and rows point at the re-sealed heads;
 * - a header names its exam's creation time: moved onto the embedded clock;
 * - counter shards are a hash of the user id: re-bucketed (see reshardCounters);
 * - the mirror's watermark is a time on production's clock, compared with the
 *   events' creation times: it moves to the embedded creation time of the last
 *   event it covered, so exactly the events it covered stay covered;
 * - a pass's cursor, and how far the header check has seen every exam, are exam creation times: moved the same way;
 * - a user or question the state refers to that production deleted since gets
 *   the id of a deleted document, as deleted questions the V1 documents list do.
 * Nothing else of a document changes (times such as `at`, `recordedAt`, `foldedAt` stay production's).
 *
 * @example
 * const state = productionForExam(snapshot.production!, exam);
 * const ids = await insertDataset(t, subset, [exam.key], referencedDocuments(state));
 * const { notes, failures } = await insertProduction(t, state, ids);
 */
import type { TestConvex } from "convex-test";
import type { GenericValidator } from "convex/values";
import type { Id, TableNames } from "../../convex/_generated/dataModel.js";
import schema from "../../convex/schema.js";
import { eventHash, hashedContentOf } from "../../convex/events/hash.js";
import { deletedDocumentId, type DatasetExam, type DatasetIds } from "../dataset/generate.js";
import { IdTranslator } from "../rehearsal/ids.js";
import { COUNTER_SHARDS } from "../../convex/lib/limits.js";
import { addCounts, counterShard, countsOfAttempt, NO_COUNTS, sameCounts, type Counts } from "../../convex/projections/counters.js";
import { references, V2_TABLES, type ProductionState, type RawDoc, type V2Table } from "./load.js";

/**
 * The part of production's V2 state that belongs to one exam (plus the deployment-wide settings and passes):
 * its documents, and the changes of the questions its audit trail shows (those it lists, and those its
 * question list holds or held).
 */
export function productionForExam(production: ProductionState, exam: Pick<DatasetExam, "key" | "questionKeys">): ProductionState {
  const { tables } = production;
  const ofExam = (docs: RawDoc[]) => docs.filter((d) => d.fields.examId === exam.key);
  const participations = ofExam(tables.examParticipations);
  const participationIds = new Set(participations.map((p) => p.id));
  const lists = ofExam(tables.examQuestionLists);
  const questionIds = new Set([
    ...exam.questionKeys,
    ...lists.flatMap((l) => [...(l.fields.questionIds as string[]), ...(l.fields.formerQuestionIds as string[])]),
  ]);
  const changes = tables.examChanges.filter(
    ({ fields: f }) => f.examId === exam.key || (f.examId === undefined && questionIds.has(f.questionId as string)),
  );
  // A change too large for one document continues in documents of its own (`partOf` its head): they go with it.
  const heads = new Set(changes.map((c) => c.id));
  const continuations = tables.examChanges.filter(({ fields: f }) => f.partOf !== undefined && heads.has(f.partOf as string));
  return {
    examCreationTimes: { [exam.key]: production.examCreationTimes[exam.key]! },
    tables: {
      examEvents: ofExam(tables.examEvents),
      examParticipations: participations,
      examAnswers: tables.examAnswers.filter((a) => participationIds.has(a.fields.participationId as string)),
      examHeaders: ofExam(tables.examHeaders),
      examQuestionLists: lists,
      examChanges: [...changes, ...continuations],
      examCounterShards: ofExam(tables.examCounterShards),
      examCountSummaries: ofExam(tables.examCountSummaries),
      examMirrorStates: ofExam(tables.examMirrorStates),
      migrationQuarantine: ofExam(tables.migrationQuarantine),
      examApiSettings: tables.examApiSettings,
      migrationProgress: tables.migrationProgress,
    },
  };
}

/** The users and questions the state's documents refer to (typed references, per the schema): what its instance must hold besides the exam's own. */
export function referencedDocuments(state: ProductionState): { users: Set<string>; questions: Set<string> } {
  const out = { users: new Set<string>(), questions: new Set<string>() };
  for (const table of V2_TABLES) {
    const validator = schema.tables[table].validator as GenericValidator;
    for (const doc of state.tables[table]) {
      for (const ref of references(validator, doc.fields, ""))
        if (ref.table === "users" || ref.table === "questions") out[ref.table].add(ref.id);
    }
  }
  return out;
}

type Fields = Record<string, unknown>;

/**
 * A user's counter shard is a hash of their id, and ids change on the way into the embedded
 * runtime: the exported shards are checked against the exported rows (production ids), then
 * written again bucketed by the embedded ids. Totals stay as exported: a difference production
 * had (shards against rows) is kept, in shard 0, so verifyProjections sees it too.
 */
function reshardCounters(
  tables: ProductionState["tables"],
  ids: DatasetIds,
): { shards: { examId: Id<"exams">; shard: number; participants: number; completed: number; answers: number }[]; failures: string[] } {
  const failures: string[] = [];
  const answersOf = new Map<string, number>();
  for (const a of tables.examAnswers)
    answersOf.set(a.fields.participationId as string, (answersOf.get(a.fields.participationId as string) ?? 0) + 1);
  const exported = new Map<string, Counts[]>();
  const fromRows = new Map<string, Counts[]>();
  const embedded = new Map<string, Counts[]>();
  const bump = (m: Map<string, Counts[]>, examId: string, shard: number, c: Counts) => {
    const list = m.get(examId) ?? Array.from({ length: COUNTER_SHARDS }, () => NO_COUNTS);
    list[shard] = addCounts(list[shard]!, c);
    m.set(examId, list);
  };
  for (const s of tables.examCounterShards)
    bump(exported, s.fields.examId as string, s.fields.shard as number, s.fields as unknown as Counts);
  for (const row of tables.examParticipations) {
    const counts = countsOfAttempt(row.fields as { completedAt?: number }, answersOf.get(row.id) ?? 0);
    const examId = row.fields.examId as string;
    bump(fromRows, examId, counterShard(row.fields.userId as string), counts);
    bump(embedded, examId, counterShard(ids.users.get(row.fields.userId as string) ?? (row.fields.userId as string)), counts);
  }
  const shards: { examId: Id<"exams">; shard: number; participants: number; completed: number; answers: number }[] = [];
  for (const examId of new Set([...exported.keys(), ...fromRows.keys()])) {
    const have = exported.get(examId) ?? Array.from({ length: COUNTER_SHARDS }, () => NO_COUNTS);
    const want = fromRows.get(examId) ?? Array.from({ length: COUNTER_SHARDS }, () => NO_COUNTS);
    have.forEach((c, shard) => {
      if (!sameCounts(c, want[shard]!))
        failures.push(
          `counters: shard ${shard} of exam ${examId} says ${JSON.stringify(c)} as exported, its rows give ${JSON.stringify(want[shard])}`,
        );
    });
    const drift = addCounts(
      have.reduce((a, b) => addCounts(a, b), NO_COUNTS),
      want.reduce((a, b) => addCounts(a, b), NO_COUNTS),
      -1,
    );
    const target = embedded.get(examId) ?? Array.from({ length: COUNTER_SHARDS }, () => NO_COUNTS);
    target[0] = addCounts(target[0]!, drift);
    const id = ids.exams.get(examId) as Id<"exams">;
    target.forEach((c, shard) => {
      if (!sameCounts(c, NO_COUNTS) || tables.examCounterShards.some((s) => s.fields.examId === examId && s.fields.shard === shard))
        shards.push({ examId: id, shard, ...c });
    });
  }
  return { shards, failures };
}

/** Checks each stream's chain as exported (production ids): the hash of every event and the link to the one before. */
export async function checkExportedChain(events: readonly RawDoc[]): Promise<string[]> {
  const problems: string[] = [];
  const streams = new Map<string, RawDoc[]>();
  for (const e of events) {
    const key = `${String(e.fields.examId)}/${String(e.fields.userId)}`;
    streams.set(key, [...(streams.get(key) ?? []), e]);
  }
  for (const [stream, list] of streams) {
    list.sort((a, b) => (a.fields.version as number) - (b.fields.version as number));
    let prev = "";
    for (const [i, e] of list.entries()) {
      const at = `${stream} version ${String(e.fields.version)} (line ${e.line})`;
      if (e.fields.version !== i + 1) problems.push(`${at}: expected version ${i + 1}`);
      if (e.fields.prevHash !== prev) problems.push(`${at}: prevHash does not link to the event before`);
      if ((await eventHash(hashedContentOf(e.fields))) !== e.fields.hash) problems.push(`${at}: hash does not match the event's content`);
      prev = e.fields.hash as string;
    }
  }
  return problems;
}

const AS_EXPORTED = "as exported, ids translated";
/**
 * How each table is loaded: copies production holds (stale or not), the audit of edits, settings and
 * quarantined entries as exported; the rest as insertProduction says. Every table of V2_TABLES: a table
 * added to the schema does not compile until it is said here (and cut in productionForExam).
 */
const LOADED_AS = {
  examEvents: "re-sealed under the embedded ids",
  examParticipations: "pointing at the re-sealed heads",
  examAnswers: "of the embedded participations",
  examHeaders: "exam creation time on the embedded clock",
  examQuestionLists: AS_EXPORTED,
  examChanges: "as exported, ids translated (a continuation to its head's new id)",
  examApiSettings: AS_EXPORTED,
  examCounterShards: "re-bucketed by the embedded user ids",
  migrationQuarantine: AS_EXPORTED,
  examMirrorStates: "watermark on the embedded clock",
  examCountSummaries: AS_EXPORTED,
  migrationProgress: "cursor on the embedded clock",
} as const satisfies Record<V2Table, string>;

/**
 * Loads an exam's production V2 state into an instance that already holds its V1
 * documents and those the state refers to ({@link referencedDocuments}; `ids`:
 * snapshot id → embedded id; a referenced document the snapshot lacks, deleted in
 * production since, is given a deleted document's id here and added to `ids`).
 * Returns what it loaded and any break of the exported chain (a failure: the log
 * was damaged before the export).
 */
export async function insertProduction(
  t: Pick<TestConvex<typeof schema>, "run">,
  state: ProductionState,
  ids: DatasetIds,
): Promise<{ notes: string[]; failures: string[] }> {
  const { tables } = state;
  const failures = (await checkExportedChain(tables.examEvents)).map((p) => `audit chain: ${p}`);
  const referenced = referencedDocuments(state);
  const deleted = {
    users: [...referenced.users].filter((k) => !ids.users.has(k)),
    questions: [...referenced.questions].filter((k) => !ids.questions.has(k)),
  };
  if (deleted.users.length + deleted.questions.length > 0) {
    await t.run(async (ctx) => {
      for (const key of deleted.users) ids.users.set(key, await deletedDocumentId(ctx, "users"));
      for (const key of deleted.questions) ids.questions.set(key, await deletedDocumentId(ctx, "questions"));
    });
  }
  // Snapshot ids → embedded ids, also inside strings (idempotency keys name exam and user).
  const reverse = (m: Map<string, string>) => new Map([...m].map(([k, v]) => [v, k]));
  const toEmbedded = new IdTranslator({
    users: reverse(ids.users),
    questions: reverse(ids.questions),
    exams: reverse(ids.exams),
  } as unknown as DatasetIds);
  const rehash = new Map<string, string>(); // exported hash → re-sealed hash
  const participationIds = new Map<string, string>();
  const eventIds = new Map<string, Id<"examEvents">>();
  const byCreation = (docs: RawDoc[]) => [...docs].sort((a, b) => a.creationTime - b.creationTime);
  // One at a time, in the order given: embedded creation times follow the exported ones (the mirror's watermark relies on it).
  const insert = async (
    table: TableNames,
    docs: RawDoc[],
    map: (fields: Fields, doc: RawDoc) => Fields | Promise<Fields>,
    after?: (doc: RawDoc, id: string) => void,
  ) => {
    for (let i = 0; i < docs.length; i += 200) {
      const chunk = docs.slice(i, i + 200);
      const mapped = await Promise.all(chunk.map((d) => map(toEmbedded.translate(d.fields) as Fields, d)));
      const inserted = await t.run(async (ctx) => {
        const out: string[] = [];
        for (const f of mapped) out.push(await ctx.db.insert(table, f as never));
        return out;
      });
      chunk.forEach((d, j) => after?.(d, inserted[j]!));
    }
  };

  // The log, stream by stream in version order, re-sealed under the embedded ids.
  const events = byCreation(tables.examEvents);
  const heads = new Map<string, string>();
  const sealed: Fields[] = [];
  for (const e of [...events].sort((a, b) => (a.fields.version as number) - (b.fields.version as number))) {
    const fields = toEmbedded.translate(e.fields) as Fields;
    const stream = `${String(fields.examId)}/${String(fields.userId)}`;
    const prevHash = (fields.version as number) === 1 ? "" : (heads.get(stream) ?? "");
    const hash = await eventHash(hashedContentOf({ ...fields, prevHash }));
    heads.set(stream, hash);
    rehash.set(e.fields.hash as string, hash);
    sealed.push({ ...fields, prevHash, hash, _line: e.line });
  }
  const sealedByLine = new Map(sealed.map((f) => [f._line as number, f]));
  await insert(
    "examEvents",
    events,
    (_f, d) => {
      const { _line, ...fields } = sealedByLine.get(d.line)!;
      return fields;
    },
    (d, id) => eventIds.set(d.id, id as Id<"examEvents">),
  );
  await insert(
    "examParticipations",
    byCreation(tables.examParticipations),
    (f) => ({ ...f, lastEventHash: rehash.get(f.lastEventHash as string) ?? f.lastEventHash }),
    (d, id) => participationIds.set(d.id, id),
  );
  const ofParticipation = (f: Fields, d: RawDoc) => ({
    ...f,
    participationId: participationIds.get(d.fields.participationId as string) ?? f.participationId,
  });
  // The exam's creation time, on the embedded clock: what headers and passes' cursors name.
  const [examKey] = Object.keys(state.examCreationTimes);
  const examId = ids.exams.get(examKey!) as Id<"exams">;
  const created = state.examCreationTimes[examKey!]!;
  const embeddedCreated = await t.run(async (ctx) => (await ctx.db.get("exams", examId))!._creationTime);
  await insert("examAnswers", byCreation(tables.examAnswers), ofParticipation);
  await insert("examHeaders", byCreation(tables.examHeaders), (f) => ({ ...f, examCreationTime: embeddedCreated }));
  // Changes: heads first, then the continuations of a change too large for one document, pointing at their head's new id.
  const changeIds = new Map<string, string>();
  const [changeHeads, changeParts] = [false, true].map((cont) =>
    byCreation(tables.examChanges).filter((d) => (d.fields.partOf !== undefined) === cont),
  );
  await insert(
    "examChanges",
    changeHeads!,
    (f) => f,
    (d, id) => changeIds.set(d.id, id),
  );
  await insert("examChanges", changeParts!, (f, d) => ({ ...f, partOf: changeIds.get(d.fields.partOf as string) ?? f.partOf }));
  for (const table of V2_TABLES) if (LOADED_AS[table] === AS_EXPORTED) await insert(table, byCreation(tables[table]), (f) => f);
  const counters = reshardCounters(tables, ids);
  failures.push(...counters.failures);
  await t.run(async (ctx) => {
    for (const shard of counters.shards) await ctx.db.insert("examCounterShards", shard);
  });
  // The watermark: "every event created at or before it is in the array", on the embedded clock (0: before every event).
  const covered = new Map<string, number>();
  for (const mirror of tables.examMirrorStates) {
    const through = mirror.fields.mirroredThrough as number;
    const last = events.findLast((e) => e.creationTime <= through && e.fields.examId === mirror.fields.examId);
    covered.set(
      mirror.id,
      last === undefined ? 0 : await t.run(async (ctx) => (await ctx.db.get("examEvents", eventIds.get(last.id)!))!._creationTime),
    );
  }
  await insert("examMirrorStates", tables.examMirrorStates, (f, d) => ({ ...f, mirroredThrough: covered.get(d.id)! }));
  // A pass's cursor is an exam creation time: in this one-exam instance the exam is done, under way, or not reached.
  await insert("migrationProgress", tables.migrationProgress, (f) => {
    const current = f.current as { examId: string } | undefined;
    const after = f.afterCreationTime as number | undefined;
    const background = f.background as Fields | undefined;
    const headerCheck = f.headerCheck as { headersThrough?: number; running?: unknown } | undefined;
    const through = headerCheck?.headersThrough;
    return {
      ...f,
      afterCreationTime: after !== undefined && after >= created ? embeddedCreated : undefined,
      current: current?.examId === examId ? current : undefined,
      // No scheduler runs here: a background run production left going is continued by the rehearsal's own calls.
      ...(background === undefined ? {} : { background: { ...background, running: false } }),
      ...(headerCheck === undefined
        ? {}
        : {
            headerCheck: {
              ...headerCheck,
              running: undefined,
              headersThrough: through === undefined ? undefined : through >= created ? embeddedCreated : embeddedCreated - 1,
            },
          }),
    };
  });
  const counts = V2_TABLES.filter((table) => tables[table].length > 0).map((table) => `${tables[table].length} ${table}`);
  const chain = failures.some((f) => f.startsWith("audit chain"))
    ? "BROKEN in the export"
    : "verified as exported, re-sealed under embedded ids";
  const gone = deleted.users.length + deleted.questions.length;
  const notes =
    counts.length === 0
      ? []
      : [
          [
            `production state loaded: ${counts.join(", ")}`,
            `chain ${chain}`,
            "counter shards re-bucketed by the embedded user ids",
            ...(tables.examMirrorStates.length === 0 ? [] : ["mirror watermark moved onto the embedded clock"]),
            ...(gone === 0 ? [] : [`${gone} users or questions it refers to deleted in production: given deleted documents' ids`]),
          ].join("; "),
        ];
  return { notes, failures };
}
