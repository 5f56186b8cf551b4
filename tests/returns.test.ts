/**
 * The operator API is typed: every Convex function of this backend, public or
 * internal, declares what it returns (`returns:`), so Convex (and convex-test,
 * in every suite) refuses a result of another shape, and `internal.*` / `api.*`
 * references carry the result's type to their callers (the rehearsal, the bench).
 */
import { describe, expect, it } from "vitest";
import { modules } from "./support/convex";

type Registered = { isQuery?: boolean; isMutation?: boolean; isAction?: boolean; exportReturns?: () => string };

async function registeredFunctions(): Promise<{ name: string; fn: Registered }[]> {
  const found: { name: string; fn: Registered }[] = [];
  for (const [path, load] of Object.entries(modules)) {
    if (path.includes("/_generated/")) continue;
    const mod = (await load()) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      const fn = value as Registered;
      if (typeof value === "function" && (fn.isQuery || fn.isMutation || fn.isAction)) {
        found.push({ name: `${path.replace(/^.*\/convex\//, "").replace(/\.ts$/, "")}:${name}`, fn });
      }
    }
  }
  return found;
}

describe("returns validators", () => {
  it("every query, mutation and action declares its result's shape", async () => {
    // Given every function the backend registers
    const functions = await registeredFunctions();
    expect(functions.map((f) => f.name)).toEqual(
      expect.arrayContaining([
        "migrations:verifyMigrationIntegrity",
        "projections/rebuild:verifyProjections",
        "audit:verifyAuditChain",
        "exams:startExam",
      ]),
    );
    // When their result validators are read as Convex exports them
    const without = functions.filter(({ fn }) => JSON.parse(fn.exportReturns!()) === null).map((f) => f.name);
    // Then none is missing
    expect(without).toEqual([]);
  });
});
