/** Given / when / then for the attempt decider, in the style of Emmett's DeciderSpecification. */
import { expect } from "vitest";
import { decide, replay, type AttemptCommand } from "../../convex/events/decider";
import type { ExamEvent } from "../../convex/events/catalog";
import { errorCode, type ErrorCode } from "../../convex/lib/errors";

export function given(history: ExamEvent[]) {
  return {
    when(command: AttemptCommand) {
      const run = () => decide(command, replay(history));
      return {
        then(expected: ExamEvent[]) {
          expect(run()).toEqual(expected);
        },
        thenThrows(code: ErrorCode) {
          let thrown: unknown;
          try {
            run();
          } catch (error) {
            thrown = error;
          }
          expect(thrown, `expected ${code}`).toBeDefined();
          expect(errorCode(thrown)).toBe(code);
        },
      };
    },
  };
}
