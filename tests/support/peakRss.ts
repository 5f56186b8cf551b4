/**
 * Preloaded into a child process (`node --import tsx --import ./tests/support/peakRss.ts …`):
 * writes the process's peak memory (max RSS, bytes) to $PEAK_RSS_FILE when it exits, so a
 * test can hold the real CLI to a memory bound whatever its exit code.
 */
import { writeFileSync } from "node:fs";

const file = process.env.PEAK_RSS_FILE;
if (file !== undefined) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)));
