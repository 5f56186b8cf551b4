/**
 * Every benchmark section, in the order `npm run bench` prints them. Each
 * section is a module under src/bench/ exporting `bench(): Promise<BenchSection>`.
 */
import type { BenchSection } from "../runtime/embedded.js";

export const benchSections: { name: string; load: () => Promise<{ bench: () => Promise<BenchSection> }> }[] = [
  // Each issue's benchmark registers itself here, one line each.
  { name: "actions", load: () => import("./actions.js") },
  { name: "reads", load: () => import("./reads.js") },
  { name: "audit", load: () => import("./audit.js") },
  { name: "migration", load: () => import("./migration.js") },
  { name: "scaling", load: () => import("./scaling.js") },
  { name: "examAdmin", load: () => import("./examAdmin.js") },
  { name: "mirror", load: () => import("./mirror.js") },
];
