// @vitest-environment node
/**
 * The snapshot loader: a Convex export (folder or ZIP) becomes a V1 dataset
 * with its ids kept; anything that does not match the V1 schema is an error
 * naming the table, the document and the field.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { generateV1Dataset } from "../src/dataset/generate";
import { loadSnapshot, SnapshotError } from "../src/snapshot/load";
import { datasetTables, exportFiles, writeExportFolder, writeExportZip } from "../src/snapshot/write";

const root = mkdtempSync(join(tmpdir(), "snapshot-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmp = () => join(root, `case${n++}`);

/** Two users, two questions (one deleted later), one exam with two participants. */
function tables(): Record<"users" | "questions" | "exams" | "examEvents", object[]> {
  return {
    users: [
      { _id: "jx7user1", _creationTime: 1, name: "Ada", tokenIdentifier: "https://auth|ada", role: "student" },
      { _id: "jx7user2", _creationTime: 2, name: "Bob", email: "bob@example.edu", tokenIdentifier: "https://auth|bob", role: "student" },
    ],
    questions: [{ _id: "kq1", _creationTime: 3, text: "2+2?", options: ["3", "4"], correctAnswer: "4", points: 2 }],
    exams: [
      {
        _id: "ke1",
        _creationTime: 4,
        title: "Arithmetic",
        questionIds: ["kq1"],
        durationMs: 3_600_000,
        maxPauses: 1,
        participants: [
          {
            userId: "jx7user1",
            score: 2,
            answers: [
              { questionId: "kq1", selectedAnswer: "4", isCorrect: true },
              { questionId: "kq_deleted", selectedAnswer: "x", isCorrect: false },
            ],
            startedAt: 1_700_000_000_000,
            completedAt: 1_700_000_600_000,
            isPaused: false,
            pauseCount: 0,
            totalPausedMs: 0,
          },
          { userId: "jx7user2", score: 0, answers: [], startedAt: 1_700_000_000_000, isPaused: true, pausedAt: 1_700_000_100_000, pauseCount: 1, totalPausedMs: 0 },
        ],
      },
      { _id: "ke2", _creationTime: 5, title: "Empty", questionIds: [], durationMs: 60_000, maxPauses: 0 },
    ],
    examEvents: [{ _id: "ev1", _creationTime: 6, anything: true }],
  };
}

function expectLoaded(path: string) {
  const { dataset, documents, ignoredTables } = loadSnapshot(path);
  expect(documents).toEqual({ users: 2, questions: 1, exams: 2 });
  expect(ignoredTables).toEqual(["examEvents"]);
  const [exam, empty] = dataset.exams;
  // Ids are kept as keys: the participants and answers still point at the snapshot's documents.
  expect(exam!.key).toBe("ke1");
  expect(exam!.questionKeys).toEqual(["kq1"]);
  expect(exam!.participants.map((p) => p.userKey)).toEqual(["jx7user1", "jx7user2"]);
  expect(exam!.participants[0]!.answers.map((a) => a.questionKey)).toEqual(["kq1", "kq_deleted"]);
  expect(exam!.participants[1]).toMatchObject({ isPaused: true, pausedAt: 1_700_000_100_000, score: 0 });
  expect(empty!.participants).toEqual([]);
  // An answer to a question that no longer exists is dirty data for the migration to report, not a load error.
  expect(dataset.deletedQuestionKeys).toEqual(["kq_deleted"]);
  expect(dataset.users.find((u) => u.key === "jx7user2")).toEqual({
    key: "jx7user2",
    name: "Bob",
    email: "bob@example.edu",
    tokenIdentifier: "https://auth|bob",
    role: "student",
  });
  expect(dataset.questions[0]).toEqual({ key: "kq1", text: "2+2?", options: ["3", "4"], correctAnswer: "4", points: 2 });
}

describe("loading an export", () => {
  test("an unzipped export folder", () => {
    const dir = tmp();
    writeExportFolder(dir, tables());
    expectLoaded(dir);
    expect(loadSnapshot(dir).format).toBe("folder");
  });

  test("a ZIP made by the export, and a folder holding only that ZIP (npx convex export --path dir/)", () => {
    const dir = tmp();
    mkdirSync(dir);
    writeExportZip(join(dir, "snapshot_123.zip"), tables());
    expectLoaded(join(dir, "snapshot_123.zip"));
    expectLoaded(dir);
    expect(loadSnapshot(dir).format).toBe("zip");
  });

  test("Convex's JSON encodings are decoded (a $float: here Infinity, which plain JSON cannot hold)", () => {
    const t = tables();
    (t.exams[1] as Record<string, unknown>).durationMs = { $float: Buffer.from(new Float64Array([Infinity]).buffer).toString("base64") };
    const dir = tmp();
    writeExportFolder(dir, t);
    expect(loadSnapshot(dir).dataset.exams[1]!.durationMs).toBe(Infinity);
  });

  test("a generated dataset round-trips through an export: same exams, participants and answers", () => {
    const dataset = generateV1Dataset({ exams: 3, participants: 9, answers: 60, dirty: true });
    const path = `${tmp()}.zip`;
    writeExportZip(path, datasetTables(dataset));
    const loaded = loadSnapshot(path).dataset;
    expect(loaded.exams).toEqual(dataset.exams);
    expect(loaded.deletedQuestionKeys.sort()).toEqual(dataset.deletedQuestionKeys.sort());
  });
});

describe("a snapshot that cannot be rehearsed is rejected, naming table, document and field", () => {
  /** Writes `tables()` changed by `edit` (then `raw` files over them) and returns the loader's error. */
  function errorOf(edit: (t: ReturnType<typeof tables>) => void, o: { raw?: Record<string, string>; zip?: boolean } = {}): SnapshotError {
    const t = tables();
    edit(t);
    const dir = tmp();
    if (o.zip) writeExportZip(`${dir}.zip`, t);
    else {
      writeExportFolder(dir, t);
      for (const [name, text] of Object.entries(o.raw ?? {})) writeFileSync(join(dir, name), text);
    }
    try {
      loadSnapshot(o.zip ? `${dir}.zip` : dir);
    } catch (e) {
      expect(e).toBeInstanceOf(SnapshotError);
      return e as SnapshotError;
    }
    throw new Error("the snapshot loaded");
  }
  const exam = (t: ReturnType<typeof tables>) => t.exams[0] as Record<string, unknown> & { participants: Record<string, unknown>[] };

  test("a line that is not JSON", () => {
    const firstLine = exportFiles(tables())["exams/documents.jsonl"]!.split("\n")[0];
    const e = errorOf(() => {}, { raw: { "exams/documents.jsonl": `${firstLine}\n{"_id": "ke2", "title": \n` } });
    expect(e.where).toMatchObject({ table: "exams", line: 2 });
    expect(e.message).toMatch(/table "exams", line 2: not a JSON document/);
  });

  test("a missing required field", () => {
    const e = errorOf((t) => delete exam(t).title);
    expect(e.where).toEqual({ table: "exams", line: 1, id: "ke1", field: "title" });
    expect(e.message).toContain("missing");
  });

  test("a field of the wrong type deep inside the embedded array", () => {
    const e = errorOf((t) => (exam(t).participants[1]!.score = "0"));
    expect(e.where).toEqual({ table: "exams", line: 1, id: "ke1", field: "participants[1].score" });
    expect(e.message).toBe('table "exams", line 1, document ke1, field "participants[1].score": expected number, got string');
  });

  test("a wrong type in a ZIP too", () => {
    const e = errorOf((t) => ((t.users[1] as Record<string, unknown>).role = "teacher"), { zip: true });
    expect(e.where).toMatchObject({ table: "users", line: 2, id: "jx7user2", field: "role" });
  });

  test("a field the V1 schema does not have", () => {
    const e = errorOf((t) => ((t.questions[0] as Record<string, unknown>).difficulty = 3));
    expect(e.where).toEqual({ table: "questions", line: 1, id: "kq1", field: "difficulty" });
  });

  test("a participant whose user is not in the snapshot", () => {
    const e = errorOf((t) => (exam(t).participants[1]!.userId = "jx7ghost"));
    expect(e.where).toEqual({ table: "exams", line: 1, id: "ke1", field: "participants[1].userId" });
    expect(e.message).toContain("jx7ghost, which is not in the snapshot's users table");
  });

  test("an exam question that is not in the snapshot, and an id of the wrong table", () => {
    expect(errorOf((t) => (exam(t).questionIds = ["kq1", "kq9"])).where).toEqual({ table: "exams", line: 1, id: "ke1", field: "questionIds[1]" });
    const e = errorOf((t) => (exam(t).questionIds = ["jx7user1"]));
    expect(e.message).toContain("a document of users, where the V1 schema wants questions");
  });

  test("a document without _id, and an _id used twice", () => {
    expect(errorOf((t) => delete (t.users[0] as Record<string, unknown>)._id).where).toEqual({ table: "users", line: 1, field: "_id" });
    expect(errorOf((t) => ((t.questions[0] as Record<string, unknown>)._id = "jx7user1")).message).toContain("_id already used by users line 1");
  });

  test("not an export at all", () => {
    const dir = tmp();
    mkdirSync(dir);
    expect(() => loadSnapshot(dir)).toThrow(/not a Convex export.*exams\/documents\.jsonl/);
    writeFileSync(`${dir}/junk.zip`, "not a zip");
    expect(() => loadSnapshot(`${dir}/junk.zip`)).toThrow(/not a readable ZIP/);
    expect(() => loadSnapshot(`${dir}/missing`)).toThrow(/no such file or folder/);
  });
});
