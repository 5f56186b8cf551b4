import { describe, expect, it } from "vitest";
import type { Id } from "../convex/_generated/dataModel";
import { evolve, initialState, remainingMs, replay, statusOf, type GradingQuestion } from "../convex/events/decider";
import type { ExamEvent } from "../convex/events/catalog";
import { SUBMIT_GRACE_MS } from "../convex/lib/limits";
import type { V1Participant } from "../convex/lib/validators";
import { given } from "./support/decider";

const q = (n: number) => `q${n}` as Id<"questions">;
const questions: GradingQuestion[] = [
  { questionId: q(1), options: ["a", "b"], correctAnswer: "a" },
  { questionId: q(2), options: ["a", "b"], correctAnswer: "b", points: 3 },
];
const timing = { durationMs: 1_000, maxPauses: 1 };
const started: ExamEvent = { type: "ExamStarted", data: { startedAt: 100 } };
const paused: ExamEvent = { type: "ExamPaused", data: { pausedAt: 300 } };
const resumed: ExamEvent = { type: "ExamResumed", data: { resumedAt: 500, pausedMs: 200 } };
const submitted: ExamEvent = {
  type: "AnswersSubmitted",
  data: { submittedAt: 400, answers: [{ questionId: q(1), selectedAnswer: "a", isCorrect: true }], score: 1 },
};
const legacy: V1Participant = {
  userId: "u1" as Id<"users">,
  score: 7,
  answers: [{ questionId: q(9), selectedAnswer: "x", isCorrect: false }],
  startedAt: 10,
  isPaused: false,
  pauseCount: 0,
  totalPausedMs: 0,
};
const submit = (at: number, answers: { questionId: Id<"questions">; selectedAnswer: string }[]) =>
  ({ type: "SubmitAnswers", data: { at, answers, questions, ...timing } }) as const;

describe("StartExam", () => {
  it("starts a new attempt", () =>
    given([])
      .when({ type: "StartExam", data: { at: 100 } })
      .then([started]));
  it("returns the same session while in progress", () =>
    given([started])
      .when({ type: "StartExam", data: { at: 200 } })
      .then([]));
  it("returns the same session while paused", () =>
    given([started, paused])
      .when({ type: "StartExam", data: { at: 400 } })
      .then([]));
  it("rejects a completed attempt", () =>
    given([started, submitted])
      .when({ type: "StartExam", data: { at: 500 } })
      .thenThrows("ALREADY_COMPLETED"));
});

describe("PauseExam", () => {
  const pause = (at: number) => ({ type: "PauseExam", data: { at, ...timing } }) as const;
  it("pauses a running attempt", () => given([started]).when(pause(300)).then([paused]));
  it("rejects before the start", () => given([]).when(pause(300)).thenThrows("NOT_IN_PROGRESS"));
  it("rejects while paused", () => given([started, paused]).when(pause(350)).thenThrows("PAUSED"));
  it("rejects one pause too many", () => given([started, paused, resumed]).when(pause(600)).thenThrows("NO_PAUSES_LEFT"));
  it("rejects after time is up", () => given([started]).when(pause(1_100)).thenThrows("TIME_UP"));
  it("rejects a completed attempt", () => given([started, submitted]).when(pause(500)).thenThrows("ALREADY_COMPLETED"));
});

describe("ResumeExam", () => {
  const resume = (at: number) => ({ type: "ResumeExam", data: { at } }) as const;
  it("resumes and counts the pause", () => given([started, paused]).when(resume(500)).then([resumed]));
  it("rejects while running", () => given([started]).when(resume(500)).thenThrows("NOT_PAUSED"));
  it("rejects before the start", () => given([]).when(resume(500)).thenThrows("NOT_IN_PROGRESS"));
  it("rejects a completed attempt", () => given([started, submitted]).when(resume(500)).thenThrows("ALREADY_COMPLETED"));
});

describe("SubmitAnswers", () => {
  it("grades on the server with points", () =>
    given([started])
      .when(
        submit(400, [
          { questionId: q(1), selectedAnswer: "b" },
          { questionId: q(2), selectedAnswer: "b" },
        ]),
      )
      .then([
        {
          type: "AnswersSubmitted",
          data: {
            submittedAt: 400,
            answers: [
              { questionId: q(1), selectedAnswer: "b", isCorrect: false },
              { questionId: q(2), selectedAnswer: "b", isCorrect: true },
            ],
            score: 3,
          },
        },
      ]));
  it("rejects before the start", () => given([]).when(submit(400, [])).thenThrows("NOT_IN_PROGRESS"));
  it("rejects submitting twice", () => given([started, submitted]).when(submit(450, [])).thenThrows("ALREADY_COMPLETED"));
  it("rejects while paused", () => given([started, paused]).when(submit(400, [])).thenThrows("PAUSED"));
  it("rejects a question not in the exam", () =>
    given([started])
      .when(submit(400, [{ questionId: q(3), selectedAnswer: "a" }]))
      .thenThrows("INVALID_ANSWER"));
  it("rejects the same question twice", () =>
    given([started])
      .when(
        submit(400, [
          { questionId: q(1), selectedAnswer: "a" },
          { questionId: q(1), selectedAnswer: "b" },
        ]),
      )
      .thenThrows("INVALID_ANSWER"));
  it("rejects an answer that is not an option", () =>
    given([started])
      .when(submit(400, [{ questionId: q(1), selectedAnswer: "z" }]))
      .thenThrows("INVALID_ANSWER"));
  it("accepts within the grace period, pauses excluded", () =>
    given([started, paused, resumed])
      .when(submit(100 + 1_000 + 200 + SUBMIT_GRACE_MS, []))
      .then([{ type: "AnswersSubmitted", data: { submittedAt: 100 + 1_000 + 200 + SUBMIT_GRACE_MS, answers: [], score: 0 } }]));
  it("rejects after time and grace are up", () =>
    given([started])
      .when(submit(100 + 1_000 + SUBMIT_GRACE_MS + 1, []))
      .thenThrows("TIME_UP"));
});

describe("ImportLegacyParticipant", () => {
  const importAt = (sourceIndex: number, rank = 0, participant: V1Participant = legacy) =>
    ({ type: "ImportLegacyParticipant", data: { participant, sourceIndex, rank } }) as const;
  const imported: ExamEvent = { type: "LegacyParticipantImported", data: { participant: legacy, sourceIndex: 0 } };
  it("imports a V1 entry as stored", () =>
    given([])
      .when(importAt(0))
      .then([{ type: "LegacyParticipantImported", data: { participant: legacy, sourceIndex: 0 } }]));
  it("is idempotent per entry, wherever the entry stands now (a removal before it moved it)", () => {
    given([imported]).when(importAt(0)).then([]);
    given([imported]).when(importAt(3)).then([]);
  });
  it("keeps a second entry for the same user as a duplicate: another startedAt, or the same one at the next rank", () => {
    const other = { ...legacy, startedAt: legacy.startedAt + 1 };
    given([imported])
      .when(importAt(3, 0, other))
      .then([{ type: "LegacyDuplicateImported", data: { participant: other, sourceIndex: 3 } }]);
    given([imported])
      .when(importAt(3, 1))
      .then([{ type: "LegacyDuplicateImported", data: { participant: legacy, sourceIndex: 3 } }]);
  });
  it("refuses an entry whose earlier entries of the same startedAt are not imported yet (ranks tell them apart)", () =>
    given([imported]).when(importAt(4, 2)).thenThrows("CONFLICT"));
  it("compares startedAt as Convex does: NaN is the same entry, -0 and 0 are two", () => {
    const at = (startedAt: number): V1Participant => ({ ...legacy, startedAt });
    given([{ type: "LegacyParticipantImported", data: { participant: at(NaN), sourceIndex: 0 } }])
      .when(importAt(1, 0, at(NaN)))
      .then([]);
    given([{ type: "LegacyParticipantImported", data: { participant: at(0), sourceIndex: 0 } }])
      .when(importAt(1, 0, at(-0)))
      .then([{ type: "LegacyDuplicateImported", data: { participant: at(-0), sourceIndex: 1 } }]);
  });
  it("skips the mirror's copy of an attempt born live", () => given([started]).when(importAt(2)).then([]));
});

describe("evolve", () => {
  it("keeps an imported participant's values exactly, even inconsistent ones", () => {
    const state = evolve(initialState(), { type: "LegacyParticipantImported", data: { participant: legacy, sourceIndex: 0 } });
    const { userId: _u, answers, ...facts } = legacy;
    expect(state.participation).toEqual(facts);
    expect(state.answers).toEqual(answers);
    expect(statusOf(state)).toBe("in_progress");
  });
  it("stops the clock while paused", () => {
    const state = replay([started, paused]);
    expect(statusOf(state)).toBe("paused");
    expect(remainingMs(state.participation!, 1_000, 10_000)).toBe(800);
    const after = replay([started, paused, resumed]);
    expect(remainingMs(after.participation!, 1_000, 600)).toBe(700);
    expect(after.participation).toMatchObject({ isPaused: false, pauseCount: 1, totalPausedMs: 200 });
    expect(after.participation!.pausedAt).toBeUndefined();
  });
});

describe("ReconcileLegacyEntry (rolling forward what old code wrote into the V1 array)", () => {
  const imported: ExamEvent = { type: "LegacyParticipantImported", data: { participant: legacy, sourceIndex: 0 } };
  const later: V1Participant = { ...legacy, completedAt: 900, score: 9 };
  it("writes nothing when the attempt already is the entry", () =>
    given([imported])
      .when({ type: "ReconcileLegacyEntry", data: { participant: legacy, sourceIndex: 0 } })
      .then([]));
  it("writes nothing before the entry is imported (the import does that)", () =>
    given([])
      .when({ type: "ReconcileLegacyEntry", data: { participant: later, sourceIndex: 0 } })
      .then([]));
  it("records an entry that changed, and the attempt becomes it (the import's source index kept)", () => {
    given([imported])
      .when({ type: "ReconcileLegacyEntry", data: { participant: later, sourceIndex: 0 } })
      .then([{ type: "LegacyEntryChanged", data: { participant: later, sourceIndex: 0 } }]);
    const state = replay([imported, { type: "LegacyEntryChanged", data: { participant: later, sourceIndex: 0 } }]);
    expect(state.participation).toMatchObject({ completedAt: 900, score: 9 });
    expect(state.legacyEntries).toEqual([{ startedAt: legacy.startedAt, sourceIndex: 0 }]);
  });
  it("compares NaN with NaN as equal (a V1 NaN score is not a change)", () => {
    const nan = { ...legacy, score: NaN };
    given([{ type: "LegacyParticipantImported", data: { participant: nan, sourceIndex: 0 } }])
      .when({ type: "ReconcileLegacyEntry", data: { participant: { ...nan }, sourceIndex: 0 } })
      .then([]);
  });
});
