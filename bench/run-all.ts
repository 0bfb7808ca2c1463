/**
 * `npm run bench`: every benchmark, one after another, then one summary table of the headline
 * numbers against their targets, read back from the result file each benchmark wrote.
 *
 *   --quick      small sizes (a smoke run of the whole suite, minutes instead of an hour);
 *                results go to a fresh temporary directory, not bench/results
 *   --out DIR    where the benchmarks write their result files (default bench/results, or the
 *                temporary directory with --quick)
 *   --only a,b   run only these benchmarks (names as in the table)
 *
 * openb-validate and gang-overlay need the openb trace (../shared/traces/openb or
 * PHALANX_OPENB_DIR); without it they are skipped, and the summary says why. throughput starts a
 * control plane of its own and runs under the machine-wide integration lock
 * (/tmp/phalanx-integration.lock) when `flock` is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable } from './lib/table.ts';
import { dataDir, NODE_FILE, POD_FILES } from './openb-validate.ts';

const REPO_ROOT = join(import.meta.dirname, '..');
const NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
export const INTEGRATION_LOCK = '/tmp/phalanx-integration.lock';

export interface BenchSpec {
  /** Name in the table and prefix of its result files. */
  readonly name: string;
  readonly script: string;
  readonly nodeFlags?: readonly string[];
  /** Flags that point the result file at `dir`. */
  readonly outFlags: (dir: string) => string[];
  readonly quickFlags: readonly string[];
  /** Why it cannot run here, or undefined when it can. */
  readonly unavailable?: () => string | undefined;
  readonly underLock?: boolean;
}

function traceMissing(): string | undefined {
  const dir = dataDir(undefined, process.env);
  return existsSync(join(dir, NODE_FILE)) && existsSync(join(dir, POD_FILES.default))
    ? undefined
    : `openb trace not found in ${dir} (set PHALANX_OPENB_DIR to the directory holding ${NODE_FILE})`;
}

export const BENCHES: readonly BenchSpec[] = [
  {
    name: 'plugin-prepare',
    script: 'bench/plugin-prepare.ts',
    outFlags: (dir) => ['--out', dir],
    quickFlags: ['--iterations', '100', '--warmup', '10'],
  },
  {
    name: 'extender',
    script: 'bench/extender.ts',
    outFlags: (dir) => ['--out', dir],
    quickFlags: ['--iterations', '30', '--warmup', '5'],
  },
  {
    name: 'planner',
    script: 'bench/planner.ts',
    nodeFlags: ['--expose-gc'],
    outFlags: (dir) => ['--out', dir],
    quickFlags: ['--iterations', '30', '--warmup', '5'],
  },
  {
    name: 'scheduler-memory',
    script: 'bench/scheduler-memory.ts',
    outFlags: (dir) => ['--out', dir],
    quickFlags: ['--nodes', '1000', '--no-baseline'],
  },
  {
    name: 'openb-validate',
    script: 'bench/openb-validate.ts',
    outFlags: (dir) => ['--result-dir', dir],
    quickFlags: ['--seeds', '42'],
    unavailable: traceMissing,
  },
  {
    name: 'gang-overlay',
    script: 'bench/gang-overlay.ts',
    outFlags: (dir) => ['--result-dir', dir],
    quickFlags: ['--seeds', '42'],
    unavailable: traceMissing,
  },
  {
    name: 'throughput',
    script: 'bench/throughput.ts',
    outFlags: (dir) => ['--out', dir],
    quickFlags: ['--quick'],
    underLock: true,
  },
];

// ---- reading results back (pure) --------------------------------------------------------------

export interface SummaryRow {
  readonly benchmark: string;
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  /** `met`, `missed`, or a reason the figure is absent. */
  readonly verdict: string;
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);
const met = (ok: boolean): string => (ok ? 'met' : 'missed');
const fixed = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** The newest result file of `benchmark` in `after` that was not in `before`. */
export function newResultFile(
  benchmark: string,
  before: readonly string[],
  after: readonly string[],
): string | undefined {
  const pattern = new RegExp(`^${benchmark}-\\d{4}-\\d{2}-\\d{2}-.+\\.json$`);
  const seen = new Set(before);
  const fresh = after.filter((f) => pattern.test(f) && !seen.has(f));
  // Same-day runs are numbered -2, -3 …: the longest, then last, name is the newest.
  return fresh.sort((x, y) => x.length - y.length || x.localeCompare(y)).at(-1);
}

function pluginRows(r: Json): SummaryRow[] {
  const t = obj(r.target);
  return [
    {
      benchmark: 'plugin-prepare',
      figure: `${String(t.scenario ?? 'seq-8')} prepare ${String(t.metric ?? 'p99')}`,
      value: `${fixed(num(t.valueMs), 3)} ms`,
      target: `< ${fixed(num(t.thresholdMs), 0)} ms`,
      verdict: met(t.met === true),
    },
  ];
}

/** Extender targets (scheduling issue): per-pod filter + prioritize p99 by candidate count. */
export const EXTENDER_TARGETS: Readonly<Record<string, number>> = {
  'cache-500': 1.5,
  'cache-5000': 9,
};

function extenderRows(r: Json): SummaryRow[] {
  return arr(r.scenarios).flatMap((s) => {
    const id = String(obj(obj(s).scenario).id ?? '');
    const limit = EXTENDER_TARGETS[id];
    if (limit === undefined) return [];
    const p99 = num(obj(obj(obj(s).extender).perPod).p99);
    return [
      {
        benchmark: 'extender',
        figure: `${id} filter+prioritize per pod p99`,
        value: `${fixed(p99, 3)} ms`,
        target: `<= ${limit} ms`,
        verdict: met(p99 <= limit),
      },
    ];
  });
}

export const PLANNER_TARGET_MS = 20;

function plannerRows(r: Json): SummaryRow[] {
  const gangs = arr(r.scenarios).filter((s) => String(obj(s).name).startsWith('64 pods'));
  const p99 = Math.max(...gangs.map((s) => num(obj(obj(s).summary).p99)));
  const nodes = num(obj(obj(r.input).parameters).nodes);
  return [
    {
      benchmark: 'planner',
      figure: `64-pod gang plan p99, ${fixed(nodes, 0)} nodes`,
      value: `${fixed(p99, 3)} ms`,
      target: `<= ${PLANNER_TARGET_MS} ms`,
      verdict: met(gangs.length > 0 && p99 <= PLANNER_TARGET_MS),
    },
  ];
}

function memoryRows(r: Json): SummaryRow[] {
  const t = obj(r.target);
  const nodes = num(obj(obj(r.input).parameters).nodes);
  return [
    {
      benchmark: 'scheduler-memory',
      figure: `RSS with caches + model, ${fixed(nodes, 0)} nodes`,
      value: `${fixed(num(t.heldRss) / 1e6, 0)} MB`,
      target: `<= ${fixed(num(t.rssBytes) / 1e6, 0)} MB`,
      verdict: met(t.met === true),
    },
  ];
}

function openbRows(r: Json): SummaryRow[] {
  return arr(r.rows).map((row) => {
    const x = obj(row);
    const published = String(x.published ?? x['best published'] ?? '-');
    return {
      benchmark: 'openb-validate',
      figure: `${String(x.policy)} allocation @130%`,
      value: `${String(x['ours @130'])} %`,
      target: x.policy === 'phalanx' ? `> ${published}` : `${published} ± 1.0`,
      verdict: x.result === 'PASS' ? 'met' : x.result === 'FAIL' ? 'missed' : '-',
    };
  });
}

function gangRows(r: Json): SummaryRow[] {
  const checks = arr(r.checks).map(String);
  const passed = checks.filter((c) => c.startsWith('PASS')).length;
  return [
    {
      benchmark: 'gang-overlay',
      figure: 'acceptance figures (mean over seeds)',
      value: `${passed}/${checks.length} pass`,
      target: 'all pass',
      verdict: met(r.pass === true),
    },
  ];
}

function throughputRows(r: Json): SummaryRow[] {
  const t = obj(r.target);
  const v = obj(r.variants);
  const rate = (k: string) => fixed(num(obj(v[k]).meanPodsPerSecond), 1);
  return [
    {
      benchmark: 'throughput',
      figure: `pods/s with extender / stock (${rate('b')} / ${rate('a')})`,
      value: fixed(num(r.ratio), 3),
      target: `>= ${fixed(num(t.ratio), 1)}`,
      verdict: met(t.met === true),
    },
  ];
}

const READERS: Readonly<Record<string, (result: Json) => SummaryRow[]>> = {
  'plugin-prepare': pluginRows,
  extender: extenderRows,
  planner: plannerRows,
  'scheduler-memory': memoryRows,
  'openb-validate': openbRows,
  'gang-overlay': gangRows,
  throughput: throughputRows,
};

/** The summary rows of one result file's JSON text. */
export function summaryRows(benchmark: string, json: string): SummaryRow[] {
  const reader = READERS[benchmark];
  if (reader === undefined) throw new Error(`no summary reader for benchmark ${benchmark}`);
  const rows = reader(obj(JSON.parse(json)));
  return rows.length > 0
    ? rows
    : [{ benchmark, figure: '-', value: '-', target: '-', verdict: 'no figure in result' }];
}

/** A row for a benchmark that left no result file. */
export function missingRow(benchmark: string, why: string): SummaryRow {
  return { benchmark, figure: '-', value: '-', target: '-', verdict: why };
}

export function summaryTable(rows: readonly SummaryRow[]): string {
  return formatTable(
    [
      { header: 'benchmark' },
      { header: 'figure' },
      { header: 'value', align: 'right' },
      { header: 'target' },
      { header: 'verdict' },
    ],
    rows.map((r) => [r.benchmark, r.figure, r.value, r.target, r.verdict]),
  );
}

// ---- running ----------------------------------------------------------------------------------

function hasFlock(): boolean {
  return spawnSync('flock', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The command line of one benchmark. */
export function commandOf(
  spec: BenchSpec,
  dir: string,
  quick: boolean,
  lock: boolean,
): { command: string; args: string[] } {
  const args = [
    ...(spec.nodeFlags ?? []),
    join(REPO_ROOT, spec.script),
    ...spec.outFlags(dir),
    ...(quick ? spec.quickFlags : []),
  ];
  return lock && spec.underLock === true
    ? { command: 'flock', args: [INTEGRATION_LOCK, NODE, ...args] }
    : { command: NODE, args };
}

function runOne(spec: BenchSpec, dir: string, quick: boolean, lock: boolean): SummaryRow[] {
  const why = spec.unavailable?.();
  if (why !== undefined) {
    process.stdout.write(`\n== ${spec.name}: skipped: ${why}\n`);
    return [missingRow(spec.name, `skipped: ${why}`)];
  }
  const { command, args } = commandOf(spec, dir, quick, lock);
  process.stdout.write(`\n== ${spec.name}: ${command} ${args.join(' ')}\n`);
  const before = existsSync(dir) ? readdirSync(dir) : [];
  const run = spawnSync(command, args, { cwd: REPO_ROOT, stdio: 'inherit' });
  const file = newResultFile(spec.name, before, existsSync(dir) ? readdirSync(dir) : []);
  if (file === undefined)
    return [missingRow(spec.name, `no result file (exit ${run.status ?? run.signal})`)];
  return summaryRows(spec.name, readFileSync(join(dir, file), 'utf8'));
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(
      `usage: npm run bench -- [--quick] [--out DIR] [--only ${BENCHES.map((b) => b.name).join(',')}]\n`,
    );
    return 0;
  }
  const quick = values.quick === true;
  const dir =
    values.out ??
    (quick
      ? mkdtempSync(join(tmpdir(), 'phalanx-bench-quick-'))
      : join(REPO_ROOT, 'bench', 'results'));
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !BENCHES.some((b) => b.name === n)) ?? [];
  if (unknown.length > 0)
    throw new Error(
      `--only ${unknown.join(',')}: no such benchmark; use ${BENCHES.map((b) => b.name).join(',')}`,
    );
  const lock = hasFlock();
  const rows: SummaryRow[] = [];
  for (const spec of BENCHES) {
    if (only !== undefined && !only.includes(spec.name)) continue;
    rows.push(...runOne(spec, dir, quick, lock));
  }
  process.stdout.write(
    `\nSummary (${quick ? 'quick sizes, not comparable with recorded runs' : 'default sizes'}; result files in ${dir}):\n${summaryTable(rows)}\n`,
  );
  return rows.every((r) => r.verdict === 'met' || r.verdict.startsWith('skipped')) ? 0 : 1;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
