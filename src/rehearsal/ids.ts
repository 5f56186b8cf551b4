/**
 * Every embedded instance numbers its documents from scratch, so the same id
 * means different exams in different instances. Results leaving an instance
 * (backup file, issues, report) are translated back to the input's own ids: the
 * snapshot's `_id`s, or the generated dataset's keys (`e3`, `u17`, `q3_5`).
 * Ids of V2 rows (participations, events) stay instance-local.
 *
 * @example
 * const ids = new IdTranslator(await insertDataset(t, dataset, [examKey]));
 * const backup = ids.translate(await exportV1ParticipantData(...));
 */
import type { DatasetIds } from "../dataset/generate.js";

export class IdTranslator {
  private readonly toKeyMap = new Map<string, string>();
  private readonly pattern: RegExp | null;
  private readonly shortest: number;

  constructor(ids: DatasetIds) {
    for (const map of [ids.users, ids.questions, ids.exams]) {
      for (const [key, id] of map) this.toKeyMap.set(id, key);
    }
    const escaped = [...this.toKeyMap.keys()].map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    // Longest first, so that no id matches as part of a longer one.
    escaped.sort((a, b) => b.length - a.length);
    this.shortest = Math.min(...[...this.toKeyMap.keys()].map((id) => id.length));
    this.pattern = escaped.length === 0 ? null : new RegExp(escaped.join("|"), "g");
  }

  /** The input's id for an embedded id (unchanged when it is not one of the loaded documents). */
  key(id: string): string {
    return this.toKeyMap.get(id) ?? id;
  }

  /** `value` with every loaded document's embedded id replaced by the input's id, also inside messages. */
  translate<T>(value: T): T {
    if (typeof value === "string") {
      const direct = this.toKeyMap.get(value);
      if (direct !== undefined) return direct as T;
      return (this.pattern === null || value.length < this.shortest ? value : value.replace(this.pattern, (id) => this.key(id))) as T;
    }
    if (Array.isArray(value)) return value.map((v) => this.translate(v)) as T;
    if (value !== null && typeof value === "object" && !(value instanceof ArrayBuffer)) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.translate(v)])) as T;
    }
    return value;
  }
}
