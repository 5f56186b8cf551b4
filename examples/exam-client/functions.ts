/**
 * The functions an exam page calls, as one table: V1's, and their V2 twins (docs/operations.md, step 6).
 * Moving the frontend to V2 is passing `examFunctions.v2` instead of `examFunctions.v1`; the checks
 * below make that a rename: each V1 function and its twin take the same arguments and return the same
 * type, so the compiler accepts the one wherever it accepts the other.
 */
import type { FunctionReference } from "convex/server";
import { api } from "../../convex/_generated/api";

type Exams = typeof api.exams;

/** What a student's exam page needs: the session (with `endsAt`), start, pause, resume, submit. */
export type ExamFunctions = Pick<Exams, "getExamSession" | "startExam" | "startPause" | "resumeFromPause" | "submitExamAnswers">;

export const examFunctions = {
  v1: {
    getExamSession: api.exams.getExamSession,
    startExam: api.exams.startExam,
    startPause: api.exams.startPause,
    resumeFromPause: api.exams.resumeFromPause,
    submitExamAnswers: api.exams.submitExamAnswers,
  },
  v2: {
    getExamSession: api.exams.getExamSessionV2,
    startExam: api.exams.startExamV2,
    startPause: api.exams.startPauseV2,
    resumeFromPause: api.exams.resumeFromPauseV2,
    submitExamAnswers: api.exams.submitExamAnswersV2,
  },
} satisfies Record<"v1" | "v2", ExamFunctions>;

// ------------------------------------------------------------------ every V1/V2 pair of convex/exams.ts is a rename

/** True when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Query or mutation, public or internal, arguments, result. */
type Signature<F> =
  F extends FunctionReference<infer Type, infer Visibility, infer Args, infer Result> ? [Type, Visibility, Args, Result] : never;

type V2Name = Extract<keyof Exams, `${string}V2`>;
type V1Name = Exclude<keyof Exams, V2Name>;

/** Per V1 function: whether its twin `<name>V2` exists with the same signature. */
type PairsAreRenames = { [N in V1Name]: `${N}V2` extends V2Name ? Same<Signature<Exams[N]>, Signature<Exams[`${N}V2`]>> : false };
type Expect<T extends Record<V1Name, true>> = T;
// A pair that differs fails here, naming the function ("Types of property 'startExam' are incompatible").
export type ExamPairsCheck = Expect<PairsAreRenames>;
// And every V2 function is the twin of a V1 one.
export type ExamTwinsCheck = Expect<Record<V1Name, Same<V2Name, `${V1Name}V2`>>>;
