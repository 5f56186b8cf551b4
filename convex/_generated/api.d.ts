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
import type * as audit from "../audit.js";
import type * as crons from "../crons.js";
import type * as events_catalog from "../events/catalog.js";
import type * as events_decider from "../events/decider.js";
import type * as events_hash from "../events/hash.js";
import type * as events_store from "../events/store.js";
import type * as examAdmin from "../examAdmin.js";
import type * as exams from "../exams.js";
import type * as legacyMirror from "../legacyMirror.js";
import type * as lib_auth from "../lib/auth.js";
import type * as lib_errors from "../lib/errors.js";
import type * as lib_functions from "../lib/functions.js";
import type * as lib_issues from "../lib/issues.js";
import type * as lib_limits from "../lib/limits.js";
import type * as lib_validators from "../lib/validators.js";
import type * as migrations from "../migrations.js";
import type * as model_attemptTimeline from "../model/attemptTimeline.js";
import type * as model_attempts from "../model/attempts.js";
import type * as model_auditChain from "../model/auditChain.js";
import type * as model_examCopies from "../model/examCopies.js";
import type * as model_examDefinitions from "../model/examDefinitions.js";
import type * as model_examSources from "../model/examSources.js";
import type * as model_examViews from "../model/examViews.js";
import type * as model_migration from "../model/migration.js";
import type * as model_migrationRun from "../model/migrationRun.js";
import type * as model_verification from "../model/verification.js";
import type * as projections_attempt from "../projections/attempt.js";
import type * as projections_legacyMirror from "../projections/legacyMirror.js";
import type * as projections_rebuild from "../projections/rebuild.js";
import type * as projections_store from "../projections/store.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  audit: typeof audit;
  crons: typeof crons;
  "events/catalog": typeof events_catalog;
  "events/decider": typeof events_decider;
  "events/hash": typeof events_hash;
  "events/store": typeof events_store;
  examAdmin: typeof examAdmin;
  exams: typeof exams;
  legacyMirror: typeof legacyMirror;
  "lib/auth": typeof lib_auth;
  "lib/errors": typeof lib_errors;
  "lib/functions": typeof lib_functions;
  "lib/issues": typeof lib_issues;
  "lib/limits": typeof lib_limits;
  "lib/validators": typeof lib_validators;
  migrations: typeof migrations;
  "model/attemptTimeline": typeof model_attemptTimeline;
  "model/attempts": typeof model_attempts;
  "model/auditChain": typeof model_auditChain;
  "model/examCopies": typeof model_examCopies;
  "model/examDefinitions": typeof model_examDefinitions;
  "model/examSources": typeof model_examSources;
  "model/examViews": typeof model_examViews;
  "model/migration": typeof model_migration;
  "model/migrationRun": typeof model_migrationRun;
  "model/verification": typeof model_verification;
  "projections/attempt": typeof projections_attempt;
  "projections/legacyMirror": typeof projections_legacyMirror;
  "projections/rebuild": typeof projections_rebuild;
  "projections/store": typeof projections_store;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
