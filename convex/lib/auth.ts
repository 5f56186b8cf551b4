import type { Doc } from "../_generated/dataModel";
import type { QueryCtx } from "../_generated/server";
import { domainError } from "./errors";

/** The signed-in caller's user document, resolved through `users.by_token`. */
export async function requireUser(ctx: Pick<QueryCtx, "auth" | "db">): Promise<Doc<"users">> {
  const identity = await ctx.auth.getUserIdentity();
  if (identity === null) throw domainError("NOT_AUTHENTICATED", "Sign in first.");
  const user = await ctx.db
    .query("users")
    .withIndex("by_token", (q) => q.eq("tokenIdentifier", identity.tokenIdentifier))
    .unique();
  if (user === null) throw domainError("NOT_AUTHENTICATED", "No user is registered for this sign-in.");
  return user;
}

/** The caller, who must be an admin. */
export async function requireAdmin(ctx: Pick<QueryCtx, "auth" | "db">): Promise<Doc<"users">> {
  const user = await requireUser(ctx);
  if (user.role !== "admin") throw domainError("FORBIDDEN", "Only an admin may do this.");
  return user;
}
