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
import type * as events_catalog from "../events/catalog.js";
import type * as events_decider from "../events/decider.js";
import type * as events_hash from "../events/hash.js";
import type * as events_store from "../events/store.js";
import type * as lib_auth from "../lib/auth.js";
import type * as lib_errors from "../lib/errors.js";
import type * as lib_limits from "../lib/limits.js";
import type * as lib_validators from "../lib/validators.js";
import type * as model_attempts from "../model/attempts.js";
import type * as model_examDefinitions from "../model/examDefinitions.js";
import type * as projections_attempt from "../projections/attempt.js";
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
  "events/catalog": typeof events_catalog;
  "events/decider": typeof events_decider;
  "events/hash": typeof events_hash;
  "events/store": typeof events_store;
  "lib/auth": typeof lib_auth;
  "lib/errors": typeof lib_errors;
  "lib/limits": typeof lib_limits;
  "lib/validators": typeof lib_validators;
  "model/attempts": typeof model_attempts;
  "model/examDefinitions": typeof model_examDefinitions;
  "projections/attempt": typeof projections_attempt;
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
