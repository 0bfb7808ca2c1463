/**
 * Recording benchmark results: one JSON file per run under `bench/results/` plus one row in the
 * index table of `bench/results/README.md`.
 *
 * Every result carries the same envelope (see {@link ResultEnvelope}): what ran, where, on which
 * runtime and package versions, from which commit, and the input with a sha256 over its
 * canonical JSON, so two results can be compared only when their inputs match.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { canonicalJson } from '../../src/driver/checkpoint.ts';
import {
  type GitInfo,
  gitInfo,
  type MachineInfo,
  machineInfo,
  packageVersions,
  type RuntimeInfo,
  runtimeInfo,
} from './machine.ts';

export const RESULT_SCHEMA_VERSION = 1;

/** What the benchmark was fed. `sha256` is over the canonical JSON of `parameters`. */
export interface ResultInput {
  readonly description: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly sha256: string;
  /** Random seed, or null when the run uses no randomness. */
  readonly seed: number | null;
}

export interface ResultEnvelope {
  readonly benchmark: string;
  readonly schemaVersion: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  readonly runtime: RuntimeInfo;
  readonly packages: Readonly<Record<string, string>>;
  readonly git: GitInfo | null;
  readonly input: ResultInput;
  /** Caveats a reader must know (what is and is not measured). */
  readonly notes: readonly string[];
}

/**
 * The envelope every benchmark records: what ran and when, the machine (with the load average at
 * the start, and at the end beside it), runtime, the versions of `packages`, the commit, the input
 * and the caveats.
 */
export function resultEnvelope(o: {
  readonly benchmark: string;
  readonly root: string;
  readonly startedAt: Date;
  readonly machineAtStart: MachineInfo;
  readonly packages: readonly string[];
  readonly input: ResultInput;
  readonly notes: readonly string[];
}): ResultEnvelope & { readonly loadAverageAtEnd: readonly number[] } {
  const machine = machineInfo();
  return {
    benchmark: o.benchmark,
    schemaVersion: RESULT_SCHEMA_VERSION,
    startedAt: o.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverage: o.machineAtStart.loadAverage },
    loadAverageAtEnd: machine.loadAverage,
    runtime: runtimeInfo(),
    packages: packageVersions(o.root, o.packages),
    git: gitInfo(o.root) ?? null,
    input: o.input,
    notes: o.notes,
  };
}

/** The same canonical JSON the checkpoint checksums, so input hashes are computed one way. */
export { canonicalJson };

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Builds the input record: the parameters and the sha256 of their canonical JSON. */
export function describeInput(
  description: string,
  parameters: Readonly<Record<string, unknown>>,
  seed: number | null = null,
): ResultInput {
  return { description, parameters, sha256: sha256Hex(canonicalJson(parameters)), seed };
}

/** `2026-11-21` in UTC. */
export function utcDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** `<benchmark>-<YYYY-MM-DD>-<host>.json`, with `-<n>` before `.json` for the n-th run that day. */
export function resultFileName(benchmark: string, date: Date, host: string, n = 1): string {
  const suffix = n > 1 ? `-${n}` : '';
  return `${benchmark}-${utcDate(date)}-${host}${suffix}.json`;
}

export const INDEX_FILE = 'README.md';

const INDEX_HEADER = [
  '# Recorded benchmark results',
  '',
  'One JSON file per run (machine, runtime, package versions, commit, input sha256, raw',
  'percentiles). `npm run bench:*` appends a row here; see `bench/README.md` for what each',
  'benchmark measures and how to read it.',
  '',
  '| date (UTC) | benchmark | host | headline | file |',
  '|---|---|---|---|---|',
  '',
].join('\n');

/** One index row; `|` in the headline is escaped so the table stays intact. */
export function indexRow(
  result: ResultEnvelope,
  host: string,
  file: string,
  headline: string,
): string {
  const cells = [
    result.startedAt.slice(0, 16).replace('T', ' '),
    result.benchmark,
    host,
    headline.replaceAll('|', '\\|'),
    `[${file}](${file})`,
  ];
  return `| ${cells.join(' | ')} |\n`;
}

/** The paths that lie inside `root`, relative to it (the formatter only handles those). */
export function pathsInside(root: string, paths: readonly string[]): string[] {
  return paths
    .map((p) => relative(resolve(root), resolve(p)))
    .filter((r) => r !== '' && !r.startsWith('..') && !isAbsolute(r));
}

/**
 * Formats result files inside the repository with its own Biome, so recorded JSON and the index
 * table pass `npm run lint`. Files outside `root` are left alone. Returns false when nothing was
 * formatted because Biome is missing or failed (the files are still valid JSON / markdown).
 */
export function formatWithBiome(root: string, paths: readonly string[]): boolean {
  const inside = pathsInside(root, paths);
  if (inside.length === 0) return false;
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', ...inside], {
      cwd: root,
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `result` as pretty JSON to a new file in `dir` (never overwriting an earlier run) and
 * appends its row to the index, then hands both paths to `format` (e.g. {@link formatWithBiome}).
 * Returns the path of the result file.
 */
export function writeResult(
  dir: string,
  result: ResultEnvelope,
  host: string,
  headline: string,
  format: (paths: string[]) => unknown = () => undefined,
): string {
  mkdirSync(dir, { recursive: true });
  const started = new Date(result.startedAt);
  let n = 1;
  while (existsSync(join(dir, resultFileName(result.benchmark, started, host, n)))) n++;
  const file = resultFileName(result.benchmark, started, host, n);
  const path = join(dir, file);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`, { flag: 'wx' });
  const index = join(dir, INDEX_FILE);
  if (!existsSync(index)) writeFileSync(index, INDEX_HEADER);
  appendFileSync(index, indexRow(result, host, file, headline));
  format([path, index]);
  return path;
}
