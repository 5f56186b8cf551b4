/**
 * The files of an export, from a ZIP (of any size: yauzl reads ZIP64 and opens
 * one entry at a time, never the whole file) or from an unzipped folder, under
 * the names the export gives them. The export may sit under any folder prefix,
 * as Convex's import accepts (any `<prefix>/<table>/documents.jsonl`,
 * crates/application/src/snapshot_import/parse.rs): its root is where its
 * tables are. Entries of archivers (`__MACOSX/`, `.DS_Store`, `._*`) and files
 * outside the root are ignored and listed; two roots are two exports, an error.
 *
 * Every entry read is checked: its CRC-32 and size against the ZIP's directory,
 * its lines against a length limit (refused as soon as a line passes it, so
 * memory does not grow with the line) and as UTF-8 (the first bad byte named).
 *
 * @example
 * const archive = await openArchive("snapshot.zip");
 * for await (const line of archive.lines("exams/documents.jsonl", MAX_LINE_BYTES)) …
 * archive.close();
 */
import { readdirSync, statSync, createReadStream } from "node:fs";
import { join, relative, sep } from "node:path";
import { Transform, type Readable } from "node:stream";
import { isUtf8 } from "node:buffer";
import { crc32 } from "node:zlib";
import yauzl from "yauzl";

export type Archive = {
  format: "zip" | "folder";
  /** Entry names, relative to the export's root. */
  names: string[];
  /** The folder prefix the export sat under, if any (e.g. `backups/snapshot_1767225600`). */
  folder: string | null;
  /** Entries that are not part of the export (archivers' metadata, files beside it), by their full name. */
  ignored: string[];
  /** Uncompressed size of an entry (as the ZIP's directory states it). */
  size(name: string): number;
  /** The entry's bytes, checked (size and CRC-32) as they are read: a mismatch fails the stream with an {@link ArchiveError}. */
  open(name: string): Promise<Readable>;
  /** The entry's lines, streamed and checked (length limit in bytes, UTF-8). */
  lines(name: string, maxLineBytes: number): AsyncIterable<string>;
  close(): void;
};

/** A file that is not an export we can read, naming the entry (full name) and line where it applies. */
export class ArchiveError extends Error {
  constructor(
    readonly problem: string,
    readonly entry?: string,
    readonly line?: number,
  ) {
    super(entry === undefined ? problem : `${entry}${line === undefined ? "" : `, line ${line}`}: ${problem}`);
    this.name = "ArchiveError";
  }
}

function walk(dir: string, root = dir, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, root, out);
    else out.push(relative(root, path).split(sep).join("/"));
  }
  return out;
}

/** Metadata archivers add (Finder's `__MACOSX/` and `.DS_Store`, AppleDouble `._*` files). */
function isArchiverEntry(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return name.startsWith("__MACOSX/") || name.includes("/__MACOSX/") || base === ".DS_Store" || base.startsWith("._");
}

const DOCUMENTS = /^(.*\/)?([^/]+)\/documents\.jsonl$/;

/** The root of the export a `documents.jsonl` entry belongs to: its folder prefix, components apart. */
function rootOf(name: string): string | null {
  const match = DOCUMENTS.exec(name);
  if (match === null) return null;
  const prefix = match[1] ?? "";
  const component = `/${prefix}`.indexOf("/_components/");
  return component < 0 ? prefix : prefix.slice(0, component);
}

/** Splits entry names into the export's (relative to its root) and the ignored ones. */
export function layout(all: readonly string[], what: "ZIP" | "folder"): { root: string; names: string[]; ignored: string[] } {
  const candidates = all.filter((n) => !isArchiverEntry(n));
  const roots = [...new Set(candidates.map(rootOf).filter((r) => r !== null))].sort();
  if (roots.length > 1)
    throw new ArchiveError(
      `two exports in one ${what}: under ${roots.map((r) => (r === "" ? "the top level" : `"${r}"`)).join(" and ")}; unpack the one to check`,
    );
  const root = roots[0] ?? "";
  return {
    root,
    names: candidates.filter((n) => n.startsWith(root)).map((n) => n.slice(root.length)),
    ignored: all.filter((n) => isArchiverEntry(n) || !n.startsWith(root)),
  };
}

/** The first byte of `bytes` that is not well-formed UTF-8 (as Rust's str::from_utf8 reads it), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * The lines of a stream, pulled as they are consumed. Not node:readline: its async iterator
 * reads ahead up to 1,024 lines before it pauses the input, which for exam documents of
 * ~1 MiB each is most of the table in memory while the rehearsal waits for a worker. Splits
 * on the newline byte (never part of a multi-byte UTF-8 character), drops a trailing CR.
 * A line longer than `maxLineBytes` is refused as soon as it is; a line that is not UTF-8 is
 * refused naming its first bad byte (`entry`: the name errors give).
 */
export async function* splitLines(stream: AsyncIterable<Buffer | string>, maxLineBytes = Infinity, entry?: string): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let length = 0;
  let line = 0;
  let lineStart = 0; // byte offset of the line in the entry
  const finish = () => {
    line++;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    parts = [];
    length = 0;
    if (!isUtf8(bytes)) {
      const at = firstInvalidUtf8(bytes);
      throw new ArchiveError(
        `not UTF-8: invalid byte 0x${bytes[at]!.toString(16).padStart(2, "0")} at byte ${at} of the line (byte ${lineStart + at} of the entry)`,
        entry,
        line,
      );
    }
    lineStart += bytes.length + 1;
    const text = bytes.toString("utf8");
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  const grow = (piece: Buffer) => {
    length += piece.length;
    if (length > maxLineBytes)
      throw new ArchiveError(
        `line longer than ${maxLineBytes.toLocaleString("en-US")} bytes, the most a Convex document can take in an export (docs/rehearsal.md); refused at byte ${(lineStart + length).toLocaleString("en-US")} of the entry`,
        entry,
        line + 1,
      );
    parts.push(piece);
  };
  for await (const data of stream) {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      grow(chunk.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    if (start < chunk.length) grow(chunk.subarray(start));
  }
  if (parts.length > 0) yield finish();
}

function linesOf(open: () => Promise<Readable>, maxLineBytes: number, entry: string): AsyncIterable<string> {
  return {
    async *[Symbol.asyncIterator]() {
      const stream = await open();
      try {
        yield* splitLines(stream, maxLineBytes, entry);
      } finally {
        stream.destroy();
      }
    },
  };
}

/** An entry's stream with its size and CRC-32 checked against the directory; every error an ArchiveError naming the entry. */
function checked(raw: Readable, entry: yauzl.Entry): Readable {
  let bytes = 0;
  let crc = 0;
  const name = entry.fileName;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > entry.uncompressedSize)
        return done(
          new ArchiveError(`holds more than the ${entry.uncompressedSize.toLocaleString("en-US")} bytes the ZIP's directory states`, name),
        );
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      if (bytes !== entry.uncompressedSize)
        return done(
          new ArchiveError(
            `holds ${bytes.toLocaleString("en-US")} bytes, the ZIP's directory states ${entry.uncompressedSize.toLocaleString("en-US")}`,
            name,
          ),
        );
      if (crc >>> 0 !== entry.crc32 >>> 0)
        return done(
          new ArchiveError(
            `CRC-32 ${hex(crc)} does not match the ${hex(entry.crc32)} the ZIP's directory states: the entry is damaged`,
            name,
          ),
        );
      done();
    },
  });
  raw.on("error", (e: Error) => check.destroy(e instanceof ArchiveError ? e : new ArchiveError(readProblem(e), name)));
  check.on("close", () => raw.destroy());
  return raw.pipe(check);
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

/** yauzl's and zlib's messages, said for an operator. */
function readProblem(e: Error): string {
  if (/too many bytes|not enough bytes/.test(e.message)) return `its size is not the one the ZIP's directory states (${e.message})`;
  return `cannot be read (${e.message})`;
}

async function openZip(path: string): Promise<Archive> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false, strictFileNames: false }, (err, z) =>
      err ? reject(new ArchiveError(err.message)) : resolve(z),
    ),
  );
  const all = new Map<string, yauzl.Entry>();
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: yauzl.Entry) => {
      if (!entry.fileName.endsWith("/")) all.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.on("end", () => resolve());
    zip.on("error", (e: Error) => reject(new ArchiveError(e.message)));
    zip.readEntry();
  });
  // An error on the ZIP after the listing (a bad entry) reaches the reader through the entry's stream.
  zip.on("error", () => {});
  const { root, names, ignored } = layout([...all.keys()], "ZIP");
  const entries = new Map(names.map((name) => [name, all.get(root + name)!]));
  const open = (name: string) =>
    new Promise<Readable>((resolve, reject) => {
      const entry = entries.get(name);
      if (entry === undefined) return reject(new ArchiveError(`no ${name} in the ZIP`));
      zip.openReadStream(entry, (err, stream) =>
        err ? reject(new ArchiveError(readProblem(err), entry.fileName)) : resolve(checked(stream, entry)),
      );
    });
  return {
    format: "zip",
    names,
    folder: root === "" ? null : root.slice(0, -1),
    ignored,
    size: (name) => entries.get(name)?.uncompressedSize ?? 0,
    open,
    lines: (name, max) => linesOf(() => open(name), max, root + name),
    close: () => zip.close(),
  };
}

function openFolder(path: string): Archive {
  const { root, names, ignored } = layout(walk(path), "folder");
  const open = async (name: string) => {
    const stream = createReadStream(join(path, root, name));
    stream.on("error", () => {}); // surfaced by the consumer's read
    return stream;
  };
  return {
    format: "folder",
    names,
    folder: root === "" ? null : root.slice(0, -1),
    ignored,
    size: (name) => statSync(join(path, root, name)).size,
    open,
    lines: (name, max) => linesOf(() => open(name), max, root + name),
    close: () => {},
  };
}

/** Opens an export: a ZIP, an unzipped folder, or a folder holding one ZIP (`npx convex export --path dir/`). */
export async function openArchive(path: string): Promise<Archive> {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new ArchiveError(`no such file or folder: ${path}`);
  }
  if (stat.isDirectory()) {
    const zips = readdirSync(path).filter((e) => e.endsWith(".zip"));
    if (zips.length === 1 && !walk(path).some((n) => DOCUMENTS.test(n))) return openArchive(join(path, zips[0]!));
    return openFolder(path);
  }
  return openZip(path);
}
