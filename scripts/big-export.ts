/**
 * The streaming check at production size (a command, not a test): writes an
 * export in Convex's layout of at least 3 GiB — a `_storage` file over 2 GiB
 * (ZIP64), another file, and an `exams` table over 512 MiB of valid exams each
 * under Convex's 1 MiB — streamed to a temporary folder, then runs
 * `exam-migrate check-snapshot` on it in its own process, which prints the peak
 * memory of the check alone. The files are deleted at the end.
 *
 * @example
 * npx tsx scripts/big-export.ts                  # ~3.1 GiB ZIP in the system temp folder
 * npx tsx scripts/big-export.ts --dir /big/tmp --exams-mib 600 --storage-gib 2.25
 * npx tsx scripts/big-export.ts --keep --no-check   # keeps the ZIP (for a full rehearsal; prints its path): delete it after
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomFillSync } from "node:crypto";
import { Readable } from "node:stream";
import { getConvexSize, type Value } from "convex/values";
import { realId, writeExportZip } from "../src/snapshot/write.js";
import { exportValueJson } from "../src/snapshot/write.js";

const arg = (name: string, fallback: number | string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1]!;
};
const examsMiB = Number(arg("exams-mib", 560));
const storageGiB = Number(arg("storage-gib", 2.25));
const secondFileGiB = Number(arg("second-file-gib", 0.75));
const dir = mkdtempSync(join(String(arg("dir", tmpdir())), "big-export-"));
const zip = join(dir, "snapshot.zip");
const keep = process.argv.includes("--keep");
const runCheck = !process.argv.includes("--no-check");

const USERS = 2_000;
const QUESTIONS = 40;
const PARTICIPANTS = 240;
const T0 = Date.UTC(2026, 0, 5, 8) + 0.125;
const users = Array.from({ length: USERS }, (_, i) => ({
  _id: realId(10001, `u${i}`),
  _creationTime: T0 + i * 0.5,
  name: `Student ${i}`,
  tokenIdentifier: `https://auth.example|u${i}`,
  role: i === 0 ? "admin" : "student",
}));
const questions = Array.from({ length: QUESTIONS }, (_, i) => ({
  _id: realId(10002, `q${i}`),
  _creationTime: T0 + USERS + i * 0.5,
  text: `Question ${i}: which option is right?`,
  options: ["A", "B", "C", "D"],
  correctAnswer: "A",
  points: 1.5,
}));

function exam(n: number) {
  const participants = Array.from({ length: PARTICIPANTS }, (_, p) => {
    const userId = users[(n * 7 + p) % USERS]!._id;
    const answers = questions.map((q, i) => ({
      questionId: q._id,
      selectedAnswer: "ABCD"[(n + p + i) % 4]!,
      isCorrect: (n + p + i) % 4 === 0,
    }));
    const startedAt = T0 + 86_400_000 + n * 60_000 + p;
    return {
      userId,
      score: answers.filter((a) => a.isCorrect).length * 1.5,
      answers,
      startedAt,
      completedAt: startedAt + 1_800_000.5,
      isPaused: false,
      pauseCount: p % 3,
      totalPausedMs: (p % 3) * 30_000,
    };
  });
  return {
    _id: realId(10003, `e${n}`),
    _creationTime: T0 + 10_000 + n * 0.75,
    title: `Exam ${n}`,
    questionIds: questions.map((q) => q._id),
    durationMs: 3_600_000,
    maxPauses: 2,
    participants,
  };
}

const sample = exam(0);
const { _id: _i, _creationTime: _c, ...sampleFields } = sample;
const lineBytes = Buffer.byteLength(exportValueJson(sample as unknown as Value)) + 1;
const convexBytes = getConvexSize(sampleFields as unknown as Value);
if (convexBytes >= 1024 * 1024) throw new Error(`an exam of ${convexBytes} bytes would not be a valid Convex document`);
const examCount = Math.ceil((examsMiB * 2 ** 20) / lineBytes);

/** `size` random bytes, 1 MiB at a time: as incompressible as real videos and scans (Convex deflates every entry). */
function bytes(size: number): () => Readable {
  return () => {
    let left = size;
    return new Readable({
      read() {
        if (left <= 0) return void this.push(null);
        const n = Math.min(left, 1 << 20);
        left -= n;
        this.push(randomFillSync(Buffer.allocUnsafe(n)));
      },
    });
  };
}

const storageBytes = Math.round(storageGiB * 2 ** 30);
const secondBytes = Math.round(secondFileGiB * 2 ** 30);
console.log(
  `writing ${zip}: ${examCount} exams of ${lineBytes.toLocaleString("en-US")} bytes each (Convex size ${convexBytes.toLocaleString("en-US")}), a ${storageGiB} GiB and a ${secondFileGiB} GiB stored file`,
);
const started = performance.now();
await writeExportZip(zip, {
  tables: {
    users,
    questions,
    // Convex writes rows in _id order: the exams in the order of their ids.
    exams: (function* () {
      const ids = Array.from({ length: examCount }, (_, n) => ({ n, id: realId(10003, `e${n}`) }));
      for (const { n } of ids.sort((a, b) => (a.id < b.id ? -1 : 1))) yield exam(n);
    })(),
  },
  storage: [
    { _id: realId(10010, "video"), _creationTime: T0 + 1.5, size: storageBytes, contentType: "video/mp4", content: bytes(storageBytes) },
    {
      _id: realId(10010, "scans"),
      _creationTime: T0 + 2.5,
      size: secondBytes,
      contentType: "application/pdf",
      content: bytes(secondBytes),
    },
  ],
});
const zipBytes = statSync(zip).size;
console.log(
  `written in ${((performance.now() - started) / 1000).toFixed(1)} s: ${(zipBytes / 2 ** 30).toFixed(2)} GiB ZIP (${zipBytes.toLocaleString("en-US")} bytes); ` +
    `generator peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
);
try {
  if (runCheck) {
    const check = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "../src/cli/main.ts"), "check-snapshot", zip], {
      stdio: "inherit",
    });
    process.exitCode = check.status ?? 1;
  }
} finally {
  if (keep) console.log(`kept ${zip} (delete it with: rm -r ${dir})`);
  else rmSync(dir, { recursive: true, force: true });
}
