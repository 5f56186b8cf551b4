/**
 * Loads a real Convex export (`npx convex export` ZIP, or its unzipped folder;
 * layout and encoding per Convex's source, see write.ts) as a V1 dataset the
 * rehearsal can insert, one exam at a time, into embedded Convex instances;
 * this backend's own tables too, when the deployment is already partly
 * migrated: every table of convex/schema.ts ({@link V2_TABLES}, derived from
 * the schema), so that only other features' tables are left out (`ignoredTables`).
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
import { jsonToConvex, type GenericValidator, type JSONValue, type Value } from "convex/values";
import { validate, ValidationError } from "convex-helpers/validators";
import schema from "../../convex/schema.js";
import type { Doc, TableNames } from "../../convex/_generated/dataModel.js";
import type { DatasetExam, DatasetQuestion, DatasetUser, V1Dataset } from "../dataset/generate.js";
import { ArchiveError, openArchive, type Archive } from "./archive.js";
import { decodeConvexId } from "./convexId.js";

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
  /** The top-level folder the export sat in (null: at the root). */
  folder: string | null;
  documents: Record<V1Table, number> & Partial<Record<V2Table, number>>;
  /** Tables present in the export that the rehearsal does not load (other features' tables). */
  ignoredTables: string[];
  /** Components' tables (`_components/<name>/<table>`), not rehearsed. */
  componentTables: string[];
  /** Files in `_storage`: count and bytes (from the entries), checked against `_storage/documents.jsonl`. */
  storage: { files: number; bytes: number; largestBytes: number };
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

/** Reads and checks the export's tables in dependency order. */
class Reader {
  readonly tableNumbers = new Map<string, number>();
  readonly tableOfNumber = new Map<number, string>();
  /** Ids of the loaded project tables (reference checks). */
  readonly ids = new Map<string, Set<string>>();
  readonly deletedQuestionKeys = new Set<string>();
  readonly userTables: string[];

  constructor(readonly archive: Archive) {
    this.userTables = archive.names.map((n) => /^([^/_][^/]*)\/documents\.jsonl$/.exec(n)?.[1]).filter((t): t is string => t !== undefined);
  }

  async readTablesTable() {
    if (!this.archive.names.includes("_tables/documents.jsonl")) return;
    let line = 0;
    for await (const text of this.archive.lines("_tables/documents.jsonl")) {
      line++;
      if (text.trim() === "") continue;
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch (e) {
        throw new SnapshotError(`not a JSON document (${(e as Error).message})`, { table: "_tables", line });
      }
      const { name, id } = (row ?? {}) as { name?: unknown; id?: unknown };
      if (typeof name !== "string" || typeof id !== "number") throw new SnapshotError("expected {name, id}", { table: "_tables", line });
      this.tableNumbers.set(name, id);
      this.tableOfNumber.set(id, name);
    }
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

  async *documents(table: ProjectTable): AsyncGenerator<RawDoc> {
    const name = `${table}/documents.jsonl`;
    if (!this.archive.names.includes(name)) return;
    const validator = schema.tables[table].validator as GenericValidator;
    const ids = new Set<string>();
    this.ids.set(table, ids);
    let line = 0;
    for await (const source of this.archive.lines(name)) {
      line++;
      if (source.trim() === "") continue;
      let value: Value;
      try {
        value = jsonToConvex(JSON.parse(source) as JSONValue);
      } catch (e) {
        throw new SnapshotError(`not a JSON document (${(e as Error).message})`, { table, line });
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
      try {
        validate(validator, fields, { throw: true });
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        const problem =
          e.got === "undefined"
            ? `missing (the schema requires ${e.expected})`
            : e.expected === "nothing"
              ? "not in the schema"
              : `expected ${e.expected === "float64" ? "number" : e.expected}, got ${e.got}`;
        throw new SnapshotError(problem, { table, line, id: _id, field: e.path });
      }
      yield { line, id: _id, creationTime: _creationTime, fields };
    }
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
    // A file that cannot be read to the end (permissions, a truncated or corrupt ZIP entry) is a bad snapshot, not a crash.
    if (!(e instanceof SnapshotError) && (e instanceof ArchiveError || isReadError(e)))
      throw new SnapshotError(`the export cannot be read: ${(e as Error).message}`);
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
  {
    const reader = new Reader(archive);
    if (!reader.userTables.includes("exams")) throw new SnapshotError(`not a Convex export: ${path} has no exams/documents.jsonl`);
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
    let exams = 0;
    let largestExamLineBytes = 0;
    for await (const doc of reader.documents("exams")) {
      reader.checkReferences("exams", doc);
      exams++;
      examCreationTimes[doc.id] = doc.creationTime;
      // The document as Convex stored it is at most 1 MiB; its export line is about as long.
      const lineBytes = Buffer.byteLength(JSON.stringify(doc.fields));
      largestExamLineBytes = Math.max(largestExamLineBytes, lineBytes);
      await handlers.onExam?.(toExam(doc), lineBytes, context);
    }
    const documents: SnapshotSummary["documents"] = {
      users: reader.ids.get("users")?.size ?? 0,
      questions: reader.ids.get("questions")?.size ?? 0,
      exams,
    };
    for (const table of V2_TABLES) if (reader.userTables.includes(table)) documents[table] = v2[table].length;
    const storage = await checkStorage(archive);
    const project = new Set<string>([...V1_TABLES, ...V2_TABLES]);
    return {
      format: archive.format,
      folder: archive.folder,
      documents,
      ignoredTables: reader.userTables.filter((t) => !project.has(t)).sort(),
      componentTables: [
        ...new Set(
          archive.names
            .map((n) => /^_components\/([^/]+)\/([^/_][^/]*)\/documents\.jsonl$/.exec(n))
            .filter((m) => m !== null)
            .map((m) => `${m[1]}/${m[2]}`),
        ),
      ].sort(),
      storage,
      examsTableBytes: archive.size("exams/documents.jsonl"),
      largestExamLineBytes,
      users,
      questions,
      deletedQuestionKeys: [...reader.deletedQuestionKeys],
      production,
    };
  }
}

/** `_storage/documents.jsonl` against the files beside it: every listed file present with its size. */
async function checkStorage(archive: Archive): Promise<SnapshotSummary["storage"]> {
  const files = archive.names.filter((n) => n.startsWith("_storage/") && n !== "_storage/documents.jsonl");
  const byId = new Map(files.map((n) => [n.slice("_storage/".length).replace(/\..*$/, ""), n]));
  let line = 0;
  if (archive.names.includes("_storage/documents.jsonl")) {
    for await (const text of archive.lines("_storage/documents.jsonl")) {
      line++;
      if (text.trim() === "") continue;
      let meta: { _id?: unknown; size?: unknown };
      try {
        meta = JSON.parse(text) as typeof meta;
      } catch (e) {
        throw new SnapshotError(`not a JSON document (${(e as Error).message})`, { table: "_storage", line });
      }
      const name = typeof meta._id === "string" ? byId.get(meta._id) : undefined;
      if (name === undefined)
        throw new SnapshotError("listed in _storage/documents.jsonl, but its file is not in the export", {
          table: "_storage",
          line,
          id: String(meta._id),
        });
      if (typeof meta.size === "number" && archive.size(name) !== meta.size) {
        throw new SnapshotError(`the file holds ${archive.size(name)} bytes, the metadata says ${meta.size}`, {
          table: "_storage",
          line,
          id: String(meta._id),
        });
      }
    }
  }
  const sizes = files.map((n) => archive.size(n));
  return { files: files.length, bytes: sizes.reduce((a, b) => a + b, 0), largestBytes: Math.max(0, ...sizes) };
}

/** Loads, checks and converts a Convex export, every exam in memory (tests, small exports; the rehearsal streams with scanSnapshot). Throws {@link SnapshotError}. */
export async function loadSnapshot(path: string): Promise<LoadedSnapshot> {
  const exams: DatasetExam[] = [];
  const { users, questions, deletedQuestionKeys, production, ...summary } = await scanSnapshot(path, {
    onExam: (exam) => void exams.push(exam),
  });
  return { ...summary, production, dataset: { users, questions, exams, deletedQuestionKeys, dirt: [] } };
}
