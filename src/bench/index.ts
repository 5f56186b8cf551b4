/**
 * Every benchmark section, in the order `npm run bench` prints them. Each
 * section is a module under src/bench/ exporting `bench(): Promise<BenchSection>`.
 */
import type { BenchSection } from "../runtime/embedded.js";

export const benchSections: { name: string; load: () => Promise<{ bench: () => Promise<BenchSection> }> }[] = [
  // Each issue's benchmark registers itself here, one line each.
  // First: it times whole rehearsals against each other, which the heap the other sections leave behind would skew (1.30 after them, 0.97 alone).
  { name: "scaling", load: () => import("./scaling.js") },
  { name: "actions", load: () => import("./actions.js") },
  { name: "reads", load: () => import("./reads.js") },
  { name: "storage", load: () => import("./storage.js") },
  { name: "audit", load: () => import("./audit.js") },
  { name: "migration", load: () => import("./migration.js") },
  { name: "examAdmin", load: () => import("./examAdmin.js") },
  { name: "mirror", load: () => import("./mirror.js") },
  { name: "cpu", load: () => import("./cpu.js") },
];
