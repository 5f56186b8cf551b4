/**
 * Loads a real Convex export (`npx convex export` ZIP, or its unzipped folder;
 * layout and encoding per Convex's source, see write.ts) as a V1 dataset the
 * rehearsal can insert, one exam at a time, into embedded Convex instances;
 * this backend's own tables too, when the deployment is already partly
 * migrated: every table of convex/schema.ts ({@link V2_TABLES}, derived from
 * the schema), so that only other features' tables are left out (`ignoredTables`).
 *
 * Both export eras are read as Convex's import reads them (values.ts): the
 * uniform ConvexExportJSON of today's exports and the legacy ConvexCleanJSON
 * typed by `generated_schema.jsonl`; every value keeps its Convex type (an
 * int64 is a bigint). Every entry read is checked (archive.ts: CRC-32, sizes,
 * UTF-8, a line-length limit derived from Convex's document size).
 *
 * Streams: each table is read line by line from its ZIP entry or file; users
 * and questions are kept (the rehearsal needs them), exams are handed on one by
 * one (`scanSnapshot`), so memory is the per-exam working set plus the id sets
 * the reference checks need, never the file. Documents are checked against the
 * project's own schema validators, their `_id`s and references decoded as
 * Convex ids (the table number names the table). Dirty data that production
 * can hold (deleted questions still listed or answered, NaN, empty exams) loads:
 * the migration reports it. Anything else is a {@link SnapshotError} naming the
 * table, the document (line and _id) and the field.
 *
 * @example
 * const { dataset, production } = await loadSnapshot("./backups/snapshot.zip");
 */
import { createHash } from "node:crypto";
import type { GenericValidator, Value } from "convex/values";
import { validate, ValidationError } from "convex-helpers/validators";
import schema from "../../convex/schema.js";
import type { Doc, TableNames } from "../../convex/_generated/dataModel.js";
import type { DatasetExam, DatasetQuestion, DatasetUser, V1Dataset } from "../dataset/generate.js";
import { ArchiveError, openArchive, type Archive } from "./archive.js";
import { decodeConvexId } from "./convexId.js";
import { SchemaDiagnosis, TypeSummary, type Rejection } from "./deploy.js";
import { DecodeError, decodeLegacy, decodeUniform, NO_GENERATED_SCHEMA, parseContext, parseShape, type GeneratedSchema } from "./values.js";

/** Convex's largest document, in its size measure (crates/common/src/document.rs MAX_USER_SIZE). */
export const MAX_DOCUMENT_SIZE = 1 << 20;
/**
 * The most bytes one unit of that size can take in an export line, either era: an empty bytes
 * value is 2 units and `{"$bytes":""},` 14 bytes; the next worst, `false,` (1 unit, 6 bytes) and a
 * control character in a string (`\u001f`, 6 bytes for 1), take less (docs/rehearsal.md).
 */
export const EXPORT_BYTES_PER_UNIT = 7;
/** The longest `documents.jsonl` line a Convex export can hold (7 MiB): a longer one is refused as soon as it passes this. */
export const MAX_LINE_BYTES = MAX_DOCUMENT_SIZE * EXPORT_BYTES_PER_UNIT;
/** A `generated_schema.jsonl` line: a per-document override spells `"infer",` (8 bytes) for an element of 1 unit, plus its `_id`. */
export const MAX_SCHEMA_LINE_BYTES = MAX_DOCUMENT_SIZE * 8 + 1024;

/** How a table's values are written: see values.ts. */
export type Era = "uniform" | "legacy" | "no generated_schema.jsonl";

/** The V1 tables the rehearsal loads. */
export const V1_TABLES = ["users", "questions", "exams"] as const;
export type V1Table = (typeof V1_TABLES)[number];
/**
 * Tables of the schema the loader leaves out on purpose, each with the reason (an export's copy of one
 * is then reported in `ignoredTables`). None: every table of this backend is production state that
 * the rehearsal starts from.
 */
export const NOT_LOADED = {} as const satisfies Partial<Record<TableNames, string>>;
/** This backend's own tables: every table of the schema but the V1 ones (and {@link NOT_LOADED}); present when the export was taken after the V2 deploy. */
export type V2Table = Exclude<TableNames, V1Table | keyof typeof NOT_LOADED>;
export const V2_TABLES: readonly V2Table[] = (Object.keys(schema.tables) as TableNames[]).filter(
  (t): t is V2Table => !(V1_TABLES as readonly string[]).includes(t) && !Object.hasOwn(NOT_LOADED, t),
);
type ProjectTable = V1Table | V2Table;

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

/** A document of the export: its id, creation time and fields (system fields apart). */
export type RawDoc = { line: number; id: string; creationTime: number; fields: Record<string, Value> };

/** The V2 tables as production holds them (partly or fully migrated deployment), and each exam's creation time (the passes' cursors). */
export type ProductionState = { tables: Record<V2Table, RawDoc[]>; examCreationTimes: Record<string, number> };

export type SnapshotSummary = {
  format: "zip" | "folder";
  /** The folder prefix the export sat under (null: at the root). */
  folder: string | null;
  /** The value encodings of the tables read (one, unless tables were exported by different backends). */
  eras: Era[];
  /** Entries that are not part of the export (`__MACOSX/`, `.DS_Store`, files beside it), ignored. */
  ignoredEntries: string[];
  documents: Record<V1Table, number> & Partial<Record<V2Table, number>>;
  /** Tables present in the export that the rehearsal does not load (other features' tables). */
  ignoredTables: string[];
  /** Components' tables (`_components/<name>/<table>`), not rehearsed. */
  componentTables: string[];
  /** Files in `_storage`: count and bytes (from the entries), checked against `_storage/documents.jsonl`; `verified`: contents read, sha256 and size checked. */
  storage: { files: number; bytes: number; largestBytes: number; verified: boolean };
  /** With `check`: every way the documents depart from convex/schema.ts (empty: `npx convex deploy` accepts them). */
  rejections: Rejection[];
  /** With `check`: the app's other tables, each with the `defineTable` that accepts its documents. */
  otherTables: { table: string; documents: number; definition: string }[];
  /** Bytes of the exams table (uncompressed) and of the largest exam document line. */
  examsTableBytes: number;
  largestExamLineBytes: number;
};

export type LoadedSnapshot = SnapshotSummary & {
  dataset: V1Dataset;
  /** Null when the export holds no event (nothing migrated yet). */
  production: ProductionState | null;
};

const isObject = (v: unknown): v is Record<string, Value> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof ArrayBuffer);

/** Every `v.id(table)` value in a document, with its field path (as the validator error paths spell it). */
export function* references(
  validator: GenericValidator,
  value: Value | undefined,
  path: string,
): Generator<{ table: string; id: string; path: string }> {
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

/** Questions deleted since (still listed by an exam or answered): the migration reports them (docs/operations.md), so they load. */
const DELETED_QUESTION_ALLOWED = /^(questionIds\[\d+\]|participants\[\d+\]\.answers\[\d+\]\.questionId)$/;

/** A line's table and number for errors. */
const at = (table: string, line: number): SnapshotLocation => ({ table, line });

/** Reads and checks the export's tables in dependency order. */
class Reader {
  readonly tableNumbers = new Map<string, number>();
  readonly tableOfNumber = new Map<number, string>();
  /** Ids of the loaded project tables (reference checks). */
  readonly ids = new Map<string, Set<string>>();
  readonly deletedQuestionKeys = new Set<string>();
  readonly userTables: string[];
  readonly eras = new Set<Era>();
  /** Collects every schema rejection instead of stopping at the first (check-snapshot). */
  readonly diagnosis: SchemaDiagnosis | null;

  constructor(
    readonly archive: Archive,
    collect: boolean,
  ) {
    this.userTables = archive.names.map((n) => /^([^/_][^/]*)\/documents\.jsonl$/.exec(n)?.[1]).filter((t): t is string => t !== undefined);
    this.diagnosis = collect ? new SchemaDiagnosis((s) => this.tableOfId(s)) : null;
  }

  /** The table a string is an id of (by `_tables`), or null. */
  tableOfId(s: string): string | null {
    if (s.length < 31 || s.length > 37) return null;
    const decoded = decodeConvexId(s);
    return decoded === null ? null : (this.tableOfNumber.get(decoded.tableNumber) ?? null);
  }

  async *jsonLines(entry: string, max: number): AsyncGenerator<{ text: string; line: number }> {
    let line = 0;
    for await (const text of this.archive.lines(entry, max)) {
      line++;
      if (text.trim() !== "") yield { text, line };
    }
  }

  async readTablesTable() {
    if (!this.archive.names.includes("_tables/documents.jsonl")) return;
    for await (const { text, line } of this.jsonLines("_tables/documents.jsonl", MAX_LINE_BYTES)) {
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch (e) {
        throw new SnapshotError(`not a JSON document (${(e as Error).message})`, at("_tables", line));
      }
      const { name, id } = (row ?? {}) as { name?: unknown; id?: unknown };
      if (typeof name !== "string" || typeof id !== "number") throw new SnapshotError("expected {name, id}", at("_tables", line));
      this.tableNumbers.set(name, id);
      this.tableOfNumber.set(id, name);
    }
  }

  /** How the table's values are written: its generated_schema.jsonl ("uniform", or a shape and overrides), as Convex's import reads it. */
  private async decoderFor(table: string): Promise<(text: string) => Value> {
    const entry = `${table}/generated_schema.jsonl`;
    if (!this.archive.names.includes(entry)) {
      this.eras.add("no generated_schema.jsonl");
      const schema = { ...NO_GENERATED_SCHEMA, overrides: new Map() };
      return (text) => decodeLegacy(JSON.parse(text), schema);
    }
    let schema: GeneratedSchema | null = null;
    for await (const { text, line } of this.jsonLines(entry, MAX_SCHEMA_LINE_BYTES)) {
      try {
        const json = JSON.parse(text) as unknown;
        if (schema === null) {
          if (json === "uniform") {
            this.eras.add("uniform");
            return decodeUniform;
          }
          if (typeof json !== "string") throw new DecodeError('the first line must be a string: "uniform" or the table\'s shape');
          schema = { shape: parseShape(json), overrides: new Map() };
          continue;
        }
        const entries = json !== null && typeof json === "object" && !Array.isArray(json) ? Object.entries(json) : [];
        if (entries.length !== 1) throw new DecodeError('an override line is one {"<_id>": context} object');
        schema.overrides.set(entries[0]![0], parseContext(entries[0]![1]));
      } catch (e) {
        const problem = e instanceof SyntaxError ? `not a JSON document (${e.message})` : (e as Error).message;
        if (e instanceof SyntaxError || e instanceof DecodeError) throw new SnapshotError(problem, at(entry, line));
        throw e;
      }
    }
    if (schema === null) throw new SnapshotError('empty: expected "uniform" or the table\'s shape', { table: entry });
    this.eras.add("legacy");
    const typed = schema;
    return (text) => decodeLegacy(JSON.parse(text), typed);
  }

  /** Checks an id's encoding and its table number against `_tables` (when the export has one). */
  private idProblem(id: string, table: string): string | null {
    const decoded = decodeConvexId(id);
    if (decoded === null) return `${JSON.stringify(id)} is not a Convex document id`;
    const expected = this.tableNumbers.get(table);
    if (this.tableNumbers.size > 0 && expected !== decoded.tableNumber) {
      const actual = this.tableOfNumber.get(decoded.tableNumber);
      return `${id} is an id of ${actual === undefined ? `table number ${decoded.tableNumber}` : `table "${actual}"`}, not of "${table}"`;
    }
    return null;
  }

  /** A table's documents, decoded in its era, `_id` and `_creationTime` checked, schema apart. */
  async *rows(table: string): AsyncGenerator<RawDoc> {
    const name = `${table}/documents.jsonl`;
    if (!this.archive.names.includes(name)) return;
    const decode = await this.decoderFor(table);
    const ids = new Set<string>();
    this.ids.set(table, ids);
    for await (const { text, line } of this.jsonLines(name, MAX_LINE_BYTES)) {
      let value: Value;
      try {
        value = decode(text);
      } catch (e) {
        if (e instanceof SyntaxError) throw new SnapshotError(`not a JSON document (${e.message})`, { table, line });
        if (e instanceof DecodeError) throw new SnapshotError(e.message, { table, line });
        // Convex nests values at most 64 levels deep; a line nested beyond what the parser's stack holds is not a document.
        if (e instanceof RangeError) throw new SnapshotError(`nested too deeply (${e.message})`, { table, line });
        throw e;
      }
      if (!isObject(value)) throw new SnapshotError("not a JSON object", { table, line });
      const { _id, _creationTime, ...fields } = value;
      if (typeof _id !== "string" || _id === "") throw new SnapshotError("missing or not a string", { table, line, field: "_id" });
      const bad = this.idProblem(_id, table);
      if (bad !== null) throw new SnapshotError(bad, { table, line, id: _id, field: "_id" });
      if (typeof _creationTime !== "number")
        throw new SnapshotError("missing or not a number", { table, line, id: _id, field: "_creationTime" });
      if (ids.has(_id)) throw new SnapshotError("_id used twice", { table, line, id: _id, field: "_id" });
      ids.add(_id);
      yield { line, id: _id, creationTime: _creationTime, fields };
    }
  }

  /** A project table's documents that its schema validator accepts; the others stop the load, or with `collect` are listed and left out. */
  async *documents(table: ProjectTable): AsyncGenerator<RawDoc> {
    const validator = schema.tables[table].validator as GenericValidator;
    for await (const doc of this.rows(table)) {
      const where = { table, line: doc.line, id: doc.id };
      if (this.diagnosis !== null) {
        if (this.diagnosis.check(table, validator, doc.fields, { id: doc.id, line: doc.line })) yield doc;
        continue;
      }
      try {
        validate(validator, doc.fields, { throw: true });
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        const problem =
          e.got === "undefined"
            ? `missing (the schema requires ${e.expected})`
            : e.expected === "nothing"
              ? "not in the schema (check-snapshot lists every such field and the validator to add)"
              : `expected ${e.expected === "float64" ? "number" : e.expected}, got ${e.got}`;
        throw new SnapshotError(problem, { ...where, field: e.path });
      }
      yield doc;
    }
  }

  /** A table of the app outside this backend's schema: read (every entry is checked) and its documents' types summed up. */
  async otherTable(table: string): Promise<{ table: string; documents: number; definition: string }> {
    const summary = new TypeSummary((s) => this.tableOfId(s));
    let documents = 0;
    for await (const doc of this.rows(table)) {
      summary.addObject(doc.fields);
      documents++;
    }
    return { table, documents, definition: `${table}: defineTable(${summary.fieldsSource()}),` };
  }

  /** A reference from a V1 document: present, of the right table, or a deleted question where one may be. */
  checkReferences(table: V1Table, doc: RawDoc) {
    const validator = schema.tables[table].validator as GenericValidator;
    for (const ref of references(validator, doc.fields, "")) {
      if (this.ids.get(ref.table)?.has(ref.id) === true) continue;
      const bad = this.idProblem(ref.id, ref.table);
      const where = { table, line: doc.line, id: doc.id, field: ref.path };
      if (bad !== null) throw new SnapshotError(`refers to ${bad}`, where);
      if (ref.table === "questions" && DELETED_QUESTION_ALLOWED.test(ref.path)) {
        this.deletedQuestionKeys.add(ref.id);
        continue;
      }
      throw new SnapshotError(`refers to ${ref.id}, which is not in the snapshot's ${ref.table} table`, where);
    }
  }
}

function toExam({ id, fields }: RawDoc): DatasetExam {
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
}

/** What has been read when an exam is handed on: everything an exam's rehearsal needs besides the exam itself. */
export type ScanContext = {
  users: DatasetUser[];
  questions: DatasetQuestion[];
  /** Deleted questions referenced so far (this exam's included: it is checked before it is handed on). */
  deletedQuestionKeys: ReadonlySet<string>;
  production: ProductionState | null;
};

export type ScanHandlers = {
  /**
   * Each exam as it is read and checked (in the table's order). The scan waits for the promise
   * before it reads the next exam: a consumer slower than the file holds the loader back (streaming).
   */
  onExam?: (exam: DatasetExam, lineBytes: number, context: ScanContext) => void | Promise<void>;
  /** Keep users and questions (the rehearsal needs them; a check does not). */
  keep?: boolean;
  /**
   * A check before deploy (check-snapshot): every schema rejection listed (`rejections`) instead of
   * stopping at the first, and the app's other tables read and summed up (`otherTables`).
   */
  check?: boolean;
  /** Read every `_storage` file: its size and sha256 against its metadata (and the entry's CRC-32). */
  verifyFiles?: boolean;
  /** Progress of `verifyFiles`, in bytes. */
  onVerify?: (done: number, total: number) => void;
};

/** Streams and checks an export; exams are handed to `onExam` one at a time. Throws {@link SnapshotError}. */
export async function scanSnapshot(
  path: string,
  handlers: ScanHandlers = {},
): Promise<
  SnapshotSummary & {
    users: DatasetUser[];
    questions: DatasetQuestion[];
    deletedQuestionKeys: string[];
    production: ProductionState | null;
  }
> {
  let archive: Archive;
  try {
    archive = await openArchive(path);
  } catch (e) {
    if (e instanceof ArchiveError || isReadError(e))
      throw new SnapshotError(`not a readable ZIP file or export folder: ${(e as Error).message}`);
    throw e;
  }
  try {
    return await scan(archive, path, handlers);
  } catch (e) {
    // A file that cannot be read to the end (permissions, a damaged ZIP entry) is a bad snapshot, not a crash.
    if (e instanceof ArchiveError) throw new SnapshotError(e.message);
    if (!(e instanceof SnapshotError) && isReadError(e)) throw new SnapshotError(`the export cannot be read: ${(e as Error).message}`);
    throw e;
  } finally {
    archive.close();
  }
}

/** Errors of reading files and inflating entries (Node's fs and zlib set `code`; yauzl's are plain Errors about the ZIP). */
function isReadError(e: unknown): boolean {
  if (!(e instanceof Error) || e instanceof TypeError || e instanceof ReferenceError || e instanceof SyntaxError) return false;
  return typeof (e as NodeJS.ErrnoException).code === "string" || /zip|central directory|signature|entry|inflat|compress/i.test(e.message);
}

async function scan(archive: Archive, path: string, handlers: ScanHandlers) {
  const reader = new Reader(archive, handlers.check === true);
  if (!reader.userTables.includes("exams")) {
    if (reader.userTables.length === 0) throw new SnapshotError(`not a Convex export: ${path} has no <table>/documents.jsonl`);
    throw new SnapshotError(
      `a Convex export without an exams table (exams/documents.jsonl): its tables are ${reader.userTables.join(", ")}; is it this app's deployment?`,
    );
  }
  await reader.readTablesTable();
  const users: DatasetUser[] = [];
  const questions: DatasetQuestion[] = [];
  for await (const doc of reader.documents("users"))
    if (handlers.keep !== false) users.push({ key: doc.id, ...(doc.fields as Omit<DatasetUser, "key">) });
  for await (const doc of reader.documents("questions")) {
    if (handlers.keep !== false) questions.push({ key: doc.id, ...(doc.fields as Omit<DatasetQuestion, "key">) });
  }
  // The V2 tables before the exams: each exam's rehearsal starts from its part of production's
  // state, and exams are handed on as they are read.
  const v2 = Object.fromEntries(V2_TABLES.map((t) => [t, [] as RawDoc[]])) as ProductionState["tables"];
  for (const table of V2_TABLES) for await (const doc of reader.documents(table)) v2[table].push(doc);
  const examCreationTimes: Record<string, number> = {};
  const production = V2_TABLES.some((t) => v2[t].length > 0) ? { tables: v2, examCreationTimes } : null;
  const context: ScanContext = { users, questions, deletedQuestionKeys: reader.deletedQuestionKeys, production };
  let largestExamLineBytes = 0;
  for await (const doc of reader.documents("exams")) {
    reader.checkReferences("exams", doc);
    examCreationTimes[doc.id] = doc.creationTime;
    // The document as Convex stored it is at most 1 MiB; its export line is about as long.
    const lineBytes = Buffer.byteLength(JSON.stringify(doc.fields, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
    largestExamLineBytes = Math.max(largestExamLineBytes, lineBytes);
    await handlers.onExam?.(toExam(doc), lineBytes, context);
  }
  const documents: SnapshotSummary["documents"] = {
    users: reader.ids.get("users")?.size ?? 0,
    questions: reader.ids.get("questions")?.size ?? 0,
    exams: reader.ids.get("exams")?.size ?? 0,
  };
  for (const table of V2_TABLES) if (reader.userTables.includes(table)) documents[table] = reader.ids.get(table)?.size ?? 0;
  const project = new Set<string>([...V1_TABLES, ...V2_TABLES]);
  const ignoredTables = reader.userTables.filter((t) => !project.has(t)).sort();
  const otherTables = [];
  if (handlers.check === true) for (const table of ignoredTables) otherTables.push(await reader.otherTable(table));
  const storage = await checkStorage(archive, handlers);
  return {
    format: archive.format,
    folder: archive.folder,
    eras: [...reader.eras].sort(),
    ignoredEntries: archive.ignored,
    documents,
    ignoredTables,
    componentTables: [
      ...new Set(
        archive.names
          .map((n) => /^_components\/([^/]+)\/([^/_][^/]*)\/documents\.jsonl$/.exec(n))
          .filter((m) => m !== null)
          .map((m) => `${m[1]}/${m[2]}`),
      ),
    ].sort(),
    storage,
    rejections: reader.diagnosis?.report() ?? [],
    otherTables,
    examsTableBytes: archive.size("exams/documents.jsonl"),
    largestExamLineBytes,
    users,
    questions,
    deletedQuestionKeys: [...reader.deletedQuestionKeys],
    production,
  };
}

/**
 * `_storage/documents.jsonl` against the files beside it: every listed file present with its size;
 * with `verifyFiles`, every file read (its CRC-32 checked as it is) and its sha256 compared.
 */
async function checkStorage(archive: Archive, handlers: ScanHandlers): Promise<SnapshotSummary["storage"]> {
  const files = archive.names.filter((n) => n.startsWith("_storage/") && n !== "_storage/documents.jsonl");
  const byId = new Map(files.map((n) => [n.slice("_storage/".length).replace(/\..*$/, ""), n]));
  const listed: { name: string; line: number; id: string; sha256: unknown; size: unknown }[] = [];
  if (archive.names.includes("_storage/documents.jsonl")) {
    let line = 0;
    for await (const text of archive.lines("_storage/documents.jsonl", MAX_LINE_BYTES)) {
      line++;
      if (text.trim() === "") continue;
      let meta: { _id?: unknown; size?: unknown; sha256?: unknown };
      try {
        meta = JSON.parse(text) as typeof meta;
      } catch (e) {
        throw new SnapshotError(`not a JSON document (${(e as Error).message})`, at("_storage", line));
      }
      const name = typeof meta._id === "string" ? byId.get(meta._id) : undefined;
      const where = { table: "_storage", line, id: String(meta._id) };
      if (name === undefined) throw new SnapshotError("listed in _storage/documents.jsonl, but its file is not in the export", where);
      if (typeof meta.size === "number" && archive.size(name) !== meta.size) {
        throw new SnapshotError(`${name} holds ${archive.size(name)} bytes, the metadata says ${meta.size}`, where);
      }
      listed.push({ name, line, id: meta._id as string, sha256: meta.sha256, size: meta.size });
    }
  }
  const sizes = files.map((n) => archive.size(n));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (handlers.verifyFiles === true) {
    let done = 0;
    handlers.onVerify?.(0, total);
    for (const file of listed) {
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of await archive.open(file.name)) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        done += (chunk as Buffer).length;
        handlers.onVerify?.(done, total);
      }
      const where = { table: "_storage", line: file.line, id: file.id };
      const sha256 = hash.digest("base64");
      if (typeof file.size === "number" && bytes !== file.size)
        throw new SnapshotError(`${file.name} holds ${bytes} bytes, the metadata says ${file.size}`, where);
      if (typeof file.sha256 === "string" && sha256 !== file.sha256)
        throw new SnapshotError(`${file.name} has sha256 ${sha256}, the metadata says ${file.sha256}: the file is damaged`, where);
    }
  }
  return { files: files.length, bytes: total, largestBytes: Math.max(0, ...sizes), verified: handlers.verifyFiles === true };
}

/** Loads, checks and converts a Convex export, every exam in memory (tests, small exports; the rehearsal streams with scanSnapshot). Throws {@link SnapshotError}. */
export async function loadSnapshot(path: string): Promise<LoadedSnapshot> {
  const exams: DatasetExam[] = [];
  const { users, questions, deletedQuestionKeys, production, ...summary } = await scanSnapshot(path, {
    onExam: (exam) => void exams.push(exam),
  });
  return { ...summary, production, dataset: { users, questions, exams, deletedQuestionKeys, dirt: [] } };
}
