/**
 * The mutation builders every module of this backend uses (instead of
 * `_generated/server`'s): their `ctx.db` keeps the exam copies current and
 * records every exam and question change (headers/keeper.ts). Queries and
 * actions need no wrapping: they cannot write.
 *
 * @example
 * import { mutation, internalMutation } from "./headers/functions";
 */
import { customCtx, customMutation } from "convex-helpers/server/customFunctions";
import { internalMutation as rawInternalMutation, mutation as rawMutation } from "../_generated/server";
import { withExamHeaders } from "./keeper";

const examCopies = customCtx((ctx: Parameters<typeof withExamHeaders>[0]) => ({ db: withExamHeaders(ctx) }));

export const mutation = customMutation(rawMutation, examCopies);
export const internalMutation = customMutation(rawInternalMutation, examCopies);
