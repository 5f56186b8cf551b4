/**
 * The app: one ConvexProvider, the exam page with V1's functions or V2's. Guide step 6 is the one-word change
 * from `examFunctions.v1` to `examFunctions.v2` (docs/operations.md); switching back is rollback option 3.
 */
import { ConvexProvider, ConvexReactClient } from "convex/react";
import type { Id } from "../../convex/_generated/dataModel";
import { ExamPage } from "./ExamSession";
import { examFunctions } from "./functions";

export function App({ client, examId, version }: { client: ConvexReactClient; examId: Id<"exams">; version: "v1" | "v2" }) {
  return (
    <ConvexProvider client={client}>
      <ExamPage examId={examId} functions={examFunctions[version]} />
    </ConvexProvider>
  );
}
