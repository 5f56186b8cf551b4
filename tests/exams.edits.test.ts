/**
 * Exam facts are one truth: every kind of edit, made through examAdmin (§6) and
 * made out of band (t.run: the dashboard, an import), with a V1 student and a V2
 * student mid-attempt. V1 session and V1 submit agree (the exam document); V2
 * session and V2 submit agree (the header): a V2 submit of what the V2 session
 * showed is accepted; V2 equals V1 right after a §6 edit and after the header
 * check for an out-of-band one; grading uses the edited facts.
 */
import { describe, expect, it, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { newConvexTest, seedUser, snapshotTables, runScheduled, useFakeClock, type SeededUser, type TestConvex } from "./support/convex";
import { attempt, readEverything } from "./support/exams";
import { withExamHeaders } from "../convex/headers/keeper";
import { errorCode } from "../convex/lib/errors";

const T0 = Date.UTC(2026, 3, 1, 9, 0, 0);
const MIN = 60_000;
useFakeClock(T0);

type World = {
  t: TestConvex;
  admin: SeededUser;
  ada: SeededUser; // takes the exam through V1
  bob: SeededUser; // takes the exam through V2
  examId: Id<"exams">;
  q: [Id<"questions">, Id<"questions">, Id<"questions">, Id<"questions">]; // q[3] is not in the exam at first
};

async function world(): Promise<World> {
  const t = newConvexTest();
  const admin = await seedUser(t, "admin", "admin");
  const [ada, bob] = [await seedUser(t, "ada"), await seedUser(t, "bob")];
  const q = [] as unknown as World["q"];
  for (let i = 0; i < 4; i++) {
    q.push(await admin.as.mutation(api.examAdmin.createQuestion, { text: `Q${i}`, options: ["a", "b", "c"], correctAnswer: "a" }));
  }
  const examId = await admin.as.mutation(api.examAdmin.createExam, {
    title: "Exam",
    questionIds: q.slice(0, 3),
    durationMs: 30 * MIN,
    maxPauses: 0,
  });
  await ada.as.mutation(api.exams.startExam, { examId });
  await bob.as.mutation(api.exams.startExamV2, { examId });
  return { t, admin, ada, bob, examId, q };
}

type Edit = {
  name: string;
  /** The edit through §6. */
  admin: (w: World) => Promise<unknown>;
  /** The same edit made behind the backend's back. */
  outOfBand: (w: World) => Promise<unknown>;
  /** When the students act after the edit (default 2 minutes in). */
  actAt?: number;
  /** Extra checks on the V1 student's results once submitted. */
  check?: (w: World, v1: Awaited<ReturnType<typeof submitShown>>) => void;
  /** A question edit: nothing of it is held in a header, so nothing is stale. */
  question?: true;
  /** Made out of band, the V2 session shows time up until the header check: the V2 submit is refused as the session said. */
  timeUpUntilHealed?: true;
};

const examPatch = (fields: Record<string, unknown>): Pick<Edit, "admin" | "outOfBand"> => ({
  admin: (w) => w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, ...fields }),
  outOfBand: (w) => w.t.run((ctx) => ctx.db.patch("exams", w.examId, fields)),
});
const questionPatch = (i: number, fields: Record<string, unknown>): Pick<Edit, "admin" | "outOfBand"> => ({
  admin: (w) => w.admin.as.mutation(api.examAdmin.updateQuestion, { questionId: w.q[i]!, ...fields }),
  outOfBand: (w) => w.t.run((ctx) => ctx.db.patch("questions", w.q[i]!, fields)),
});

const EDITS: Edit[] = [
  { name: "title", ...examPatch({ title: "Renamed" }) },
  {
    name: "durationMs 30 → 120 minutes (acting at minute 45)",
    ...examPatch({ durationMs: 120 * MIN }),
    actAt: 45 * MIN,
    timeUpUntilHealed: true,
  },
  { name: "maxPauses 0 → 1", ...examPatch({ maxPauses: 1 }) },
  {
    name: "questionIds: a question added",
    admin: (w) => w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, questionIds: [...w.q] }),
    outOfBand: (w) => w.t.run((ctx) => ctx.db.patch("exams", w.examId, { questionIds: [...w.q] })),
  },
  {
    name: "questionIds: a question removed",
    admin: (w) => w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, questionIds: [w.q[0], w.q[2]] }),
    outOfBand: (w) => w.t.run((ctx) => ctx.db.patch("exams", w.examId, { questionIds: [w.q[0], w.q[2]] })),
  },
  {
    name: "questionIds: reordered",
    admin: (w) => w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, questionIds: [w.q[2], w.q[0], w.q[1]] }),
    outOfBand: (w) => w.t.run((ctx) => ctx.db.patch("exams", w.examId, { questionIds: [w.q[2], w.q[0], w.q[1]] })),
  },
  { name: "a question's text", question: true, ...questionPatch(0, { text: "Edited" }) },
  { name: "a question's options", question: true, ...questionPatch(0, { options: ["a", "x"] }) },
  { name: "a question's points", question: true, ...questionPatch(0, { points: 5 }), check: (_w, r) => expect(r.score).toBe(5 + 1 + 1) },
  {
    name: "a question's correctAnswer",
    question: true,
    ...questionPatch(0, { correctAnswer: "b" }),
    check: (w, r) => expect(r.answers.find((a) => a.questionId === w.q[0])).toMatchObject({ isCorrect: false, correctAnswer: "b" }),
  },
  {
    name: "a question deleted",
    question: true,
    admin: (w) => w.admin.as.mutation(api.examAdmin.deleteQuestion, { questionId: w.q[1] }),
    outOfBand: (w) => w.t.run((ctx) => ctx.db.delete("questions", w.q[1])),
    check: (_w, r) => expect(r.maxScore).toBe(2),
  },
];

/** What the caller's session shows, answered "a" everywhere (and a pause if one is left), through `which`. */
async function submitShown(who: SeededUser, examId: Id<"exams">, which: "v1" | "v2", o: { stale?: boolean } = {}) {
  const v2 = which === "v2";
  const session = await who.as.query(v2 ? api.exams.getExamSessionV2 : api.exams.getExamSession, { examId });
  expect(session.status).toBe("in_progress");
  // A stale copy may show less time than the exam now allows; the write still accepts what the exam allows.
  if (o.stale !== true) expect(session.remainingMs).toBeGreaterThan(0);
  if (session.pausesLeft > 0) {
    await who.as.mutation(v2 ? api.exams.startPauseV2 : api.exams.startPause, { examId });
    await who.as.mutation(v2 ? api.exams.resumeFromPauseV2 : api.exams.resumeFromPause, { examId });
  }
  const answers = session.questions.map((q) => ({ questionId: q.questionId, selectedAnswer: "a" }));
  return who.as.mutation(v2 ? api.exams.submitExamAnswersV2 : api.exams.submitExamAnswers, { examId, answers });
}

async function repairAll(t: TestConvex) {
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const r: { isDone: boolean; continueCursor: string | null } = await t.mutation(internal.examAdmin.repairExamHeaders, { cursor });
    if (r.isDone) return;
    cursor = r.continueCursor;
  }
  throw new Error("repair did not finish");
}

async function verifyAll(t: TestConvex) {
  const stale: unknown[] = [];
  let cursor: string | null = null;
  for (;;) {
    const r: { stale: unknown[]; isDone: boolean; continueCursor: string | null } = await t.query(internal.examAdmin.verifyExamHeaders, {
      cursor,
    });
    stale.push(...r.stale);
    if (r.isDone) return stale;
    cursor = r.continueCursor;
  }
}

async function expectV2EqualsV1(w: World) {
  const scope = { examId: w.examId, questionIds: [...w.q], userIds: [w.ada.userId, w.bob.userId] };
  for (const who of [w.ada, w.bob, w.admin]) {
    expect(await readEverything(who.as, "v2", scope)).toEqual(await readEverything(who.as, "v1", scope));
  }
}

describe.each(["through §6", "out of band"] as const)("every kind of edit, %s", (how) => {
  it.each(EDITS)("$name", async (edit) => {
    const w = await world();
    vi.setSystemTime(T0 + MIN);
    await (how === "through §6" ? edit.admin(w) : edit.outOfBand(w));
    vi.setSystemTime(T0 + (edit.actAt ?? 2 * MIN));
    if (how === "through §6") {
      expect(await verifyAll(w.t)).toEqual([]); // nothing stale: the copies changed with the edit
      await expectV2EqualsV1(w);
    } else {
      // An exam's own fields are stale in its header until the header check, and the verifier names them;
      // a question's are held nowhere else: every read sees the edit at once.
      const stale = await verifyAll(w.t);
      if (edit.question) expect(stale).toEqual([]);
      else expect(stale.length).toBeGreaterThan(0);
    }
    if (how === "out of band" && edit.timeUpUntilHealed) {
      // The V2 session still shows the old 30 minutes: time up. The submit says what the session said, and nothing is written.
      expect(await w.bob.as.query(api.exams.getExamSessionV2, { examId: w.examId })).toMatchObject({ timeUp: true, remainingMs: 0 });
      const refused = await w.bob.as.mutation(api.exams.submitExamAnswersV2, { examId: w.examId, answers: [] }).catch((e: unknown) => e);
      expect(errorCode(refused)).toBe("TIME_UP");
      await repairAll(w.t);
    }
    // The V2 student submits what their V2 session showed: accepted.
    const v2 = await submitShown(w.bob, w.examId, "v2", { stale: how === "out of band" });
    expect(v2.status).toBe("completed");
    // The V1 student: V1 session and V1 submit agree (both the live documents); grading uses the edited facts.
    const v1 = await submitShown(w.ada, w.examId, "v1");
    expect(v1.status).toBe("completed");
    edit.check?.(w, v1);
    if (how === "out of band") {
      await repairAll(w.t);
      expect(await verifyAll(w.t)).toEqual([]);
    }
    await expectV2EqualsV1(w);
  });
});

describe("edits that V1 used to get wrong", () => {
  it("after durationMs goes 30 → 120 minutes, at minute 45 V1 session says 75 minutes left and V1 submit accepts", async () => {
    const w = await world();
    await w.t.run((ctx) => ctx.db.patch("exams", w.examId, { durationMs: 120 * MIN }));
    vi.setSystemTime(T0 + 45 * MIN);
    const session = await w.ada.as.query(api.exams.getExamSession, { examId: w.examId });
    expect(session).toMatchObject({ status: "in_progress", endsAt: session.startedAt! + 120 * MIN });
    expect(Math.abs(session.remainingMs - 75 * MIN)).toBeLessThan(1_000); // started within a second of T0
    const answers = session.questions.map((q) => ({ questionId: q.questionId, selectedAnswer: "a" }));
    await expect(w.ada.as.mutation(api.exams.submitExamAnswers, { examId: w.examId, answers })).resolves.toMatchObject({
      status: "completed",
    });
  });

  it("an answer to a question removed since the session showed it is kept, isCorrect false, worth nothing; nothing regrades a completed attempt", async () => {
    const w = await world();
    const shown = await w.ada.as.query(api.exams.getExamSession, { examId: w.examId });
    await w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, questionIds: [w.q[0], w.q[2]] });
    const answers = shown.questions.map((q) => ({ questionId: q.questionId, selectedAnswer: "a" }));
    const result = await w.ada.as.mutation(api.exams.submitExamAnswers, { examId: w.examId, answers });
    expect(result.score).toBe(2);
    expect(result.answers.find((a) => a.questionId === w.q[1])).toMatchObject({ selectedAnswer: "a", isCorrect: false });
    // A question never in the exam is still refused.
    await expect(
      w.bob.as.mutation(api.exams.submitExamAnswersV2, { examId: w.examId, answers: [{ questionId: w.q[3], selectedAnswer: "a" }] }),
    ).rejects.toThrow(/not part of this exam/);
    // Edits after completion never regrade.
    await w.admin.as.mutation(api.examAdmin.updateQuestion, { questionId: w.q[0], correctAnswer: "b", points: 9 });
    const after = await w.ada.as.query(api.exams.getParticipantExamResults, { examId: w.examId });
    expect(after.score).toBe(2);
    expect(after.answers.find((a) => a.questionId === w.q[0])).toMatchObject({ isCorrect: true });
  });

  it("an exam shortened and a question removed out of band: each twin's write decides what its own session showed, once", async () => {
    const w = await world();
    await w.t.run((ctx) => ctx.db.patch("exams", w.examId, { durationMs: 10 * MIN, questionIds: [w.q[0], w.q[2]] }));
    vi.setSystemTime(T0 + 20 * MIN);
    // V2 (the header, healed later) still shows 30 minutes and three questions: its submit of them is accepted.
    const v2Session = await w.bob.as.query(api.exams.getExamSessionV2, { examId: w.examId });
    expect(v2Session).toMatchObject({ timeUp: false, durationMs: 30 * MIN });
    expect(v2Session.questions.map((q) => q.questionId)).toEqual([w.q[0], w.q[1], w.q[2]]);
    const answers = v2Session.questions.map((q) => ({ questionId: q.questionId, selectedAnswer: "a" }));
    const v2 = await w.bob.as.mutation(api.exams.submitExamAnswersV2, { examId: w.examId, answers });
    expect(v2).toMatchObject({ status: "completed", score: 3 });
    // V1 (the exam document) shows time up: its submit says the same, and writes nothing.
    expect(await w.ada.as.query(api.exams.getExamSession, { examId: w.examId })).toMatchObject({ timeUp: true, remainingMs: 0 });
    const before = await snapshotTables(w.t);
    expect(errorCode(await w.ada.as.mutation(api.exams.submitExamAnswers, { examId: w.examId, answers }).catch((e: unknown) => e))).toBe(
      "TIME_UP",
    );
    expect(await snapshotTables(w.t)).toEqual(before);
    // After the header check, V2 shows what V1 shows.
    await repairAll(w.t);
    await expectV2EqualsV1(w);
  });

  it("an exam deleted out of band leaves the V2 lists after the repair; its log stays", async () => {
    const w = await world();
    const other = await w.admin.as.mutation(api.examAdmin.createExam, {
      title: "Other",
      questionIds: [w.q[3]],
      durationMs: MIN,
      maxPauses: 0,
    });
    await w.bob.as.mutation(api.exams.startExamV2, { examId: other });
    await w.t.run((ctx) => ctx.db.delete("exams", other));
    expect(await verifyAll(w.t)).toEqual([{ examId: other, field: "header", held: "present", live: "exam deleted" }]);
    await repairAll(w.t);
    const listed = await w.bob.as.query(api.exams.getAllExamsMetadataV2, {});
    expect(listed.map((e) => e.examId)).toEqual([w.examId]);
    expect((await w.bob.as.query(api.exams.getMyRecentExamsV2, {})).map((e) => e.examId)).toEqual([w.examId]);
    expect(await w.bob.as.query(api.exams.getMyDashboardStatsV2, {})).toEqual(await w.bob.as.query(api.exams.getMyDashboardStats, {}));
    const events = await w.t.run((ctx) =>
      ctx.db
        .query("examEvents")
        .withIndex("by_exam", (q) => q.eq("examId", other))
        .collect(),
    );
    expect(events.length).toBe(1);
  });

  it("an exam created out of band that nobody touched is listed by both after the repair", async () => {
    const w = await world();
    const fresh = await w.t.run((ctx) => ctx.db.insert("exams", { title: "Imported", questionIds: [], durationMs: MIN, maxPauses: 0 }));
    await repairAll(w.t);
    const v1 = await w.ada.as.query(api.exams.getAllExamsMetadata, {});
    expect(v1.map((e) => e.examId).sort()).toEqual([w.examId, fresh].sort());
    expect(await w.ada.as.query(api.exams.getAllExamsMetadataV2, {})).toEqual(v1);
  });
});

describe("exam authoring (§6)", () => {
  it("is for admins only, validates every argument, and refuses to delete an exam with attempts", async () => {
    const w = await world();
    await expect(w.ada.as.mutation(api.examAdmin.createQuestion, { text: "x", options: ["a", "b"], correctAnswer: "a" })).rejects.toThrow(
      /admin/,
    );
    await expect(w.ada.as.query(api.examAdmin.getExamForEditing, { examId: w.examId })).rejects.toThrow(/admin/);
    for (const bad of [
      { text: "", options: ["a", "b"], correctAnswer: "a" },
      { text: "x", options: ["a"], correctAnswer: "a" },
      { text: "x", options: ["a", "a"], correctAnswer: "a" },
      { text: "x", options: ["a", "b"], correctAnswer: "c" },
      { text: "x", options: ["a", "b"], correctAnswer: "a", points: -1 },
    ]) {
      await expect(w.admin.as.mutation(api.examAdmin.createQuestion, bad)).rejects.toThrow();
    }
    for (const bad of [{ durationMs: 0 }, { durationMs: 1.5 }, { maxPauses: -1 }, { title: " " }, { questionIds: [w.q[0], w.q[0]] }]) {
      await expect(w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, ...bad })).rejects.toThrow(
        /INVALID_ARGUMENT|must|needs|twice/,
      );
    }
    await expect(w.admin.as.mutation(api.examAdmin.deleteExam, { examId: w.examId })).rejects.toThrow(/attempts/);
    const editing = await w.admin.as.query(api.examAdmin.getExamForEditing, { examId: w.examId });
    expect(editing.questions.map((q) => ("correctAnswer" in q ? q.correctAnswer : null))).toEqual(["a", "a", "a"]);
    const empty = await w.admin.as.mutation(api.examAdmin.createExam, { title: "Empty", questionIds: [], durationMs: MIN, maxPauses: 0 });
    await w.admin.as.mutation(api.examAdmin.deleteExam, { examId: empty });
    expect(await w.t.run((ctx) => ctx.db.get("exams", empty))).toBeNull();
  });
});

describe("the one mechanism (headers/functions.ts: withExamHeaders)", () => {
  it("keeps copies current in either call style, records changes, and leaves participants-only writes alone", async () => {
    const w = await world();
    const changesOf = () =>
      w.t.run((ctx) =>
        ctx.db
          .query("examChanges")
          .withIndex("by_exam_and_at", (q) => q.eq("examId", w.examId))
          .collect(),
      );
    const before = (await changesOf()).length;
    const cost = await w.t.run(async (ctx) => {
      const db = withExamHeaders(ctx);
      await db.patch(w.examId, { title: "Old style" }); // patch(id, value)
      await db.patch("exams", w.examId, { maxPauses: 3 }); // patch(table, id, value)
      const reads = async (write: () => Promise<void>) => {
        const m0 = await ctx.meta.getTransactionMetrics();
        await write();
        return (await ctx.meta.getTransactionMetrics()).documentsRead.used - m0.documentsRead.used;
      };
      return {
        wrapped: await reads(() => db.patch("exams", w.examId, { participants: [] })),
        raw: await reads(() => ctx.db.patch("exams", w.examId, { participants: [] })),
      };
    });
    expect(cost.wrapped).toBe(cost.raw); // a participants-only write reads nothing more than the raw patch
    expect(await verifyAll(w.t)).toEqual([]);
    const changes = (await changesOf()).slice(before);
    expect(changes.map((c) => [c.operation, c.after])).toEqual([
      ["update", { title: "Old style" }],
      ["update", { maxPauses: 3 }],
    ]);
    expect(changes[0]!.actor).toEqual({ kind: "system", name: "internal mutation" });
    expect((await w.ada.as.query(api.exams.getExamSessionV2, { examId: w.examId })).title).toBe("Old style");
  });
});

describe("exam authoring access and bad input", () => {
  it("every §6 function: NOT_AUTHENTICATED without sign-in, FORBIDDEN for a student, INVALID_ARGUMENT / NOT_FOUND for bad input; none changes anything", async () => {
    const w = await world();
    const gone = await w.t.run(async (ctx) => {
      const id = await ctx.db.insert("questions", { text: "gone", options: ["a", "b"], correctAnswer: "a" });
      await ctx.db.delete("questions", id);
      return id;
    });
    const calls: [string, (as: Pick<TestConvex, "query" | "mutation">) => Promise<unknown>][] = [
      ["createQuestion", (as) => as.mutation(api.examAdmin.createQuestion, { text: "x", options: ["a", "b"], correctAnswer: "a" })],
      ["updateQuestion", (as) => as.mutation(api.examAdmin.updateQuestion, { questionId: w.q[0], text: "y" })],
      ["deleteQuestion", (as) => as.mutation(api.examAdmin.deleteQuestion, { questionId: w.q[0] })],
      ["createExam", (as) => as.mutation(api.examAdmin.createExam, { title: "x", questionIds: [], durationMs: MIN, maxPauses: 0 })],
      ["updateExam", (as) => as.mutation(api.examAdmin.updateExam, { examId: w.examId, title: "y" })],
      ["deleteExam", (as) => as.mutation(api.examAdmin.deleteExam, { examId: w.examId })],
      ["getExamForEditing", (as) => as.query(api.examAdmin.getExamForEditing, { examId: w.examId })],
    ];
    const bad: [string, () => Promise<unknown>, string][] = [
      ["update a deleted question", () => w.admin.as.mutation(api.examAdmin.updateQuestion, { questionId: gone, text: "y" }), "NOT_FOUND"],
      [
        "exam with a missing question",
        () => w.admin.as.mutation(api.examAdmin.createExam, { title: "x", questionIds: [gone], durationMs: MIN, maxPauses: 0 }),
        "INVALID_ARGUMENT",
      ],
      [
        "options without the correct answer",
        () => w.admin.as.mutation(api.examAdmin.updateQuestion, { questionId: w.q[0], options: ["x", "y"] }),
        "INVALID_ARGUMENT",
      ],
      [
        "non-finite duration",
        () => w.admin.as.mutation(api.examAdmin.updateExam, { examId: w.examId, durationMs: Number.POSITIVE_INFINITY }),
        "INVALID_ARGUMENT",
      ],
      ["delete an exam with attempts", () => w.admin.as.mutation(api.examAdmin.deleteExam, { examId: w.examId }), "CONFLICT"],
    ];
    const before = await snapshotTables(w.t);
    for (const [name, call] of calls) {
      expect([name, await attempt(() => call(w.t))]).toEqual([name, { error: "NOT_AUTHENTICATED" }]);
      expect([name, await attempt(() => call(w.ada.as))]).toEqual([name, { error: "FORBIDDEN" }]);
    }
    for (const [name, call, code] of bad) expect([name, await attempt(call)]).toEqual([name, { error: code }]);
    expect(await snapshotTables(w.t)).toEqual(before);
  });
});

describe("the scheduled header check (crons.ts: examAdmin.tickHeaderCheck)", () => {
  it("walks every exam batch after batch, each scheduling the next, and leaves nothing stale", async () => {
    const w = await world();
    await w.t.run(async (ctx) => {
      for (let i = 0; i < 25; i++)
        await ctx.db.insert("exams", { title: `Imported ${i}`, questionIds: [w.q[i % 4]!], durationMs: MIN, maxPauses: 0 });
      await ctx.db.patch("exams", w.examId, { title: "Edited behind our back" });
    });
    expect((await verifyAll(w.t)).length).toBe(26);
    expect(await w.t.mutation(internal.examAdmin.tickHeaderCheck, {})).toMatchObject({ started: true });
    await runScheduled(w.t);
    expect(await verifyAll(w.t)).toEqual([]);
    expect(await w.ada.as.query(api.exams.getAllExamsMetadataV2, {})).toHaveLength(26);
  });

  it("a damaged cursor is INVALID_ARGUMENT for verify and repair, and nothing changes", async () => {
    const w = await world();
    await w.t.run((ctx) => ctx.db.patch("exams", w.examId, { title: "Edited behind our back" }));
    const before = await snapshotTables(w.t);
    for (const cursor of ["not json", JSON.stringify({ after: "later" }), JSON.stringify({ phase: "exams" }), "[]"]) {
      expect(errorCode(await w.t.query(internal.examAdmin.verifyExamHeaders, { cursor }).catch((e: unknown) => e)), cursor).toBe(
        "INVALID_ARGUMENT",
      );
      expect(errorCode(await w.t.mutation(internal.examAdmin.repairExamHeaders, { cursor }).catch((e: unknown) => e)), cursor).toBe(
        "INVALID_ARGUMENT",
      );
    }
    expect(await snapshotTables(w.t)).toEqual(before);
  });
});
