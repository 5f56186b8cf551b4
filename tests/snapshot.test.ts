// @vitest-environment node
/**
 * The snapshot loader on exports laid out and encoded as Convex's own source
 * writes them (README.md, _tables, <table>/documents.jsonl + generated_schema.jsonl,
 * _storage, _components, real ids, floats with a fraction, $float for NaN):
 * a ZIP, a folder, either inside one top-level folder. Dirt production holds
 * loads; anything else is an error naming the table, the document and the field.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { unzipSync, strFromU8 } from "fflate";
import { generateV1Dataset } from "../src/dataset/generate";
import { decodeConvexId, encodeConvexId } from "../src/snapshot/convexId";
import { loadSnapshot, SnapshotError } from "../src/snapshot/load";
import { datasetTables, exportValueJson, realId, writeExportFolder, writeExportZip, type ExportSpec } from "../src/snapshot/write";

const root = mkdtempSync(join(tmpdir(), "snapshot-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmp = () => join(root, `case${n++}`);

const NUM = { users: 10001, questions: 10002, exams: 10003, pageViews: 10004 };
const id = (table: keyof typeof NUM, key: string) => realId(NUM[table], key);
const [ada, bob, q1, gone, e1, e2] = [
  id("users", "ada"),
  id("users", "bob"),
  id("questions", "q1"),
  id("questions", "gone"),
  id("exams", "e1"),
  id("exams", "e2"),
];
const T = 1_767_225_600_123.456; // _creationTime: milliseconds with a fraction, as Convex gives them

/** Two users, a question, one exam with two participants (one with a NaN score), an exam without participants listing a deleted question, an unrelated table, a stored file. */
function spec(): ExportSpec & { tables: Record<"users" | "questions" | "exams" | "pageViews", Record<string, unknown>[]> } {
  return {
    tableNumbers: NUM,
    tables: {
      users: [
        { _id: ada, _creationTime: T, name: "Ada", tokenIdentifier: "https://auth|ada", role: "student" },
        { _id: bob, _creationTime: T + 1.5, name: "Bob", email: "bob@example.edu", tokenIdentifier: "https://auth|bob", role: "student" },
      ],
      questions: [{ _id: q1, _creationTime: T + 2.25, text: "2+2?", options: ["3", "4"], correctAnswer: "4", points: 2 }],
      exams: [
        {
          _id: e1,
          _creationTime: T + 3.75,
          title: "Arithmetic",
          questionIds: [q1],
          durationMs: 3_600_000,
          maxPauses: 1,
          participants: [
            {
              userId: ada,
              score: NaN,
              answers: [
                { questionId: q1, selectedAnswer: "4", isCorrect: true },
                { questionId: gone, selectedAnswer: "x", isCorrect: false },
              ],
              startedAt: 1_700_000_000_000,
              completedAt: 1_700_000_600_000.5,
              isPaused: false,
              pauseCount: 0,
              totalPausedMs: 0,
            },
            {
              userId: bob,
              score: 0,
              answers: [],
              startedAt: 1_700_000_000_000,
              isPaused: true,
              pausedAt: 1_700_000_100_000,
              pauseCount: 1,
              totalPausedMs: 0,
            },
          ],
        },
        { _id: e2, _creationTime: T + 4, title: "Empty", questionIds: [gone], durationMs: 60_000, maxPauses: 0 },
      ],
      pageViews: [{ _id: id("pageViews", "v1"), _creationTime: T + 5, path: "/", count: 3n }],
    },
    storage: [{ _id: realId(10099, "file"), _creationTime: T + 6, size: 5, contentType: "text/plain", content: Buffer.from("hello") }],
    components: { rateLimiter: { tables: { limits: [{ _id: realId(10001, "lim"), _creationTime: T, name: "x" }] } } },
  };
}

async function expectLoaded(path: string) {
  const snapshot = await loadSnapshot(path);
  const { dataset, documents, ignoredTables } = snapshot;
  expect(documents).toEqual({ users: 2, questions: 1, exams: 2 });
  expect(ignoredTables).toEqual(["pageViews"]);
  expect(snapshot.componentTables).toEqual(["rateLimiter/limits"]);
  expect(snapshot.storage).toEqual({ files: 1, bytes: 5, largestBytes: 5, verified: false });
  expect(snapshot.production).toBeNull();
  const [exam, empty] = dataset.exams;
  // Ids are kept as keys: the participants and answers still point at the snapshot's documents.
  expect(exam!.key).toBe(e1);
  expect(exam!.questionKeys).toEqual([q1]);
  expect(exam!.participants.map((p) => p.userKey)).toEqual([ada, bob]);
  expect(exam!.participants[0]!.score).toBeNaN();
  expect(exam!.participants[0]!.completedAt).toBe(1_700_000_600_000.5);
  expect(exam!.participants[0]!.answers.map((a) => a.questionKey)).toEqual([q1, gone]);
  expect(exam!.participants[1]).toMatchObject({ isPaused: true, pausedAt: 1_700_000_100_000, score: 0 });
  expect(empty!.participants).toEqual([]);
  // Deleted questions (listed by an exam, or answered) are dirty data for the migration to report, not load errors.
  expect(dataset.deletedQuestionKeys.sort()).toEqual([gone]);
  expect(dataset.users.find((u) => u.key === bob)).toEqual({
    key: bob,
    name: "Bob",
    email: "bob@example.edu",
    tokenIdentifier: "https://auth|bob",
    role: "student",
  });
  expect(dataset.questions[0]).toEqual({ key: q1, text: "2+2?", options: ["3", "4"], correctAnswer: "4", points: 2 });
  return snapshot;
}

describe("Convex's ids and value encoding (crates/value/src/id_v6.rs, export.rs)", () => {
  test("ids round-trip with their table number; a changed character or a foreign string is not an id", () => {
    for (const table of [1, 127, 128, 10001, 2 ** 21, 2 ** 32 - 1]) {
      const internal = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + table) & 0xff);
      const encoded = encodeConvexId(table, internal);
      expect(encoded).toMatch(/^[0-9a-hjkmnp-tv-z]{31,37}$/);
      expect(decodeConvexId(encoded)).toEqual({ tableNumber: table, internalId: internal });
      const typo = encoded.slice(0, 10) + (encoded[10] === "a" ? "b" : "a") + encoded.slice(11);
      expect(decodeConvexId(typo)).toBeNull(); // the Fletcher-16 footer catches it
    }
    expect(decodeConvexId("ke1")).toBeNull();
    expect(decodeConvexId("000000000000000000000010033exams")).toBeNull();
  });

  test("values are written as ConvexExportJSON: floats with a fraction, int64 plain, $float for non-finite, $bytes", () => {
    expect(exportValueJson({ a: 5, b: -0, c: 2.5, d: 7n, e: NaN, f: -Infinity, g: new Uint8Array([1, 2]).buffer, h: null })).toBe(
      '{"a":5.0,"b":-0.0,"c":2.5,"d":7,"e":{"$float":"AAAAAAAA+H8="},"f":{"$float":"AAAAAAAA8P8="},"g":{"$bytes":"AQI="},"h":null}',
    );
  });
});

describe("loading an export", () => {
  test("a ZIP laid out as the export writes it: README first, _tables, generated_schema, _storage, _components", async () => {
    const path = `${tmp()}.zip`;
    await writeExportZip(path, spec());
    const files = unzipSync(readFileSync(path));
    const names = Object.keys(files);
    expect(names[0]).toBe("README.md");
    expect(names).toEqual(
      expect.arrayContaining([
        "_tables/documents.jsonl",
        "exams/documents.jsonl",
        "exams/generated_schema.jsonl",
        "_storage/documents.jsonl",
        `_storage/${realId(10099, "file")}.txt`,
        "_components/rateLimiter/limits/documents.jsonl",
      ]),
    );
    expect(strFromU8(files["exams/generated_schema.jsonl"]!)).toBe('"uniform"\n');
    expect(strFromU8(files["_tables/documents.jsonl"]!).split("\n")[0]).toBe('{"name":"users","id":10001}');
    const examsText = strFromU8(files["exams/documents.jsonl"]!);
    expect(examsText).toContain('"score":{"$float":"AAAAAAAA+H8="}');
    expect(examsText).toContain('"durationMs":3600000.0');
    await expectLoaded(path);
  });

  test("the same export as a folder, inside a top-level folder, and a folder holding only the ZIP", async () => {
    const dir = tmp();
    await writeExportFolder(dir, spec());
    expect((await expectLoaded(dir)).format).toBe("folder");
    const wrapped = tmp();
    await writeExportFolder(wrapped, { ...spec(), topLevelFolder: "snapshot_1767225600" });
    expect((await expectLoaded(wrapped)).folder).toBe("snapshot_1767225600");
    const zipped = `${tmp()}.zip`;
    await writeExportZip(zipped, { ...spec(), topLevelFolder: "snapshot_1767225600" });
    expect((await expectLoaded(zipped)).folder).toBe("snapshot_1767225600");
    const holder = tmp();
    mkdirSync(holder);
    await writeExportZip(join(holder, "snapshot_123.zip"), spec());
    expect((await expectLoaded(holder)).format).toBe("zip");
  });

  test("a generated dataset round-trips through an export: same exams, participants and answers, under real ids", async () => {
    const dataset = generateV1Dataset({ exams: 3, participants: 9, answers: 60, dirty: true });
    const path = `${tmp()}.zip`;
    const exported = datasetTables(dataset);
    await writeExportZip(path, exported);
    const loaded = (await loadSnapshot(path)).dataset;
    const keyOf = new Map([...exported.idOf].map(([k, v]) => [v, k]));
    const back = loaded.exams.map((e) => ({
      ...e,
      key: keyOf.get(e.key),
      questionKeys: e.questionKeys.map((k) => keyOf.get(k)),
      participants: e.participants.map((p) => ({
        ...p,
        userKey: keyOf.get(p.userKey),
        answers: p.answers.map((a) => ({ ...a, questionKey: keyOf.get(a.questionKey) })),
      })),
    }));
    expect(back).toEqual(dataset.exams);
    expect(loaded.deletedQuestionKeys.map((k) => keyOf.get(k)).sort()).toEqual([...dataset.deletedQuestionKeys].sort());
  });
});

describe("a snapshot that cannot be rehearsed is rejected, naming table, document and field", () => {
  type Spec = ReturnType<typeof spec>;
  /** Writes `spec()` changed by `edit` (then `raw` files over them) and returns the loader's error. */
  async function errorOf(edit: (s: Spec) => void, o: { raw?: Record<string, string>; zip?: boolean } = {}): Promise<SnapshotError> {
    const s = spec();
    edit(s);
    const dir = tmp();
    if (o.zip) await writeExportZip(`${dir}.zip`, s);
    else {
      await writeExportFolder(dir, s);
      for (const [name, text] of Object.entries(o.raw ?? {})) writeFileSync(join(dir, name), text);
    }
    try {
      await loadSnapshot(o.zip ? `${dir}.zip` : dir);
    } catch (e) {
      expect(e).toBeInstanceOf(SnapshotError);
      return e as SnapshotError;
    }
    throw new Error("the snapshot loaded");
  }
  const exam = (s: Spec) => s.tables.exams[0] as Record<string, unknown> & { participants: Record<string, unknown>[] };

  test("a line that is not JSON", async () => {
    const e = await errorOf(() => {}, {
      raw: { "exams/documents.jsonl": `${exportValueJson(spec().tables.exams[1] as never)}\n{"_id": "x", "title": \n` },
    });
    expect(e.where).toMatchObject({ table: "exams", line: 2 });
    expect(e.message).toMatch(/table "exams", line 2: not a JSON document/);
  });

  test("a missing required field", async () => {
    const e = await errorOf((s) => delete exam(s).title);
    expect(e.where).toEqual({ table: "exams", line: 1, id: e1, field: "title" });
    expect(e.message).toContain("missing");
  });

  test("a field of the wrong type deep inside the embedded array, in a ZIP too", async () => {
    const e = await errorOf((s) => (exam(s).participants[1]!.score = "0"));
    expect(e.message).toBe(`table "exams", line 1, document ${e1}, field "participants[1].score": expected number, got string`);
    const z = await errorOf((s) => (s.tables.users[1]!.role = "teacher"), { zip: true });
    // Rows are written in _id order, as Convex writes them.
    expect(z.where).toMatchObject({ table: "users", line: [ada, bob].sort().indexOf(bob) + 1, id: bob, field: "role" });
  });

  test("a field the V1 schema does not have", async () => {
    const e = await errorOf((s) => (s.tables.questions[0]!.difficulty = 3));
    expect(e.where).toEqual({ table: "questions", line: 1, id: q1, field: "difficulty" });
  });

  test("a participant whose user is not in the snapshot", async () => {
    const ghost = id("users", "ghost");
    const e = await errorOf((s) => (exam(s).participants[1]!.userId = ghost));
    expect(e.where).toEqual({ table: "exams", line: 1, id: e1, field: "participants[1].userId" });
    expect(e.message).toContain(`${ghost}, which is not in the snapshot's users table`);
  });

  test("an id of the wrong table, and a string that is no Convex id", async () => {
    const e = await errorOf((s) => (exam(s).questionIds = [ada]));
    expect(e.where).toEqual({ table: "exams", line: 1, id: e1, field: "questionIds[0]" });
    expect(e.message).toContain(`${ada} is an id of table "users", not of "questions"`);
    expect((await errorOf((s) => (exam(s).questionIds = ["kq9"]))).message).toContain('"kq9" is not a Convex document id');
  });

  test("a document without _id, an _id of another table, an _id used twice", async () => {
    expect((await errorOf((s) => delete s.tables.users[0]!._id)).where).toMatchObject({ table: "users", field: "_id" });
    expect((await errorOf((s) => (s.tables.questions[0]!._id = ada))).message).toContain('is an id of table "users", not of "questions"');
    expect((await errorOf((s) => (s.tables.users[1]!._id = ada))).message).toContain("_id used twice");
  });

  test("a stored file listed in _storage/documents.jsonl but missing, or of another size", async () => {
    const e = await errorOf((s) => (s.storage![0]!.size = 6));
    expect(e.message).toMatch(/_storage.*holds 5 bytes, the metadata says 6/);
  });

  test("a truncated ZIP, or one whose table entry is corrupt, is a bad snapshot (never a crash)", async () => {
    const path = `${tmp()}.zip`;
    const big = spec();
    // Enough exam data that the exams entry spans many deflate blocks.
    for (let i = 0; i < 300; i++)
      big.tables.exams.push({
        ...big.tables.exams[1]!,
        _id: id("exams", `x${i}`),
        title: `Exam ${i} ${"lorem ipsum ".repeat(20)}${i * 7919}`,
      });
    await writeExportZip(path, big);
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length >> 1));
    await expect(loadSnapshot(path)).rejects.toThrow(SnapshotError);
    const corrupt = Buffer.from(bytes);
    const at = corrupt.indexOf("exams/documents.jsonl") + 200;
    for (let i = at; i < at + 64; i++) corrupt[i] = corrupt[i]! ^ 0x5a;
    writeFileSync(path, corrupt);
    await expect(loadSnapshot(path)).rejects.toThrow(SnapshotError);
  });

  test("not an export at all", async () => {
    const dir = tmp();
    mkdirSync(dir);
    await expect(loadSnapshot(dir)).rejects.toThrow(/not a Convex export.*has no <table>\/documents\.jsonl/);
    writeFileSync(`${dir}/junk.zip`, "not a zip");
    await expect(loadSnapshot(`${dir}/junk.zip`)).rejects.toThrow(/not a readable ZIP/);
    await expect(loadSnapshot(`${dir}/missing`)).rejects.toThrow(/no such file or folder/);
  });
});
