// @vitest-environment node
/**
 * scripts/run-to-end.sh, the runbook's one command per paged operator command (docs/operations.md, step 7),
 * run against a fake `npx convex run` (tests/support/fake-convex-run.mjs) that serves pages the real
 * functions returned on a convex-test deployment, printed as the CLI prints them: the script must make
 * exactly the calls an operator pasting each `continueCursor` back would make, for every cursor shape
 * (a number as a string, JSON text, null at the end, the resync's object), print every page, and fail
 * clearly when a call fails or a result cannot be followed.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { convexToJson, type Value } from "convex/values";
import { internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { WORK_BOUNDS } from "../convex/lib/limits";
import { legacyEntry, newConvexTest, seedExam, seedUser, type TestConvex } from "./support/convex";

const repo = join(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "run-to-end-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Args = Record<string, unknown>;
type Page = { isDone?: boolean; continueCursor?: unknown; isValid?: boolean };
type Call = { fn: string; args: Args; output?: string; error?: string };

/** The calls an operator makes by hand: each page's continueCursor passed back as `cursor` until isDone; each output as `npx convex run` prints it when piped. */
async function record(fn: string, call: (args: Args) => Promise<Page>, first: Args = {}): Promise<Call[]> {
  const calls: Call[] = [];
  for (let args = first; calls.length < 100;) {
    const page = await call(args);
    calls.push({ fn, args, output: JSON.stringify(convexToJson(page as Value), null, 2) });
    if (page.isDone !== false) return calls;
    args = { ...args, cursor: page.continueCursor };
  }
  throw new Error(`${fn} did not finish`);
}

let runs = 0;
/** The script, with `npx convex run` replaced by the fake serving `calls`: its exit code, output, and the calls the fake received. */
function runToEnd(calls: Call[], fn = calls[0]!.fn, first: Args = calls[0]!.args) {
  const pages = join(dir, `pages-${++runs}.json`);
  const log = join(dir, `log-${runs}.jsonl`);
  writeFileSync(pages, JSON.stringify(calls));
  writeFileSync(log, "");
  const env = {
    ...process.env,
    CONVEX_RUN: `${process.execPath} ${join(repo, "tests/support/fake-convex-run.mjs")}`,
    FAKE_CONVEX_PAGES: pages,
    FAKE_CONVEX_LOG: log,
  };
  return new Promise<{ code: number; stdout: string; stderr: string; received: Call[]; options: string[] }>((resolve) => {
    execFile("bash", [join(repo, "scripts/run-to-end.sh"), fn, JSON.stringify(first), "--prod"], { env }, (error, stdout, stderr) => {
      const received = readFileSync(log, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Call & { options: string[] });
      resolve({
        code: error ? ((error as { code?: number }).code ?? 1) : 0,
        stdout,
        stderr,
        received: received.map(({ fn, args }) => ({ fn, args })),
        options: [...new Set(received.map((c) => c.options.join(" ")))],
      });
    });
  });
}

/** The script made exactly the recorded calls and printed every page in order. */
async function expectFollowed(calls: Call[], code: number) {
  const run = await runToEnd(calls);
  expect(run.stderr).toContain(`${calls.length} call(s), done`);
  expect(run.code).toBe(code);
  expect(run.received).toEqual(calls.map(({ fn, args }) => ({ fn, args })));
  expect(run.options).toEqual(["--prod"]); // the CLI's options reach every call
  expect(JSON.parse(run.stdout)).toEqual(calls.map((c) => JSON.parse(c.output!)));
}

let t: TestConvex;
let examId: Id<"exams">;
const T0 = Date.UTC(2026, 0, 1);

beforeAll(async () => {
  t = newConvexTest();
  // More exams than one header-check call takes, made around the keeper: every header is missing.
  for (let i = 0; i <= WORK_BOUNDS.headerCheckExams; i++) await seedExam(t, { questions: 1 });
  const students = await Promise.all(["ada", "bo", "cy"].map((name) => seedUser(t, name)));
  ({ examId } = await seedExam(t, { questions: 2, participants: students.map((s, i) => legacyEntry(s.userId, T0 + i)) }));
});

describe("scripts/run-to-end.sh follows every paged operator command to its end", () => {
  test("the header check (JSON text cursors, null at the end; exit 2 while headers are stale), its repair, then exit 0", async () => {
    const verify = (args: Args) => t.query(internal.examAdmin.verifyExamHeaders, args);
    const stale = await record("examAdmin:verifyExamHeaders", verify);
    expect(stale.length).toBeGreaterThan(1);
    await expectFollowed(stale, 2);
    const repair = await record("examAdmin:repairExamHeaders", (args) => t.mutation(internal.examAdmin.repairExamHeaders, args));
    expect(repair.length).toBeGreaterThan(1);
    await expectFollowed(repair, 2); // a repair page lists what it healed: isValid false
    await expectFollowed(await record("examAdmin:verifyExamHeaders", verify), 0);
  });

  test("the backup, the mirror's status, the audit chain and a rebuild (numbers as strings, JSON cursors)", async () => {
    for (let done = false; !done;) done = (await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 10 })).isDone;
    await expectFollowed(
      await record("migrations:exportV1ParticipantData", (args) => t.query(internal.migrations.exportV1ParticipantData, args)),
      0,
    );
    await expectFollowed(
      await record("legacyMirror:legacyMirrorStatus", (args) => t.query(internal.legacyMirror.legacyMirrorStatus, args)),
      0,
    );
    const chain = await record("audit:verifyAuditChain", (args) => t.query(internal.audit.verifyAuditChain, args), {
      examId,
      batchSize: 1,
    });
    expect(chain.length).toBeGreaterThan(3); // three events, one per page, then the rows
    await expectFollowed(chain, 0);
    const rebuild = await record(
      "projections/rebuild:rebuildProjections",
      (args) => t.mutation(internal.projections.rebuild.rebuildProjections, args),
      { maxSteps: 1 },
    );
    expect(rebuild.length).toBeGreaterThan(1);
    await expectFollowed(rebuild, 0);
  });

  test("the mirror's resync of a large exam (its cursor an object, passed back as one)", async () => {
    const { examId: big } = await seedExam(t, { questions: 1 });
    await t.run(async (ctx) => {
      for (let i = 0; i < 1_300; i++) {
        const userId = await ctx.db.insert("users", { name: `S${i}`, tokenIdentifier: `t|${i}`, role: "student" });
        const row = { examId: big, userId, score: 0, startedAt: T0, isPaused: false, pauseCount: 0, totalPausedMs: 0 };
        await ctx.db.insert("examParticipations", { ...row, version: 1, lastEventHash: "h" });
      }
    });
    await t.mutation(internal.legacyMirror.setExamLegacyMirror, { examId: big, enabled: false });
    const resync = await record(
      "legacyMirror:setExamLegacyMirror",
      (args) => t.mutation(internal.legacyMirror.setExamLegacyMirror, args as { examId: Id<"exams">; enabled: boolean }),
      { examId: big, enabled: true },
    );
    expect(resync.length).toBeGreaterThan(2);
    expect(typeof resync[1]!.args.cursor).toBe("object");
    await expectFollowed(resync, 0);
  });
});

describe("scripts/run-to-end.sh fails clearly", () => {
  test("a call that fails mid-way: exit 1, the call named, no partial output", async () => {
    const chain = await record("audit:verifyAuditChain", (args) => t.query(internal.audit.verifyAuditChain, args), {
      examId,
      batchSize: 1,
    });
    const failing = chain.map((c, i) =>
      i === 2 ? { fn: c.fn, args: c.args, error: 'Uncaught ConvexError: {"code":"INVALID_ARGUMENT"}' } : c,
    );
    const run = await runToEnd(failing);
    expect(run.code).toBe(1);
    expect(run.received).toHaveLength(3);
    expect(run.stderr).toContain("INVALID_ARGUMENT");
    expect(run.stderr).toContain("call 3 (audit:verifyAuditChain");
    expect(run.stdout).toBe("");
  });

  test("a command that keeps its own cursor (migrateExamParticipants), a cursor that does not move, a result that is not a page", async () => {
    const t2 = newConvexTest();
    for (let i = 0; i < 2; i++) {
      const student = await seedUser(t2, `s${i}`);
      await seedExam(t2, { participants: [legacyEntry(student.userId, T0)] });
    }
    const args = { batchSize: 1 };
    const batch = await t2.mutation(internal.migrations.migrateExamParticipants, args);
    expect(batch.isDone).toBe(false);
    const migrate = { fn: "migrations:migrateExamParticipants", args, output: JSON.stringify(convexToJson(batch), null, 2) };
    const own = await runToEnd([migrate]);
    expect(own.code).toBe(1);
    expect(own.stderr).toContain("isDone is false and there is no continueCursor");
    expect(own.received).toHaveLength(1);

    const [first] = await record("legacyMirror:legacyMirrorStatus", (a) => t.query(internal.legacyMirror.legacyMirrorStatus, a));
    const stuck = { ...JSON.parse(first!.output!), isDone: false, continueCursor: "5" };
    const again = await runToEnd([
      { fn: first!.fn, args: {}, output: JSON.stringify(stuck) },
      { fn: first!.fn, args: { cursor: "5" }, output: JSON.stringify(stuck) },
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("continueCursor is the cursor it was called with");
    expect(again.received).toHaveLength(2);

    const status = await runToEnd([{ fn: "migrations:checkMigrationStatus", args: {}, output: "Failed to connect" }]);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain("its output is not JSON");
  });
});
