/**
 * An embedded deployment as `npx convex export` would write it: every table of
 * the schema, each document under a real-format Convex id (table numbers from
 * 10001 in schema order), references rewritten to match, the event log's
 * hash chain sealed over those ids, the question-facts digests taken over them
 * and the counter shards bucketed by them, as production's would be (shards
 * are recounted from the rows: an embedded deployment whose counters drifted
 * is not dumped with that drift). Fixtures for
 * "rehearse from where production stands" (a partly or fully migrated
 * deployment), without a deployment.
 *
 * @example
 * await writeExportZip("partly-migrated.zip", await deploymentExport(t));
 */
import type { TestConvex } from "convex-test";
import type { TableNames } from "../../convex/_generated/dataModel.js";
import schema from "../../convex/schema.js";
import { eventHash, type HashedEventContent } from "../../convex/events/hash.js";
import { counterShard, countsOfAttempt } from "../../convex/projections/counters.js";
import { FIRST_TABLE_NUMBER, realId, type ExportSpec } from "./write.js";

type Doc = Record<string, unknown> & { _id: string; _creationTime: number };

export async function deploymentExport(t: Pick<TestConvex<typeof schema>, "run">): Promise<ExportSpec & { idOf: Map<string, string> }> {
  const names = Object.keys(schema.tables) as TableNames[];
  const tableNumbers = Object.fromEntries(names.map((name, i) => [name, FIRST_TABLE_NUMBER + i]));
  const docs = new Map<string, Doc[]>();
  for (const name of names) docs.set(name, (await t.run((ctx) => ctx.db.query(name).collect())) as unknown as Doc[]);
  const idOf = new Map<string, string>();
  for (const [name, list] of docs) for (const d of list) idOf.set(d._id, realId(tableNumbers[name]!, d._id));
  const pattern = new RegExp([...idOf.keys()].sort((a, b) => b.length - a.length).join("|") || "$^", "g");
  const translate = (value: unknown): unknown => {
    if (typeof value === "string") return idOf.get(value) ?? value.replace(pattern, (id) => idOf.get(id)!);
    if (Array.isArray(value)) return value.map(translate);
    if (value !== null && typeof value === "object" && !(value instanceof ArrayBuffer)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, translate(v)]));
    }
    return value;
  };
  const tables: Record<string, Doc[]> = {};
  for (const [name, list] of docs) tables[name] = list.map((d) => translate(d) as Doc);
  // Re-seal each stream over the real ids, as production's hashes are.
  const sealed = new Map<string, string>();
  const heads = new Map<string, string>();
  for (const e of [...tables.examEvents!].sort((a, b) => (a.version as number) - (b.version as number))) {
    const stream = `${String(e.examId)}/${String(e.userId)}`;
    const prevHash = heads.get(stream) ?? "";
    const { _id, _creationTime, hash: old, ...content } = e;
    const hash = await eventHash({ ...(content as unknown as HashedEventContent), prevHash });
    Object.assign(e, { prevHash, hash });
    heads.set(stream, hash);
    sealed.set(old as string, hash);
  }
  for (const p of tables.examParticipations!) p.lastEventHash = sealed.get(p.lastEventHash as string) ?? p.lastEventHash;
  // Counter shards are chosen by a hash of the user id: bucket them again by the real ids (each shard from its rows).
  const answers = new Map<string, number>();
  for (const a of tables.examAnswers!) answers.set(a.participationId as string, (answers.get(a.participationId as string) ?? 0) + 1);
  const shards = new Map<string, Doc>();
  for (const s of tables.examCounterShards!)
    shards.set(`${String(s.examId)}/${String(s.shard)}`, { ...s, participants: 0, completed: 0, answers: 0 });
  for (const row of tables.examParticipations!) {
    const key = `${String(row.examId)}/${counterShard(row.userId as string)}`;
    const shard = shards.get(key) ?? {
      _id: realId(tableNumbers.examCounterShards!, key),
      _creationTime: row._creationTime,
      examId: row.examId,
      shard: counterShard(row.userId as string),
      participants: 0,
      completed: 0,
      answers: 0,
    };
    const counts = countsOfAttempt(row as { completedAt?: number }, answers.get(row._id) ?? 0);
    shards.set(key, {
      ...shard,
      participants: (shard.participants as number) + counts.participants,
      completed: (shard.completed as number) + counts.completed,
      answers: (shard.answers as number) + counts.answers,
    });
  }
  tables.examCounterShards = [...shards.values()];
  return { tables, tableNumbers, idOf };
}
