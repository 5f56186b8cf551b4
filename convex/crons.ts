/**
 * Scheduled jobs. The header check heals exam headers that an edit made around
 * headers/functions.ts left stale (dashboard, `npx convex import`): this tick starts
 * a pass when one is due (every `intervalMinutes`, examAdmin:setHeaderCheckInterval),
 * never while one runs; docs/exam-api.md states the bound within which V1's lists
 * and V2's reads converge.
 */
import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";
import { HEADER_CHECK_TICK_MINUTES } from "./lib/limits";

const crons = cronJobs();

crons.interval("exam header check", { minutes: HEADER_CHECK_TICK_MINUTES }, internal.examAdmin.tickHeaderCheck, {});

export default crons;
