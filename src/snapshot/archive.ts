/**
 * The files of an export, from a ZIP (of any size: yauzl reads ZIP64 and opens
 * one entry at a time, never the whole file) or from an unzipped folder, under
 * the names the export gives them. A single top-level folder holding the export
 * (which Convex's import accepts) is looked through.
 *
 * @example
 * const archive = await openArchive("snapshot.zip");
 * for await (const line of archive.lines("exams/documents.jsonl")) …
 * archive.close();
 */
import { readdirSync, statSync, createReadStream } from "node:fs";
import { join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import yauzl from "yauzl";

export type Archive = {
  format: "zip" | "folder";
  /** Entry names, relative to the export's root (a top-level folder stripped). */
  names: string[];
  /** The top-level folder the export sat in, if any. */
  folder: string | null;
  /** Uncompressed size of an entry. */
  size(name: string): number;
  open(name: string): Promise<Readable>;
  /** The entry's lines, streamed (a line is one document: at most Convex's 1 MiB plus its encoding). */
  lines(name: string): AsyncIterable<string>;
  close(): void;
};

/** A file that is not an export we can read; the loader turns it into a SnapshotError. */
export class ArchiveError extends Error {}

function walk(dir: string, root = dir, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, root, out);
    else out.push(relative(root, path).split(sep).join("/"));
  }
  return out;
}

/** Whether `names` look like an export's root: a README, `_tables` or some `<table>/documents.jsonl`. */
function isExportRoot(names: readonly string[]): boolean {
  return names.some((n) => n === "README.md" || /^[^/]+\/documents\.jsonl$/.test(n));
}

/** The single folder every entry sits in, when the export's files are inside it rather than at the root. */
function topLevelFolder(names: readonly string[]): string | null {
  const first = names[0]?.split("/")[0];
  if (first === undefined || !names.every((n) => n.startsWith(`${first}/`))) return null;
  const inner = names.map((n) => n.slice(first.length + 1));
  // `exams/documents.jsonl` alone is an export of one table, not a folder around an export.
  if (inner.some((n) => /^[^/]+\/documents\.jsonl$/.test(n)) || inner.includes("README.md")) return first;
  return null;
}

/**
 * The lines of a stream, pulled as they are consumed. Not node:readline: its async iterator
 * reads ahead up to 1,024 lines before it pauses the input, which for exam documents of
 * ~1 MiB each is most of the table in memory while the rehearsal waits for a worker. Splits
 * on the newline byte (never part of a multi-byte UTF-8 character), drops a trailing CR.
 */
export async function* splitLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  const line = () => {
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString("utf8");
    parts = [];
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  };
  for await (const data of stream) {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      parts.push(chunk.subarray(start, nl));
      yield line();
      start = nl + 1;
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
  }
  if (parts.length > 0) yield line();
}

function linesOf(open: () => Promise<Readable>): AsyncIterable<string> {
  return {
    async *[Symbol.asyncIterator]() {
      const stream = await open();
      try {
        yield* splitLines(stream);
      } finally {
        stream.destroy();
      }
    },
  };
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
  const folder = isExportRoot([...all.keys()]) ? null : topLevelFolder([...all.keys()]);
  const strip = folder === null ? 0 : folder.length + 1;
  const entries = new Map([...all].map(([name, entry]) => [name.slice(strip), entry]));
  const open = (name: string) =>
    new Promise<Readable>((resolve, reject) => {
      const entry = entries.get(name);
      if (entry === undefined) return reject(new ArchiveError(`no ${name} in the ZIP`));
      zip.openReadStream(entry, (err, stream) => (err ? reject(new ArchiveError(err.message)) : resolve(stream)));
    });
  return {
    format: "zip",
    names: [...entries.keys()],
    folder,
    size: (name) => entries.get(name)?.uncompressedSize ?? 0,
    open,
    lines: (name) => linesOf(() => open(name)),
    close: () => zip.close(),
  };
}

function openFolder(path: string): Archive {
  const all = walk(path);
  const folder = isExportRoot(all) ? null : topLevelFolder(all);
  const root = folder === null ? path : join(path, folder);
  const names = folder === null ? all : all.map((n) => n.slice(folder.length + 1));
  const open = async (name: string) => createReadStream(join(root, name));
  return {
    format: "folder",
    names,
    folder,
    size: (name) => statSync(join(root, name)).size,
    open,
    lines: (name) => linesOf(() => open(name)),
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
    const top = readdirSync(path);
    const zips = top.filter((e) => e.endsWith(".zip"));
    if (zips.length === 1 && !isExportRoot(walk(path))) return openArchive(join(path, zips[0]!));
    return openFolder(path);
  }
  return openZip(path);
}
