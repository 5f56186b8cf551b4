/**
 * Loads a real Convex export (`npx convex export` ZIP, or its unzipped folder of
 * `<table>/documents.jsonl`) as a V1 dataset the rehearsal can insert, one exam
 * at a time, into embedded Convex instances. Documents are checked against the
 * project's own schema validators (convex/schema.ts) and their references
 * against the loaded tables; anything wrong is a {@link SnapshotError} naming
 * the table, the document (line and _id) and the field.
 *
 * Snapshot ids are kept as the dataset keys: the embedded runtime gives the
 * documents new ids, and the rehearsal maps them back to these in its backup
 * file and report.
 *
 * @example
 * const { dataset } = await loadSnapshot("./backups/snapshot.zip");
 * await insertDataset(t, dataset, [dataset.exams[0]!.key]);
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { strFromU8, unzipSync } from "fflate";
import { jsonToConvex, type GenericValidator, type JSONValue, type Value } from "convex/values";
import { validate, ValidationError } from "convex-helpers/validators";
import schema from "../../convex/schema.js";
import type { Doc } from "../../convex/_generated/dataModel.js";
import type { DatasetExam, DatasetQuestion, DatasetUser, V1Dataset } from "../dataset/generate.js";

/** The V1 tables the rehearsal loads; every other table of the export is left out. */
export const V1_TABLES = ["users", "questions", "exams"] as const;
export type V1Table = (typeof V1_TABLES)[number];

export type SnapshotLocation = { table?: string; line?: number; id?: string; field?: string };

/** A snapshot that cannot be rehearsed, with where the problem is. */
export class SnapshotError extends Error {
  constructor(
    readonly problem: string,
    readonly where: SnapshotLocation = {},
  ) {
    super(describe(problem, where));
    this.name = "SnapshotError";
  }
}

function describe(problem: string, { table, line, id, field }: SnapshotLocation): string {
  const parts = [
    table === undefined ? null : `table "${table}"`,
    line === undefined ? null : `line ${line}`,
    id === undefined ? null : `document ${id}`,
    field === undefined ? null : `field "${field}"`,
  ].filter((p) => p !== null);
  return parts.length === 0 ? problem : `${parts.join(", ")}: ${problem}`;
}

export type LoadedSnapshot = {
  dataset: V1Dataset;
  format: "zip" | "folder";
  /** Documents loaded per V1 table. */
  documents: Record<V1Table, number>;
  /** Tables present in the export that the rehearsal does not load (V2 tables, other features). */
  ignoredTables: string[];
};

type RawDoc = { line: number; id: string; fields: Record<string, Value> };

/** Reads `<table>/documents.jsonl` texts from a ZIP file or an unzipped folder. */
function readTables(path: string): { format: "zip" | "folder"; texts: Map<string, string>; all: string[] } {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new SnapshotError(`no such file or folder: ${path}`);
  }
  const tableOf = (name: string) => /^([^/_][^/]*)\/documents\.jsonl$/.exec(name)?.[1];
  if (stat.isDirectory()) {
    const entries = readdirSync(path);
    const tables = entries.filter((t) => {
      if (t.startsWith("_")) return false; // _tables, _storage, _components: not user tables
      try {
        return statSync(join(path, t, "documents.jsonl")).isFile();
      } catch {
        return false;
      }
    });
    // `npx convex export --path dir/` writes one snapshot ZIP into the folder.
    const zips = entries.filter((e) => e.endsWith(".zip"));
    if (tables.length === 0 && zips.length === 1) return readTables(join(path, zips[0]!));
    if (!tables.includes("exams")) {
      throw new SnapshotError(`not a Convex export: ${path} has no exams/documents.jsonl`);
    }
    const texts = new Map<string, string>();
    for (const t of V1_TABLES) {
      if (tables.includes(t)) texts.set(t, readFileSync(join(path, t, "documents.jsonl"), "utf8"));
    }
    return { format: "folder", texts, all: tables };
  }
  let files;
  try {
    const names: string[] = [];
    // Only the V1 tables are decompressed: the export may hold much larger tables.
    files = unzipSync(readFileSync(path), {
      filter: (f) => {
        const table = tableOf(f.name);
        if (table !== undefined) names.push(table);
        return table !== undefined && (V1_TABLES as readonly string[]).includes(table);
      },
    });
    const texts = new Map(Object.entries(files).map(([name, bytes]) => [tableOf(name)!, strFromU8(bytes)]));
    if (!texts.has("exams")) throw new SnapshotError(`not a Convex export: ${path} has no exams/documents.jsonl`);
    return { format: "zip", texts, all: names };
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    throw new SnapshotError(`not a readable ZIP file or export folder: ${path} (${(e as Error).message})`);
  }
}

/** Parses and schema-checks one table's documents.jsonl. */
function parseTable(table: V1Table, text: string): RawDoc[] {
  const validator = schema.tables[table].validator as GenericValidator;
  const docs: RawDoc[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const source = lines[i]!.trim();
    if (source === "") continue;
    const line = i + 1;
    let value: Value;
    try {
      value = jsonToConvex(JSON.parse(source) as JSONValue);
    } catch (e) {
      throw new SnapshotError(`not a JSON document (${(e as Error).message})`, { table, line });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof ArrayBuffer) {
      throw new SnapshotError("not a JSON object", { table, line });
    }
    const { _id, _creationTime: _, ...fields } = value as Record<string, Value>;
    if (typeof _id !== "string" || _id === "") {
      throw new SnapshotError("missing or not a string", { table, line, field: "_id" });
    }
    try {
      validate(validator, fields, { throw: true });
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      const problem =
        e.got === "undefined"
          ? `missing (the V1 schema requires ${e.expected})`
          : e.expected === "nothing"
            ? "not in the V1 schema"
            : `expected ${e.expected === "float64" ? "number" : e.expected}, got ${e.got}`;
      throw new SnapshotError(problem, { table, line, id: _id, field: e.path });
    }
    docs.push({ line, id: _id, fields });
  }
  return docs;
}

/** Every `v.id(table)` value in a document, with its field path (as the validator error paths spell it). */
function* references(validator: GenericValidator, value: Value | undefined, path: string): Generator<{ table: string; id: string; path: string }> {
  if (value === undefined) return;
  const at = (k: string) => (path === "" ? k : `${path}.${k}`);
  switch (validator.kind) {
    case "id":
      yield { table: validator.tableName, id: value as string, path };
      return;
    case "object":
      for (const [k, field] of Object.entries(validator.fields)) {
        yield* references(field as GenericValidator, (value as Record<string, Value>)[k], at(k));
      }
      return;
    case "array":
      for (const [i, element] of (value as Value[]).entries()) yield* references(validator.element, element, `${path}[${i}]`);
      return;
    case "union": {
      const member = validator.members.find((m) => validate(m, value));
      if (member !== undefined) yield* references(member, value, path);
      return;
    }
    case "record":
      for (const [k, element] of Object.entries(value as Record<string, Value>)) {
        yield* references(validator.value as GenericValidator, element, at(k));
      }
      return;
    default:
      return;
  }
}

/** An answer's question may have been deleted since: the migration reports it (CONTRACT §1), so it is not a load error. */
const DELETED_QUESTION_ALLOWED = /^participants\[\d+\]\.answers\[\d+\]\.questionId$/;

/** Loads, checks and converts a Convex export. Throws {@link SnapshotError}. */
export function loadSnapshot(path: string): LoadedSnapshot {
  const { format, texts, all } = readTables(path);
  const tables = Object.fromEntries(V1_TABLES.map((t) => [t, parseTable(t, texts.get(t) ?? "")])) as Record<V1Table, RawDoc[]>;

  const ids = new Map<string, { table: V1Table; line: number }>();
  for (const table of V1_TABLES) {
    for (const doc of tables[table]) {
      const seen = ids.get(doc.id);
      if (seen !== undefined) {
        throw new SnapshotError(`_id already used by ${seen.table} line ${seen.line}`, { table, line: doc.line, id: doc.id, field: "_id" });
      }
      ids.set(doc.id, { table, line: doc.line });
    }
  }
  const deletedQuestionKeys = new Set<string>();
  for (const table of V1_TABLES) {
    const validator = schema.tables[table].validator as GenericValidator;
    for (const doc of tables[table]) {
      for (const ref of references(validator, doc.fields, "")) {
        const target = ids.get(ref.id);
        if (target?.table === ref.table) continue;
        if (target === undefined && ref.table === "questions" && DELETED_QUESTION_ALLOWED.test(ref.path)) {
          deletedQuestionKeys.add(ref.id);
          continue;
        }
        const problem =
          target === undefined
            ? `refers to ${ref.id}, which is not in the snapshot's ${ref.table} table`
            : `refers to ${ref.id}, a document of ${target.table}, where the V1 schema wants ${ref.table}`;
        throw new SnapshotError(problem, { table, line: doc.line, id: doc.id, field: ref.path });
      }
    }
  }

  const users: DatasetUser[] = tables.users.map(({ id, fields }) => ({ key: id, ...(fields as Omit<DatasetUser, "key">) }));
  const questions: DatasetQuestion[] = tables.questions.map(({ id, fields }) => ({
    key: id,
    ...(fields as Omit<DatasetQuestion, "key">),
  }));
  const exams: DatasetExam[] = tables.exams.map(({ id, fields }) => {
    const exam = fields as unknown as Doc<"exams">;
    return {
      key: id,
      title: exam.title,
      questionKeys: exam.questionIds,
      durationMs: exam.durationMs,
      maxPauses: exam.maxPauses,
      participants: (exam.participants ?? []).map(({ userId, answers, ...rest }) => ({
        ...rest,
        userKey: userId,
        answers: answers.map(({ questionId, ...a }) => ({ ...a, questionKey: questionId })),
      })),
    };
  });
  return {
    dataset: { users, questions, exams, deletedQuestionKeys: [...deletedQuestionKeys], dirt: [] },
    format,
    documents: { users: users.length, questions: questions.length, exams: exams.length },
    ignoredTables: [...new Set(all)].filter((t) => !(V1_TABLES as readonly string[]).includes(t)).sort(),
  };
}
