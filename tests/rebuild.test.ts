/**
 * Out-of-band corruption of a migrated dataset — rows and events deleted,
 * inserted, changed — is detected and named by the verifiers, and a rebuild
 * from the log restores the rows exactly, keeping participation ids.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { internal } from "../convex/_generated/api";
import type { Doc, Id } from "../convex/_generated/dataModel";
import { generateV1Dataset, insertDataset } from "../src/dataset/generate";
import { newConvexTest, type TestConvex } from "./support/convex";
import { errorCode } from "../convex/lib/errors";

const DATASET = generateV1Dataset({ exams: 3, participants: 30, answers: 120 });

async function migrated() {
  const t = newConvexTest();
  await insertDataset(t, DATASET);
  for (let i = 0; i < 50; i++) {
    if ((await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 3 })).isDone) return t;
  }
  throw new Error("migration did not finish");
}

const ROW_EDITS = ["row_delete", "row_change", "row_duplicate", "row_extra", "answer_delete", "answer_change", "answer_insert"] as const;
const EVENT_EDITS = ["event_change", "event_delete", "event_insert"] as const;
type EditKind = (typeof ROW_EDITS)[number] | (typeof EVENT_EDITS)[number];
type Edit = { kind: EditKind; examId: Id<"exams">; userId: Id<"users"> };

/** Applies one out-of-band edit to the attempt of `row`; returns the attempt the verifiers must name. */
async function corrupt(t: TestConvex, kind: EditKind, row: Doc<"examParticipations">, variant: number): Promise<Edit> {
  return t.run(async (ctx) => {
    const answers = await ctx.db
      .query("examAnswers")
      .withIndex("by_participation_and_question", (q) => q.eq("participationId", row._id))
      .collect();
    const events = await ctx.db
      .query("examEvents")
      .withIndex("by_exam_and_user_and_version", (q) => q.eq("examId", row.examId).eq("userId", row.userId))
      .collect();
    const at = { examId: row.examId, userId: row.userId };
    const { _id, _creationTime, ...fields } = row;
    const answer = answers[variant % Math.max(answers.length, 1)];
    const effective: EditKind = answer === undefined && kind.startsWith("answer") ? "row_change" : kind;
    switch (effective) {
      case "row_delete":
        await ctx.db.delete("examParticipations", _id);
        break;
      case "row_change": {
        const changes = [
          { score: row.score + 1 },
          { startedAt: row.startedAt - 1 },
          { pauseCount: row.pauseCount + 1 },
          { totalPausedMs: row.totalPausedMs + 7 },
          { isPaused: !row.isPaused },
        ];
        await ctx.db.patch("examParticipations", _id, changes[variant % changes.length]!);
        break;
      }
      case "row_duplicate":
        await ctx.db.insert("examParticipations", fields);
        break;
      case "row_extra": {
        const userId = await ctx.db.insert("users", { name: "Intruder", tokenIdentifier: `x|${_id}`, role: "student" });
        await ctx.db.insert("examParticipations", { ...fields, userId });
        return { kind: effective, examId: row.examId, userId };
      }
      case "answer_delete":
        await ctx.db.delete("examAnswers", answer!._id);
        break;
      case "answer_change": {
        const changes = [{ selectedAnswer: "Z" }, { isCorrect: !answer!.isCorrect }, { position: answer!.position + 100 }];
        await ctx.db.patch("examAnswers", answer!._id, changes[variant % changes.length]!);
        break;
      }
      case "answer_insert": {
        const { _id: _a, _creationTime: _t, ...copy } = answer!;
        await ctx.db.insert("examAnswers", { ...copy, position: answers.length });
        break;
      }
      case "event_change": {
        const event = events[0]!;
        await ctx.db.patch("examEvents", event._id, {
          data: { ...event.data, participant: { ...event.data.participant, score: event.data.participant.score + 1 } },
        });
        break;
      }
      case "event_delete":
        for (const event of events) await ctx.db.delete("examEvents", event._id);
        break;
      case "event_insert": {
        const last = events[events.length - 1]!;
        const { _id: _e, _creationTime: _c, ...copy } = last;
        await ctx.db.insert("examEvents", {
          ...copy,
          version: last.version + 1,
          type: "ExamPaused",
          data: { pausedAt: 5 },
          prevHash: last.hash,
          hash: "0".repeat(64),
        });
        break;
      }
    }
    return { kind: effective, ...at };
  });
}

async function verifyAll(t: TestConvex) {
  const integrity = await t.action(internal.migrations.verifyMigrationIntegrity, {});
  const projections = await t.action(internal.projections.rebuild.verifyProjections, {});
  return {
    integrity,
    projections,
    issues: [...integrity.issues, ...projections.issues] as { examId: string; userId?: string; kind: string; message: string }[],
  };
}

async function participations(t: TestConvex) {
  return t.run((ctx) => ctx.db.query("examParticipations").collect());
}

describe("verification after out-of-band corruption", () => {
  it("reports no issue on clean data", async () => {
    const t = await migrated();
    const { integrity, projections } = await verifyAll(t);
    expect(integrity).toMatchObject({ isValid: true, issues: [] });
    expect(projections).toMatchObject({
      isValid: true,
      issues: [],
      summary: { streams: 30, events: 30, participations: 30, answers: 120 },
    });
  });

  it("detects and names every one of ≥ 100 random edits of rows and events", async () => {
    let total = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom<EditKind>(...ROW_EDITS, ...EVENT_EDITS), fc.nat(20)), { minLength: 26, maxLength: 28 }),
        async (plan) => {
          const t = await migrated();
          const rows = await participations(t);
          const edits: Edit[] = [];
          // One edit per attempt, so that each is named by its own exam and user.
          for (const [i, [kind, variant]] of plan.entries()) edits.push(await corrupt(t, kind, rows[i]!, variant));
          total += edits.length;
          const { integrity, projections, issues } = await verifyAll(t);
          expect(projections.isValid || integrity.isValid).toBe(false);
          for (const edit of edits) {
            const named = issues.filter((i) => i.examId === edit.examId && i.userId === edit.userId);
            expect(named, `${edit.kind} on ${edit.examId}/${edit.userId}`).not.toEqual([]);
            if (edit.kind.startsWith("row") || edit.kind.startsWith("answer")) {
              // Row edits are V1↔V2 differences too.
              expect(
                integrity.issues.some((i) => i.examId === edit.examId && i.userId === edit.userId),
                edit.kind,
              ).toBe(true);
            }
          }
        },
      ),
      { numRuns: 4 },
    );
    expect(total).toBeGreaterThanOrEqual(100);
  });
});

describe("rebuildProjections", () => {
  it("restores corrupted rows exactly from the log, keeping participation ids", async () => {
    const t = await migrated();
    const before = await participations(t);
    const contentOf = async () =>
      t.run(async (ctx) => {
        const rows = await ctx.db.query("examParticipations").collect();
        const out: Record<string, unknown> = {};
        for (const { _id, _creationTime, ...row } of rows) {
          const answers = await ctx.db
            .query("examAnswers")
            .withIndex("by_participation_and_question", (q) => q.eq("participationId", _id))
            .collect();
          out[`${row.examId}/${row.userId}`] = {
            row,
            answers: answers
              .map(({ questionId, selectedAnswer, isCorrect, position }) => ({ questionId, selectedAnswer, isCorrect, position }))
              .sort((a, b) => a.position - b.position),
          };
        }
        return {
          out,
          answers: (await ctx.db.query("examAnswers").collect()).length,
          counters: (await ctx.db.query("examCounterShards").collect()).map(({ _id, _creationTime, ...c }) => c),
        };
      });
    const expected = await contentOf();
    const edits: Edit[] = [];
    for (const [i, row] of before.entries()) edits.push(await corrupt(t, ROW_EDITS[i % ROW_EDITS.length]!, row, i));
    // Answers left behind by a deleted row are orphans: the rebuild removes them too.
    expect((await verifyAll(t)).projections.isValid).toBe(false);

    const rebuilt = await t.action(internal.projections.rebuild.rebuildAllProjections, {});
    expect(rebuilt.isDone).toBe(true);
    expect(await contentOf()).toEqual(expected);
    const after = await participations(t);
    const deleted = new Set(edits.filter((e) => e.kind === "row_delete").map((e) => `${e.examId}/${e.userId}`));
    for (const row of before) {
      const now = after.find((r) => r.examId === row.examId && r.userId === row.userId)!;
      if (!deleted.has(`${row.examId}/${row.userId}`)) expect(now._id).toBe(row._id);
    }
    const { integrity, projections } = await verifyAll(t);
    expect(projections).toMatchObject({ isValid: true, issues: [] });
    expect(integrity).toMatchObject({ isValid: true, issues: [] });

    // A second rebuild finds nothing to write.
    const again = await t.action(internal.projections.rebuild.rebuildAllProjections, {});
    expect(again).toMatchObject({ documentsWritten: 0, participationsRemoved: 0, orphanAnswersRemoved: 0 });
  });

  it("removes rows whose stream has no events, and rebuilds one exam on its own", async () => {
    const t = await migrated();
    const [row] = await participations(t);
    await corrupt(t, "event_delete", row!, 0);
    const r = await t.mutation(internal.projections.rebuild.rebuildProjections, { examId: row!.examId });
    expect(r).toMatchObject({ isDone: true, participationsRemoved: 1 });
    expect((await participations(t)).some((p) => p._id === row!._id)).toBe(false);
    expect(await t.action(internal.projections.rebuild.verifyProjections, { examId: row!.examId })).toMatchObject({ isValid: true });
  });

  it("resumed call after call (a few steps each) ends where one pass ends: rows, ids, counters, orphans swept", async () => {
    const t = await migrated();
    const rowsAndCounters = () =>
      t.run(async (ctx) => ({
        rows: (await ctx.db.query("examParticipations").collect()).map(({ _creationTime, ...r }) => r),
        answers: (await ctx.db.query("examAnswers").collect()).map(({ _id, _creationTime, ...a }) => a),
        counters: (await ctx.db.query("examCounterShards").collect()).map(({ _id, _creationTime, ...c }) => c),
      }));
    const expected = await rowsAndCounters();
    const before = await participations(t);
    // Damage every kind of row, then rebuild with at most `steps` steps per call.
    for (const [i, row] of before.entries()) {
      if (ROW_EDITS[i % ROW_EDITS.length] !== "row_delete") await corrupt(t, ROW_EDITS[i % ROW_EDITS.length]!, row, i);
    }
    for (const steps of [1, 3]) {
      let calls = 0;
      for (let cursor: string | undefined; ; calls++) {
        const r = await t.mutation(internal.projections.rebuild.rebuildProjections, { cursor, maxSteps: steps });
        if (r.isDone) break;
        cursor = r.continueCursor;
      }
      expect(calls).toBeGreaterThan(before.length / steps);
      const now = await rowsAndCounters();
      expect(now.rows).toEqual(expected.rows);
      expect(now.answers.sort(byAnswer)).toEqual(expected.answers.sort(byAnswer));
      expect(now.counters).toEqual(expected.counters);
    }
    // Deleted rows come back with new ids, and their answers left behind are swept, across calls too.
    await t.run(async (ctx) => {
      for (const row of before.slice(0, 3)) await ctx.db.delete("examParticipations", row._id);
    });
    let cursor: string | undefined;
    for (let r = await t.mutation(internal.projections.rebuild.rebuildProjections, { maxSteps: 2 }); !r.isDone;) {
      cursor = r.continueCursor;
      r = await t.mutation(internal.projections.rebuild.rebuildProjections, { cursor, maxSteps: 2 });
    }
    expect(await t.action(internal.projections.rebuild.verifyProjections, {})).toMatchObject({ isValid: true, issues: [] });
    expect((await rowsAndCounters()).answers.length).toBe(expected.answers.length);
  });
  it("refuses a cursor it did not return, writing nothing (rebuild and verify)", async () => {
    // Given a migrated dataset and a real cursor of a call cut short
    const t = await migrated();
    const first = await t.mutation(internal.projections.rebuild.rebuildProjections, { maxSteps: 1 });
    const before = await participations(t);
    const cursor = JSON.parse(first.continueCursor) as Record<string, unknown>;
    // When it comes back damaged (not JSON, a phase or an id that is not one), then it is INVALID_ARGUMENT and nothing changed
    for (const bad of [
      "not json",
      JSON.stringify({ ...cursor, phase: "later" }),
      JSON.stringify({ ...cursor, after: { examId: 7, userId: null } }),
      "[]",
    ]) {
      const rebuild = await t.mutation(internal.projections.rebuild.rebuildProjections, { cursor: bad }).catch((e: unknown) => e);
      expect(errorCode(rebuild)).toBe("INVALID_ARGUMENT");
      const verify = await t.query(internal.projections.rebuild.verifyProjectionsPage, { cursor: bad }).catch((e: unknown) => e);
      expect(errorCode(verify)).toBe("INVALID_ARGUMENT");
    }
    expect(await participations(t)).toEqual(before);
    // And the real cursor still resumes, to the end
    for (let r = await t.mutation(internal.projections.rebuild.rebuildProjections, { cursor: first.continueCursor }); !r.isDone;) {
      r = await t.mutation(internal.projections.rebuild.rebuildProjections, { cursor: r.continueCursor });
    }
    expect(await t.action(internal.projections.rebuild.verifyProjections, {})).toMatchObject({ isValid: true, issues: [] });
  });
});

function byAnswer(a: { participationId: string; position: number }, b: { participationId: string; position: number }) {
  return a.participationId < b.participationId ? -1 : a.participationId > b.participationId ? 1 : a.position - b.position;
}
