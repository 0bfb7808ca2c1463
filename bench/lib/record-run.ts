/**
 * One call that records a benchmark run the standard way (bench/lib/record.ts): the envelope
 * (machine with the load at start and end, runtime, packages, commit, input with its sha256 and
 * seed, notes) plus the benchmark's own fields, written to a new file in `dir` with its index row,
 * formatted with the repository's Biome when the file lies inside it.
 */
import { join } from 'node:path';
import { type MachineInfo, shortHostName } from './machine.ts';
import { describeInput, formatWithBiome, resultEnvelope, writeResult } from './record.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

export interface RunRecord {
  readonly benchmark: string;
  readonly dir: string;
  readonly startedAt: Date;
  readonly machineAtStart: MachineInfo;
  readonly packages?: readonly string[];
  readonly description: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly seed: number | null;
  readonly notes: readonly string[];
  /** The benchmark's own fields, next to the envelope's. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The index row's headline. */
  readonly headline: string;
}

/** Writes the result file and its index row; returns the file's path. */
export function recordRun(r: RunRecord): string {
  const result = {
    ...resultEnvelope({
      benchmark: r.benchmark,
      root: REPO_ROOT,
      startedAt: r.startedAt,
      machineAtStart: r.machineAtStart,
      packages: r.packages ?? [],
      input: describeInput(r.description, r.parameters, r.seed),
      notes: r.notes,
    }),
    ...r.body,
  };
  return writeResult(r.dir, result, shortHostName(r.machineAtStart.hostname), r.headline, (paths) =>
    formatWithBiome(REPO_ROOT, paths),
  );
}
