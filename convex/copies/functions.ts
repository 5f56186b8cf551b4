/**
 * The mutation builders every module of this backend uses (instead of
 * `_generated/server`'s): their `ctx.db` keeps the exam copies current and
 * records every exam and question change (copies/examCopies.ts). Queries and
 * actions need no wrapping: they cannot write.
 *
 * @example
 * import { mutation, internalMutation } from "./copies/functions";
 */
import { customCtx, customMutation } from "convex-helpers/server/customFunctions";
import { internalMutation as rawInternalMutation, mutation as rawMutation } from "../_generated/server";
import { withExamCopies } from "./examCopies";

const examCopies = customCtx((ctx: Parameters<typeof withExamCopies>[0]) => ({ db: withExamCopies(ctx) }));

export const mutation = customMutation(rawMutation, examCopies);
export const internalMutation = customMutation(rawInternalMutation, examCopies);
