/**
 * `node bench/gang-overlay.ts`: the gang scheduling acceptance run. The openb trace
 * (openb_pod_list_default, Alibaba cluster-trace-gpu-v2023; Weng et al., ATC'23) is turned into
 * gangs by the synthetic gang overlay (src/simulator/overlay.ts, docs/simulator-workloads.md), and
 * each seed's workload is run by Phalanx and by the fifo-first-fit baseline. Printed per seed and
 * over all seeds: partial gangs and double allocations (invariants checked after every step),
 * rack locality of multi-node gangs, mean queueing delay and makespan against the baseline, and
 * each queue's share against its weight (src/simulator/acceptance.ts).
 *
 *   --data DIR       directory holding the openb CSVs (env PHALANX_OPENB_DIR; default
 *                    ../shared/traces/openb from the project root)
 *   --seeds A-B      overlay seeds (default 42-44)
 *   --load X         offered load inside the arrival window (default 1.0)
 *   --demand X       requested GPUs as a multiple of the cluster's (default 1.3)
 *   --policy NAME    phalanx's placement policy (default: the live planner's)
 *   --out FILE       also write every run's metrics and the figures as JSON
 *   --result-dir DIR also record the run as a result file with the benchmark envelope (machine,
 *                    versions, input sha256, seeds) in DIR (e.g. bench/results) and its index
 *
 * Exit status 1 when a figure does not hold on the mean over seeds (per-seed misses are shown).
 * Every line of output says "synthetic gang overlay" next to the trace name.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_LIVE_POLICY } from '../src/scheduling/planner.ts';
import { type Acceptance, acceptance } from '../src/simulator/acceptance.ts';
import { type GangRunResult, runGangSimulation } from '../src/simulator/gang-run.ts';
import { readNodeCsv, readPodCsv } from '../src/simulator/openb.ts';
import {
  DEFAULT_OVERLAY_DEMAND,
  DEFAULT_OVERLAY_LOAD,
  gangOverlay,
  OVERLAY_LABEL,
  type OverlayStats,
} from '../src/simulator/overlay.ts';
import { machineInfo } from './lib/machine.ts';
import { recordRun } from './lib/record-run.ts';
import { formatTable } from './lib/table.ts';
import {
  cellsByHeader,
  dataDir,
  meanSd,
  NODE_FILE,
  POD_FILES,
  parseSeeds,
} from './openb-validate.ts';

const TRACE = 'openb_pod_list_default';

export interface SeedResult {
  readonly seed: number;
  readonly overlay: OverlayStats;
  readonly phalanx: GangRunResult;
  readonly fifo: GangRunResult;
  readonly acceptance: Acceptance;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

function seedRow(r: SeedResult): string[] {
  const f = r.acceptance.figures;
  return [
    String(r.seed),
    String(r.phalanx.metrics.gangs),
    `${f.partialGangs} / ${r.fifo.metrics.partialGangsSeen}`,
    pct(f.withinRackWhenOpen),
    pct(f.withinRackWhenRoom),
    `${f.delayPhalanxS.toFixed(1)} / ${f.delayFifoS.toFixed(1)}`,
    pct(f.delayReduction),
    f.makespanRatio.toFixed(3),
    pct(f.worstShareGap),
    r.acceptance.pass ? 'PASS' : 'MISS',
    `${(r.phalanx.wallMs / 1000).toFixed(0)} / ${(r.fifo.wallMs / 1000).toFixed(0)}`,
  ];
}

const COLUMNS = [
  'seed',
  'gangs',
  'partial ph/fifo',
  'rack (open)',
  'rack (all)',
  'delay s ph/fifo',
  'delay cut',
  'makespan ×',
  'share gap',
  'all',
  'wall s ph/fifo',
].map((header, i) => ({ header, align: i === 0 ? ('left' as const) : ('right' as const) }));

/** The mean figures over seeds, judged as one run would be. */
function meanChecks(results: readonly SeedResult[]): { lines: string[]; pass: boolean } {
  const fig = (pick: (a: Acceptance['figures']) => number) =>
    meanSd(results.map((r) => pick(r.acceptance.figures)));
  const partial = results.reduce((s, r) => s + r.acceptance.figures.partialGangs, 0);
  const rack = fig((f) => f.withinRackWhenOpen);
  const rackAll = fig((f) => f.withinRackWhenRoom);
  const cut = fig((f) => f.delayReduction);
  const makespan = fig((f) => f.makespanRatio);
  const gap = fig((f) => f.worstShareGap);
  const checks: [string, boolean][] = [
    [
      `partial gangs under phalanx: ${partial} (double allocations: 0; the ledger is recounted after every step and any violation stops the run)`,
      partial === 0,
    ],
    [
      `multi-node gangs in one rack when a rack had room outside reservations: ${pct(rack.mean)} ± ${pct(rack.sd)} (target ≥ 95%); counting reserved room too: ${pct(rackAll.mean)} ± ${pct(rackAll.sd)}`,
      rack.mean >= 0.95,
    ],
    [
      `mean queueing delay below fifo-first-fit by ${pct(cut.mean)} ± ${pct(cut.sd)} (target ≥ 20%)`,
      cut.mean >= 0.2,
    ],
    [
      `makespan / fifo-first-fit's: ${makespan.mean.toFixed(3)} ± ${makespan.sd.toFixed(3)} (target ≤ 1.05)`,
      makespan.mean <= 1.05,
    ],
    [
      `worst queue share gap from its weight: ${pct(gap.mean)} ± ${pct(gap.sd)} (target ≤ 10%)`,
      gap.mean <= 0.1,
    ],
  ];
  return {
    lines: checks.map(([text, ok]) => `${ok ? 'PASS' : 'MISS'}  ${text}`),
    pass: checks.every(([, ok]) => ok),
  };
}

function usageText(): string {
  return 'usage: node bench/gang-overlay.ts [--data DIR] [--seeds 42-44] [--load 1] [--demand 1.3] [--policy best-fit] [--out FILE] [--result-dir DIR]\n';
}

function numberFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`--${name} "${text}" must be a number above 0`);
  return value;
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      data: { type: 'string' },
      seeds: { type: 'string', default: '42-44' },
      load: { type: 'string' },
      demand: { type: 'string' },
      policy: { type: 'string', default: DEFAULT_LIVE_POLICY },
      out: { type: 'string' },
      'result-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(usageText());
    return 0;
  }
  const dir = dataDir(values.data, process.env);
  const nodesPath = join(dir, NODE_FILE);
  const podsPath = join(dir, POD_FILES.default);
  if (!existsSync(nodesPath) || !existsSync(podsPath)) {
    throw new Error(
      `openb data not found in ${dir}; pass --data DIR or set PHALANX_OPENB_DIR to the directory holding ${NODE_FILE} and ${POD_FILES.default}`,
    );
  }
  const load = numberFlag('load', values.load, DEFAULT_OVERLAY_LOAD);
  const demand = numberFlag('demand', values.demand, DEFAULT_OVERLAY_DEMAND);
  const nodes = readNodeCsv(nodesPath);
  const pods = readPodCsv(podsPath);
  const seeds = parseSeeds(values.seeds);
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  process.stdout.write(
    `${TRACE} (${OVERLAY_LABEL}): ${pods.rows.length} trace pods (sha256 ${pods.sha256.slice(0, 12)}…), ${nodes.rows.length} nodes; load ${load}, demand ${demand}; seeds ${seeds[0]}–${seeds.at(-1)}; phalanx placement ${values.policy}\n`,
  );
  const results: SeedResult[] = [];
  for (const seed of seeds) {
    const { workload, stats } = gangOverlay(nodes.rows, pods.rows, {
      seed,
      trace: TRACE,
      load,
      demand,
    });
    const phalanx = runGangSimulation(workload, {
      scheduler: 'phalanx',
      policy: values.policy,
      seed,
    });
    const fifo = runGangSimulation(workload, { scheduler: 'fifo-first-fit', seed });
    const result = { seed, overlay: stats, phalanx, fifo, acceptance: acceptance(phalanx, fifo) };
    results.push(result);
    process.stderr.write(`seed ${seed}: ${stats.gangs} gangs (${OVERLAY_LABEL}) done\n`);
  }
  process.stdout.write(`${formatTable(COLUMNS, results.map(seedRow))}\n\n`);
  const mean = meanChecks(results);
  process.stdout.write(
    `${TRACE} (${OVERLAY_LABEL}), mean over ${results.length} seeds:\n${mean.lines.join('\n')}\n`,
  );
  if (values.out !== undefined) {
    const file = resolve(values.out);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      file,
      `${JSON.stringify({ trace: `${TRACE} (${OVERLAY_LABEL})`, load, demand, policy: values.policy, results }, null, 2)}\n`,
    );
    process.stderr.write(`wrote ${file}\n`);
  }
  const resultDir = values['result-dir'];
  if (resultDir !== undefined) {
    const path = recordRun({
      benchmark: 'gang-overlay',
      dir: resultDir,
      startedAt,
      machineAtStart,
      description: `${TRACE} turned into gangs by the ${OVERLAY_LABEL}; phalanx against fifo-first-fit per seed`,
      parameters: {
        trace: TRACE,
        podsSha256: pods.sha256,
        load,
        demand,
        policy: values.policy,
        seeds,
      },
      seed: seeds[0] ?? null,
      notes: [`Every figure is on the ${OVERLAY_LABEL} of the trace.`],
      body: {
        seeds: results.map((r) => cellsByHeader(COLUMNS, seedRow(r))),
        checks: mean.lines,
        pass: mean.pass,
      },
      headline: `${TRACE} (${OVERLAY_LABEL}), seeds ${seeds[0]}–${seeds.at(-1)}: ${mean.pass ? 'all figures PASS' : 'a figure MISSES'}`,
    });
    process.stdout.write(`recorded ${path}\n`);
  }
  return mean.pass ? 0 : 1;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`gang-overlay: ${error instanceof Error ? error.message : error}\n`);
    process.exitCode = 2;
  }
}
