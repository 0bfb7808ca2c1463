/**
 * `node bench/openb-validate.ts`: checks that our replay reproduces the published openb results
 * of the FGD paper (Weng et al., ATC'23; trace: Alibaba cluster-trace-gpu-v2023). Each policy is
 * replayed at 130% arrived GPU demand for seeds 42–51, as published, and its mean GPU allocation
 * ratio at 130% is compared with the published mean: PASS when within ±1.0 point.
 *
 *   --data DIR        directory holding the openb CSVs (env PHALANX_OPENB_DIR; default
 *                     ../shared/traces/openb from the project root)
 *   --trace NAME      default (openb_pod_list_default.csv) or multigpu50
 *   --all             every published baseline (default: random and best-fit)
 *   --seeds A-B       seed range (default 42-51)
 *   --phalanx         also replay our own policy, phalanx, and compare it with the best published
 *                     policy on the trace: PASS when its mean allocation at 130% is above the best
 *                     published mean and, where that policy's fragmentation at 90% arrived demand is
 *                     published, its own mean fragmentation there is below it
 *   --phalanx-only    replay phalanx alone (no baselines)
 *   --result-dir DIR  also record the run as a result file with the benchmark envelope (machine,
 *                     versions, input sha256, seeds) in DIR (e.g. bench/results) and its index
 *
 * Exit status 1 when any policy fails. Published numbers: the openb trace README beside the data
 * and the artifact's expected results (docs/simulator-method.md).
 */

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { PolicyName } from '../src/scheduling/policies/index.ts';
import { PUBLISHED_OPENB, type PublishedOpenb } from '../src/simulator/html/published.ts';
import { pointAt } from '../src/simulator/metrics.ts';
import { loadTrace, type SimulationRun, simulate } from '../src/simulator/run.ts';
import { machineInfo } from './lib/machine.ts';
import { recordRun } from './lib/record-run.ts';
import { formatTable } from './lib/table.ts';

export const PROJECT_ROOT = resolve(import.meta.dirname, '..');
export const DEFAULT_DATA_DIR = '../shared/traces/openb';
export const NODE_FILE = 'openb_node_list_gpu_node.csv';
export const TOLERANCE_POINTS = 1.0;
export const RATIO = 1.3;

export type TraceName = 'default' | 'multigpu50';

export const POD_FILES: Readonly<Record<TraceName, string>> = {
  default: 'openb_pod_list_default.csv',
  multigpu50: 'openb_pod_list_multigpu50.csv',
};

/** Published results: GPU allocation (%) at 130% and 100% arrived, fragmentation at 50/80/90%. */
export type Published = PublishedOpenb;

/** The published numbers, kept once in src/simulator/html/published.ts (reports show them too). */
export const PUBLISHED: Readonly<Record<TraceName, Partial<Record<PolicyName, Published>>>> =
  PUBLISHED_OPENB;

const DEFAULT_POLICIES: readonly PolicyName[] = ['random', 'best-fit'];
const ALL_POLICIES: readonly PolicyName[] = [
  'random',
  'dot-product',
  'gpu-clustering',
  'gpu-packing',
  'best-fit',
  'fgd',
];

/** Mean and sample standard deviation (n − 1); sd is 0 for fewer than two values. */
export function meanSd(values: readonly number[]): { mean: number; sd: number } {
  if (values.length === 0) return { mean: Number.NaN, sd: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, sd: 0 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

/** PASS when `ours` is within the tolerance of the published number. */
export function verdict(ours: number, published: number): 'PASS' | 'FAIL' {
  return Math.abs(ours - published) <= TOLERANCE_POINTS + 1e-9 ? 'PASS' : 'FAIL';
}

/** Parses `A-B` (or a single seed) into the seeds from A to B. */
export function parseSeeds(text: string): number[] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (match === null) throw new Error(`--seeds "${text}" is not a range; use e.g. 42-51`);
  const from = Number(match[1]);
  const to = Number(match[2] ?? match[1]);
  if (to < from) throw new Error(`--seeds "${text}" runs backwards; use e.g. 42-51`);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** The data directory: --data, else PHALANX_OPENB_DIR, else the default, from the project root. */
export function dataDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(PROJECT_ROOT, flag ?? env.PHALANX_OPENB_DIR ?? DEFAULT_DATA_DIR);
}

function at(run: SimulationRun, pct: number, what: 'allocationPct' | 'fragmentationPct'): number {
  return pointAt(run.series, pct)?.[what] ?? Number.NaN;
}

/** The published policy with the highest mean allocation at 130% on a trace. */
export function bestPublished(trace: TraceName): { policy: PolicyName; published: Published } {
  let best: { policy: PolicyName; published: Published } | undefined;
  for (const [policy, published] of Object.entries(PUBLISHED[trace]) as [PolicyName, Published][]) {
    if (best === undefined || published.at130 > best.published.at130) best = { policy, published };
  }
  if (best === undefined) throw new Error(`no published results for trace ${trace}`);
  return best;
}

/**
 * Our policy against the best published one: PASS when its mean allocation at 130% is above the
 * best published mean and, where that policy's fragmentation at 90% is published, its own mean
 * fragmentation at 90% is below it.
 */
export function phalanxVerdict(
  ours: { readonly at130: number; readonly frag90: number },
  best: Published,
): 'PASS' | 'FAIL' {
  const beatsAllocation = ours.at130 > best.at130;
  const bestFrag90 = best.frag?.[2];
  const beatsFragmentation = bestFrag90 === undefined || ours.frag90 < bestFrag90;
  return beatsAllocation && beatsFragmentation ? 'PASS' : 'FAIL';
}

/** The phalanx row: its allocation and fragmentation next to the best published policy's. */
export function phalanxRow(
  runs: readonly SimulationRun[],
  trace: TraceName,
): { cells: string[]; pass: boolean } {
  const best = bestPublished(trace);
  const a130 = meanSd(runs.map((r) => at(r, 130, 'allocationPct')));
  const frag = [50, 80, 90].map((p) => meanSd(runs.map((r) => at(r, p, 'fragmentationPct'))));
  const wall = meanSd(runs.map((r) => r.summary.wallMs / 1000));
  const frag90 = frag[2]?.mean ?? Number.NaN;
  const result = phalanxVerdict({ at130: a130.mean, frag90 }, best.published);
  return {
    cells: [
      'phalanx',
      fmt(a130),
      `${best.published.at130.toFixed(2)} (${best.policy})`,
      (a130.mean - best.published.at130).toFixed(2),
      frag.map((f) => f.mean.toFixed(1)).join(' / '),
      best.published.frag?.map((f) => f.toFixed(1)).join(' / ') ?? '-',
      result,
      wall.mean.toFixed(2),
    ],
    pass: result === 'PASS',
  };
}

const PHALANX_HEADERS = [
  'policy',
  'ours @130',
  'best published',
  'margin',
  'ours frag 50/80/90',
  'best pub frag 50/80/90',
  'result',
  'replay s',
].map((header, i) => ({ header, align: i === 0 ? ('left' as const) : ('right' as const) }));

const fmt = (x: { mean: number; sd: number }): string =>
  `${x.mean.toFixed(2)} ± ${x.sd.toFixed(2)}`;

/** One table row per policy: ours vs published, with the verdict on the 130% allocation. */
export function policyRow(
  policy: PolicyName,
  runs: readonly SimulationRun[],
  published: Published | undefined,
): { cells: string[]; pass: boolean } {
  const a130 = meanSd(runs.map((r) => at(r, 130, 'allocationPct')));
  const a100 = meanSd(runs.map((r) => at(r, 100, 'allocationPct')));
  const frag = [50, 80, 90].map((p) => meanSd(runs.map((r) => at(r, p, 'fragmentationPct'))));
  const wall = meanSd(runs.map((r) => r.summary.wallMs / 1000));
  const result = published === undefined ? '-' : verdict(a130.mean, published.at130);
  return {
    cells: [
      policy,
      fmt(a130),
      published === undefined ? '-' : published.at130.toFixed(2),
      published === undefined ? '-' : (a130.mean - published.at130).toFixed(2),
      result,
      fmt(a100),
      published?.at100?.toFixed(1) ?? '-',
      frag.map((f) => f.mean.toFixed(1)).join(' / '),
      published?.frag?.map((f) => f.toFixed(1)).join(' / ') ?? '-',
      wall.mean.toFixed(2),
    ],
    pass: result !== 'FAIL',
  };
}

const HEADERS = [
  'policy',
  'ours @130',
  'published',
  'diff',
  'result',
  'ours @100',
  'pub @100',
  'ours frag 50/80/90',
  'pub frag 50/80/90',
  'replay s',
].map((header, i) => ({ header, align: i === 0 ? ('left' as const) : ('right' as const) }));

function usageText(): string {
  return `usage: node bench/openb-validate.ts [--data DIR] [--trace default|multigpu50] [--all] [--seeds 42-51] [--phalanx | --phalanx-only] [--result-dir DIR]\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      data: { type: 'string' },
      trace: { type: 'string', default: 'default' },
      all: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '42-51' },
      phalanx: { type: 'boolean', default: false },
      'phalanx-only': { type: 'boolean', default: false },
      'result-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usageText());
    return 0;
  }
  const trace = values.trace as TraceName;
  if (!Object.hasOwn(POD_FILES, trace)) {
    throw new Error(`--trace "${values.trace}" is unknown; use default or multigpu50`);
  }
  const dir = dataDir(values.data, process.env);
  const nodesPath = join(dir, NODE_FILE);
  const podsPath = join(dir, POD_FILES[trace]);
  if (!existsSync(nodesPath) || !existsSync(podsPath)) {
    throw new Error(
      `openb data not found in ${dir}; pass --data DIR or set PHALANX_OPENB_DIR to the directory holding ${NODE_FILE} and ${POD_FILES[trace]}`,
    );
  }
  const seeds = parseSeeds(values.seeds);
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  const phalanxOnly = values['phalanx-only'] === true;
  const policies = phalanxOnly ? [] : values.all === true ? ALL_POLICIES : DEFAULT_POLICIES;
  const data = loadTrace(nodesPath, podsPath);
  process.stdout.write(
    `openb ${trace}: ${data.pods.rows.length} pods (sha256 ${data.pods.sha256.slice(0, 12)}…), ${data.nodes.rows.length} nodes; ratio ${RATIO}; seeds ${seeds[0]}–${seeds.at(-1)}\n`,
  );
  const rows: string[][] = [];
  const recorded: Record<string, string>[] = [];
  let allPass = true;
  for (const policy of policies) {
    const runs = seeds.map((seed) => simulate(data, { policy, seed, ratio: RATIO }));
    const row = policyRow(policy, runs, PUBLISHED[trace][policy]);
    process.stderr.write(`${policy}: ${runs.length} replays done\n`);
    rows.push(row.cells);
    recorded.push(cellsByHeader(HEADERS, row.cells));
    allPass &&= row.pass;
  }
  if (rows.length > 0) {
    process.stdout.write(`${formatTable(HEADERS, rows)}\n`);
    process.stdout.write(
      `GPU allocation (%) at 130% arrived demand, mean ± sd over ${seeds.length} seeds; PASS within ±${TOLERANCE_POINTS.toFixed(1)} point of the published mean.\n`,
    );
  }
  if (phalanxOnly || values.phalanx === true) {
    const runs = seeds.map((seed) => simulate(data, { policy: 'phalanx', seed, ratio: RATIO }));
    process.stderr.write(`phalanx: ${runs.length} replays done\n`);
    const row = phalanxRow(runs, trace);
    process.stdout.write(`${formatTable(PHALANX_HEADERS, [row.cells])}\n`);
    recorded.push(cellsByHeader(PHALANX_HEADERS, row.cells));
    process.stdout.write(
      `phalanx PASS: mean allocation at 130% above the best published mean and, where published, mean fragmentation at 90% below that policy's.\n`,
    );
    allPass &&= row.pass;
  }
  const resultDir = values['result-dir'];
  if (resultDir !== undefined) {
    const path = recordRun({
      benchmark: 'openb-validate',
      dir: resultDir,
      startedAt,
      machineAtStart,
      description: `openb ${trace} replay at ${RATIO * 100}% arrived GPU demand, mean over seeds, against the published FGD-paper numbers`,
      parameters: {
        trace: POD_FILES[trace],
        podsSha256: data.pods.sha256,
        nodes: NODE_FILE,
        ratio: RATIO,
        seeds,
        policies,
        phalanx: phalanxOnly || values.phalanx === true,
        tolerancePoints: TOLERANCE_POINTS,
      },
      seed: seeds[0] ?? null,
      notes: [
        'Placement quality, not speed; replay s is wall time per replay on this machine.',
        `PASS: within ±${TOLERANCE_POINTS} point of the published mean at 130%; phalanx PASS: above the best published mean (and below its fragmentation at 90% where published).`,
      ],
      body: { rows: recorded, pass: allPass },
      headline: `${trace}, seeds ${seeds[0]}–${seeds.at(-1)}: ${recorded.map((r) => `${r.policy} ${r['ours @130']} (${r.result})`).join('; ')}`,
    });
    process.stdout.write(`recorded ${path}\n`);
  }
  return allPass ? 0 : 1;
}

/** A table row as an object keyed by the column headers (what the result file records). */
export function cellsByHeader(
  headers: readonly { readonly header: string }[],
  cells: readonly string[],
): Record<string, string> {
  return Object.fromEntries(headers.map((h, i) => [h.header, cells[i] ?? '']));
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`openb-validate: ${error instanceof Error ? error.message : error}\n`);
    process.exitCode = 2;
  }
}
