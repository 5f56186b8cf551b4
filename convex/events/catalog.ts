/**
 * The event catalog: every event an attempt's stream can hold, as zod schemas,
 * each type with its current schema version and upcasters from older versions.
 *
 * Events are written at their type's current version and validated on append.
 * On read, older versions are upcast step by step (v1 → v2 → …) and then
 * validated against the current schema, so everything downstream (decider,
 * projections, audit, rebuild) sees only current shapes.
 *
 * @example
 * const event = parseStoredEvent({ type: "ExamPaused", schemaVersion: 1, data: { at: 5 } });
 * // event.data = { pausedAt: 5 }
 */
import * as z from "zod/v4";
import { convexToZod, zid } from "convex-helpers/server/zod4";
import type { GenericValidator } from "convex/values";
import { vV1Participant, type V1Participant } from "../lib/validators";
import { domainError } from "../lib/errors";

const zTime = z.number().finite();
/** V1's `v.number()` is any float64: NaN and ±Infinity included (a V1 bug like `score += points` with points unset stores NaN). */
const zV1Number = z.custom<number>((x) => typeof x === "number", { message: "expected a number" });
const toZod: (validator: GenericValidator) => z.ZodType = convexToZod as never;
/** The V1 participant as stored: vV1Participant's own fields, every number as V1 allows it. */
const zV1Participant = z.object(
  Object.fromEntries(
    Object.entries(vV1Participant.fields).map(([name, field]): [string, z.ZodType] => {
      if (field.kind !== "float64") return [name, toZod(field as GenericValidator)];
      return [name, field.isOptional === "optional" ? zV1Number.optional() : zV1Number];
    }),
  ),
) as unknown as z.ZodType<V1Participant>;
const zGradedAnswer = z.object({
  questionId: zid("questions"),
  selectedAnswer: z.string(),
  isCorrect: z.boolean(),
});

type Upcaster = (data: unknown) => unknown;
type CatalogEntry<S extends z.ZodType> = {
  /** Version written today. */
  version: number;
  /** Schema of the current version. */
  schema: S;
  /** upcasters[n] turns version n's data into version n+1's. */
  upcasters: Record<number, Upcaster>;
  /** One line for the README's catalog and the audit trail. */
  description: string;
};

function entry<S extends z.ZodType>(e: CatalogEntry<S>): CatalogEntry<S> {
  return e;
}

export const eventCatalog = {
  ExamStarted: entry({
    version: 1,
    schema: z.object({ startedAt: zTime }).strict(),
    upcasters: {},
    description: "The student started the attempt.",
  }),
  ExamPaused: entry({
    version: 2,
    schema: z.object({ pausedAt: zTime }).strict(),
    upcasters: {
      // v1 called the pause time `at`; v2 names it like the V1 participant field it feeds.
      1: (data) => {
        const old = z.object({ at: zTime }).strict().parse(data);
        return { pausedAt: old.at };
      },
    },
    description: "The student paused the attempt (its clock stops).",
  }),
  ExamResumed: entry({
    version: 1,
    schema: z.object({ resumedAt: zTime, pausedMs: z.number().nonnegative() }).strict(),
    upcasters: {},
    description: "The student resumed; pausedMs is added to the attempt's paused time.",
  }),
  AnswersSubmitted: entry({
    version: 1,
    schema: z.object({ submittedAt: zTime, answers: z.array(zGradedAnswer), score: zV1Number }).strict(),
    upcasters: {},
    description: "The student submitted final answers, graded on the server; the attempt is complete.",
  }),
  LegacyParticipantImported: entry({
    version: 1,
    schema: z.object({ participant: zV1Participant, sourceIndex: z.number().int().nonnegative() }).strict(),
    upcasters: {},
    description: "A V1 array entry imported as it was stored (timestamps are the V1 ones, none invented).",
  }),
  LegacyDuplicateImported: entry({
    version: 1,
    schema: z.object({ participant: zV1Participant, sourceIndex: z.number().int().nonnegative() }).strict(),
    upcasters: {},
    description: "A second V1 array entry for the same user, kept in the log; the first entry stays the attempt.",
  }),
  LegacyEntryChanged: entry({
    version: 1,
    schema: z.object({ participant: zV1Participant, sourceIndex: z.number().int().nonnegative() }).strict(),
    upcasters: {},
    description:
      "The attempt's V1 entry was changed outside this backend after its stream existed (old code after a rollback); the attempt becomes the entry as stored.",
  }),
};

export type EventType = keyof typeof eventCatalog;
export type EventData<T extends EventType> = z.infer<(typeof eventCatalog)[T]["schema"]>;

/** An attempt event as the domain sees it: `{ type, data }`, data at its current version. */
export type ExamEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

export const EVENT_TYPES = Object.keys(eventCatalog) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(eventCatalog, type);
}

/** The current schema version of an event type. */
export function currentSchemaVersion(type: EventType): number {
  return eventCatalog[type].version;
}

/** Validates an event about to be appended; throws INVALID_EVENT naming the type and the field. */
export function validateNewEvent(event: ExamEvent): ExamEvent {
  if (!isEventType(event.type)) throw domainError("INVALID_EVENT", `Unknown event type ${String(event.type)}.`);
  const result = eventCatalog[event.type].schema.safeParse(event.data);
  if (!result.success) {
    throw domainError("INVALID_EVENT", `${event.type}: ${z.prettifyError(result.error)}`);
  }
  return { type: event.type, data: result.data } as ExamEvent;
}

/**
 * Reads stored event data at any known version as the current version.
 * Throws INVALID_EVENT for an unknown type or version, or data that does not fit.
 */
export function parseStoredEvent(stored: { type: string; schemaVersion: number; data: unknown }): ExamEvent {
  const { type, schemaVersion } = stored;
  if (!isEventType(type)) throw domainError("INVALID_EVENT", `Unknown event type ${type}.`);
  const spec = eventCatalog[type];
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > spec.version) {
    throw domainError("INVALID_EVENT", `${type}: unknown schema version ${schemaVersion}.`);
  }
  let data = stored.data;
  for (let version = schemaVersion; version < spec.version; version++) {
    const upcast = spec.upcasters[version];
    if (upcast === undefined) {
      throw domainError("INVALID_EVENT", `${type}: no upcaster from version ${version}.`);
    }
    try {
      data = upcast(data);
    } catch (error) {
      throw domainError("INVALID_EVENT", `${type} v${version}: ${error instanceof z.ZodError ? z.prettifyError(error) : String(error)}`);
    }
  }
  const result = spec.schema.safeParse(data);
  if (!result.success) throw domainError("INVALID_EVENT", `${type}: ${z.prettifyError(result.error)}`);
  return { type, data: result.data } as ExamEvent;
}
