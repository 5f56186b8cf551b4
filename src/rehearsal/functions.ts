/**
 * The project's Convex functions as the rehearsal calls them: by name
 * (`"migrations:checkMigrationStatus"`), dispatched as query, mutation or
 * action according to how the module registered them, and checked for
 * existence first, so a phase whose function is not there yet is skipped with
 * a note instead of crashing the rehearsal.
 *
 * @example
 * if (await functionKind("migrations:checkMigrationStatus")) {
 *   const status = await callFunction(t, "migrations:checkMigrationStatus", {});
 * }
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { makeFunctionReference } from "convex/server";
import type { EmbeddedConvex } from "../runtime/embedded.js";

export type FunctionKind = "query" | "mutation" | "action";

const convexDir = join(import.meta.dirname, "..", "..", "convex");
const kinds = new Map<string, Promise<FunctionKind | null>>();

async function lookUp(name: string): Promise<FunctionKind | null> {
  const [modulePath, exportName = "default"] = name.split(":") as [string, string?];
  const file = [".ts", ".js"].map((ext) => join(convexDir, modulePath + ext)).find((f) => existsSync(f));
  if (file === undefined) return null;
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const fn = mod[exportName] as { isQuery?: boolean; isMutation?: boolean; isAction?: boolean } | undefined;
  if (fn?.isQuery) return "query";
  if (fn?.isMutation) return "mutation";
  if (fn?.isAction) return "action";
  return null;
}

/** How `name` is registered, or null when the module or the export does not exist. */
export function functionKind(name: string): Promise<FunctionKind | null> {
  let kind = kinds.get(name);
  if (kind === undefined) kinds.set(name, (kind = lookUp(name)));
  return kind;
}

/** A function missing from the project: phases report it and carry on. */
export class FunctionNotAvailable extends Error {
  constructor(readonly functionName: string) {
    super(`${functionName} not available`);
  }
}

type Caller = Pick<EmbeddedConvex, "query" | "mutation" | "action">;

/** Calls `name` with `args` through the embedded runtime (argument and return validation, auth as `t`'s identity). */
export async function callFunction<Result = unknown>(t: Caller, name: string, args: Record<string, unknown>): Promise<Result> {
  const kind = await functionKind(name);
  if (kind === null) throw new FunctionNotAvailable(name);
  if (kind === "query") return t.query(makeFunctionReference<"query", Record<string, unknown>, Result>(name), args);
  if (kind === "mutation") return t.mutation(makeFunctionReference<"mutation", Record<string, unknown>, Result>(name), args);
  return t.action(makeFunctionReference<"action", Record<string, unknown>, Result>(name), args);
}
