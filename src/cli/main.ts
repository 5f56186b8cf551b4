/**
 * `exam-migrate`: rehearse the V1 → V2 migration offline (the default command)
 * and print the benchmark report.
 *
 * @example
 * npm start                                   # guide-sized dataset with dirty data
 * npm start -- --snapshot ./backups/snapshot.zip --json
 * npm start -- --exams 150 --participants 2340 --answers 468000
 * npm run bench
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { GUIDE_DATASET, InvalidDatasetError } from "../dataset/generate.js";
import { scanSnapshot, SnapshotError, type Era } from "../snapshot/load.js";
import { EXIT, renderReport } from "../rehearsal/report.js";
import { DEFAULT_LIVE_RATE } from "../rehearsal/deployment.js";
import { rehearse } from "../rehearsal/run.js";
import { renderHtml } from "../rehearsal/html.js";
import { FAULTS, type Fault } from "../rehearsal/types.js";
import { runBench } from "./bench.js";
import { phaseProgress } from "./progress.js";

const ERA_NAMES: Record<Era, string> = {
  uniform: "uniform era: ConvexExportJSON, exports since 2026-03-11",
  legacy: "legacy era: ConvexCleanJSON typed by generated_schema.jsonl",
  "no generated_schema.jsonl": "no generated_schema.jsonl: read as ConvexCleanJSON, as npx convex import does",
};

/** A bad argument or input: exit code 2, distinct from a failed rehearsal (1). */
class BadInput extends Error {}

const VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** `--out-dir` must be (or become) a writable folder: checked before anything runs. */
function checkOutDir(dir: string) {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new BadInput(`--out-dir ${dir} is a file, not a folder.`);
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new BadInput(`--out-dir ${dir} cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
}

/** `--json <path>` (or `--html`) must be a writable file path: checked before anything runs, so a report is never lost at the end. */
function checkReportPath(path: string, flag = "--json") {
  if (existsSync(path) && statSync(path).isDirectory()) throw new BadInput(`${flag} ${path} is a folder, not a file.`);
  const parent = dirname(resolve(path));
  try {
    if (!statSync(parent).isDirectory()) throw new Error("ENOTDIR");
    accessSync(existsSync(path) ? path : parent, constants.W_OK);
  } catch (e) {
    throw new BadInput(`${flag} ${path} cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
}

function wholeNumber(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}, got "${value}".`);
    }
    return n;
  };
}

type RehearseFlags = {
  exams: number;
  participants: number;
  answers: number;
  seed: number;
  clean?: boolean;
  snapshot?: string;
  firstExams?: number;
  outDir: string;
  batchSize: number;
  liveStudents: number;
  smokeUsers: number;
  workers: number;
  cleanup: boolean;
  json?: string | true;
  html?: string;
  quiet?: boolean;
  fault?: Fault;
};

const DEFAULT_WORKERS = Math.max(1, Math.min(availableParallelism(), 4));

function program(out: { stdout: (s: string) => void; stderr: (s: string) => void }, result: { code: number }) {
  const cli = new Command("exam-migrate")
    .description("Rehearse the V1 → V2 exam participation migration offline, in an embedded Convex, and report what production will see.")
    .exitOverride()
    .version(VERSION, "-V, --version", "print the version of exam-migrate")
    .configureOutput({ writeOut: out.stdout, writeErr: out.stderr })
    .showHelpAfterError("(run with --help for every option)")
    .addHelpText(
      "after",
      [
        "",
        "`rehearse` is the default command: `exam-migrate --exams 150` = `exam-migrate rehearse --exams 150`.",
        "Its options: exam-migrate rehearse --help",
        "",
        "Examples:",
        "  npm start                                         guide-sized dataset (15 exams, 234 participants, 46,800 answers), dirty",
        "  npm start -- --snapshot backups/snapshot.zip      rehearse a production export (npx convex export --prod --path …)",
        "  npm start -- --exams 150 --participants 2340 --answers 468000 --json",
        "  npm start -- --fault drop-answer                  see what a failed verification looks like (exit code 1)",
        "  npm run bench                                     the benchmark report (bench-report.json)",
      ].join("\n"),
    );

  cli
    .command("rehearse", { isDefault: true })
    .description(
      "Run the migration guide's steps 2–5 and 8 against this project's Convex functions, one embedded Convex per exam: " +
        "status, export (backup file), batched migration, verification, a V1/V2 smoke pass as students, projection rebuild " +
        "and check, audit chain check, cleanup and final status. Exit code 0: passed; 1: a verification or check failed; " +
        "2: bad option or snapshot; 3: the rehearsal itself crashed.",
    )
    .option("--exams <n>", "exams in the generated dataset", wholeNumber(0), GUIDE_DATASET.exams)
    .option(
      "--participants <n>",
      "participants in the generated dataset, spread over the exams",
      wholeNumber(0),
      GUIDE_DATASET.participants,
    )
    .option(
      "--answers <n>",
      "answers in the generated dataset, spread over the participants who completed",
      wholeNumber(0),
      GUIDE_DATASET.answers,
    )
    .option("--seed <n>", "seed of the generated dataset (same seed, same data)", wholeNumber(0), 42)
    .option(
      "--clean",
      "generate no dirty data (by default a realistic sprinkle: duplicate participants, deleted questions, score mismatches, …)",
    )
    .addOption(
      new Option(
        "--snapshot <path>",
        "rehearse a real Convex export instead: the ZIP from `npx convex export`, or its unzipped folder of <table>/documents.jsonl",
      ).conflicts(["exams", "participants", "answers", "seed", "clean"]),
    )
    .addOption(
      new Option(
        "--first-exams <n>",
        "with --snapshot: rehearse only the first n exams of the export (a prefix, to time a large one); the rest is still read and checked",
      ).argParser(wholeNumber(1)),
    )
    .option("--out-dir <dir>", "where the V1 backup (v1_backup.json) is written", ".rehearsal")
    .option("--batch-size <n>", "batchSize for migrateExamParticipants (exams per call), as on production", wholeNumber(1), 5)
    .option(
      "--live-students <n>",
      "student actions (start, pause, resume, submit) before each migration or cleanup call in the one-deployment run; 0 for none",
      wholeNumber(0),
      DEFAULT_LIVE_RATE,
    )
    .option(
      "--smoke-users <n>",
      "students per exam the smoke pass signs in as (the first who completed, the first still in progress, then others)",
      wholeNumber(0),
      2,
    )
    .option(
      "--workers <n>",
      "worker threads rehearsing exams in parallel (1 = in this thread; the one-deployment run always has its own)",
      wholeNumber(1),
      DEFAULT_WORKERS,
    )
    .option("--no-cleanup", "stop before step 8 (keep the V1 arrays)")
    .option(
      "--json [path]",
      "also write the full report as JSON (default path: rehearsal-report.json; '-' for stdout instead of the text report)",
    )
    .option(
      "--html <path>",
      "also write the report as one self-contained HTML page: verdict, plan, costs and plots (inline SVG, no network)",
    )
    .option("-q, --quiet", "no progress bars")
    .addOption(
      new Option(
        "--fault <kind>",
        "inject a fault into the first exam to see the failure path: drop-answer (verification fails), tamper-event (audit chain check fails), over-bound (its migration calls are checked against a bound of 1 V1 entry a call: the verdict names each call over it); in the one-deployment run: live-drop-answer (a live student's answer lost from V2: verification fails), skip-roll-forward (rollback option 2 without the roll forward: V1 ≠ V2), restore-replace (rollback option 1 as --replace, not --replace-all: the restored deployment is not the backup)",
      ).choices(FAULTS),
    )
    .action(async (flags: RehearseFlags, command: Command) => {
      const sized = ["exams", "participants", "answers"].some((k) => command.getOptionValueSource(k) === "cli");
      if (flags.firstExams !== undefined && flags.snapshot === undefined)
        throw new BadInput("--first-exams needs --snapshot (a generated dataset is sized with --exams).");
      if (flags.snapshot === undefined && sized && flags.participants > 0 && flags.exams === 0) {
        throw new BadInput("--participants needs at least one exam (--exams).");
      }
      if (flags.snapshot === undefined && flags.answers > 0 && flags.participants === 0) {
        throw new BadInput("--answers needs at least one participant (--participants).");
      }
      const jsonPath = flags.json === true ? "rehearsal-report.json" : flags.json === "-" ? undefined : flags.json;
      checkOutDir(flags.outDir);
      if (jsonPath !== undefined) checkReportPath(jsonPath);
      if (flags.html !== undefined) checkReportPath(flags.html, "--html");
      const report = await rehearse({
        input:
          flags.snapshot !== undefined
            ? { kind: "snapshot", path: flags.snapshot, ...(flags.firstExams === undefined ? {} : { firstExams: flags.firstExams }) }
            : {
                kind: "generated",
                spec: {
                  exams: flags.exams,
                  participants: flags.participants,
                  answers: flags.answers,
                  seed: flags.seed,
                  dirty: !flags.clean,
                },
              },
        outDir: flags.outDir,
        batchSize: flags.batchSize,
        liveRate: flags.liveStudents,
        smokeUsers: flags.smokeUsers,
        cleanup: flags.cleanup,
        workers: flags.workers,
        ...(flags.fault ? { fault: flags.fault } : {}),
        progress: phaseProgress({ quiet: flags.quiet === true }),
      });
      const json = JSON.stringify(report, null, 2) + "\n";
      if (flags.json === "-") out.stdout(json);
      else {
        out.stdout(renderReport(report));
        if (jsonPath !== undefined) {
          try {
            writeFileSync(jsonPath, json);
          } catch (e) {
            throw new BadInput(
              `the report could not be written to ${jsonPath} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the text report above is complete.`,
            );
          }
          out.stderr(`report written to ${jsonPath}\n`);
        }
      }
      if (flags.html !== undefined) {
        try {
          writeFileSync(flags.html, renderHtml(report));
        } catch (e) {
          throw new BadInput(
            `the page could not be written to ${flags.html} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`,
          );
        }
        out.stderr(`page written to ${flags.html}\n`);
      }
      result.code = report.exitCode;
    });

  cli
    .command("check-snapshot")
    .argument("<path>", "the export: a ZIP from `npx convex export`, or its unzipped folder")
    .description(
      "Stream and check an export without migrating it: layout, value encoding (either era), the CRC-32 and size of every entry it reads, " +
        "ids, every document against convex/schema.ts (all rejections listed, with the validator lines that would accept them), " +
        "references, _storage files against their metadata, the app's other tables. Prints what it found, the time and the peak " +
        "memory. Exit code 0: loadable and deployable; 2: not (bad input: one line naming the entry).",
    )
    .option("--verify-files", "also read every _storage file and check its size and sha256 against its metadata (a backup you may restore)")
    .option("--json", "print the findings as JSON on stdout instead of the text report")
    .option("-q, --quiet", "no progress")
    .action(async (path: string, flags: { verifyFiles?: boolean; json?: boolean; quiet?: boolean }) => {
      const started = performance.now();
      let participants = 0;
      let answers = 0;
      let largestExam = { key: "", participants: 0 };
      const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
      let lastReport = 0;
      const summary = await scanSnapshot(path, {
        keep: false,
        check: true,
        verifyFiles: flags.verifyFiles === true,
        onVerify:
          flags.quiet === true
            ? undefined
            : (done, total) => {
                const now = performance.now();
                if (done !== total && done !== 0 && now - lastReport < 1000) return;
                lastReport = now;
                out.stderr(
                  `verifying _storage files: ${mib(done)} of ${mib(total)} (${total === 0 ? 100 : Math.floor((done / total) * 100)}%)\n`,
                );
              },
        onExam: (exam) => {
          participants += exam.participants.length;
          answers += exam.participants.reduce((n, p) => n + p.answers.length, 0);
          if (exam.participants.length > largestExam.participants) largestExam = { key: exam.key, participants: exam.participants.length };
        },
      });
      const deployable = summary.rejections.length === 0;
      if (!deployable) result.code = EXIT.badInput;
      if (flags.json === true) {
        const { users: _u, questions: _q, production: _p, deletedQuestionKeys: _d, ...findings } = summary;
        out.stdout(JSON.stringify({ path, loadable: deployable, ...findings, participants, answers }, null, 2) + "\n");
        return;
      }
      const eras = summary.eras.map((era) => ERA_NAMES[era]).join(" + ");
      const lines = [
        `${path}: a Convex export (${summary.format}${summary.folder === null ? "" : `, under ${summary.folder}/`}; ${eras}), ${deployable ? "loadable" : "NOT deployable as it stands: convex/schema.ts rejects documents (below)"}`,
        `  exams ${summary.documents.exams.toLocaleString("en-US")} (table ${mib(summary.examsTableBytes)}, largest document line ${mib(summary.largestExamLineBytes)}), participants ${participants.toLocaleString("en-US")}, answers ${answers.toLocaleString("en-US")}`,
        `  users ${summary.documents.users.toLocaleString("en-US")}, questions ${summary.documents.questions.toLocaleString("en-US")}; most participants: exam ${largestExam.key} (${largestExam.participants})`,
        `  _storage: ${summary.storage.files} file(s), ${mib(summary.storage.bytes)} (largest ${mib(summary.storage.largestBytes)}), sizes match their metadata; ${
          summary.storage.verified
            ? "contents verified (size and sha256 of every file, CRC-32 of every entry)"
            : "contents NOT verified (run with --verify-files before relying on this backup)"
        }`,
        `  other tables (not rehearsed): ${summary.otherTables.map((t) => `${t.table} (${t.documents.toLocaleString("en-US")})`).join(", ") || "none"}; components: ${summary.componentTables.join(", ") || "none"}`,
        `  ignored entries (not part of the export): ${summary.ignoredEntries.length === 0 ? "none" : `${summary.ignoredEntries.length} (${summary.ignoredEntries.slice(0, 3).join(", ")}${summary.ignoredEntries.length > 3 ? ", …" : ""})`}`,
      ];
      if (!deployable) {
        lines.push("", "Documents convex/schema.ts rejects (npx convex deploy would refuse them), by table and field:");
        for (const r of summary.rejections)
          lines.push(
            `  ${r.table}.${r.field}: ${r.problem}${r.found === null ? "" : `, holds ${r.found}`}${r.expected === null ? "" : `, schema says ${r.expected}`}; ${r.documents.toLocaleString("en-US")} document(s), e.g. ${r.example.id} (line ${r.example.line})`,
          );
        lines.push("", "Validator lines that would accept the data (merge into convex/schema.ts; see docs/operations.md):");
        for (const r of summary.rejections)
          lines.push(`  ${r.table}${r.field.includes(".") ? ` (in ${r.field.slice(0, r.field.lastIndexOf("."))})` : ""}: ${r.line}`);
      }
      if (summary.otherTables.length > 0) {
        lines.push(
          "",
          "The app's other tables, as convex/schema.ts would declare them (the app's code typechecks only against declared tables; declared, deploy validates them: these accept every document):",
        );
        for (const t of summary.otherTables) lines.push(`  ${t.definition}`);
      }
      lines.push(
        `  time ${((performance.now() - started) / 1000).toFixed(1)} s, peak memory (max RSS) ${mib(process.resourceUsage().maxRSS * 1024)}`,
        "",
      );
      out.stdout(lines.join("\n"));
    });

  cli
    .command("bench")
    .description("Run every benchmark section (src/bench/index.ts), print one table per section and write them all as JSON.")
    .option("--json <path>", "where to write the JSON report", "bench-report.json")
    .option("--only <names>", "comma-separated section names to run (default: all)")
    .action(async (flags: { json: string; only?: string }) => {
      result.code = await runBench({ jsonPath: flags.json, only: flags.only?.split(",").map((s) => s.trim()), write: out.stdout });
    });
  return cli;
}

/** Runs the CLI with `argv` (as process.argv: node, script, …args) and returns the exit code. */
export async function main(
  argv: string[],
  out = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) },
): Promise<number> {
  const result = { code: EXIT.passed as number };
  try {
    await program(out, result).parseAsync(argv);
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return e.exitCode === 0 ? EXIT.passed : EXIT.badInput;
    }
    if (e instanceof SnapshotError) {
      out.stderr(`exam-migrate: bad snapshot: ${e.message}\n`);
      return EXIT.badInput;
    }
    if (e instanceof BadInput || e instanceof InvalidDatasetError) {
      out.stderr(`exam-migrate: ${e.message}\n`);
      return EXIT.badInput;
    }
    out.stderr(`exam-migrate: the rehearsal crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.crashed;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv);
  // The embedded deployments' scheduled jobs (the mirror's, the counts' fold: seconds ahead) are of no use once
  // the report is out: exit when the output is flushed instead of waiting for their timers.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise((done) => s.write("", done))));
  process.exit(code);
}
