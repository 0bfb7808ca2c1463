/**
 * Writing a report file: the only I/O of the report code. The HTML is written next to a temporary
 * name and renamed into place, so a reader never sees half a report.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SimulationRun } from '../run.ts';
import { type OpenbReportOptions, openbReportInput } from './openb-report.ts';
import { type ReportInput, renderReport } from './report.ts';

/** Renders `input` into `path` (directories created); returns the absolute path written. */
export function writeReport(path: string, input: ReportInput): string {
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  writeFileSync(temp, renderReport(input));
  renameSync(temp, target);
  return target;
}

/** The report of openb replays, written to `path`. */
export function writeOpenbReport(
  path: string,
  runs: readonly SimulationRun[],
  options: OpenbReportOptions = {},
): string {
  return writeReport(path, openbReportInput(runs, options));
}

/** A command line as a person would type it again: arguments with spaces or quotes are quoted. */
export function commandLine(argv: readonly string[]): string {
  return argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(' ');
}
