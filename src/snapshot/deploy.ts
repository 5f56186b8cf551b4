/**
 * What a real app's data needs before `npx convex deploy` validates it against
 * convex/schema.ts: every place a document departs from the schema (a field the
 * schema does not list, a required field missing, a value of another type),
 * grouped by table and field with counts and an example `_id`, and the
 * validator that would accept the data, inferred from the values seen (as the
 * dashboard's "generate schema" does); for the app's other tables, a whole
 * `defineTable(…)`.
 *
 * @example
 * const diagnosis = new SchemaDiagnosis((id) => tableOfId(id));
 * diagnosis.check("users", validator, fields, { id, line });
 * diagnosis.report(); // [{ table: "users", field: "imageUrl", problem: "not in the schema", count: 12, line: "imageUrl: v.optional(v.string())", … }]
 */
import type { GenericValidator, Value } from "convex/values";
import { validate } from "convex-helpers/validators";

/** Convex's shape inference gives up on listing an object's fields past this many (shape_inference ProdConfig MAX_OBJECT_FIELDS): a record then. */
const MAX_OBJECT_FIELDS = 64;

const isPlainObject = (v: unknown): v is Record<string, Value> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof ArrayBuffer);

/** The union of the types of the values seen, as a validator's source (`v.union(v.string(), v.null())`). */
export class TypeSummary {
  private kinds = new Set<"null" | "boolean" | "number" | "int64" | "bytes" | "string">();
  /** Strings: the table every one of them is an id of (undefined: none seen; null: not all ids of one table). */
  private idTable: string | null | undefined = undefined;
  private element: TypeSummary | null = null;
  private objects = 0;
  private fields: Map<string, { summary: TypeSummary; count: number }> | null = null;
  private record: TypeSummary | null = null;

  constructor(private readonly tableOfId: (s: string) => string | null) {}

  add(value: Value): void {
    if (value === null) this.kinds.add("null");
    else if (typeof value === "boolean") this.kinds.add("boolean");
    else if (typeof value === "number") this.kinds.add("number");
    else if (typeof value === "bigint") this.kinds.add("int64");
    else if (typeof value === "string") {
      const table = this.idTable === null ? null : this.tableOfId(value);
      this.idTable = !this.kinds.has("string") || this.idTable === table ? table : null;
      this.kinds.add("string");
    } else if (value instanceof ArrayBuffer) this.kinds.add("bytes");
    else if (Array.isArray(value)) {
      this.element ??= new TypeSummary(this.tableOfId);
      for (const e of value) this.element.add(e);
    } else if (isPlainObject(value)) this.addObject(value);
  }

  /** An object's fields (system fields apart when it is a document). */
  addObject(value: Record<string, Value>): void {
    this.objects++;
    if (this.record === null) {
      this.fields ??= new Map();
      for (const [k, v] of Object.entries(value)) {
        const f = this.fields.get(k) ?? { summary: new TypeSummary(this.tableOfId), count: 0 };
        f.summary.add(v);
        f.count++;
        this.fields.set(k, f);
      }
      if (this.fields.size <= MAX_OBJECT_FIELDS) return;
      this.record = new TypeSummary(this.tableOfId);
      for (const f of this.fields.values()) this.record.merge(f.summary);
      this.fields = null;
      return;
    }
    for (const v of Object.values(value)) this.record.add(v);
  }

  private merge(other: TypeSummary): void {
    for (const k of other.kinds) {
      if (k === "string") this.idTable = !this.kinds.has("string") || this.idTable === other.idTable ? other.idTable : null;
      this.kinds.add(k);
    }
    if (other.element !== null) (this.element ??= new TypeSummary(this.tableOfId)).merge(other.element);
    if (other.objects > 0) {
      this.objects += other.objects;
      const record = (this.record ??= new TypeSummary(this.tableOfId));
      for (const f of other.fields?.values() ?? []) record.merge(f.summary);
      if (other.record !== null) record.merge(other.record);
      if (this.fields !== null) for (const f of this.fields.values()) record.merge(f.summary);
      this.fields = null;
    }
  }

  /** The fields as `defineTable`'s argument: `{ name: v.string(), note: v.optional(v.string()) }`. */
  fieldsSource(): string {
    if (this.fields === null || this.fields.size === 0) return "{}";
    return `{ ${[...this.fields]
      .map(([k, f]) => `${fieldKey(k)}: ${f.count < this.objects ? `v.optional(${f.summary.source()})` : f.summary.source()}`)
      .join(", ")} }`;
  }

  source(): string {
    const members: string[] = [];
    if (this.kinds.has("string")) members.push(typeof this.idTable === "string" ? `v.id(${JSON.stringify(this.idTable)})` : "v.string()");
    if (this.kinds.has("number")) members.push("v.number()");
    if (this.kinds.has("int64")) members.push("v.int64()");
    if (this.kinds.has("boolean")) members.push("v.boolean()");
    if (this.kinds.has("bytes")) members.push("v.bytes()");
    if (this.element !== null) members.push(`v.array(${this.element.empty() ? "v.any()" : this.element.source()})`);
    if (this.objects > 0)
      members.push(
        this.record !== null
          ? `v.record(v.string(), ${this.record.empty() ? "v.any()" : this.record.source()})`
          : `v.object(${this.fieldsSource()})`,
      );
    if (this.kinds.has("null")) members.push("v.null()");
    if (members.length === 0) return "v.any()";
    return members.length === 1 ? members[0]! : `v.union(${members.join(", ")})`;
  }

  private empty(): boolean {
    return this.kinds.size === 0 && this.element === null && this.objects === 0;
  }
}

const fieldKey = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k));

/** A validator as the source that declares it in convex/schema.ts. */
export function validatorSource(validator: GenericValidator): string {
  const inner = (() => {
    switch (validator.kind) {
      case "id":
        return `v.id(${JSON.stringify(validator.tableName)})`;
      case "string":
        return "v.string()";
      case "float64":
        return "v.number()";
      case "int64":
        return "v.int64()";
      case "boolean":
        return "v.boolean()";
      case "null":
        return "v.null()";
      case "bytes":
        return "v.bytes()";
      case "any":
        return "v.any()";
      case "literal":
        return `v.literal(${typeof validator.value === "bigint" ? `${validator.value}n` : JSON.stringify(validator.value)})`;
      case "array":
        return `v.array(${validatorSource(validator.element)})`;
      case "record":
        return `v.record(${validatorSource(validator.key as GenericValidator)}, ${validatorSource(validator.value as GenericValidator)})`;
      case "union":
        return `v.union(${validator.members.map(validatorSource).join(", ")})`;
      case "object":
        return `v.object({ ${Object.entries(validator.fields)
          .map(([k, f]) => `${fieldKey(k)}: ${validatorSource(f as GenericValidator)}`)
          .join(", ")} })`;
      default:
        return "v.any()";
    }
  })();
  return validator.isOptional === "optional" ? `v.optional(${inner})` : inner;
}

export type Problem = "not in the schema" | "missing" | "wrong type";

/** Where a document departs from its table's validator: every place, not only the first. */
export function* schemaProblems(
  validator: GenericValidator,
  value: Value,
  path = "",
): Generator<{ path: string; problem: Problem; expected: GenericValidator | null; value: Value | undefined }> {
  const at = (k: string) => (path === "" ? k : `${path}.${k}`);
  if (validator.kind === "object" && isPlainObject(value)) {
    for (const [k, field] of Object.entries(validator.fields) as [string, GenericValidator][]) {
      const v = value[k];
      if (v === undefined) {
        if (field.isOptional !== "optional") yield { path: at(k), problem: "missing", expected: field, value: undefined };
      } else yield* schemaProblems(field, v, at(k));
    }
    for (const k of Object.keys(value))
      if (!Object.hasOwn(validator.fields, k)) yield { path: at(k), problem: "not in the schema", expected: null, value: value[k] };
    return;
  }
  if (validator.kind === "array" && Array.isArray(value)) {
    for (const [i, e] of value.entries()) yield* schemaProblems(validator.element, e, `${path}[${i}]`);
    return;
  }
  if (validator.kind === "record" && isPlainObject(value)) {
    for (const [k, e] of Object.entries(value)) yield* schemaProblems(validator.value as GenericValidator, e, at(k));
    return;
  }
  if (!validate(validator, value)) yield { path, problem: "wrong type", expected: validator, value };
}

/** One way the data departs from the schema: every document it concerns counted, one named. */
export type Rejection = {
  table: string;
  /** The field's path, array elements as `[]` (`participants[].nickname`). */
  field: string;
  problem: Problem;
  documents: number;
  example: { id: string; line: number };
  /** What the schema says there (null: nothing). */
  expected: string | null;
  /** What the data holds there (the values seen). */
  found: string | null;
  /** The validator to put there so that convex/schema.ts accepts the data. */
  line: string;
};

type Group = Omit<Rejection, "found" | "line" | "expected"> & { expected: GenericValidator | null; found: TypeSummary; seenIn: string };

/** Collects the rejections of every document checked, grouped by table, field and problem. */
export class SchemaDiagnosis {
  private groups = new Map<string, Group>();

  constructor(private readonly tableOfId: (s: string) => string | null) {}

  /** Records the document's problems; false if it has any (the schema would reject it). */
  check(table: string, validator: GenericValidator, fields: Record<string, Value>, where: { id: string; line: number }): boolean {
    if (validate(validator, fields)) return true;
    for (const p of schemaProblems(validator, fields)) {
      const field = p.path.replace(/\[\d+\]/g, "[]");
      const key = `${table}\u0000${field}\u0000${p.problem}`;
      const group = this.groups.get(key) ?? {
        table,
        field,
        problem: p.problem,
        documents: 0,
        example: where,
        expected: p.expected,
        found: new TypeSummary(this.tableOfId),
        seenIn: "",
      };
      // A document counts once per group, however many array elements it departs in.
      if (group.seenIn !== where.id) group.documents++;
      group.seenIn = where.id;
      if (p.value !== undefined) group.found.add(p.value);
      this.groups.set(key, group);
    }
    return false;
  }

  get size(): number {
    return this.groups.size;
  }

  report(): Rejection[] {
    return [...this.groups.values()]
      .sort((a, b) => (a.table === b.table ? a.field.localeCompare(b.field) : a.table.localeCompare(b.table)))
      .map(({ seenIn: _, expected, found, ...g }) => {
        const name = g.field.slice(g.field.lastIndexOf(".") + 1).replace(/(\[\])+$/, "");
        const expectedSource = expected === null ? null : validatorSource({ ...expected, isOptional: "required" } as GenericValidator);
        const foundSource = g.problem === "missing" ? null : found.source();
        const accepting =
          g.problem === "not in the schema"
            ? `v.optional(${foundSource})`
            : g.problem === "missing"
              ? `v.optional(${expectedSource})`
              : `v.union(${expectedSource}, ${foundSource})`;
        // An element's validator sits inside the field's v.array(…); a field declared optional stays optional.
        const elements = (g.field.match(/(\[\])+$/)?.[0].length ?? 0) / 2;
        let field = `${"v.array(".repeat(elements)}${accepting}${")".repeat(elements)}`;
        if (g.problem === "wrong type" && elements === 0 && expected?.isOptional === "optional") field = `v.optional(${field})`;
        return {
          ...g,
          expected: expectedSource,
          found: foundSource,
          line: `${fieldKey(name)}: ${field}`,
        };
      });
  }
}
