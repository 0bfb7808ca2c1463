/**
 * Runs the vitest projects and prints one plain closing line, `N passed, N failed, N skipped`,
 * that CI and people can read without parsing vitest's output. Exit code is vitest's.
 * Extra arguments are passed to vitest (e.g. `--project unit`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const outDir = join(import.meta.dirname, '..', '.cache');
const outFile = join(outDir, 'test-results.json');
mkdirSync(outDir, { recursive: true });
rmSync(outFile, { force: true });

const vitest = join(import.meta.dirname, '..', 'node_modules', 'vitest', 'vitest.mjs');
const run = spawnSync(
  process.execPath,
  [
    vitest,
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${outFile}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);

interface JsonReport {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
}

let report: JsonReport = {};
try {
  report = JSON.parse(readFileSync(outFile, 'utf8')) as JsonReport;
} catch {
  console.error(`test summary: vitest wrote no report at ${outFile}`);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
const status = run.status ?? 1;
// A run that crashed before reporting counts as one failure, never as a clean zero.
const shownFailed = status !== 0 && failed === 0 ? 1 : failed;
console.log(`${passed} passed, ${shownFailed} failed, ${skipped} skipped`);
process.exit(status);
