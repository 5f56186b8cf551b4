// @vitest-environment node
/**
 * Bad bytes in an export, through the real CLI (child processes): every one
 * exits 2 with one line naming the entry, never a stack trace. A damaged
 * `_storage` file (the rollback backup) is found by `--verify-files`; a ZIP
 * whose directory states a wrong size; invalid UTF-8 (table, line, byte); a
 * 300 MiB line refused with the check's memory bounded; and documents the
 * schema would reject, every one listed with the validator lines to add.
 */
import { execFile } from "node:child_process";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, describe, expect, test } from "vitest";
import { loadSnapshot, MAX_LINE_BYTES } from "../src/snapshot/load";
import { realId, writeExportFolder, writeExportZip, type ExportSpec } from "../src/snapshot/write";
import { withWrongCrc, withWrongSize } from "./support/zip";

const root = mkdtempSync(join(tmpdir(), "snapshot-integrity-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const repo = join(import.meta.dirname, "..");
let n = 0;
const tmp = () => join(root, `case${n++}`);

/** The CLI in its own process; `peakRssFile`: where it writes its peak memory on exit. */
function cli(args: string[], peakRssFile?: string) {
  const launcher = [
    "--import",
    "tsx",
    ...(peakRssFile ? ["--import", join(repo, "tests/support/peakRss.ts")] : []),
    join(repo, "src/cli/main.ts"),
  ];
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [...launcher, ...args],
      { cwd: repo, maxBuffer: 1 << 24, env: { ...process.env, ...(peakRssFile ? { PEAK_RSS_FILE: peakRssFile } : {}) } },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Exit 2, one line on stderr naming what is wrong, no stack trace. */
function expectOneLine(run: { code: number; stderr: string }, ...patterns: RegExp[]) {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(run.stderr).not.toMatch(/crashed|\n\s+at /);
  for (const p of patterns) expect(run.stderr).toMatch(p);
}

const NUM = { users: 10001, questions: 10002, exams: 10003 };
const [ada, bob] = ["ada", "bob"].map((k) => realId(NUM.users, k)) as [string, string];
const q1 = realId(NUM.questions, "q1");
const examIds = ["e1", "e2", "e3"].map((k) => realId(NUM.exams, k));
const file = realId(10099, "file");
const T = 1_767_225_600_123.5;

function spec(): ExportSpec & { tables: Record<"users" | "questions" | "exams", Record<string, unknown>[]> } {
  return {
    tableNumbers: NUM,
    tables: {
      users: [ada, bob].map((_id, i) => ({ _id, _creationTime: T + i, name: `U${i}`, tokenIdentifier: `t|${i}`, role: "student" })),
      questions: [{ _id: q1, _creationTime: T + 3, text: "2+2?", options: ["3", "4"], correctAnswer: "4", points: 1 }],
      exams: examIds.map((_id, i) => ({
        _id,
        _creationTime: T + 4 + i,
        title: `Exam ${i} é`,
        questionIds: [q1],
        durationMs: 60_000,
        maxPauses: 0,
      })),
    },
    storage: [
      {
        _id: file,
        _creationTime: T + 9,
        size: 5,
        sha256: createHash("sha256").update("hello").digest("base64"),
        contentType: "text/plain",
        content: Buffer.from("hello"),
      },
    ],
  };
}

describe("integrity: every entry read is checked; bad input exits 2 with one line", () => {
  test("a _storage file with a bad CRC or sha256: --verify-files names it (with progress); without it the run says files were not verified", async () => {
    const good = `${tmp()}.zip`;
    await writeExportZip(good, spec());
    const crc = `${tmp()}.zip`;
    writeFileSync(crc, withWrongCrc(readFileSync(good), `_storage/${file}.txt`));
    const sha = `${tmp()}.zip`;
    const tampered = spec();
    tampered.storage![0]!.sha256 = createHash("sha256").update("HELLO").digest("base64");
    await writeExportZip(sha, tampered);
    const [unverified, verified, badCrc, badSha] = await Promise.all([
      cli(["check-snapshot", crc]),
      cli(["check-snapshot", good, "--verify-files"]),
      cli(["check-snapshot", crc, "--verify-files", "-q"]),
      cli(["check-snapshot", sha, "--verify-files", "-q"]),
    ]);
    expect(unverified.code, unverified.stderr).toBe(0);
    expect(unverified.stdout).toContain("contents NOT verified (run with --verify-files");
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toContain("contents verified (size and sha256 of every file, CRC-32 of every entry)");
    expect(verified.stderr).toMatch(/verifying _storage files: .* \(100%\)/);
    expectOneLine(badCrc, new RegExp(`_storage/${file}\\.txt: CRC-32 [0-9a-f]{8} does not match`));
    // A table's entry is read, so always checked.
    const table = `${tmp()}.zip`;
    writeFileSync(table, withWrongCrc(readFileSync(good), "users/documents.jsonl"));
    await expect(loadSnapshot(table)).rejects.toThrow(/^users\/documents\.jsonl: CRC-32 [0-9a-f]{8} does not match/);
    expectOneLine(badSha, new RegExp(`_storage/${file}\\.txt has sha256 .*, the metadata says`));
  }, 60_000);

  test("a ZIP whose directory states a wrong size (larger or smaller), invalid UTF-8, two exports in one ZIP, another app's export", async () => {
    const good = `${tmp()}.zip`;
    await writeExportZip(good, { ...spec(), topLevelFolder: "a/b" });
    const larger = `${tmp()}.zip`;
    writeFileSync(larger, withWrongSize(readFileSync(good), "a/b/exams/documents.jsonl", 100));
    const smaller = `${tmp()}.zip`;
    writeFileSync(smaller, withWrongSize(readFileSync(good), "a/b/exams/documents.jsonl", -10));
    // Invalid UTF-8 in the second exam's title: "é" (C3 A9) made C3 28.
    const folder = tmp();
    await writeExportFolder(folder, spec());
    const examsPath = join(folder, "exams/documents.jsonl");
    const bytes = readFileSync(examsPath);
    const lines = bytes.toString("utf8").split("\n");
    const lineStart = Buffer.byteLength(lines[0]!) + 1;
    const at = bytes.indexOf(Buffer.from([0xc3, 0xa9]), lineStart);
    bytes[at + 1] = 0x28;
    writeFileSync(examsPath, bytes);
    const two = `${tmp()}.zip`;
    const twice = spec();
    await writeExportZip(two, { ...twice, topLevelFolder: "one", extraEntries: { "two/users/documents.jsonl": "" } });
    const other = `${tmp()}.zip`;
    await writeExportZip(other, { tables: { messages: [{ _id: realId(10001, "m"), _creationTime: T, body: "hi" }] } });

    const [big, small, utf8, both, foreign] = await Promise.all([
      cli(["check-snapshot", larger]),
      cli(["--snapshot", smaller, "-q", "--out-dir", join(root, "out")]),
      cli(["check-snapshot", folder]),
      cli(["check-snapshot", two]),
      cli(["check-snapshot", other]),
    ]);
    expectOneLine(big, /a\/b\/exams\/documents\.jsonl: its size is not the one the ZIP's directory states/);
    expectOneLine(small, /a\/b\/exams\/documents\.jsonl: .*(size|bytes)/);
    expectOneLine(
      utf8,
      new RegExp(
        `exams/documents\\.jsonl, line 2: not UTF-8: invalid byte 0xc3 at byte ${at - lineStart} of the line \\(byte ${at} of the entry\\)`,
      ),
    );
    expectOneLine(both, /two exports in one ZIP: under "one\/" and "two\/"/);
    expectOneLine(foreign, /a Convex export without an exams table.*its tables are messages/);
  }, 60_000);

  test("a 300 MiB line is refused once it passes the limit, the check's peak memory under 200 MiB", async () => {
    const folder = tmp();
    await writeExportFolder(folder, spec());
    // Generated on the fly, never committed: the start of a document, then a sparse 300 MiB of one line.
    const fd = openSync(join(folder, "exams/documents.jsonl"), "w");
    writeSync(fd, `{"_creationTime":${T},"_id":"${examIds[0]}","title":"`);
    ftruncateSync(fd, 300 * 2 ** 20);
    closeSync(fd);
    const rss = join(root, "peak-rss");
    const run = await cli(["check-snapshot", folder], rss);
    expectOneLine(run, new RegExp(`exams/documents\\.jsonl, line 1: line longer than ${MAX_LINE_BYTES.toLocaleString("en-US")} bytes`));
    const peak = Number(readFileSync(rss, "utf8"));
    expect(peak).toBeGreaterThan(0);
    expect(peak / 2 ** 20).toBeLessThan(200);
  }, 60_000);
});

describe("what deploy will need", () => {
  test("an export with fields the schema does not list: every one, grouped with counts and an example _id, and the validator lines (text and --json)", async () => {
    const s = spec();
    s.tables.users[0]!.imageUrl = "https://img/ada.png";
    s.tables.users[1]!.imageUrl = null;
    for (const exam of s.tables.exams) exam.description = "About this exam";
    s.tables.exams[1]!.maxPauses = "2";
    delete s.tables.questions[0]!.options;
    const zip = `${tmp()}.zip`;
    await writeExportZip(zip, s);
    const [text, json] = await Promise.all([cli(["check-snapshot", zip]), cli(["check-snapshot", zip, "--json"])]);
    expect(text.code).toBe(2);
    expect(text.stdout).toContain("NOT deployable as it stands");
    const firstUser = [ada, bob].sort()[0]!;
    for (const line of [
      `exams.description: not in the schema, holds v.string(); 3 document(s), e.g. ${[...examIds].sort()[0]} (line 1)`,
      `exams.maxPauses: wrong type, holds v.string(), schema says v.number(); 1 document(s), e.g. ${examIds[1]}`,
      `questions.options: missing, schema says v.array(v.string()); 1 document(s), e.g. ${q1} (line 1)`,
      `users.imageUrl: not in the schema, holds v.union(v.string(), v.null()); 2 document(s), e.g. ${firstUser} (line 1)`,
      "  exams: description: v.optional(v.string())",
      "  exams: maxPauses: v.union(v.number(), v.string())",
      "  questions: options: v.optional(v.array(v.string()))",
      "  users: imageUrl: v.optional(v.union(v.string(), v.null()))",
    ])
      expect(text.stdout).toContain(line);
    expect(json.code).toBe(2);
    const findings = JSON.parse(json.stdout) as {
      loadable: boolean;
      rejections: { table: string; field: string; documents: number; line: string }[];
    };
    expect(findings.loadable).toBe(false);
    expect(findings.rejections.map((r) => [r.table, r.field, r.documents, r.line])).toEqual([
      ["exams", "description", 3, "description: v.optional(v.string())"],
      ["exams", "maxPauses", 1, "maxPauses: v.union(v.number(), v.string())"],
      ["questions", "options", 1, "options: v.optional(v.array(v.string()))"],
      ["users", "imageUrl", 2, "imageUrl: v.optional(v.union(v.string(), v.null()))"],
    ]);
  }, 60_000);
});
