/**
 * A deterministic V1 dataset: users, questions and exams with embedded
 * participants, sized like the migration guide's (15 exams, 234 participants,
 * 46,800 answers) by default, optionally with a realistic sprinkle of the dirty
 * data production has (docs/operations.md, "Dirty data").
 *
 * @example
 * const dataset = generateV1Dataset({ ...GUIDE_DATASET, dirty: true });
 * const ids = await insertDataset(t, dataset);
 */
import type { TestConvex } from "convex-test";
import type { Doc, Id } from "../../convex/_generated/dataModel";
import type { MutationCtx } from "../../convex/_generated/server";
import type { WithoutSystemFields } from "convex/server";
import type schema from "../../convex/schema";
import type { V1Participant } from "../../convex/lib/validators";
import { getDocumentSize } from "convex/values";
import { CONVEX_LIMITS } from "../../convex/lib/limits";

export type DatasetSpec = { exams: number; participants: number; answers: number; seed?: number; dirty?: boolean };

export const GUIDE_DATASET = { exams: 15, participants: 234, answers: 46_800 } as const;

export type DatasetUser = { key: string; name: string; email?: string; tokenIdentifier: string; role: "student" | "admin" };
export type DatasetQuestion = { key: string; text: string; options: string[]; correctAnswer: string; points?: number };
/** A V1 participant whose ids are dataset keys. */
export type DatasetParticipant = Omit<V1Participant, "userId" | "answers"> & {
  userKey: string;
  answers: { questionKey: string; selectedAnswer: string; isCorrect: boolean }[];
};
export type DatasetExam = {
  key: string;
  title: string;
  questionKeys: string[];
  durationMs: number;
  maxPauses: number;
  participants: DatasetParticipant[];
};
/** One piece of dirt the generator put in, so tests and the rehearsal can check it is reported. */
export type DirtyRecord = {
  kind: "duplicate_participant" | "unknown_question" | "question_not_in_exam" | "duplicate_answer" | "score_mismatch";
  examKey: string;
  userKey: string;
};
export type V1Dataset = {
  users: DatasetUser[];
  questions: DatasetQuestion[];
  exams: DatasetExam[];
  /** Question keys answers may point at but that are never inserted (deleted questions). */
  deletedQuestionKeys: string[];
  dirt: DirtyRecord[];
};

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits `total` into `parts` near-equal whole numbers. */
function spread(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

const OPTIONS = ["A", "B", "C", "D"];
const T0 = Date.UTC(2026, 0, 12, 9, 0, 0);

/** A dataset spec that cannot be generated (or whose exams Convex could not store): a bad input, not a crash. */
export class InvalidDatasetError extends Error {
  override name = "InvalidDatasetError";
}

export function generateV1Dataset(spec: DatasetSpec): V1Dataset {
  if (![spec.exams, spec.participants, spec.answers].every((n) => Number.isInteger(n) && n >= 0)) {
    throw new InvalidDatasetError("exams, participants and answers must be whole numbers ≥ 0");
  }
  if (spec.participants > 0 && spec.exams === 0) throw new InvalidDatasetError("participants need at least one exam");
  if (spec.answers > 0 && spec.participants === 0) throw new InvalidDatasetError("answers need at least one participant");
  const random = prng(spec.seed ?? 42);
  const perExam = spread(spec.participants, Math.max(spec.exams, 1));
  // About one participant in ten is still in progress (no answers yet); the rest share the answers.
  const unfinished = (i: number) => spec.answers > 0 && i % 10 === 9;
  const finishedCount = Math.max(1, Array.from({ length: spec.participants }, (_, i) => i).filter((i) => !unfinished(i)).length);
  const answersEach = spread(spec.answers, finishedCount);
  const questionsPerExam = Math.max(1, answersEach[0] ?? 1);

  const users: DatasetUser[] = [{ key: "admin", name: "Admin", tokenIdentifier: "rehearsal|admin", role: "admin" }];
  const questions: DatasetQuestion[] = [];
  const exams: DatasetExam[] = [];
  let participantIndex = 0;
  let finishedIndex = 0;
  for (let e = 0; e < spec.exams; e++) {
    const questionKeys: string[] = [];
    for (let q = 0; q < questionsPerExam; q++) {
      const key = `q${e}_${q}`;
      questionKeys.push(key);
      const points = q % 5 === 4 ? 2 : undefined;
      questions.push({
        key,
        text: `Exam ${e + 1}, question ${q + 1}`,
        options: OPTIONS,
        correctAnswer: OPTIONS[Math.floor(random() * OPTIONS.length)]!,
        ...(points === undefined ? {} : { points }),
      });
    }
    const examQuestions = questions.slice(questions.length - questionsPerExam);
    const durationMs = 90 * 60_000;
    const participants: DatasetParticipant[] = [];
    for (let p = 0; p < (perExam[e] ?? 0); p++, participantIndex++) {
      const userKey = `u${participantIndex}`;
      users.push({
        key: userKey,
        name: `Student ${participantIndex + 1}`,
        email: `student${participantIndex + 1}@example.edu`,
        tokenIdentifier: `rehearsal|${userKey}`,
        role: "student",
      });
      const startedAt = T0 + e * 86_400_000 + Math.floor(random() * 3_600_000);
      const pauseCount = Math.floor(random() * 3);
      const totalPausedMs = pauseCount * Math.floor(30_000 + random() * 120_000);
      if (unfinished(participantIndex)) {
        const isPaused = participantIndex % 20 === 19 && pauseCount < 2;
        participants.push({
          userKey,
          score: 0,
          answers: [],
          startedAt,
          isPaused,
          ...(isPaused ? { pausedAt: startedAt + 600_000 } : {}),
          pauseCount: pauseCount + (isPaused ? 1 : 0),
          totalPausedMs,
        });
        continue;
      }
      const count = Math.min(answersEach[finishedIndex++] ?? 0, questionsPerExam);
      let score = 0;
      const answers = examQuestions.slice(0, count).map((q) => {
        const selectedAnswer = random() < 0.7 ? q.correctAnswer : OPTIONS[Math.floor(random() * OPTIONS.length)]!;
        const isCorrect = selectedAnswer === q.correctAnswer;
        if (isCorrect) score += q.points ?? 1;
        return { questionKey: q.key, selectedAnswer, isCorrect };
      });
      participants.push({
        userKey,
        score,
        answers,
        startedAt,
        completedAt: startedAt + totalPausedMs + Math.floor(10 * 60_000 + random() * 60 * 60_000),
        isPaused: false,
        pauseCount,
        totalPausedMs,
      });
    }
    exams.push({ key: `e${e}`, title: `Exam ${e + 1}`, questionKeys, durationMs, maxPauses: 3, participants });
  }

  const dataset: V1Dataset = { users, questions, exams, deletedQuestionKeys: [], dirt: [] };
  if (spec.dirty) sprinkleDirt(dataset);
  for (const exam of dataset.exams) refuseInvalidExam(exam);
  return dataset;
}

/** A Convex id's length (32 characters): what the exam document's ids will weigh once inserted. */
const ID_PLACEHOLDER = "k".repeat(32);

/** The exam's document as Convex will size it (getDocumentSize, UTF-8), ids as real ids weigh. */
export function examDocumentBytes(exam: DatasetExam): number {
  return getDocumentSize({
    _id: ID_PLACEHOLDER,
    _creationTime: 0,
    title: exam.title,
    questionIds: exam.questionKeys.map(() => ID_PLACEHOLDER),
    durationMs: exam.durationMs,
    maxPauses: exam.maxPauses,
    participants: exam.participants.map(({ userKey: _u, answers, ...rest }) => ({
      ...rest,
      userId: ID_PLACEHOLDER,
      answers: answers.map(({ questionKey: _q, ...a }) => ({ ...a, questionId: ID_PLACEHOLDER })),
    })),
  });
}

/**
 * Refuses an exam Convex could not hold (Convex: 1 MiB per document, 8,192
 * elements per array): such data cannot exist in production, so neither a test
 * nor a benchmark nor a rehearsal may be built on it.
 */
function refuseInvalidExam(exam: DatasetExam): void {
  const arrays: [string, number][] = [
    ["participants", exam.participants.length],
    ["questionIds", exam.questionKeys.length],
    ["one participant's answers", Math.max(0, ...exam.participants.map((p) => p.answers.length))],
  ];
  for (const [what, length] of arrays) {
    if (length > CONVEX_LIMITS.arrayElements) {
      throw new InvalidDatasetError(
        `${exam.key}: ${what} would have ${length} elements; Convex allows ${CONVEX_LIMITS.arrayElements} per array. Spread the data over more exams.`,
      );
    }
  }
  const bytes = examDocumentBytes(exam);
  if (bytes > CONVEX_LIMITS.documentBytes) {
    throw new InvalidDatasetError(
      `${exam.key}: the exam document would be ${bytes} bytes; Convex allows ${CONVEX_LIMITS.documentBytes} (1 MiB). ` +
        `Spread the participants over more exams or give them fewer answers (about ${Math.floor((exam.participants.length * CONVEX_LIMITS.documentBytes) / bytes).toLocaleString("en-US")} participants of this shape fit in one exam).`,
    );
  }
}

/** Production's dirt, put in without changing the totals (entries and answers are altered, not added). */
function sprinkleDirt(dataset: V1Dataset): void {
  const completed = dataset.exams.flatMap((exam) => exam.participants.filter((p) => p.answers.length >= 3).map((p) => ({ exam, p })));
  const pick = (i: number) => completed[(i * 7919) % Math.max(completed.length, 1)];
  const note = (kind: DirtyRecord["kind"], exam: DatasetExam, p: DatasetParticipant) =>
    dataset.dirt.push({ kind, examKey: exam.key, userKey: p.userKey });

  // A participant listed twice: another entry of the same exam is turned into a second copy of this user.
  const dup = dataset.exams.find((exam) => exam.participants.length >= 3);
  if (dup) {
    const [first, , victim] = dup.participants as [DatasetParticipant, DatasetParticipant, DatasetParticipant];
    dataset.users = dataset.users.filter((u) => u.key !== victim.userKey);
    victim.userKey = first.userKey;
    note("duplicate_participant", dup, first);
  }
  const unknown = pick(1);
  if (unknown) {
    const key = `deleted_${unknown.exam.key}`;
    dataset.deletedQuestionKeys.push(key);
    unknown.p.answers[0]!.questionKey = key;
    note("unknown_question", unknown.exam, unknown.p);
  }
  const foreign = pick(2);
  const other = dataset.exams.find((e) => foreign && e !== foreign.exam);
  if (foreign && other) {
    foreign.p.answers[1]!.questionKey = other.questionKeys[0]!;
    note("question_not_in_exam", foreign.exam, foreign.p);
  }
  const twice = pick(3);
  if (twice) {
    twice.p.answers[2]!.questionKey = twice.p.answers[1]!.questionKey;
    note("duplicate_answer", twice.exam, twice.p);
  }
  for (const i of [4, 5]) {
    const wrong = pick(i);
    if (!wrong) continue;
    wrong.p.score += 3;
    note("score_mismatch", wrong.exam, wrong.p);
  }
}

/** Users or questions inserted per transaction (half the write limit is 8,000 documents). */
const INSERT_CHUNK = 2_000;

/** Ids of what {@link insertDataset} wrote, by dataset key. */
export type DatasetIds = {
  users: Map<string, Id<"users">>;
  questions: Map<string, Id<"questions">>;
  exams: Map<string, Id<"exams">>;
};

/**
 * Users and questions to insert besides those the exams reference: those an exam's production
 * state refers to (an admin who edited it, a question it no longer lists; snapshot/production.ts).
 */
export type ExtraKeys = { users?: Iterable<string>; questions?: Iterable<string> };

/** What stands behind a deleted document's id until it is removed (see {@link deletedDocumentId}). */
const DELETED: { users: WithoutSystemFields<Doc<"users">>; questions: WithoutSystemFields<Doc<"questions">> } = {
  users: { name: "deleted", tokenIdentifier: "deleted", role: "student" },
  questions: { text: "deleted", options: [], correctAnswer: "" },
};

/** An id of `table` that resolves to nothing (inserted and removed), as production's references to documents deleted since. */
export async function deletedDocumentId<T extends keyof typeof DELETED>(ctx: Pick<MutationCtx, "db">, table: T): Promise<Id<T>> {
  const id = (await ctx.db.insert(table, DELETED[table] as never)) as Id<T>;
  await ctx.db.delete(table, id);
  return id;
}

/**
 * Inserts the dataset (or only the exams named in `examKeys`, with the users and
 * questions they reference, and those of `extra` the dataset holds) into a Convex
 * test instance. Deleted questions get real ids by being inserted and removed, as in production.
 */
export async function insertDataset(
  t: Pick<TestConvex<typeof schema>, "run">,
  dataset: V1Dataset,
  examKeys?: readonly string[],
  extra: ExtraKeys = {},
): Promise<DatasetIds> {
  const run = t.run;
  const exams = examKeys === undefined ? dataset.exams : dataset.exams.filter((e) => examKeys.includes(e.key));
  const userKeys = new Set(["admin", ...exams.flatMap((e) => e.participants.map((p) => p.userKey)), ...(extra.users ?? [])]);
  const questionKeys = new Set([
    ...exams.flatMap((e) => [...e.questionKeys, ...e.participants.flatMap((p) => p.answers.map((a) => a.questionKey))]),
    ...(extra.questions ?? []),
  ]);
  const ids: DatasetIds = { users: new Map(), questions: new Map(), exams: new Map() };
  // Users and questions in chunks that stay well inside one transaction's write limit.
  const users = dataset.users.filter((u) => userKeys.has(u.key));
  const questions = dataset.questions.filter((q) => questionKeys.has(q.key));
  for (let i = 0; i < Math.max(users.length, questions.length); i += INSERT_CHUNK) {
    await run(async (ctx) => {
      for (const { key, ...user } of users.slice(i, i + INSERT_CHUNK)) ids.users.set(key, await ctx.db.insert("users", user));
      for (const { key, ...question } of questions.slice(i, i + INSERT_CHUNK)) {
        ids.questions.set(key, await ctx.db.insert("questions", question));
      }
    });
  }
  await run(async (ctx) => {
    for (const key of dataset.deletedQuestionKeys) {
      if (questionKeys.has(key)) ids.questions.set(key, await deletedDocumentId(ctx, "questions"));
    }
  });
  // One exam per transaction: an exam document can approach 1 MiB.
  for (const exam of exams) {
    await run(async (ctx) => {
      const participants: V1Participant[] = exam.participants.map(({ userKey, answers, ...rest }) => ({
        ...rest,
        userId: ids.users.get(userKey)!,
        answers: answers.map(({ questionKey, ...a }) => ({ ...a, questionId: ids.questions.get(questionKey)! })),
      }));
      const doc = {
        title: exam.title,
        questionIds: exam.questionKeys.map((k) => ids.questions.get(k)!),
        durationMs: exam.durationMs,
        maxPauses: exam.maxPauses,
        participants,
      };
      ids.exams.set(exam.key, await ctx.db.insert("exams", doc));
    });
  }
  return ids;
}
