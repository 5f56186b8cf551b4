/**
 * Writes an export exactly as `npx convex export` lays it out today, per Convex's
 * own source (get-convex/convex-backend crates/exports/src/lib.rs,
 * zip_uploader.rs, export_storage.rs): `README.md` first, `_tables/documents.jsonl`
 * ({name, id} per user table, in table-number order), each table's
 * `documents.jsonl` (rows in `_id` order, the by_id index's) followed by its
 * `generated_schema.jsonl` ("uniform"), tables in the order given (Convex writes
 * them smallest first: nothing reads that order), then `_storage/documents.jsonl` and one
 * `_storage/<id>[.ext]` file per stored file; components under
 * `_components/<name>/`. Values in ConvexExportJSON (values.ts: keys sorted,
 * floats as serde_json spells them, int64 as plain integers, `{"$float": …}`
 * for NaN and ±Infinity, `{"$bytes": …}`). The ZIP as the async_zip stream
 * writer makes it: every entry deflated, ZIP64, its sizes and CRC in a data
 * descriptor after the data (the local header's sizes read 0xFFFFFFFF), DOS
 * dates of 0. Tables may be iterables of any length (then already in `_id`
 * order: checked as they stream).
 *
 * For tests of older exports, `era: "legacy"` writes ConvexCleanJSON and the
 * `generated_schema.jsonl` lines given (shape and overrides, written by hand
 * to Convex's rules: values.ts).
 *
 * @example
 * await writeExportZip("demo.zip", { tables: datasetTables(generateV1Dataset({ exams: 2, participants: 6, answers: 30 })) });
 */
import { createWriteStream, mkdirSync, writeFileSync, createReadStream } from "node:fs";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { once } from "node:events";
import { createHash } from "node:crypto";
import { crc32, createDeflateRaw } from "node:zlib";
import type { Value } from "convex/values";
import type { V1Dataset } from "../dataset/generate.js";
import { encodeConvexId } from "./convexId.js";
import { exportValueJson } from "./values.js";

export { exportValueJson } from "./values.js";

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
  /** Every entry under this folder prefix, of any depth (Convex's import accepts it). */
  topLevelFolder?: string;
  /** The value encoding: today's (default) or the one before 2026-03-11 (tests of older exports). */
  era?: "uniform" | "legacy";
  /** With `era: "legacy"`: each table's generated_schema.jsonl lines (its shape, then overrides); a table not named gets none. */
  legacySchemas?: Record<string, string[]>;
  /** Other entries written after the export, by full name (what archivers add: `__MACOSX/…`, `.DS_Store`). */
  extraEntries?: Record<string, string>;
};

type Entry = { name: string; text?: () => Iterable<string>; file?: StoredFile };

/** A table's lines in `_id` order (the by_id index's): arrays are sorted (bad ones kept, for tests of bad exports), other iterables checked. */
function* lines(table: string, docs: Iterable<object>, era: "uniform" | "legacy"): Iterable<string> {
  const idOf = (d: object) => String((d as { _id?: unknown })._id);
  const rows = Array.isArray(docs) ? [...(docs as object[])].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0)) : docs;
  let previous: string | null = null;
  for (const doc of rows) {
    const id = idOf(doc);
    if (!Array.isArray(docs) && previous !== null && id <= previous)
      throw new Error(`${table}: rows must come in _id order (${id} after ${previous})`);
    previous = id;
    yield exportValueJson(doc as Value, era) + "\n";
  }
}

/** Entries in the order the export writes them. */
function entries(spec: ExportSpec, prefix = ""): Entry[] {
  const names = Object.keys(spec.tables);
  const numbers = names.map((name, i) => ({ name, id: spec.tableNumbers?.[name] ?? FIRST_TABLE_NUMBER + i })).sort((a, b) => a.id - b.id);
  const out: Entry[] = [{ name: `${prefix}_tables/documents.jsonl`, text: () => numbers.map((t) => JSON.stringify(t) + "\n") }];
  for (const name of names) {
    out.push({ name: `${prefix}${name}/documents.jsonl`, text: () => lines(name, spec.tables[name]!, spec.era ?? "uniform") });
    const schema = spec.era === "legacy" ? spec.legacySchemas?.[name] : ['"uniform"'];
    if (schema !== undefined) out.push({ name: `${prefix}${name}/generated_schema.jsonl`, text: () => schema.map((l) => `${l}\n`) });
  }
  for (const [component, inner] of Object.entries(spec.components ?? {}))
    out.push(...entries({ ...inner, era: spec.era ?? "uniform" }, `${prefix}_components/${component}/`));
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

/** One entry of a ZIP64 archive as async_zip's stream writer writes it (data descriptor, zip64 extra fields). */
class Zip64Writer {
  private offset = 0;
  private readonly central: Buffer[] = [];
  private readonly out;
  private readonly closed;

  constructor(path: string) {
    this.out = createWriteStream(path);
    this.closed = once(this.out, "close");
  }

  private async write(bytes: Buffer) {
    this.offset += bytes.length;
    if (!this.out.write(bytes)) await once(this.out, "drain");
  }

  async add(name: string, content: () => Readable) {
    const fileName = Buffer.from(name);
    const flags = 0x0008 | (/^[\x20-\x7e]*$/.test(name) ? 0 : 0x0800);
    const at = this.offset;
    const local = Buffer.alloc(30 + fileName.length + 20);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4); // version needed: 4.5, ZIP64
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(8, 8); // deflate
    // DOS time and date 0, CRC 0: in the data descriptor.
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(fileName.length, 26);
    local.writeUInt16LE(20, 28);
    fileName.copy(local, 30);
    local.writeUInt16LE(0x0001, 30 + fileName.length); // ZIP64 extra: sizes unknown yet (0)
    local.writeUInt16LE(16, 32 + fileName.length);
    await this.write(local);
    let crc = 0;
    let size = 0;
    let compressed = 0;
    await pipeline(
      content(),
      new Transform({
        transform(chunk: Buffer | string, _encoding, done) {
          const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
          crc = crc32(bytes, crc);
          size += bytes.length;
          done(null, bytes);
        },
      }),
      createDeflateRaw(),
      async (deflated: AsyncIterable<Buffer>) => {
        for await (const chunk of deflated) {
          compressed += chunk.length;
          await this.write(chunk);
        }
      },
    );
    const descriptor = Buffer.alloc(24);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeBigUInt64LE(BigInt(compressed), 8);
    descriptor.writeBigUInt64LE(BigInt(size), 16);
    await this.write(descriptor);
    const bigOffset = at >= 0xffffffff;
    const extra = 16 + (bigOffset ? 8 : 0);
    const header = Buffer.alloc(46 + fileName.length + 4 + extra);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 45, 4); // made by: Unix, 4.5
    header.writeUInt16LE(45, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt32LE(crc >>> 0, 16);
    header.writeUInt32LE(0xffffffff, 20);
    header.writeUInt32LE(0xffffffff, 24);
    header.writeUInt16LE(fileName.length, 28);
    header.writeUInt16LE(4 + extra, 30);
    header.writeUInt32LE((0o100644 << 16) >>> 0, 38); // a regular file, rw-r--r--
    header.writeUInt32LE(bigOffset ? 0xffffffff : at, 42);
    fileName.copy(header, 46);
    const x = 46 + fileName.length;
    header.writeUInt16LE(0x0001, x);
    header.writeUInt16LE(extra, x + 2);
    header.writeBigUInt64LE(BigInt(size), x + 4);
    header.writeBigUInt64LE(BigInt(compressed), x + 12);
    if (bigOffset) header.writeBigUInt64LE(BigInt(at), x + 20);
    this.central.push(header);
  }

  async close() {
    const start = this.offset;
    for (const header of this.central) await this.write(header);
    const size = this.offset - start;
    const zip64End = this.offset;
    const n = this.central.length;
    const end = Buffer.alloc(56 + 20 + 22);
    end.writeUInt32LE(0x06064b50, 0);
    end.writeBigUInt64LE(44n, 4);
    end.writeUInt16LE((3 << 8) | 45, 12);
    end.writeUInt16LE(45, 14);
    end.writeBigUInt64LE(BigInt(n), 24);
    end.writeBigUInt64LE(BigInt(n), 32);
    end.writeBigUInt64LE(BigInt(size), 40);
    end.writeBigUInt64LE(BigInt(start), 48);
    end.writeUInt32LE(0x07064b50, 56);
    end.writeBigUInt64LE(BigInt(zip64End), 64);
    end.writeUInt32LE(1, 72);
    end.writeUInt32LE(0x06054b50, 76);
    end.writeUInt16LE(Math.min(n, 0xffff), 84);
    end.writeUInt16LE(Math.min(n, 0xffff), 86);
    end.writeUInt32LE(Math.min(size, 0xffffffff), 88);
    end.writeUInt32LE(Math.min(start, 0xffffffff), 92);
    await this.write(end);
    this.out.end();
    await this.closed;
  }

  destroy() {
    this.out.destroy();
  }
}

export async function writeExportZip(path: string, spec: ExportSpec): Promise<void> {
  const zip = new Zip64Writer(path);
  const prefix = spec.topLevelFolder === undefined ? "" : `${spec.topLevelFolder}/`;
  try {
    await zip.add(`${prefix}README.md`, () => Readable.from([Buffer.from(EXPORT_README)]));
    for (const e of entries(spec, prefix)) {
      const file = e.file;
      if (e.text !== undefined) await zip.add(e.name, () => Readable.from(chunks(e.text!())));
      else if (typeof file!.content === "function") await zip.add(e.name, file!.content);
      else await zip.add(e.name, () => Readable.from([Buffer.from(file!.content as Uint8Array)]));
    }
    for (const [name, text] of Object.entries(spec.extraEntries ?? {})) await zip.add(name, () => Readable.from([Buffer.from(text)]));
    await zip.close();
  } catch (e) {
    zip.destroy();
    throw e;
  }
}

export async function writeExportFolder(dir: string, spec: ExportSpec): Promise<void> {
  const root = spec.topLevelFolder === undefined ? dir : join(dir, spec.topLevelFolder);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "README.md"), EXPORT_README);
  for (const [name, text] of Object.entries(spec.extraEntries ?? {})) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
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
