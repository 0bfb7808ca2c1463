/**
 * Planner benchmark: whole-gang planning latency and model memory on a large synthetic cluster.
 *
 *   npm run bench:planner -- [--nodes 5000] [--iterations 200] [--warmup 20] [--no-record]
 *
 * Builds the model the live planner builds (nodes + the ResourceSlices our driver publishes for
 * sxm8-80g nodes: 8 GPUs and every partition placement, counters included), fills it to about
 * half with single-node gangs placed by the planner itself (seeded), then times plan + release of
 * a 64-pod gang (1 GPU per pod, and 8 GPUs per pod rack-preferred). Baseline in the same run: one
 * scan over every node computing how many pods fit (the least work any whole-gang planner does).
 * Memory: RSS after a forced GC with the API objects alive, and with only the model left.
 */

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterModel } from '../src/scheduling/cluster.ts';
import {
  fitCount,
  type GangMember,
  GangPlanner,
  type GangRequest,
} from '../src/scheduling/gang.ts';
import type { PodShape } from '../src/scheduling/node-view.ts';
import { policyContext } from '../src/scheduling/place.ts';
import { policyByName } from '../src/scheduling/policies/index.ts';
import type { ClusterObjects } from '../src/scheduling/round-types.ts';
import { buildSnapshot, type Snapshot } from '../src/scheduling/snapshot.ts';
import { intFlag } from './lib/args.ts';
import { machineInfo, shortHostName } from './lib/machine.ts';
import { describeInput, formatWithBiome, resultEnvelope, writeResult } from './lib/record.ts';
import { roundSummary, type Summary, summarize } from './lib/stats.ts';
import { syntheticCluster } from './lib/synthetic-cluster.ts';
import { formatMs, formatTable } from './lib/table.ts';

const BENCHMARK = 'planner';
const REPO_ROOT = resolve(import.meta.dirname, '..');
const SEED = 42;
const GiB = 2 ** 30;

interface Options {
  nodes: number;
  iterations: number;
  warmup: number;
  fill: number;
  record: boolean;
  out: string;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string' },
      iterations: { type: 'string' },
      warmup: { type: 'string' },
      'fill-percent': { type: 'string' },
      out: { type: 'string' },
      'no-record': { type: 'boolean' },
    },
  });
  return {
    nodes: intFlag('nodes', values.nodes, 5000, 1),
    iterations: intFlag('iterations', values.iterations, 200, 1),
    warmup: intFlag('warmup', values.warmup, 20, 0),
    fill: intFlag('fill-percent', values['fill-percent'], 50, 0) / 100,
    record: values['no-record'] !== true,
    out: values.out ?? resolve(REPO_ROOT, 'bench', 'results'),
  };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pod = (gpus: number): PodShape => ({
  cpuMilli: 8000 * gpus,
  memoryBytes: 64 * GiB * gpus,
  gpuCount: gpus,
  gpuMilli: 1000,
  gpuModels: [],
});

function gang(id: string, size: number, gpus: number, preferred?: string): GangRequest {
  const members: GangMember[] = Array.from({ length: size }, (_, i) => ({
    id: `${id}-${i}`,
    shape: pod(gpus),
  }));
  return { id, members, preferred };
}

/** RSS and V8 heap in use, MiB, after a full GC (RSS keeps pages V8 has not returned yet). */
function memory(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 };
}

const mib = (m: { rss: number; heap: number }) =>
  `RSS ${m.rss.toFixed(0)} / heap ${m.heap.toFixed(0)} MiB`;

/** Places single-node gangs of 1, 2, 4 or 8 GPUs until `fill` of all GPUs is taken. */
function fillCluster(
  model: ClusterModel,
  planner: GangPlanner,
  fill: number,
  random: () => number,
): number {
  let placed = 0;
  const sizes = [1, 2, 4, 8];
  let misses = 0;
  while (model.gpuMilliAllocated() < fill * model.gpuMilliTotal && misses < 100) {
    const gpus = sizes[Math.floor(random() * sizes.length)] ?? 1;
    const r = planner.plan(gang(`fill-${placed}`, 1, gpus));
    if (r.kind === 'planned') placed++;
    else misses++;
  }
  return placed;
}

function time(iterations: number, warmup: number, fn: () => void): Summary {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return summarize(samples);
}

interface Scenario {
  name: string;
  summary: Summary;
  outcome: string;
}

function measure(opts: Options, snap: Snapshot) {
  const model: ClusterModel = snap.model;
  const random = rng(SEED);
  const ctx = policyContext(model, random);
  const planner = new GangPlanner(model, snap.tree, policyByName('best-fit'), ctx);
  const filled = fillCluster(model, planner, opts.fill, random);
  const scenarios: Scenario[] = [];
  const cases: [string, GangRequest][] = [
    ['64 pods x 1 GPU', gang('bench-a', 64, 1)],
    ['64 pods x 8 GPUs, rack preferred', gang('bench-b', 64, 8, 'rack')],
  ];
  const scanShape = pod(1);
  scenarios.push({
    name: 'baseline: fit scan over all nodes',
    summary: time(opts.iterations, opts.warmup, () => {
      let total = 0;
      for (const n of model.nodes) total += fitCount(n, scanShape);
      if (total < 0) throw new Error('unreachable');
    }),
    outcome: '-',
  });
  for (const [name, request] of cases) {
    let outcome = '';
    const summary = time(opts.iterations, opts.warmup, () => {
      const r = planner.plan(request);
      if (r.kind === 'planned') {
        outcome = `planned in ${r.level}${r.note === undefined ? '' : ' (preferred level not met)'}`;
        planner.release(r);
      } else {
        outcome = `waiting: ${r.reason}`;
      }
    });
    scenarios.push({ name, summary, outcome });
  }
  return { scenarios, filled, model };
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  const rssStart = memory();
  let objects: ClusterObjects | undefined = syntheticCluster({
    nodes: opts.nodes,
    profile: 'sxm8-80g',
    nodesPerRack: 16,
    racksPerBlock: 8,
    serverMinor: 36,
  });
  const devices = objects.slices.reduce((s, x) => s + (x.spec.devices?.length ?? 0), 0);
  const rssObjects = memory();
  const t0 = performance.now();
  const snap = buildSnapshot(objects, { now: Date.now() });
  const buildMs = performance.now() - t0;
  objects = undefined;
  const rssModel = memory();
  const m = measure(opts, snap);
  const rows = m.scenarios.map((s) => [
    s.name,
    formatMs(s.summary.p50),
    formatMs(s.summary.p99),
    formatMs(s.summary.max),
    s.outcome,
  ]);
  const base = m.scenarios[0]?.summary.p50 ?? 1;
  process.stdout.write(
    `${BENCHMARK}: ${opts.nodes} nodes (sxm8-80g, ${devices} devices incl. partitions), ${m.filled} gangs pre-placed (${((100 * m.model.gpuMilliAllocated()) / m.model.gpuMilliTotal).toFixed(1)}% of GPUs), ${opts.iterations} iterations; ${machineAtStart.cpuCount} × ${machineAtStart.cpuModel}\n`,
  );
  process.stdout.write(
    `${formatTable(
      [
        { header: 'scenario', align: 'left' },
        { header: 'p50', align: 'right' },
        { header: 'p99', align: 'right' },
        { header: 'max', align: 'right' },
        { header: 'result', align: 'left' },
      ],
      rows,
    )}\n`,
  );
  for (const s of m.scenarios.slice(1)) {
    process.stdout.write(
      `  ${s.name}: p50 ${(s.summary.p50 / base).toFixed(1)}x the baseline scan\n`,
    );
  }
  process.stdout.write(
    `memory: ${mib(rssStart)} at start, ${mib(rssObjects)} with the API objects, ${mib(rssModel)} with the model only (objects dropped, before the fill); model build ${buildMs.toFixed(0)} ms\n`,
  );
  if (!opts.record) return;
  const host = shortHostName(machineAtStart.hostname);
  const result = {
    ...resultEnvelope({
      benchmark: BENCHMARK,
      root: REPO_ROOT,
      startedAt,
      machineAtStart,
      packages: [],
      input: describeInput(
        'synthetic sxm8-80g cluster (16 nodes per rack, 8 racks per block), slices from the real slice builder (1.36 split layout), filled with seeded single-node gangs by the best-fit policy',
        { nodes: opts.nodes, fill: opts.fill, iterations: opts.iterations, warmup: opts.warmup },
        SEED,
      ),
      notes: [
        'Latency of GangPlanner.plan followed by release of the same plan, in process; times in ms, percentiles by nearest rank.',
        'RSS measured after global.gc() (node --expose-gc).',
      ],
    }),
    scenarios: m.scenarios.map((s) => ({
      name: s.name,
      summary: roundSummary(s.summary),
      outcome: s.outcome,
    })),
    memoryMiB: { start: rssStart, withObjects: rssObjects, modelOnly: rssModel },
    devices,
  };
  const p99 = m.scenarios.map((s) => s.summary.p99.toFixed(2)).join(' / ');
  const path = writeResult(
    opts.out,
    result,
    host,
    `${opts.nodes} nodes: p99 ms (scan / 64x1 / 64x8) ${p99}; model heap ${rssModel.heap.toFixed(0)} MiB, RSS ${rssModel.rss.toFixed(0)} MiB`,
    (paths) => formatWithBiome(REPO_ROOT, paths),
  );
  process.stdout.write(`recorded ${path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${BENCHMARK}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
