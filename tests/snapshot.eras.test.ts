// @vitest-environment node
/**
 * Exports of both writer eras, decoded as Convex's own import decodes them
 * (get-convex/convex-backend crates/value/src/export.rs, shape_inference
 * export_context.rs and pretty.rs, application snapshot_import/parse.rs), and
 * the writer against what Convex writes today (serde_json's float spelling,
 * sorted keys, ZIP64 with data descriptors, rows in `_id` order). The legacy
 * fixtures' generated_schema.jsonl lines are written by hand to Convex's rules.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import fc from "fast-check";
import { unzipSync, strFromU8 } from "fflate";
import type { Value } from "convex/values";
import { main } from "../src/cli/main";
import { loadSnapshot } from "../src/snapshot/load";
import {
  decodeLegacy,
  decodeUniform,
  exportValueJson,
  floatText,
  hasIntegerToken,
  parseContext,
  parseExportJson,
  parseShape,
  type GeneratedSchema,
} from "../src/snapshot/values";
import { realId, writeExportZip, type ExportSpec } from "../src/snapshot/write";

const root = mkdtempSync(join(tmpdir(), "snapshot-eras-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const tmp = () => join(root, `case${n++}`);

async function inProcess(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await main(["node", "exam-migrate", ...args], { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) });
  return { code, stdout, stderr };
}

const legacy = (shape: string, ...overrides: object[]): GeneratedSchema => ({
  shape: parseShape(shape),
  overrides: new Map(overrides.map((o) => Object.entries(o)[0]!).map(([id, c]) => [id, parseContext(c)])),
});

describe("values of both eras", () => {
  test("floats are spelled as serde_json (ryu) spells them: Convex's own expectations, and 1e16–1e21 keep an exponent", () => {
    // crates/value/src/export.rs export_lossless_float
    expect(floatText(0)).toBe("0.0");
    expect(floatText(-0)).toBe("-0.0");
    expect(floatText(-Number.MAX_VALUE)).toBe("-1.7976931348623157e308");
    expect(floatText(2.2250738585072014e-308)).toBe("2.2250738585072014e-308");
    expect(exportValueJson(Infinity)).toBe('{"$float":"AAAAAAAA8H8="}');
    expect([123, 0.1, 1234567890123456, 1e16, 1.5e17, 1e21, 1e-5, 1e-6, 1.25e-7].map(floatText)).toEqual([
      "123.0",
      "0.1",
      "1234567890123456.0",
      "1e16",
      "1.5e17",
      "1e21",
      "0.00001",
      "1e-6",
      "1.25e-7",
    ]);
    // export_lossless_integer
    expect(exportValueJson(42n)).toBe("42");
    expect(exportValueJson(2n ** 63n - 1n)).toBe("9223372036854775807");
  });

  test("for every finite float: the spelling reads back to the same float, and as a float (a dot or an exponent)", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = floatText(x);
        expect(Object.is(Number(text), x)).toBe(true);
        expect(text).toMatch(/[.e]/);
        expect(decodeUniform(text)).toBe(x);
      }),
      { numRuns: 2000 },
    );
  });

  const convexValue: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.string({ unit: "binary" }),
      fc.uint8Array({ maxLength: 12 }).map((b) => b.slice().buffer),
      fc.array(tie("value"), { maxLength: 4 }),
      fc.dictionary(
        fc.string({ minLength: 1, maxLength: 6 }).filter((k) => !k.startsWith("$") && k !== "__proto__"),
        tie("value"),
        { maxKeys: 4 },
      ),
    ),
  })).value;

  test("for every Convex value: written uniform, read back the same (int64 a bigint, NaN, -0, bytes), keys sorted", () => {
    fc.assert(
      fc.property(convexValue, (value) => {
        expect(decodeUniform(exportValueJson(value))).toEqual(value);
      }),
      { numRuns: 1500 },
    );
    // Byte order, as a BTreeMap of field names: "10" before "2", upper case before "_" before lower case.
    expect(exportValueJson({ b: 1, a: 2, _id: "x", Z: 3, 2: null, 10: null })).toBe(
      '{"10":null,"2":null,"Z":3.0,"_id":"x","a":2.0,"b":1.0}',
    );
  });

  test("the integer-aware parser reads what JSON.parse reads, integers as bigints", () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const integers = hasIntegerToken(text);
        const parsed = parseExportJson(text);
        const plain = JSON.parse(text) as unknown;
        if (!integers) expect(parsed).toEqual(plain);
        else expect(JSON.stringify(parsed, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))).toBe(JSON.stringify(plain));
      }),
      { numRuns: 1000 },
    );
    expect(decodeUniform('{"n":9007199254740993,"x":5.0,"s":"12 34","big":18446744073709551616}')).toEqual({
      n: 9007199254740993n,
      x: 5,
      s: "12 34",
      big: 18446744073709551616,
    });
  });

  test("Convex's export test before and after the uniform format (crates/exports/src/tests.rs at e48298f5b^ and e48298f5b)", () => {
    const id = realId(10001, "doc");
    // Before: ConvexCleanJSON typed by the shape; an array mixing int64 and string needs an override.
    expect(
      decodeLegacy({ _creationTime: 1.5, _id: id, foo: "1" }, legacy(`{"_creationTime": normalfloat64, "_id": "${id}", "foo": int64}`)),
    ).toEqual({
      _creationTime: 1.5,
      _id: id,
      foo: 1n,
    });
    expect(
      decodeLegacy(
        { _creationTime: 1.5, _id: id, foo: ["1", "1"] },
        legacy(`{"_creationTime": normalfloat64, "_id": "${id}", "foo": array<int64 | field_name>}`, { [id]: { foo: ["int64", "infer"] } }),
      ),
    ).toEqual({ _creationTime: 1.5, _id: id, foo: [1n, "1"] });
    expect(decodeLegacy({ _id: id, foo: "1" }, legacy(`{"_creationTime": normalfloat64, "_id": "${id}", "foo": field_name}`))).toEqual({
      _id: id,
      foo: "1",
    });
    // After: one uniform encoding, int64 without a dot.
    expect(decodeUniform(`{"_creationTime":1.5,"_id":"${id}","foo":[1,"1"]}`)).toEqual({ _creationTime: 1.5, _id: id, foo: [1n, "1"] });
  });

  test("legacy: NaN and ±Infinity by override or by a shape that allows one reading; bytes as bare base64; no override, no conversion", () => {
    const id = realId(10003, "e");
    const shape = `{"_id": id<10003>, "blob": bytes, "only": inf, "score": -inf | NaN | inf | normalfloat64}`;
    const doc = { _id: id, blob: "AQI=", only: "Infinity", score: "NaN" };
    expect(decodeLegacy({ ...doc }, legacy(shape, { [id]: { score: { $float64NaN: "AAAAAAAA+H8=" } } }))).toEqual({
      _id: id,
      blob: new Uint8Array([1, 2]).buffer,
      only: Infinity,
      score: NaN,
    });
    expect(decodeLegacy({ ...doc, score: "-Infinity" }, legacy(shape, { [id]: { score: "float64inf" } }))).toMatchObject({
      score: -Infinity,
    });
    // Without its override a NaN is the string "NaN": what Convex's import would insert (and our schema rejects).
    expect(decodeLegacy({ ...doc }, legacy(shape))).toMatchObject({ score: "NaN" });
    // A table without generated_schema.jsonl: the shape `unknown`, every string a string.
    expect(decodeLegacy({ _id: id, n: "5", x: 5 }, legacy("unknown"))).toEqual({ _id: id, n: "5", x: 5 });
    expect(() => parseShape('{"a": int64')).toThrow(/cannot parse the shape/);
    expect(() => decodeUniform('{"a":{"$date":"x"}}')).toThrow(/unknown encoding/);
  });

  test("a value nested deeper than Convex's 64 levels is refused in either era, however deep (never a stack overflow)", () => {
    const nested = (depth: number) => `{"a":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;
    expect(() => decodeUniform(nested(64))).not.toThrow();
    for (const depth of [65, 100_000]) {
      expect(() => decodeUniform(nested(depth))).toThrow(/nested deeper than Convex's 64 levels/);
      expect(() => decodeLegacy(JSON.parse(nested(depth)), legacy("unknown"))).toThrow(/nested deeper than Convex's 64 levels/);
    }
  });
});

const NUM = { users: 10001, questions: 10002, exams: 10003, pageViews: 10004 };
const [ada, bob, cy] = ["ada", "bob", "cy"].map((k) => realId(NUM.users, k)) as [string, string, string];
const q1 = realId(NUM.questions, "q1");
const [e1, e2] = ["e1", "e2"].map((k) => realId(NUM.exams, k)) as [string, string];
const T = 1_767_225_600_123.456;
const BIG = 9_007_199_254_740_993n; // 2^53 + 1: a float would round it
const PREFIX = "backups/snapshot_1767225600";

function participant(userId: string, score: number) {
  const base = { userId, score, startedAt: 1_700_000_000_000, isPaused: false, pauseCount: 0, totalPausedMs: 0 };
  return { ...base, completedAt: 1_700_000_600_000.5, answers: [{ questionId: q1, selectedAnswer: "4", isCorrect: true }] };
}

/** The same deployment in either era: NaN and ±Infinity scores, an int64 in a table outside the schema, under a two-level prefix with Finder's entries. */
function eraSpec(era: "uniform" | "legacy"): ExportSpec {
  const participantShape =
    '{"answers": array<{"isCorrect": boolean, "questionId": id<10002>, "selectedAnswer": string}>, "completedAt": normalfloat64, ' +
    '"isPaused": boolean, "pauseCount": normalfloat64, "score": -inf | NaN | inf | normalfloat64, "startedAt": normalfloat64, ' +
    '"totalPausedMs": normalfloat64, "userId": id<10001>}';
  return {
    era,
    tableNumbers: NUM,
    topLevelFolder: PREFIX,
    extraEntries: { [`__MACOSX/${PREFIX}/._README.md`]: "\u0000\u0005\u0016\u0007", "backups/.DS_Store": "Bud1" },
    tables: {
      users: [ada, bob, cy].map((_id, i) => ({
        _id,
        _creationTime: T + i,
        name: `U${i}`,
        tokenIdentifier: `https://auth|${i}`,
        role: "student",
      })),
      questions: [{ _id: q1, _creationTime: T + 5, text: "2+2?", options: ["3", "4"], correctAnswer: "4", points: 1 }],
      exams: [
        {
          _id: e1,
          _creationTime: T + 6,
          title: "Arithmetic",
          questionIds: [q1],
          durationMs: 3_600_000,
          maxPauses: 1,
          participants: [participant(ada, NaN), participant(bob, Infinity)],
        },
        {
          _id: e2,
          _creationTime: T + 7,
          title: "Again",
          questionIds: [q1],
          durationMs: 60_000,
          maxPauses: 0,
          participants: [participant(cy, -Infinity)],
        },
      ],
      pageViews: [{ _id: realId(NUM.pageViews, "v"), _creationTime: T + 8, path: "/", count: BIG }],
    },
    legacySchemas: {
      users: [
        JSON.stringify('{"_creationTime": normalfloat64, "_id": id<10001>, "name": string, "role": "student", "tokenIdentifier": string}'),
      ],
      questions: [
        JSON.stringify(
          '{"_creationTime": normalfloat64, "_id": id<10002>, "correctAnswer": "4", "options": array<string>, "points": normalfloat64, "text": string}',
        ),
      ],
      exams: [
        JSON.stringify(
          `{"_creationTime": normalfloat64, "_id": id<10003>, "durationMs": normalfloat64, "maxPauses": normalfloat64, "participants": array<${participantShape}>, "questionIds": array<id<10002>>, "title": string}`,
        ),
        // ExportContext per document (sorted by id as Convex's BTreeMap writes them): the shape allows NaN, so no string reads one way.
        ...[
          { [e1]: { participants: [{ score: { $float64NaN: "AAAAAAAA+H8=" } }, { score: "float64inf" }] } },
          { [e2]: { participants: [{ score: "float64inf" }] } },
        ]
          .sort((a, b) => (Object.keys(a)[0]! < Object.keys(b)[0]! ? -1 : 1))
          .map((o) => JSON.stringify(o)),
      ],
      pageViews: [JSON.stringify('{"_creationTime": normalfloat64, "_id": id<10004>, "count": int64, "path": string}')],
    },
    storage: [{ _id: realId(10099, "file"), _creationTime: T + 9, size: 5, contentType: "text/plain", content: Buffer.from("hello") }],
  };
}

describe("an export of either era, re-zipped under a two-level folder with Finder's entries", () => {
  for (const era of ["legacy", "uniform"] as const) {
    test(`${era}: check-snapshot exits 0 naming the era, NaN and ±Infinity load, the int64 stays an int64; the rehearsal passes`, async () => {
      const zip = `${tmp()}.zip`;
      await writeExportZip(zip, eraSpec(era));
      const written = strFromU8(unzipSync(readFileSync(zip))[`${PREFIX}/pageViews/documents.jsonl`]!);
      expect(written).toContain(era === "legacy" ? `"count":"${BIG}"` : `"count":${BIG}`);

      const check = await inProcess(["check-snapshot", zip, "--json"]);
      expect(check.code, check.stderr).toBe(0);
      const findings = JSON.parse(check.stdout) as {
        eras: string[];
        folder: string;
        ignoredEntries: string[];
        otherTables: { table: string; definition: string }[];
        rejections: unknown[];
      };
      expect(findings).toMatchObject({ eras: [era], folder: PREFIX, rejections: [] });
      expect(findings.ignoredEntries.sort()).toEqual([`__MACOSX/${PREFIX}/._README.md`, "backups/.DS_Store"]);
      expect(findings.otherTables).toEqual([
        { table: "pageViews", documents: 1, definition: "pageViews: defineTable({ count: v.int64(), path: v.string() })," },
      ]);
      const text = await inProcess(["check-snapshot", zip]);
      expect(text.stdout).toContain(`${era} era`);
      expect(text.stdout).toMatch(/ignored entries \(not part of the export\): 2/);
      expect(text.stdout).toContain("contents NOT verified");

      const { dataset } = await loadSnapshot(zip);
      const scores = dataset.exams.flatMap((e) => e.participants.map((p) => [p.userKey, p.score]));
      expect(new Map(scores as [string, number][])).toEqual(
        new Map([
          [ada, NaN],
          [bob, Infinity],
          [cy, -Infinity],
        ]),
      );

      const out = tmp();
      const rehearsal = await inProcess(["--snapshot", zip, "-q", "--workers", "1", "--out-dir", out]);
      expect(rehearsal.code, rehearsal.stdout + rehearsal.stderr).toBe(0);
      expect(rehearsal.stdout).toContain("Migration rehearsal: PASSED");
    }, 60_000);
  }
});

describe("the writer writes what Convex writes today", () => {
  test("every entry ZIP64, deflated, sizes and CRC in a data descriptor (local sizes 0xFFFFFFFF), DOS dates 0; rows in _id order", async () => {
    const zip = `${tmp()}.zip`;
    const spec = eraSpec("uniform");
    await writeExportZip(zip, { ...spec, tables: { ...spec.tables, users: [...(spec.tables.users as object[])].reverse() } });
    const bytes = readFileSync(zip);
    let entries = 0;
    for (let at = bytes.indexOf("PK\u0003\u0004"); at >= 0; at = bytes.indexOf("PK\u0003\u0004", at + 4)) {
      entries++;
      expect(bytes.readUInt16LE(at + 4)).toBe(45); // version needed: ZIP64
      expect(bytes.readUInt16LE(at + 6) & 0x0008).toBe(0x0008); // data descriptor
      expect(bytes.readUInt16LE(at + 8)).toBe(8); // deflate
      expect(bytes.readUInt32LE(at + 10)).toBe(0); // DOS time and date
      expect([bytes.readUInt32LE(at + 18), bytes.readUInt32LE(at + 22)]).toEqual([0xffffffff, 0xffffffff]);
      expect(bytes.readUInt16LE(at + 30 + bytes.readUInt16LE(at + 26))).toBe(0x0001); // ZIP64 extra field
    }
    expect(entries).toBeGreaterThan(10);
    expect(bytes.indexOf("PK\u0007\u0008")).toBeGreaterThan(0); // data descriptors
    expect(bytes.indexOf("PK\u0006\u0006")).toBeGreaterThan(0); // ZIP64 end of central directory
    const files = unzipSync(bytes);
    const users = strFromU8(files[`${PREFIX}/users/documents.jsonl`]!)
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { _id: string })._id);
    expect(users).toEqual([ada, bob, cy].sort());
    expect(strFromU8(files[`${PREFIX}/questions/documents.jsonl`]!)).toBe(
      `{"_creationTime":${floatText(T + 5)},"_id":"${q1}","correctAnswer":"4","options":["3","4"],"points":1.0,"text":"2+2?"}\n`,
    );
  });
});
