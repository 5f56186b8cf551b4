/**
 * Writes documents in the layout of `npx convex export` (`<table>/documents.jsonl`,
 * as a folder or a ZIP), and turns a generated V1 dataset into such tables:
 * fixtures for the loader's tests, and a way to try `--snapshot` without a
 * deployment.
 *
 * @example
 * writeExportZip("demo.zip", datasetTables(generateV1Dataset({ exams: 2, participants: 6, answers: 30 })));
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { strToU8, zipSync } from "fflate";
import type { V1Dataset } from "../dataset/generate.js";

export type ExportTables = Record<string, readonly object[]>;

/** File name → contents, as the export lays them out (one JSON document per line). */
export function exportFiles(tables: ExportTables): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [table, docs] of Object.entries(tables)) {
    files[`${table}/documents.jsonl`] = docs.map((d) => JSON.stringify(d) + "\n").join("");
  }
  files["_tables/documents.jsonl"] = Object.keys(tables)
    .map((name, i) => JSON.stringify({ name, id: 10001 + i }) + "\n")
    .join("");
  return files;
}

export function writeExportFolder(dir: string, tables: ExportTables): void {
  for (const [name, text] of Object.entries(exportFiles(tables))) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

export function exportZip(tables: ExportTables): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(exportFiles(tables)).map(([name, text]) => [name, strToU8(text)])));
}

export function writeExportZip(path: string, tables: ExportTables): void {
  writeFileSync(path, exportZip(tables));
}

/** A generated dataset as export tables; its keys become the documents' `_id`s. Deleted questions are left out, as in production. */
export function datasetTables(dataset: V1Dataset, creationTime = Date.UTC(2026, 0, 1)): Record<"users" | "questions" | "exams", object[]> {
  const system = (key: string, i: number) => ({ _id: key, _creationTime: creationTime + i });
  return {
    users: dataset.users.map(({ key, ...user }, i) => ({ ...system(key, i), ...user })),
    questions: dataset.questions.map(({ key, ...question }, i) => ({ ...system(key, i), ...question })),
    exams: dataset.exams.map((exam, i) => ({
      ...system(exam.key, i),
      title: exam.title,
      questionIds: exam.questionKeys,
      durationMs: exam.durationMs,
      maxPauses: exam.maxPauses,
      participants: exam.participants.map(({ userKey, answers, ...rest }) => ({
        ...rest,
        userId: userKey,
        answers: answers.map(({ questionKey, ...a }) => ({ ...a, questionId: questionKey })),
      })),
    })),
  };
}
