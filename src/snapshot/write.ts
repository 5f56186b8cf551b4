/**
 * Writes an export exactly as `npx convex export` lays it out, per Convex's own
 * source (get-convex/convex-backend crates/exports/src/lib.rs, zip_uploader.rs,
 * export_storage.rs): `README.md` first, `_tables/documents.jsonl` ({name, id}
 * per user table, in table-number order), each table's `documents.jsonl`
 * followed by its `generated_schema.jsonl` ("uniform"), tables smallest first,
 * then `_storage/documents.jsonl` and one `_storage/<id>[.ext]` file per stored
 * file; components under `_components/<name>/`. Values in ConvexExportJSON
 * (crates/value/src/export.rs): finite floats with a fraction ("5.0"), int64 as
 * plain integers, `{"$float": base64}` for NaN and ±Infinity, `{"$bytes": …}`.
 * ZIPs stream through yazl (ZIP64 where sizes need it); tables may be iterables
 * of any length.
 *
 * @example
 * await writeExportZip("demo.zip", { tables: datasetTables(generateV1Dataset({ exams: 2, participants: 6, answers: 30 })) });
 */
import { createWriteStream, mkdirSync, writeFileSync, createReadStream } from "node:fs";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createHash } from "node:crypto";
import yazl from "yazl";
import type { Value } from "convex/values";
import type { V1Dataset } from "../dataset/generate.js";
import { encodeConvexId } from "./convexId.js";

/** README.md of every export (zip_uploader.rs README_MD_CONTENTS). */
export const EXPORT_README = `# Welcome to your Convex snapshot export!

This ZIP file contains a snapshot of the tables in your Convex deployment.

Documents for each table are listed as lines of JSON in
<table_name>/documents.jsonl files.

For details on the format and how to use this snapshot with npx convex import,
check out [the docs](https://docs.convex.dev/database/import-export/export) or
ask us in [Discord](http://convex.dev/community).
`;

/** The first table number Convex gives a deployment's user tables. */
export const FIRST_TABLE_NUMBER = 10001;

/** A stored file: its metadata line in `_storage/documents.jsonl` and its bytes (a buffer, or a stream of `size` bytes). */
export type StoredFile = {
  _id: string;
  _creationTime: number;
  size: number;
  sha256?: string;
  contentType?: string;
  content: Uint8Array | (() => Readable);
};

export type ExportSpec = {
  /** Table name → its documents (each with `_id` and `_creationTime`). */
  tables: Record<string, Iterable<object>>;
  /** Table numbers (default: FIRST_TABLE_NUMBER upwards in the order given). */
  tableNumbers?: Record<string, number>;
  storage?: StoredFile[];
  /** Component name → its own export (written under `_components/<name>/`). */
  components?: Record<string, Omit<ExportSpec, "components" | "topLevelFolder">>;
  /** Every entry under this folder (Convex's import accepts it). */
  topLevelFolder?: string;
};

function base64OfFloat(x: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(x);
  return bytes.toString("base64");
}

/** One value as ConvexExportJSON text (export_clean_lossless). */
export function exportValueJson(value: Value | undefined): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) return `{"$float":"${base64OfFloat(value)}"}`;
      if (Object.is(value, -0)) return "-0.0";
      // serde_json writes an f64 with a fraction or an exponent, never as a bare integer.
      return Number.isInteger(value) && Math.abs(value) < 1e16 ? `${value}.0` : String(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return String(value);
    case "string":
      return JSON.stringify(value);
    case "object":
      if (value instanceof ArrayBuffer) return `{"$bytes":"${Buffer.from(value).toString("base64")}"}`;
      if (Array.isArray(value)) return `[${value.map((v) => exportValueJson(v)).join(",")}]`;
      return `{${Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${JSON.stringify(k)}:${exportValueJson(v)}`)
        .join(",")}}`;
    default:
      throw new Error(`not a Convex value: ${typeof value}`);
  }
}

type Entry = { name: string; text?: () => Iterable<string>; file?: StoredFile };

function* lines(docs: Iterable<object>): Iterable<string> {
  for (const doc of docs) yield exportValueJson(doc as Value) + "\n";
}

/** Entries in the order the export writes them. */
function entries(spec: ExportSpec, prefix = ""): Entry[] {
  const names = Object.keys(spec.tables);
  const numbers = names.map((name, i) => ({ name, id: spec.tableNumbers?.[name] ?? FIRST_TABLE_NUMBER + i })).sort((a, b) => a.id - b.id);
  const out: Entry[] = [{ name: `${prefix}_tables/documents.jsonl`, text: () => numbers.map((t) => JSON.stringify(t) + "\n") }];
  for (const name of names) {
    out.push({ name: `${prefix}${name}/documents.jsonl`, text: () => lines(spec.tables[name]!) });
    out.push({ name: `${prefix}${name}/generated_schema.jsonl`, text: () => ['"uniform"\n'] });
  }
  for (const [component, inner] of Object.entries(spec.components ?? {})) out.push(...entries(inner, `${prefix}_components/${component}/`));
  if (spec.storage !== undefined) {
    out.push({
      name: `${prefix}_storage/documents.jsonl`,
      text: () =>
        spec.storage!.map(
          (f) =>
            JSON.stringify({
              _id: f._id,
              _creationTime: f._creationTime,
              sha256: f.sha256 ?? null,
              size: f.size,
              contentType: f.contentType ?? null,
              internalId: null,
            }) + "\n",
        ),
    });
    for (const file of spec.storage) out.push({ name: `${prefix}_storage/${file._id}${extensionOf(file.contentType)}`, file });
  }
  return out;
}

function extensionOf(contentType: string | undefined): string {
  return contentType === "application/pdf" ? ".pdf" : contentType === "image/png" ? ".png" : contentType === "text/plain" ? ".txt" : "";
}

/** Text chunks of at most ~1 MiB, joined from the lines. */
function* chunks(texts: Iterable<string>): Generator<string> {
  let buffer = "";
  for (const t of texts) {
    buffer += t;
    if (buffer.length >= 1 << 20) {
      yield buffer;
      buffer = "";
    }
  }
  if (buffer !== "") yield buffer;
}

export async function writeExportZip(path: string, spec: ExportSpec): Promise<void> {
  const zip = new yazl.ZipFile();
  const prefix = spec.topLevelFolder === undefined ? "" : `${spec.topLevelFolder}/`;
  const done = pipeline(zip.outputStream, createWriteStream(path));
  zip.addBuffer(Buffer.from(EXPORT_README), `${prefix}README.md`, { mode: 0o100644 });
  for (const e of entries(spec, prefix)) {
    if (e.text !== undefined) {
      const text = e.text;
      zip.addReadStreamLazy(e.name, { mode: 0o100644 }, (cb) => cb(null, Readable.from(chunks(text()))));
    } else {
      const file = e.file!;
      const open = typeof file.content === "function" ? file.content : () => Readable.from([Buffer.from(file.content as Uint8Array)]);
      zip.addReadStreamLazy(e.name, { mode: 0o100644, size: file.size, compress: false }, (cb) => cb(null, open()));
    }
  }
  zip.end();
  await done;
}

export async function writeExportFolder(dir: string, spec: ExportSpec): Promise<void> {
  const root = spec.topLevelFolder === undefined ? dir : join(dir, spec.topLevelFolder);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "README.md"), EXPORT_README);
  for (const e of entries(spec)) {
    const path = join(root, e.name);
    mkdirSync(dirname(path), { recursive: true });
    const source =
      e.text !== undefined
        ? Readable.from(chunks(e.text()))
        : typeof e.file!.content === "function"
          ? e.file!.content()
          : Readable.from([Buffer.from(e.file!.content)]);
    await pipeline(source, createWriteStream(path));
  }
}

/** SHA-256 of a file, base64 as `_storage/documents.jsonl` holds it. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("base64");
}

/** A deterministic real-format id for `key` in table number `tableNumber`. */
export function realId(tableNumber: number, key: string): string {
  return encodeConvexId(tableNumber, createHash("sha256").update(key).digest().subarray(0, 16));
}

/**
 * A generated dataset as export tables, with real-format ids (users 10001, questions 10002,
 * exams 10003) and creation times with fractions as Convex gives them. Deleted questions are
 * left out, as in production. Returns the key → id map too.
 */
export function datasetTables(
  dataset: V1Dataset,
  creationTime = Date.UTC(2026, 0, 1) + 0.25,
): { tables: Record<"users" | "questions" | "exams", object[]>; tableNumbers: Record<string, number>; idOf: Map<string, string> } {
  const tableNumbers = { users: FIRST_TABLE_NUMBER, questions: FIRST_TABLE_NUMBER + 1, exams: FIRST_TABLE_NUMBER + 2 };
  const idOf = new Map<string, string>();
  for (const u of dataset.users) idOf.set(u.key, realId(tableNumbers.users, u.key));
  for (const k of [...dataset.questions.map((q) => q.key), ...dataset.deletedQuestionKeys]) idOf.set(k, realId(tableNumbers.questions, k));
  for (const e of dataset.exams) idOf.set(e.key, realId(tableNumbers.exams, e.key));
  const id = (key: string) => idOf.get(key) ?? key;
  const system = (key: string, i: number) => ({ _id: id(key), _creationTime: creationTime + i * 1.5 });
  return {
    tableNumbers,
    idOf,
    tables: {
      users: dataset.users.map(({ key, ...user }, i) => ({ ...system(key, i), ...user })),
      questions: dataset.questions.map(({ key, ...question }, i) => ({ ...system(key, i), ...question })),
      exams: dataset.exams.map((exam, i) => ({
        ...system(exam.key, i),
        title: exam.title,
        questionIds: exam.questionKeys.map(id),
        durationMs: exam.durationMs,
        maxPauses: exam.maxPauses,
        participants: exam.participants.map(({ userKey, answers, ...rest }) => ({
          ...rest,
          userId: id(userKey),
          answers: answers.map(({ questionKey, ...a }) => ({ ...a, questionId: id(questionKey) })),
        })),
      })),
    },
  };
}
