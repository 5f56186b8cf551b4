// @vitest-environment node
/**
 * A snapshot's rehearsal streams: exams reach the worker pool as the loader
 * reads them, so a 3 GiB export is never held in memory. The exams table here
 * is a named pipe the test writes into: the first exam's rehearsal must be done
 * while the second exam's line has not even been written (a loader that read
 * the whole table first would wait for the pipe's end forever). And a document
 * found bad half-way stops the run as a bad snapshot, leaving no backup behind.
 */
import { execFileSync } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, test } from "vitest";
import { main } from "../src/cli/main";
import { generateV1Dataset } from "../src/dataset/generate";
import { rehearse, type ProgressSink } from "../src/rehearsal/run";
import type { PhaseName } from "../src/rehearsal/types";
import { splitLines } from "../src/snapshot/archive";
import { SnapshotError } from "../src/snapshot/load";
import { datasetTables, writeExportFolder } from "../src/snapshot/write";

const root = mkdtempSync(join(tmpdir(), "rehearsal-streaming-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A clean two-exam export as a folder, and its exams table's lines (one document each). */
async function twoExamExport(name: string) {
  const dir = join(root, name);
  await writeExportFolder(dir, datasetTables(generateV1Dataset({ exams: 2, participants: 4, answers: 8, seed: 5 })));
  const table = join(dir, "exams", "documents.jsonl");
  const lines = readFileSync(table, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  expect(lines).toHaveLength(2);
  return { dir, table, lines };
}

const options = { batchSize: 5, smokeUsers: 1, cleanup: true, workers: 1 };

describe("rehearsing a snapshot streams its exams", () => {
  test("the first exam is rehearsed to its final status before the loader has read the second", async () => {
    // Given an export whose exams table is a pipe holding only the first exam so far
    const { dir, table, lines } = await twoExamExport("fifo");
    rmSync(table);
    execFileSync("mkfifo", [table]);
    let firstExamDone!: () => void;
    const firstExamRehearsed = new Promise<void>((resolve) => (firstExamDone = resolve));
    const seen: { phase: PhaseName; index: number }[] = [];
    const totals: (number | null)[] = [];
    const progress: ProgressSink = {
      start: (exams) => void totals.push(exams),
      total: (exams) => void totals.push(exams),
      phaseDone: (phase, exam) => {
        seen.push({ phase, index: exam!.index });
        if (phase === "final" && exam!.index === 0) firstExamDone();
      },
      stop: () => {},
    };

    // When the rehearsal runs while the pipe is written one exam at a time
    const running = rehearse({ ...options, input: { kind: "snapshot", path: dir }, outDir: join(root, "fifo-out"), progress });
    const pipe = createWriteStream(table);
    pipe.write(`${lines[0]}\n`);
    await firstExamRehearsed; // a loader that collects the table first never gets here (the test times out)
    const beforeSecondLine = seen.length;
    pipe.end(`${lines[1]}\n`);
    const report = await running;

    // Then the first exam went through every phase before the second was read, and the run is complete
    expect(seen.slice(0, beforeSecondLine).every((s) => s.index === 0)).toBe(true);
    expect(seen.some((s) => s.index === 1 && s.phase === "final")).toBe(true);
    expect(totals).toEqual([null, 2]);
    expect(report).toMatchObject({ passed: true, input: { source: "snapshot", exams: 2, participants: 4 } });
    expect(report.status.after?.migrationComplete).toBe(true);
    expect(existsSync(join(root, "fifo-out", "v1_backup.json"))).toBe(true);
  });

  test("--first-exams rehearses a prefix and the report says so; the rest is still checked", async () => {
    // Given a two-exam export
    const { dir } = await twoExamExport("prefix");

    // When only the first exam is rehearsed
    const report = await rehearse({ ...options, input: { kind: "snapshot", path: dir, firstExams: 1 }, outDir: join(root, "prefix-out") });

    // Then one exam is rehearsed, and the report names the prefix
    expect(report.input.exams).toBe(1);
    expect(report.input.prefix).toEqual({ rehearsed: 1, of: 2 });
    expect(report.passed).toBe(true);
  });

  test("--first-exams without --snapshot is a bad option (one line, exit 2), and 0 is not a number of exams", async () => {
    // Given the CLI, When --first-exams comes with a generated dataset or a count of 0
    let stderr = "";
    const out = { stdout: () => undefined, stderr: (s: string) => void (stderr += s) };
    const withoutSnapshot = await main(["node", "exam-migrate", "--first-exams", "2", "-q"], out);
    const zero = await main(["node", "exam-migrate", "--snapshot", root, "--first-exams", "0", "-q"], out);

    // Then both are refused before anything runs
    expect(withoutSnapshot).toBe(2);
    expect(zero).toBe(2);
    expect(stderr).toContain("--first-exams needs --snapshot");
    expect(stderr).toMatch(/--first-exams.*whole number ≥ 1/);
  });

  test("a bad document after the first exam stops the run as a bad snapshot and leaves no backup", async () => {
    // Given an export whose second exam line is not JSON
    const { dir, table, lines } = await twoExamExport("bad");
    writeFileSync(table, `${lines[0]}\n{"_id": broken\n`);
    const outDir = join(root, "bad-out");

    // When it is rehearsed
    const run = rehearse({ ...options, input: { kind: "snapshot", path: dir }, outDir });

    // Then the error names the table and line, and no (partial) backup is written
    await expect(run).rejects.toThrow(SnapshotError);
    await expect(run).rejects.toThrow(/table "exams", line 2/);
    expect(existsSync(join(outDir, "v1_backup.json"))).toBe(false);
    expect(existsSync(join(outDir, "v1_backup.json.part"))).toBe(false);
  });
});

describe("an export's lines", () => {
  test("are split as node:readline split them: CRLF, no final newline, a character split across chunks, empty lines", async () => {
    // Given chunks that cut lines (and a 2-byte character) anywhere
    const text = '{"a":"é"}\r\n\n{"b":1}\n{"c":"ü"}';
    const bytes = Buffer.from(text);
    const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 13), bytes.subarray(13, 22), bytes.subarray(22)];

    // When they are split
    const lines: string[] = [];
    for await (const line of splitLines(Readable.from(chunks))) lines.push(line);

    // Then the lines are the documents' lines
    expect(lines).toEqual(['{"a":"é"}', "", '{"b":1}', '{"c":"ü"}']);
  });

  test("are pulled as they are consumed: after the first line, the stream has not been read ahead", async () => {
    // Given a stream of 2,000 lines that counts the chunks it was asked for
    let pulled = 0;
    const source = Readable.from(
      (function* () {
        for (let i = 0; i < 2_000; i++) {
          pulled++;
          yield Buffer.from(`${"x".repeat(1_000)}\n`);
        }
      })(),
      { highWaterMark: 1 },
    );

    // When the first line is taken and the event loop has run (the stream's own reads included)
    const lines = splitLines(source)[Symbol.asyncIterator]();
    await lines.next();
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));

    // Then only a few chunks were read (readline's iterator reads on up to 1,024 lines)
    expect(pulled).toBeLessThan(10);
    await lines.return(undefined);
  });
});
