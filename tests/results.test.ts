/**
 * The result copy (`examResults`, projections/results.ts): one document per
 * attempt holding its graded answers with the questions' text and correct
 * answers, which V2 results read instead of a row per answer and a question per
 * answer — used only while the definition's question-facts digest vouches for it.
 * Given / when / then: an edit through §6, an edit behind its back, a question
 * outside the exam, a damaged copy, a copy too large to keep.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { api, internal } from "../convex/_generated/api";
import type { Doc, Id } from "../convex/_generated/dataModel";
import type { ParticipantResults } from "../convex/reads/examViews";
import * as exams from "../convex/exams";
import { MAX_ATTEMPT_RESULT_BYTES } from "../convex/lib/limits";
import { importLegacyEntries } from "../convex/attempts/writePath";
import { digestAfterEdit, questionFactsDigest } from "../convex/projections/results";
import { measureCall } from "../src/runtime/embedded";
import {
  legacyEntry,
  newConvexTest,
  runScheduled,
  seedExam,
  seedUser,
  useFakeClock,
  type SeededUser,
  type TestConvex,
} from "./support/convex";

const T0 = Date.UTC(2026, 5, 1, 9, 0, 0);
useFakeClock(T0);

type World = { t: TestConvex; admin: SeededUser; ada: SeededUser; examId: Id<"exams">; q: Id<"questions">[] };

/** Given: an exam of three questions (created through §6), which ada took through V2 and completed. */
async function completed(): Promise<World> {
  const t = newConvexTest();
  const admin = await seedUser(t, "admin", "admin");
  const ada = await seedUser(t, "ada");
  const q: Id<"questions">[] = [];
  for (let i = 0; i < 3; i++) {
    q.push(await admin.as.mutation(api.examAdmin.createQuestion, { text: `Q${i}`, options: ["a", "b"], correctAnswer: "a" }));
  }
  const examId = await admin.as.mutation(api.examAdmin.createExam, { title: "Exam", questionIds: q, durationMs: 3_600_000, maxPauses: 1 });
  await ada.as.mutation(api.exams.startExamV2, { examId });
  const answers = q.map((questionId, i) => ({ questionId, selectedAnswer: i === 1 ? "b" : "a" }));
  await ada.as.mutation(api.exams.submitExamAnswersV2, { examId, answers });
  return { t, admin, ada, examId, q };
}

const copies = (t: TestConvex) => t.run((ctx) => ctx.db.query("examResults").collect());

/** V2 results with what they read; V1's (the live documents) for the same caller must be equal unless an edit awaits repair. */
async function results(w: World, { awaitingRepair = false } = {}) {
  const v2 = await measureCall<{ examId: Id<"exams"> }, ParticipantResults>(w.ada.as, exams.getParticipantExamResultsV2, {
    examId: w.examId,
  });
  const v1 = await w.ada.as.query(api.exams.getParticipantExamResults, { examId: w.examId });
  if (awaitingRepair) expect(v2.result).not.toEqual(v1);
  else expect(v2.result).toEqual(v1);
  return { shown: v2.result, documentsRead: v2.cost.documentsRead };
}

/** Every page of a verify or repair walk over the exam copies; the stale copies it named. */
async function walkCopies(t: TestConvex, repair: boolean): Promise<{ field: string }[]> {
  const stale: { field: string }[] = [];
  for (let cursor: string | null = null; ;) {
    const r: { stale: { field: string }[]; isDone: boolean; continueCursor: string | null } = repair
      ? await t.mutation(internal.examAdmin.repairExamCopies, { cursor })
      : await t.query(internal.examAdmin.verifyExamCopies, { cursor });
    stale.push(...r.stale);
    if (r.isDone) return stale;
    cursor = r.continueCursor;
  }
}

describe("the result copy", () => {
  it("is written with the submission, and results read it: the user, the definition, the participation and the copy", async () => {
    const w = await completed();
    const [copy] = await copies(w.t);
    expect(copy).toMatchObject({
      examId: w.examId,
      liveQuestionIds: [],
      answers: [
        { questionId: w.q[0], selectedAnswer: "a", isCorrect: true, questionText: "Q0", correctAnswer: "a" },
        { questionId: w.q[1], selectedAnswer: "b", isCorrect: false, questionText: "Q1", correctAnswer: "a" },
        { questionId: w.q[2], selectedAnswer: "a", isCorrect: true, questionText: "Q2", correctAnswer: "a" },
      ],
    });
    const { shown, documentsRead } = await results(w);
    expect(shown).toMatchObject({ score: 2, maxScore: 3, status: "completed" });
    expect(documentsRead).toBe(4);
  });

  it("after a §6 edit of a question's text or correct answer, is rewritten in the edit's transaction: results show the edit at once", async () => {
    const w = await completed();
    await w.admin.as.mutation(api.examAdmin.updateQuestion, { questionId: w.q[1]!, text: "Q1, reworded", correctAnswer: "b" });
    // No scheduled job has run (fake timers): the edit itself rewrote the copy.
    const { shown, documentsRead } = await results(w);
    expect(shown.answers[1]).toEqual({
      questionId: w.q[1],
      selectedAnswer: "b",
      isCorrect: false,
      questionText: "Q1, reworded",
      correctAnswer: "b",
    });
    expect(documentsRead).toBe(4);
    // Nothing regrades: isCorrect is what the submission decided, in the log.
    expect(shown.score).toBe(2);
    expect(await walkCopies(w.t, false)).toEqual([]);
  });

  it("after an edit behind its back, shows the facts as they were until the repair, which heals the digest and rewrites the copy", async () => {
    const w = await completed();
    await w.t.run((ctx) => ctx.db.patch("questions", w.q[0]!, { correctAnswer: "b" }));
    // Given the edit went around copies/functions.ts, nothing knows yet: the copy is still vouched for.
    expect((await results(w, { awaitingRepair: true })).shown.answers[0]).toMatchObject({ correctAnswer: "a" });
    expect((await walkCopies(w.t, false)).map((s) => s.field)).toEqual(["questionFacts"]);

    expect((await walkCopies(w.t, true)).map((s) => s.field)).toEqual(["questionFacts"]);
    expect(await walkCopies(w.t, false)).toEqual([]);
    const { shown, documentsRead } = await results(w);
    expect(shown.answers[0]).toMatchObject({ questionText: "Q0", correctAnswer: "b" });
    expect(documentsRead).toBe(4);
  });

  it("labelled with other facts than the definition's is not used: results read the rows and the live questions until the refresh", async () => {
    const w = await completed();
    // Given a copy taken under older facts and not refreshed yet (a refresh job's work still to do).
    const [copy] = await copies(w.t);
    await w.t.run((ctx) => ctx.db.patch("examResults", copy!._id, { questionFacts: "0".repeat(32) }));
    const before = await results(w);
    expect(before.documentsRead).toBe(4 + 3 + 3); // user, definition, participation, the copy (not used); 3 answer rows; 3 questions
    expect((await walkCopies(w.t, false)).map((s) => s.field)).toEqual(["attemptResults"]);

    // When the job runs (scheduled by the edit or the repair when a transaction's share does not suffice).
    expect(await w.t.mutation(internal.examAdmin.refreshExamResults, { examId: w.examId })).toEqual({ refreshed: 1, isDone: true });
    expect((await results(w)).documentsRead).toBe(4);
    expect(await walkCopies(w.t, false)).toEqual([]);
    expect(await w.t.mutation(internal.examAdmin.refreshExamResults, { examId: w.examId })).toEqual({ refreshed: 0, isDone: true });
  });

  it("built while an edit made behind its back awaits the repair is labelled with the facts it holds: never vouched for once they change back", async () => {
    const w = await completed();
    const bob = await seedUser(w.t, "bob");
    await w.t.run((ctx) => ctx.db.patch("questions", w.q[0]!, { text: "Q0 TYPO", correctAnswer: "b" }));
    await bob.as.mutation(api.exams.startExamV2, { examId: w.examId });
    await bob.as.mutation(api.exams.submitExamAnswersV2, { examId: w.examId, answers: [{ questionId: w.q[0]!, selectedAnswer: "b" }] });
    // The job leaves copies alone while the definition's digest is not the live questions' (the repair heals it first).
    expect(await w.t.mutation(internal.examAdmin.refreshExamResults, { examId: w.examId })).toEqual({ refreshed: 0, isDone: true });
    await w.t.run((ctx) => ctx.db.patch("questions", w.q[0]!, { text: "Q0", correctAnswer: "a" })); // reverted before the repair
    await walkCopies(w.t, true);
    expect(await walkCopies(w.t, false)).toEqual([]);
    const v1 = await bob.as.query(api.exams.getParticipantExamResults, { examId: w.examId });
    expect(v1.answers[0]).toMatchObject({ questionText: "Q0", correctAnswer: "a" });
    expect(await bob.as.query(api.exams.getParticipantExamResultsV2, { examId: w.examId })).toEqual(v1);
    expect((await copies(w.t)).every((c: Doc<"examResults">) => c.answers[0]!.questionText === "Q0")).toBe(true);
  });

  it("left behind is refreshed by a repair that heals another fact of the exam too", async () => {
    const w = await completed();
    const [copy] = await copies(w.t);
    await w.t.run(async (ctx) => {
      await ctx.db.patch("examResults", copy!._id, { questionFacts: "0".repeat(32) });
      await ctx.db.patch("exams", w.examId, { title: "Renamed behind its back" });
    });
    expect((await walkCopies(w.t, true)).map((s) => s.field)).toEqual(["title", "attemptResults"]);
    expect(await walkCopies(w.t, false)).toEqual([]);
  });

  it("after a §6 edit, more copies than one transaction's share are refreshed by the scheduled job, and each call makes progress", async () => {
    const t = newConvexTest();
    const admin = await seedUser(t, "admin", "admin");
    // 24 attempts whose copies are ~200 KB each (a long question answered twice): ~4.8 MB, over the share of one call.
    const text = "x".repeat(100_000);
    const questionId = await admin.as.mutation(api.examAdmin.createQuestion, { text, options: ["a", "b"], correctAnswer: "a" });
    const examId = await admin.as.mutation(api.examAdmin.createExam, {
      title: "Long",
      questionIds: [questionId],
      durationMs: 60_000,
      maxPauses: 0,
    });
    const answer = { questionId, selectedAnswer: "a", isCorrect: true };
    for (let i = 0; i < 24; i++) {
      const s = await seedUser(t, `s${i}`);
      const entry = legacyEntry(s.userId, T0 - 60_000, { answers: [answer, answer], completedAt: T0, score: 2 });
      await t.run((ctx) => importLegacyEntries(ctx, { examId, userId: s.userId }, [{ participant: entry, sourceIndex: 0 }]));
    }
    expect(await copies(t)).toHaveLength(24);
    await admin.as.mutation(api.examAdmin.updateQuestion, { questionId, text: `${text}!` });
    const labels = async () => {
      const definition = await t.run((ctx) =>
        ctx.db
          .query("examDefinitions")
          .withIndex("by_exam", (q) => q.eq("examId", examId))
          .unique(),
      );
      return (await copies(t)).map((c: Doc<"examResults">) => c.questionFacts === definition!.questionFacts);
    };
    const afterEdit = await labels();
    expect(afterEdit.filter(Boolean).length).toBeGreaterThan(0); // the edit refreshed what fitted its share
    expect(afterEdit.filter((current) => !current).length).toBeGreaterThan(0); // and scheduled the rest
    await runScheduled(t);
    expect(await labels()).toEqual(Array(24).fill(true));
    expect((await copies(t)).every((c: Doc<"examResults">) => c.answers[0]!.questionText === `${text}!`)).toBe(true);
  });

  it("of attempts a migration rolls forward take the exam's questions once per call: 12 roll-forwards on a 350-question exam stay within half the limits", async () => {
    const t = newConvexTest();
    const users: SeededUser[] = [];
    for (let i = 0; i < 12; i++) users.push(await seedUser(t, `u${i}`));
    const exam = await seedExam(t, { questions: 350 });
    const answer = { questionId: exam.questionIds[0]!, selectedAnswer: "a", isCorrect: true };
    const entries = users.map((u) => legacyEntry(u.userId, T0, { answers: [answer], score: 1 }));
    await t.run((ctx) => ctx.db.patch("exams", exam.examId, { participants: entries }));
    const migrate = async () => {
      let rolled = 0;
      for (let i = 0; i < 20; i++) {
        const r = await t.mutation(internal.migrations.migrateExamParticipants, { batchSize: 2 });
        rolled += r.rolledForward;
        if (r.isDone) return rolled;
      }
      throw new Error("the migration did not finish in 20 calls");
    };
    await migrate();
    // Old code (rollback option 2) completes every attempt in the array; the next pass rolls each one forward.
    await t.run(async (ctx) => {
      const doc = (await ctx.db.get("exams", exam.examId))!;
      await ctx.db.patch("exams", exam.examId, { participants: doc.participants!.map((p) => ({ ...p, completedAt: T0 + 30_000 })) });
    });
    expect(await migrate()).toBe(12);
    expect(await copies(t)).toHaveLength(12);
  });

  it("whose participation is gone is swept by rebuildProjections and named by verifyProjections", async () => {
    const w = await completed();
    await w.t.run(async (ctx) => {
      for (const table of ["examAnswers", "examParticipations", "examCounterShards"] as const)
        for (const doc of await ctx.db.query(table).collect()) await ctx.db.delete(table, doc._id);
    });
    const verified = await w.t.action(internal.projections.rebuild.verifyProjections, {});
    expect(verified.issues.map((i: { kind: string }) => i.kind)).toContain("orphan_result_copy");
    const rebuilt = await w.t.action(internal.projections.rebuild.rebuildAllProjections, {});
    expect(rebuilt.orphanResultsRemoved).toBe(1);
    expect(await w.t.action(internal.projections.rebuild.verifyProjections, {})).toMatchObject({ isValid: true });
    const [copy] = await copies(w.t);
    expect(await w.t.run((ctx) => ctx.db.get("examParticipations", copy!.participationId))).not.toBeNull();
  });

  it("reads live the facts of an answered question no longer in the exam (the digest does not cover it)", async () => {
    const w = await completed();
    await w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, questionIds: [w.q[0]!, w.q[2]!] });
    await runScheduled(w.t);
    const [copy] = await copies(w.t);
    expect(copy!.liveQuestionIds).toEqual([w.q[1]]);
    // A later edit of the removed question reaches no exam's copies; results still show it as it is.
    await w.admin.as.mutation(api.examAdmin.updateQuestion, { questionId: w.q[1]!, text: "Q1, after removal" });
    const { shown, documentsRead } = await results(w);
    expect(shown.answers[1]).toMatchObject({ questionText: "Q1, after removal" });
    expect(documentsRead).toBe(5); // the copy, and the one question outside the exam
  });

  it("that disagrees with the log is named by verifyProjections and rewritten by rebuildProjections; a missing one is rebuilt", async () => {
    const w = await completed();
    const [copy] = await copies(w.t);
    await w.t.run((ctx) => ctx.db.patch("examResults", copy!._id, { answers: copy!.answers.slice(0, 2) }));
    const verified = await w.t.action(internal.projections.rebuild.verifyProjections, { examId: w.examId });
    expect(verified.isValid).toBe(false);
    expect(verified.issues.map((i: { kind: string }) => i.kind)).toEqual(["result_copy_mismatch"]);

    await w.t.mutation(internal.projections.rebuild.rebuildProjections, { examId: w.examId });
    expect(await w.t.action(internal.projections.rebuild.verifyProjections, { examId: w.examId })).toMatchObject({ isValid: true });
    expect((await copies(w.t))[0]!.answers).toEqual(copy!.answers);

    // An attempt completed before copies existed has none: results read the rows, and a rebuild writes it.
    await w.t.run((ctx) => ctx.db.delete("examResults", copy!._id));
    expect((await results(w)).documentsRead).toBe(3 + 3 + 3); // user, definition, participation (no copy); 3 answer rows; 3 questions
    await w.t.mutation(internal.projections.rebuild.rebuildProjections, { examId: w.examId });
    expect((await copies(w.t)).map((c: Doc<"examResults">) => c.answers)).toEqual([copy!.answers]);
    expect((await results(w)).documentsRead).toBe(4);
  });

  it("whose question text was edited behind its back (same answers, same label) is named by verifyProjections and rewritten by rebuildProjections", async () => {
    const w = await completed();
    const [copy] = await copies(w.t);
    const answers = copy!.answers.map((a, i) => (i === 1 ? { ...a, questionText: "Tampered" } : a));
    await w.t.run((ctx) => ctx.db.patch("examResults", copy!._id, { answers }));
    expect((await results(w, { awaitingRepair: true })).shown.answers[1]).toMatchObject({ questionText: "Tampered" });
    const verified = await w.t.action(internal.projections.rebuild.verifyProjections, { examId: w.examId });
    expect(verified.issues.map((i: { kind: string; field?: string }) => [i.kind, i.field])).toEqual([
      ["result_copy_mismatch", "questionFacts"],
    ]);
    await w.t.mutation(internal.projections.rebuild.rebuildProjections, { examId: w.examId });
    expect(await w.t.action(internal.projections.rebuild.verifyProjections, { examId: w.examId })).toMatchObject({ isValid: true });
    expect((await results(w)).shown.answers[1]).toMatchObject({ questionText: "Q1" });
  });

  it("is not kept for an attempt whose copy would exceed MAX_ATTEMPT_RESULT_BYTES: its results read the rows", async () => {
    const t = newConvexTest();
    const ada = await seedUser(t, "ada");
    const text = "x".repeat(Math.ceil(MAX_ATTEMPT_RESULT_BYTES / 2));
    const { examId, questionId } = await t.run(async (ctx) => {
      const questionId = await ctx.db.insert("questions", { text, options: ["a"], correctAnswer: "a" });
      const examId = await ctx.db.insert("exams", { title: "Long", questionIds: [questionId], durationMs: 60_000, maxPauses: 0 });
      return { examId, questionId };
    });
    // A V1 entry answering the one long question twice (V1 data keeps duplicates): two copies of its text.
    const answer = { questionId, selectedAnswer: "a", isCorrect: true };
    const entry = legacyEntry(ada.userId, T0 - 60_000, { answers: [answer, answer], completedAt: T0, score: 2 });
    await t.run(async (ctx) => {
      await ctx.db.patch("exams", examId, { participants: [entry] });
      await importLegacyEntries(ctx, { examId, userId: ada.userId }, [{ participant: entry, sourceIndex: 0 }]);
    });
    expect(await copies(t)).toEqual([]);
    const v2 = await ada.as.query(api.exams.getParticipantExamResultsV2, { examId });
    expect(v2.answers).toHaveLength(2);
    expect(v2).toEqual(await ada.as.query(api.exams.getParticipantExamResults, { examId }));
  });
});

describe("the question-facts digest", () => {
  it("updated in place after any sequence of question edits equals the digest of the questions as they end", () => {
    const ids = ["q0", "q1", "q2"] as unknown as Id<"questions">[];
    const facts = fc.record({ text: fc.string({ maxLength: 4 }), correctAnswer: fc.constantFrom("a", "b") });
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...ids), { minLength: 1, maxLength: 6 }), // the exam's ids, repeats allowed
        fc.array(fc.tuple(fc.constantFrom(...ids), fc.option(facts, { nil: null })), { maxLength: 10 }), // edits (null: deleted)
        (examIds, edits) => {
          const now = new Map<string, { text: string; correctAnswer: string } | null>(
            ids.map((id) => [id, { text: id, correctAnswer: "a" }]),
          );
          const digestOf = () =>
            questionFactsDigest(
              examIds,
              examIds.map((id) => now.get(id) as Doc<"questions"> | null),
            );
          let digest = digestOf();
          for (const [id, after] of edits) {
            const count = examIds.filter((x) => x === id).length;
            digest = digestAfterEdit(digest, id, count, now.get(id)!, after);
            now.set(id, after);
          }
          expect(digest).toBe(digestOf());
        },
      ),
    );
  });

  it("changes with a question's text, its correct answer, its deletion and the exam's membership, not with its options or points", () => {
    const [a, b] = ["qa", "qb"] as unknown as [Id<"questions">, Id<"questions">];
    const q = (fields: Partial<Doc<"questions">> = {}) =>
      ({ text: "T", options: ["x"], correctAnswer: "x", ...fields }) as Doc<"questions">;
    const base = questionFactsDigest([a, b], [q(), q()]);
    expect(questionFactsDigest([a, b], [q({ options: ["y"], points: 3 }), q()])).toBe(base);
    for (const changed of [
      questionFactsDigest([a, b], [q({ text: "U" }), q()]),
      questionFactsDigest([a, b], [q({ correctAnswer: "y" }), q()]),
      questionFactsDigest([a, b], [null, q()]),
      questionFactsDigest([a], [q()]),
      questionFactsDigest([a, b, b], [q(), q(), q()]),
    ])
      expect(changed).not.toBe(base);
  });
});
