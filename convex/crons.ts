/**
 * Scheduled jobs. The exam-copy repair heals copies of exam facts that an edit
 * made around copies/functions.ts left stale (dashboard, `npx convex import`):
 * every V2 read converges on the live documents within one interval plus one
 * pass (docs/exam-api.md, "Exam edits").
 */
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";
import { EXAM_COPY_REPAIR_INTERVAL_MINUTES } from "./lib/limits";

const crons = cronJobs();

crons.interval("repair exam copies", { minutes: EXAM_COPY_REPAIR_INTERVAL_MINUTES }, internal.examAdmin.runExamCopyRepair, {});

export default crons;
