/**
 * Pure comparisons behind the verifiers: a V1 array entry against its V2 rows
 * (verifyMigrationIntegrity), and stored rows against a fresh replay of the log
 * (verifyProjections). Every difference becomes an issue naming the exam, the
 * user and what differs. Knows nothing of Convex.
 *
 * @example
 * const issues = compareV1Entry({ examId, entries: [{ participant, sourceIndex }], imported: [], rows, answers });
 * // [{ kind: "changed_field", examId, userId, field: "score", expected: 7, actual: 9, message }]
 */
import type { V1Answer, V1Participant } from "../lib/validators";
import type { Issue } from "../lib/issues";
import { sameValue } from "../lib/values";
import { V1_FACT_FIELDS, entryRanks, importedWith, removedEntries, type ImportedEntry } from "../lib/v1Entry";
import type { AnswerRow, ParticipationRow } from "./attempt";

/** Fields whose canonical values differ, over the union of both objects' fields (or only `fields`). */
export function diffFields(
  expected: Record<string, unknown>,
  actual: Record<string, unknown>,
  fields: readonly string[] = [...new Set([...Object.keys(expected), ...Object.keys(actual)])],
): { field: string; expected: unknown; actual: unknown }[] {
  return fields
    .filter((f) => !sameValue(expected[f], actual[f]))
    .map((field) => ({ field, expected: expected[field], actual: actual[field] }));
}

type Where = { examId: string; userId: string };

/** One attempt must have one participation row. */
function duplicatedRows(where: Where, at: string, count: number): Issue[] {
  return count > 1
    ? [{ kind: "duplicated_participation", ...where, actual: count, message: `${at}: ${count} participation rows for one attempt` }]
    : [];
}

/** Answers by position: each expected answer must be the one stored row at its position, equal in every field. */
export function diffAnswers(where: Where, expected: readonly V1Answer[], actual: readonly AnswerRow[]): Issue[] {
  const issues: Issue[] = [];
  const byPosition = new Map<number, AnswerRow[]>();
  for (const row of actual) byPosition.set(row.position, [...(byPosition.get(row.position) ?? []), row]);
  const at = `${where.examId}/${where.userId}`;
  expected.forEach((want, position) => {
    const have = byPosition.get(position) ?? [];
    if (have.length === 0) {
      issues.push({ kind: "missing_answer", ...where, position, expected: want, message: `${at}: answer ${position} is missing` });
      return;
    }
    if (have.length > 1) {
      issues.push({
        kind: "duplicated_answer",
        ...where,
        position,
        actual: have.length,
        message: `${at}: answer ${position} is stored ${have.length} times`,
      });
    }
    const { position: _p, ...row } = have[0]!;
    for (const d of diffFields(want, row, ["questionId", "selectedAnswer", "isCorrect"])) {
      issues.push({
        kind: "changed_answer",
        ...where,
        position,
        ...d,
        message: `${at}: answer ${position} ${d.field} is ${JSON.stringify(d.actual)}, expected ${JSON.stringify(d.expected)}`,
      });
    }
  });
  for (const [position, rows] of byPosition) {
    if (Number.isInteger(position) && position >= 0 && position < expected.length) continue;
    issues.push({
      kind: "extra_answer",
      ...where,
      position,
      actual: rows.length,
      message: `${at}: ${rows.length} answer row(s) at position ${position}, which should not exist`,
    });
  }
  return issues;
}

/** A participation row as the comparisons need it. */
export type StoredParticipation = ParticipationRow & { _id: string };

export type EntryCheck = {
  examId: string;
  /** Every V1 entry of the user, in array order: the first is the attempt, later ones duplicates (dirty data). */
  entries: readonly { participant: V1Participant; sourceIndex: number }[];
  /** The V1 entries the log imported into the attempt (empty: born live, its V1 entry is the mirror's copy). */
  imported: readonly ImportedEntry[];
  /** Every participation row of (exam, user): exactly one is expected. */
  rows: readonly StoredParticipation[];
  /** The answer rows of rows[0]. */
  answers: readonly AnswerRow[];
};

/**
 * A user's V1 entries against their V2 copy: one row, every V1 field of the first entry as stored,
 * every answer at its position, and every entry among those the log imported (by startedAt and
 * rank, wherever the entry stands now). An attempt born live (nothing imported) is compared field
 * by field all the same. Imported entries the array no longer holds are no issue: {@link removedEntryFindings}.
 */
export function compareV1Entry(check: EntryCheck): Issue[] {
  const { examId, entries, imported, rows, answers } = check;
  const { participant: entry, sourceIndex } = entries[0]!;
  const where = { examId, userId: entry.userId as string };
  const at = `${examId}/${entry.userId}`;
  const [row] = rows;
  if (row === undefined) {
    return [
      {
        kind: "missing_participation",
        ...where,
        position: sourceIndex,
        message: `${at}: V1 participant at position ${sourceIndex} (${entry.answers.length} answers) has no V2 participation`,
      },
    ];
  }
  const issues: Issue[] = duplicatedRows(where, at, rows.length);
  for (const d of diffFields(entry, row, V1_FACT_FIELDS)) {
    issues.push({
      kind: "changed_field",
      ...where,
      ...d,
      message: `${at}: ${d.field} is ${JSON.stringify(d.actual)} in V2, ${JSON.stringify(d.expected)} in V1`,
    });
  }
  if (imported.length > 0) {
    const ranks = entryRanks(entries.map((e) => e.participant));
    entries.forEach(({ participant, sourceIndex: index }, i) => {
      if (ranks[i]! < importedWith(imported, participant.startedAt)) return;
      const what = `the V1 entry at position ${index} (startedAt ${participant.startedAt})`;
      issues.push(
        i === 0
          ? {
              kind: "changed_field",
              ...where,
              field: "legacyEntries",
              expected: { startedAt: participant.startedAt, sourceIndex: index },
              actual: imported,
              message: `${at}: the participation does not record ${what} as imported`,
            }
          : { kind: "unaccounted_duplicate_entry", ...where, position: index, message: `${at}: the duplicate ${what} is not imported` },
      );
    });
  }
  issues.push(...diffAnswers(where, entry.answers, answers));
  return issues;
}

/** Entries the log imported into a user's attempt that the user's V1 entries no longer hold: findings, each naming where it was imported from. */
export function removedEntryFindings(
  where: Where,
  imported: readonly ImportedEntry[],
  entries: readonly Pick<V1Participant, "startedAt">[],
): Issue[] {
  return removedEntries(imported, entries).map((e) => ({
    kind: "removed_after_import",
    ...where,
    sourceIndex: e.sourceIndex,
    message: `${where.examId}/${where.userId}: the V1 entry imported from position ${e.sourceIndex} (startedAt ${e.startedAt}) is no longer in the array (removed by other code, e.g. old code after a rollback); kept in the log and in V2, never imported again`,
  }));
}

/** Stored rows against the rows a replay of the log gives (verifyProjections). */
export function compareProjection(
  where: Where,
  expected: { participation: ParticipationRow | null; answers: readonly AnswerRow[] },
  rows: readonly StoredParticipation[],
  answers: readonly AnswerRow[],
): Issue[] {
  const at = `${where.examId}/${where.userId}`;
  const [row] = rows;
  if (expected.participation === null) {
    if (row === undefined) return [];
    return [
      { kind: "extra_participation", ...where, actual: rows.length, message: `${at}: participation row(s) but no events in the log` },
    ];
  }
  if (row === undefined) {
    return [{ kind: "missing_participation", ...where, message: `${at}: the log has the attempt, examParticipations has no row` }];
  }
  const issues: Issue[] = duplicatedRows(where, at, rows.length);
  const { _id: _i, ...stored } = row;
  for (const d of diffFields(expected.participation, stored)) {
    issues.push({
      kind: "changed_field",
      ...where,
      ...d,
      message: `${at}: ${d.field} is ${JSON.stringify(d.actual)}, the log gives ${JSON.stringify(d.expected)}`,
    });
  }
  issues.push(...diffAnswers(where, expected.answers, answers));
  return issues;
}
