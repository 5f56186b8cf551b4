/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as attempts_writePath from "../attempts/writePath.js";
import type * as audit from "../audit.js";
import type * as auditTrail_timeline from "../auditTrail/timeline.js";
import type * as crons from "../crons.js";
import type * as events_catalog from "../events/catalog.js";
import type * as events_chain from "../events/chain.js";
import type * as events_decider from "../events/decider.js";
import type * as events_hash from "../events/hash.js";
import type * as events_store from "../events/store.js";
import type * as examAdmin from "../examAdmin.js";
import type * as exams from "../exams.js";
import type * as headers_changes from "../headers/changes.js";
import type * as headers_check from "../headers/check.js";
import type * as headers_examHeaders from "../headers/examHeaders.js";
import type * as headers_functions from "../headers/functions.js";
import type * as headers_keeper from "../headers/keeper.js";
import type * as legacyMirror from "../legacyMirror.js";
import type * as lib_auth from "../lib/auth.js";
import type * as lib_budget from "../lib/budget.js";
import type * as lib_cursor from "../lib/cursor.js";
import type * as lib_errors from "../lib/errors.js";
import type * as lib_examHeaders from "../lib/examHeaders.js";
import type * as lib_issues from "../lib/issues.js";
import type * as lib_limits from "../lib/limits.js";
import type * as lib_v1Entry from "../lib/v1Entry.js";
import type * as lib_validators from "../lib/validators.js";
import type * as lib_values from "../lib/values.js";
import type * as migration_batch from "../migration/batch.js";
import type * as migration_plan from "../migration/plan.js";
import type * as migrations from "../migrations.js";
import type * as projections_attempt from "../projections/attempt.js";
import type * as projections_counterFold from "../projections/counterFold.js";
import type * as projections_counters from "../projections/counters.js";
import type * as projections_mirrorJob from "../projections/mirrorJob.js";
import type * as projections_rebuild from "../projections/rebuild.js";
import type * as projections_replay from "../projections/replay.js";
import type * as projections_resync from "../projections/resync.js";
import type * as projections_tables from "../projections/tables.js";
import type * as projections_verification from "../projections/verification.js";
import type * as projections_walk from "../projections/walk.js";
import type * as reads_examSources from "../reads/examSources.js";
import type * as reads_examViews from "../reads/examViews.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  "attempts/writePath": typeof attempts_writePath;
  audit: typeof audit;
  "auditTrail/timeline": typeof auditTrail_timeline;
  crons: typeof crons;
  "events/catalog": typeof events_catalog;
  "events/chain": typeof events_chain;
  "events/decider": typeof events_decider;
  "events/hash": typeof events_hash;
  "events/store": typeof events_store;
  examAdmin: typeof examAdmin;
  exams: typeof exams;
  "headers/changes": typeof headers_changes;
  "headers/check": typeof headers_check;
  "headers/examHeaders": typeof headers_examHeaders;
  "headers/functions": typeof headers_functions;
  "headers/keeper": typeof headers_keeper;
  legacyMirror: typeof legacyMirror;
  "lib/auth": typeof lib_auth;
  "lib/budget": typeof lib_budget;
  "lib/cursor": typeof lib_cursor;
  "lib/errors": typeof lib_errors;
  "lib/examHeaders": typeof lib_examHeaders;
  "lib/issues": typeof lib_issues;
  "lib/limits": typeof lib_limits;
  "lib/v1Entry": typeof lib_v1Entry;
  "lib/validators": typeof lib_validators;
  "lib/values": typeof lib_values;
  "migration/batch": typeof migration_batch;
  "migration/plan": typeof migration_plan;
  migrations: typeof migrations;
  "projections/attempt": typeof projections_attempt;
  "projections/counterFold": typeof projections_counterFold;
  "projections/counters": typeof projections_counters;
  "projections/mirrorJob": typeof projections_mirrorJob;
  "projections/rebuild": typeof projections_rebuild;
  "projections/replay": typeof projections_replay;
  "projections/resync": typeof projections_resync;
  "projections/tables": typeof projections_tables;
  "projections/verification": typeof projections_verification;
  "projections/walk": typeof projections_walk;
  "reads/examSources": typeof reads_examSources;
  "reads/examViews": typeof reads_examViews;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
