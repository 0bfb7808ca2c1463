/**
 * Command-line flags shared by the benchmark drivers. Pure: parses an argv array, no I/O.
 *
 *   --iterations N   measured calls per sequential scenario (and at least this many in total for
 *                    concurrent ones)
 *   --concurrency N  calls in flight in concurrent scenarios
 *   --warmup N       unmeasured calls before each scenario
 *   --out DIR        where result files go
 *   --data-dir DIR   parent of the benchmark's scratch directory (must be disk-backed when the
 *                    benchmark measures fsync)
 *   --no-record      print only; write no result file
 *   --help
 */
import { parseArgs } from 'node:util';

export interface BenchArgs {
  readonly iterations: number;
  readonly concurrency: number;
  readonly warmup: number;
  readonly out: string;
  /** Empty: the benchmark picks one. */
  readonly dataDir: string;
  readonly record: boolean;
  readonly help: boolean;
}

export type BenchDefaults = Pick<BenchArgs, 'iterations' | 'concurrency' | 'warmup' | 'out'>;

/** Reads a whole number ≥ `min` from a flag value; throws a sentence naming the flag otherwise. */
export function intFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim()))
    throw new Error(
      `--${name} ${JSON.stringify(value)} is not a whole number; pass e.g. --${name} ${fallback}`,
    );
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`--${name} ${value} is too small; it must be at least ${min}`);
  return n;
}

/** Parses the common flags. Unknown flags and stray arguments are errors. */
export function parseBenchArgs(argv: readonly string[], defaults: BenchDefaults): BenchArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      iterations: { type: 'string' },
      concurrency: { type: 'string' },
      warmup: { type: 'string' },
      out: { type: 'string' },
      'data-dir': { type: 'string' },
      'no-record': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (positionals.length > 0)
    throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}; flags start with --`);
  return {
    iterations: intFlag('iterations', values.iterations, defaults.iterations, 1),
    concurrency: intFlag('concurrency', values.concurrency, defaults.concurrency, 1),
    warmup: intFlag('warmup', values.warmup, defaults.warmup, 0),
    out: values.out ?? defaults.out,
    dataDir: values['data-dir'] ?? '',
    record: values['no-record'] !== true,
    help: values.help === true,
  };
}

/** Usage text for the common flags, with this benchmark's defaults. */
export function usage(command: string, defaults: BenchDefaults): string {
  return [
    `usage: ${command} [flags]`,
    `  --iterations N   measured calls per scenario (default ${defaults.iterations})`,
    `  --concurrency N  calls in flight in the concurrent scenario (default ${defaults.concurrency})`,
    `  --warmup N       unmeasured calls before each scenario (default ${defaults.warmup})`,
    `  --out DIR        directory for the result file and index (default ${defaults.out})`,
    '  --data-dir DIR   where the scratch directory goes (default: a disk-backed temp dir)',
    '  --no-record      print the results only; write no files',
  ].join('\n');
}
