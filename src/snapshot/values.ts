/**
 * Convex values as the two eras of `npx convex export` write them, decoded
 * exactly as Convex's own import reads them back (get-convex/convex-backend):
 *
 * - **uniform** (ConvexExportJSON, `generated_schema.jsonl` = `"uniform"`; every
 *   export since commit e48298f5b, 2026-03-11): crates/value/src/export.rs
 *   `from_clean_lossless`. A number with a dot or an exponent is a float64, one
 *   without is an int64 (a bigint here); `{"$float": base64}`, `{"$bytes": …}`,
 *   `{"$integer": …}` (an object whose first key starts with `$`) are the
 *   internal encodings. JSON.parse cannot tell `5` from `5.0`, so a line with an
 *   integer token is parsed by {@link parseExportJson}.
 * - **legacy** (ConvexCleanJSON, before that commit and on older self-hosted
 *   backends): int64 as a decimal string, NaN/±Infinity as strings, bytes as bare
 *   base64; every JSON number a float64. Which string is which comes from
 *   `<table>/generated_schema.jsonl`: its first line the table's inferred shape
 *   (crates/shape_inference/src/pretty.rs), then one `{"<_id>": context}` line per
 *   document the shape alone cannot type (export_context.rs `ExportContext`).
 *   A table without `generated_schema.jsonl` is read as Convex reads it: legacy
 *   rules over the shape `unknown` (strings stay strings).
 *
 * @example
 * decodeUniform('{"n":5,"x":5.0}'); // { n: 5n, x: 5 }
 * const schema = parseGeneratedSchema(lines); // legacy
 * decodeLegacy(JSON.parse('{"_id":"…","n":"5"}'), schema);
 */
import type { Value } from "convex/values";

/** A value a document cannot hold as encoded (the loader names table, line and document). */
export class DecodeError extends Error {}

// ---------------------------------------------------------------- uniform era

/** The deepest a Convex value nests (crates/value/src/size.rs MAX_NESTING): a document's containers, itself included. */
export const MAX_NESTING = 64;

/** Sets a field as its own property (a field named `__proto__` too), keeping objects in V8's fast mode otherwise. */
function setField(object: Record<string, unknown>, key: string, value: unknown) {
  if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

/** Index of the quote that closes the string starting at `start` (text.length if none). */
function endOfString(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return text.length;
    let slash = quote - 1;
    while (slash > start && text.charCodeAt(slash) === 92) slash--;
    if ((quote - 1 - slash) % 2 === 0) return quote;
    from = quote + 1;
  }
}

/** Whether the JSON text holds a number token without a dot or exponent (outside strings): an int64 in the uniform era. */
export function hasIntegerToken(text: string): boolean {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      i = endOfString(text, i) + 1;
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      let integer = true;
      let j = i + 1;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d >= 48 && d <= 57) continue;
        if (d === 46 || d === 101 || d === 69 || d === 43 || d === 45) integer = false;
        else break;
      }
      if (integer) return true;
      i = j;
    } else i++;
  }
  return false;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

/**
 * JSON as serde_json reads it: an integer token that fits an i64 becomes a bigint, any other
 * number a float (serde_json's `as_i64`, then `as_f64`). For lines with integer tokens only:
 * JSON.parse does the rest faster.
 */
export function parseExportJson(text: string): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new DecodeError(`not a JSON document (${what} at character ${i})`);
  };
  const skip = () => {
    WHITESPACE.lastIndex = i;
    WHITESPACE.exec(text);
    i = WHITESPACE.lastIndex;
  };
  const value = (): unknown => {
    skip();
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      skip();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        skip();
        if (text[i] !== '"') fail("expected a key");
        const key = string();
        skip();
        if (text[i] !== ":") fail("expected ':'");
        i++;
        setField(out, key, value());
        skip();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return out;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      skip();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        skip();
        if (text[i] === ",") i++;
        else if (text[i] === "]") {
          i++;
          return out;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return fail("unexpected character");
    i = NUMBER.lastIndex;
    if (m[1] === undefined && m[2] === undefined) {
      const big = BigInt(m[0]);
      if (big >= MIN_INT64 && big <= MAX_INT64) return big;
    }
    return Number(m[0]);
  };
  const string = (): string => {
    const end = endOfString(text, i);
    if (end >= text.length) fail("unterminated string");
    const raw = text.slice(i, end + 1);
    i = end + 1;
    try {
      return JSON.parse(raw) as string;
    } catch {
      return fail("bad string");
    }
  };
  const result = value();
  skip();
  if (i !== text.length) fail("unexpected text after the document");
  return result;
}

function base64Bytes(text: unknown, what: string): Uint8Array {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new DecodeError(`${what}: not base64`);
  return new Uint8Array(Buffer.from(text, "base64"));
}

function eightBytes(text: unknown, what: string): DataView {
  const bytes = base64Bytes(text, what);
  if (bytes.length !== 8) throw new DecodeError(`${what}: expected 8 bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, 8);
}

/** A parsed uniform-era JSON value as a Convex value (from_clean_lossless), converted in place (the parse is its own). */
export function fromExportJson(json: unknown, depth = 1): Value {
  if (json === null || typeof json === "boolean" || typeof json === "string" || typeof json === "bigint") return json;
  if (typeof json === "number") return json;
  if (typeof json === "object" && depth > MAX_NESTING) throw new DecodeError(`nested deeper than Convex's ${MAX_NESTING} levels`);
  if (Array.isArray(json)) {
    for (let i = 0; i < json.length; i++) {
      const element: unknown = json[i];
      if (typeof element === "object" && element !== null) json[i] = fromExportJson(element, depth + 1);
    }
    return json as Value[];
  }
  if (typeof json === "object") {
    const object = json as Record<string, unknown>;
    const keys = Object.keys(object);
    if (keys.some((k) => k.startsWith("$"))) {
      const [key] = keys;
      const payload = object[key!];
      if (keys.length !== 1) throw new DecodeError(`an object with a "$" field other than {"$float"|"$integer"|"$bytes": …}`);
      if (key === "$float") return eightBytes(payload, "$float").getFloat64(0, true);
      if (key === "$integer") return eightBytes(payload, "$integer").getBigInt64(0, true);
      if (key === "$bytes") return base64Bytes(payload, "$bytes").slice().buffer;
      throw new DecodeError(`unknown encoding "${key}"`);
    }
    for (const k of keys) {
      const v = object[k];
      if (typeof v === "object" && v !== null) setField(object, k, fromExportJson(v, depth + 1));
    }
    return object as Record<string, Value>;
  }
  throw new DecodeError(`not a JSON value: ${typeof json}`);
}

/** One line of a uniform-era `documents.jsonl`. */
export function decodeUniform(text: string): Value {
  let json: unknown;
  if (hasIntegerToken(text)) json = parseExportJson(text);
  else {
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new DecodeError(`not a JSON document (${(e as Error).message})`);
    }
  }
  return fromExportJson(json);
}

// ----------------------------------------------------------------- legacy era

/** A table's inferred shape (shape_inference ShapeEnum), as generated_schema.jsonl's first line spells it. */
export type Shape =
  | {
      kind:
        | "never"
        | "null"
        | "int64"
        | "float64"
        | "-inf"
        | "inf"
        | "-0"
        | "NaN"
        | "normalfloat64"
        | "boolean"
        | "field_name"
        | "string"
        | "bytes"
        | "unknown"
        | "literal"
        | "id";
    }
  | { kind: "array"; element: Shape }
  | { kind: "object"; fields: Map<string, Shape> }
  | { kind: "record"; value: Shape }
  | { kind: "union"; options: Shape[] };

/** The unit shapes, in the order pretty.rs tries them as prefixes. */
const UNITS = [
  "never",
  "null",
  "int64",
  "float64",
  "-inf",
  "inf",
  "-0",
  "NaN",
  "normalfloat64",
  "boolean",
  "field_name",
  "string",
  "bytes",
  "unknown",
] as const;

/** Parses a shape as pretty.rs prints it (the inverse of its Display), e.g. `{"_id": id<10003>, "score"?: normalfloat64 | NaN}`. */
export function parseShape(text: string): Shape {
  let s = text;
  const fail = (what: string): never => {
    throw new DecodeError(`generated_schema.jsonl: cannot parse the shape (${what} at '${s.slice(0, 40)}')`);
  };
  const until = (terminator: string): string => {
    const at = s.indexOf(terminator);
    if (at < 0) fail(`expected '${terminator}'`);
    const out = s.slice(0, at);
    s = s.slice(at + terminator.length);
    return out;
  };
  const union = (): Shape => {
    const options: Shape[] = [];
    for (;;) {
      options.push(prefix());
      if (s.startsWith(" | ")) s = s.slice(3);
      else break;
    }
    return options.length === 1 ? options[0]! : { kind: "union", options };
  };
  const expect = (terminator: string) => {
    if (!s.startsWith(terminator)) fail(`expected '${terminator}'`);
    s = s.slice(terminator.length);
  };
  const prefix = (): Shape => {
    for (const unit of UNITS) {
      if (s.startsWith(unit)) {
        s = s.slice(unit.length);
        return { kind: unit };
      }
    }
    if (s.startsWith("{")) {
      s = s.slice(1);
      const fields = new Map<string, Shape>();
      while (!s.startsWith("}")) {
        let field = until(": ");
        if (field.endsWith("?")) field = field.slice(0, -1);
        if (!(field.length >= 2 && field.startsWith('"') && field.endsWith('"'))) fail(`cannot parse object key '${field}'`);
        fields.set(field.slice(1, -1), union());
        if (s.startsWith(", ")) s = s.slice(2);
        else if (!s.startsWith("}")) fail("unexpected token");
      }
      s = s.slice(1);
      return { kind: "object", fields };
    }
    if (s.startsWith("id<")) {
      s = s.slice(3);
      if (!/^\d+$/.test(until(">"))) fail("bad table number");
      return { kind: "id" };
    }
    if (s.startsWith("array<")) {
      s = s.slice(6);
      const element = union();
      expect(">");
      return { kind: "array", element };
    }
    if (s.startsWith("record<")) {
      s = s.slice(7);
      union();
      expect(", ");
      const value = union();
      expect(">");
      return { kind: "record", value };
    }
    if (s.startsWith('"')) {
      s = s.slice(1);
      until('"');
      return { kind: "literal" };
    }
    return fail("unexpected token");
  };
  const shape = union();
  if (s !== "") fail("unexpected token");
  return shape;
}

/** Per-document hint (ExportContext) from a generated_schema.jsonl override line. */
export type Context = "infer" | "int64" | "float64inf" | "bytes" | { nan: true } | { array: Context[] } | { object: Map<string, Context> };

export function parseContext(json: unknown): Context {
  if (typeof json === "string") {
    if (json === "infer" || json === "int64" || json === "float64inf" || json === "bytes") return json;
    throw new DecodeError(`invalid export context ${json}`);
  }
  if (Array.isArray(json)) return { array: json.map(parseContext) };
  if (json !== null && typeof json === "object") {
    const nan = (json as Record<string, unknown>).$float64NaN;
    if (typeof nan === "string") {
      if (!Number.isNaN(eightBytes(nan, "$float64NaN").getFloat64(0, true))) throw new DecodeError("a $float64NaN that is not a NaN");
      return { nan: true };
    }
    return { object: new Map(Object.entries(json).map(([k, v]) => [k, parseContext(v)])) };
  }
  throw new DecodeError(`invalid export context ${JSON.stringify(json)}`);
}

/** A legacy table's typing: its shape and the overrides by `_id` (kept until the document is read). */
export type GeneratedSchema = { shape: Shape; overrides: Map<string, Context> };

const UNKNOWN: Shape = { kind: "unknown" };
/** What Convex's import assumes for a table without generated_schema.jsonl. */
export const NO_GENERATED_SCHEMA: GeneratedSchema = { shape: UNKNOWN, overrides: new Map() };

const options = (shapes: readonly Shape[]) => shapes.flatMap((s) => (s.kind === "union" ? s.options : [s]));

function arrayElement(shapes: readonly Shape[]): Shape[] {
  return options(shapes).flatMap((s) => (s.kind === "array" ? [s.element] : s.kind === "unknown" ? [s] : []));
}

function objectField(shapes: readonly Shape[], field: string): Shape[] {
  return options(shapes).flatMap((s) => {
    if (s.kind === "object") {
      const f = s.fields.get(field);
      return f === undefined ? [] : [f];
    }
    if (s.kind === "record") return [s.value];
    return s.kind === "unknown" ? [s] : [];
  });
}

/** The one way a string can decode under these shapes, or null when the shapes allow several (possible_contexts_for_string). */
function contextForString(shapes: readonly Shape[]): "infer" | "int64" | "float64inf" | "bytes" | "nan" | null {
  const seen = new Set<string>();
  for (const s of options(shapes)) {
    switch (s.kind) {
      case "int64":
        seen.add("int64");
        break;
      case "-inf":
      case "inf":
        seen.add("float64inf");
        break;
      case "NaN":
      case "float64":
        // A NaN has many bit patterns: never inferred, always an override.
        seen.add("nan").add("float64inf");
        break;
      case "literal":
      case "id":
      case "field_name":
      case "string":
        seen.add("infer");
        break;
      case "bytes":
        seen.add("bytes");
        break;
      case "unknown":
        seen.add("infer").add("float64inf").add("nan").add("int64").add("bytes");
        break;
      default:
        break;
    }
  }
  return seen.size === 1 ? ([...seen][0] as "infer") : null;
}

function decodeString(text: string, context: "infer" | "int64" | "float64inf" | "bytes" | "nan"): Value {
  switch (context) {
    case "infer":
      return text;
    case "int64": {
      if (!/^[+-]?\d+$/.test(text)) throw new DecodeError(`"${text}" is not an int64`);
      const n = BigInt(text);
      if (n < MIN_INT64 || n > MAX_INT64) throw new DecodeError(`"${text}" is out of the int64 range`);
      return n;
    }
    case "nan":
      if (text !== "NaN") throw new DecodeError(`"${text}" is not "NaN"`);
      return NaN;
    case "float64inf":
      if (text === "Infinity") return Infinity;
      if (text === "-Infinity") return -Infinity;
      throw new DecodeError(`"${text}" is not "Infinity" or "-Infinity"`);
    case "bytes":
      return base64Bytes(text, "bytes").slice().buffer;
  }
}

/** ExportContext::apply_inner: a ConvexCleanJSON value under its context and the shapes it may have. */
function apply(context: Context, json: unknown, shapes: readonly Shape[], depth = 1): Value {
  if (json === null || typeof json === "boolean") return json;
  if (typeof json === "object" && depth > MAX_NESTING) throw new DecodeError(`nested deeper than Convex's ${MAX_NESTING} levels`);
  if (typeof json === "number") return json;
  if (typeof json === "string") {
    if (context === "infer") return decodeString(json, contextForString(shapes) ?? "infer");
    if (typeof context === "string") return decodeString(json, context);
    if ("nan" in context) return decodeString(json, "nan");
    throw new DecodeError("unexpected shape hint for string");
  }
  if (Array.isArray(json)) {
    const element = arrayElement(shapes);
    if (context === "infer") return json.map((v) => apply("infer", v, element, depth + 1));
    if (typeof context === "object" && "array" in context) {
      if (context.array.length !== json.length) throw new DecodeError("array lengths do not match");
      return json.map((v, i) => apply(context.array[i]!, v, element, depth + 1));
    }
    throw new DecodeError("unsupported shape hint for array value");
  }
  if (typeof json === "object") {
    const hints = context === "infer" ? null : typeof context === "object" && "object" in context ? context.object : undefined;
    if (hints === undefined) throw new DecodeError("unsupported shape hint for object value");
    const out: Record<string, Value> = {};
    for (const [k, v] of Object.entries(json)) {
      if (k.startsWith("$")) throw new DecodeError(`field name "${k}" starts with "$"`);
      setField(out, k, apply(hints?.get(k) ?? "infer", v, objectField(shapes, k), depth + 1));
    }
    return out;
  }
  throw new DecodeError(`not a JSON value: ${typeof json}`);
}

/** One parsed line of a legacy-era `documents.jsonl`, typed by its table's generated schema (GeneratedSchema::apply). */
export function decodeLegacy(json: unknown, schema: GeneratedSchema): Value {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new DecodeError("not a JSON object");
  const id = (json as Record<string, unknown>)._id;
  const context = typeof id === "string" ? (schema.overrides.get(id) ?? "infer") : "infer";
  if (typeof id === "string") schema.overrides.delete(id);
  return apply(context, json, [schema.shape]);
}

// ------------------------------------------------------------------- writing

/** A finite float64 as serde_json writes it (ryu): `5.0`, `0.1`, `1e16`, `1.5e-7`, `-0.0`. */
export function floatText(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  // toExponential() gives the shortest digits that round-trip, as ryu does.
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const length = digits.length;
  const kk = Number(exponent) + 1; // 10^(kk-1) <= |x| < 10^kk
  const k = kk - length;
  if (k >= 0 && kk <= 16) return `${sign}${digits}${"0".repeat(k)}.0`;
  if (kk > 0 && kk <= 16) return `${sign}${digits.slice(0, kk)}.${digits.slice(kk)}`;
  if (kk > -5 && kk <= 0) return `${sign}0.${"0".repeat(-kk)}${digits}`;
  if (length === 1) return `${sign}${digits}e${kk - 1}`;
  return `${sign}${digits[0]}.${digits.slice(1)}e${kk - 1}`;
}

function base64OfFloat(x: number): string {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(x);
  return bytes.toString("base64");
}

/** Object keys in the order Convex writes them (a BTreeMap of field names: byte order). */
export function sortedKeys(object: object): string[] {
  const keys = Object.keys(object).sort();
  // UTF-16 order is byte order but for characters beyond U+FFFF (surrogates sort below U+E000).
  return keys.some((k) => /[\uD800-\uDFFF]/.test(k)) ? keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))) : keys;
}

/**
 * One value as `npx convex export` writes it: ConvexExportJSON (`uniform`, crates/value/src/export.rs
 * export_clean_lossless) or, for fixtures of older exports, ConvexCleanJSON (`legacy`, export_clean).
 * Keys sorted, floats spelled as serde_json spells them.
 */
export function exportValueJson(value: Value | undefined, era: "uniform" | "legacy" = "uniform"): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "number":
      if (Number.isFinite(value)) return floatText(value);
      if (era === "legacy") return Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"';
      return `{"$float":"${base64OfFloat(value)}"}`;
    case "bigint":
      return era === "legacy" ? `"${value}"` : value.toString();
    case "boolean":
      return String(value);
    case "string":
      return JSON.stringify(value);
    case "object": {
      if (value instanceof ArrayBuffer) {
        const base64 = Buffer.from(value).toString("base64");
        return era === "legacy" ? `"${base64}"` : `{"$bytes":"${base64}"}`;
      }
      if (Array.isArray(value)) return `[${value.map((v) => exportValueJson(v, era)).join(",")}]`;
      const fields = value as Record<string, Value | undefined>;
      return `{${sortedKeys(fields)
        .filter((k) => fields[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${exportValueJson(fields[k], era)}`)
        .join(",")}}`;
    }
    default:
      throw new Error(`not a Convex value: ${typeof value}`);
  }
}
