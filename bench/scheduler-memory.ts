/**
 * Scheduler memory benchmark: what the live `phalanx scheduler` process holds with a large GPU
 * cluster in its caches, with the caches compacted (as shipped) and as received (baseline).
 *
 *   node bench/scheduler-memory.ts [--nodes 5000] [--slice-page-size 10] [--node-page-size 50]
 *        [--profile sxm8-80g]
 *        [--node-flags="<flags>"] [--no-runtime-env] [--settle-seconds 20] [--no-baseline]
 *        [--out DIR] [--no-record]
 *
 * Each variant runs in a fresh child process (`lib/scheduler-memory-child.ts`) that loads the
 * scheduler program's modules, streams the cluster's Nodes (kubelet-sized) and ResourceSlices
 * (from the real slice builder) through the scheduler's own caches in parsed batches of the list
 * page sizes (default: the ones the scheduler uses, COMPACTED_PAGE_SIZE in src/kube/informer.ts), builds the core's snapshot and holds it. Memory is read after a full GC at each
 * step, and once more after a GC that also returns V8's pooled pages to the OS.
 * The children run as the shipped process does: with the Node flags and environment of
 * SCHEDULER_RUNTIME (src/config/scheduler.ts) — `--node-flags=` (empty) or other flags and
 * `--no-runtime-env` measure without them. The target is judged on the process at rest:
 * `--settle-seconds` after the model was built (default 20), as a running scheduler sits between
 * events.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SCHEDULER_RUNTIME } from '../src/config/scheduler.ts';
import { COMPACTED_PAGE_SIZE } from '../src/kube/informer.ts';
import { NodeCompactor } from '../src/kube/node-compaction.ts';
import { SliceCompactor } from '../src/kube/slice-compaction.ts';
import { intFlag } from './lib/args.ts';
import { kubeletNode } from './lib/kubelet-node.ts';
import { machineInfo, shortHostName } from './lib/machine.ts';
import { describeInput, formatWithBiome, resultEnvelope, writeResult } from './lib/record.ts';
import type { ChildReport, MemoryReading } from './lib/scheduler-memory-child.ts';
import { syntheticNode, syntheticNodeSlices } from './lib/synthetic-cluster.ts';
import { formatTable } from './lib/table.ts';

const BENCHMARK = 'scheduler-memory';
const REPO_ROOT = resolve(import.meta.dirname, '..');
const CHILD = resolve(import.meta.dirname, 'lib', 'scheduler-memory-child.ts');
/** The issue's target for the whole process: 150 MB (decimal). */
const TARGET_BYTES = 150e6;
const MiB = 2 ** 20;

interface Options {
  nodes: number;
  slicePageSize: number;
  nodePageSize: number;
  profile: string;
  nodeFlags: string[];
  runtimeEnv: boolean;
  settleSeconds: number;
  baseline: boolean;
  record: boolean;
  out: string;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      nodes: { type: 'string' },
      'slice-page-size': { type: 'string' },
      'node-page-size': { type: 'string' },
      profile: { type: 'string' },
      'node-flags': { type: 'string' },
      'no-runtime-env': { type: 'boolean' },
      'settle-seconds': { type: 'string' },
      'no-baseline': { type: 'boolean' },
      out: { type: 'string' },
      'no-record': { type: 'boolean' },
    },
  });
  return {
    nodes: intFlag('nodes', values.nodes, 5000, 1),
    slicePageSize: intFlag(
      'slice-page-size',
      values['slice-page-size'],
      COMPACTED_PAGE_SIZE.resourceslices,
      1,
    ),
    nodePageSize: intFlag('node-page-size', values['node-page-size'], COMPACTED_PAGE_SIZE.nodes, 1),
    profile: values.profile ?? 'sxm8-80g',
    nodeFlags:
      values['node-flags'] === undefined
        ? [...SCHEDULER_RUNTIME.nodeFlags]
        : values['node-flags'].split(/\s+/).filter((f) => f !== ''),
    runtimeEnv: values['no-runtime-env'] !== true,
    settleSeconds: intFlag('settle-seconds', values['settle-seconds'], 20, 0),
    baseline: values['no-baseline'] !== true,
    record: values['no-record'] !== true,
    out: values.out ?? resolve(REPO_ROOT, 'bench', 'results'),
  };
}

function runChild(opts: Options, mode: ChildReport['mode']): ChildReport {
  const args = [
    '--expose-gc',
    ...opts.nodeFlags,
    CHILD,
    '--mode',
    mode,
    '--nodes',
    String(opts.nodes),
    '--slice-page-size',
    String(opts.slicePageSize),
    '--node-page-size',
    String(opts.nodePageSize),
    '--profile',
    opts.profile,
    '--settle-seconds',
    String(opts.settleSeconds),
  ];
  const out = execFileSync(process.execPath, args, {
    cwd: REPO_ROOT,
    env: opts.runtimeEnv ? { ...process.env, ...SCHEDULER_RUNTIME.env } : process.env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * MiB,
  });
  const line = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as ChildReport;
}

/** Median time per object of compacting parsed objects with a fresh compactor, µs. */
function compactionCost(opts: Options): { sliceUs: number; nodeUs: number } {
  const spec = { ...opts, nodesPerRack: 16, racksPerBlock: 8, serverMinor: 36 };
  const count = Math.min(opts.nodes, 250);
  const sliceText = JSON.stringify(
    Array.from({ length: count }, (_, i) => syntheticNodeSlices(spec, i)).flat(),
  );
  const nodeText = JSON.stringify(
    Array.from({ length: count }, (_, i) => {
      const node = syntheticNode(spec, i);
      return kubeletNode({ name: node.metadata.name ?? '', index: i, labels: {} });
    }),
  );
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const slices: number[] = [];
  const nodes: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const parsedSlices = JSON.parse(sliceText) as Parameters<SliceCompactor['compact']>[0][];
    const sc = new SliceCompactor();
    let t = performance.now();
    for (const s of parsedSlices) sc.compact(s);
    slices.push(((performance.now() - t) * 1000) / parsedSlices.length);
    const parsedNodes = JSON.parse(nodeText) as Parameters<NodeCompactor['compact']>[0][];
    const nc = new NodeCompactor();
    t = performance.now();
    for (const n of parsedNodes) nc.compact(n);
    nodes.push(((performance.now() - t) * 1000) / parsedNodes.length);
  }
  return { sliceUs: median(slices), nodeUs: median(nodes) };
}

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

function reading(report: ChildReport | undefined, step: string): MemoryReading | undefined {
  return report?.readings.find((r) => r.step === step);
}

/** The process at rest: after the settle time when there is one, else right after the model build. */
function atRest(report: ChildReport | undefined): MemoryReading | undefined {
  return report?.readings
    .filter((r) => r.step.startsWith('model') && !r.step.includes('pooled'))
    .at(-1);
}

function table(compact: ChildReport, full: ChildReport | undefined): string {
  const cells = (r: MemoryReading | undefined): string[] =>
    r === undefined
      ? ['-', '-', '-', '-']
      : [mib(r.rss), mib(r.heapUsed), mib(r.heapTotal), mib(r.external)];
  const rows = compact.readings.map((r) => [
    r.step,
    ...cells(r),
    ...(full === undefined ? [] : cells(reading(full, r.step))),
  ]);
  const side = (label: string) => [
    { header: `${label} RSS`, align: 'right' as const },
    { header: 'heap used', align: 'right' as const },
    { header: 'heap total', align: 'right' as const },
    { header: 'external', align: 'right' as const },
  ];
  return formatTable(
    [
      { header: 'step (MiB after a full GC)', align: 'left' },
      ...side('compacted'),
      ...(full === undefined ? [] : side('as received')),
    ],
    rows,
  );
}

function summaryLines(compact: ChildReport, full: ChildReport | undefined): string[] {
  const held = atRest(compact);
  const released = reading(compact, 'model, pooled pages released');
  const caches = reading(compact, 'caches');
  const modules = reading(compact, 'modules');
  const lines: string[] = [];
  if (
    held !== undefined &&
    released !== undefined &&
    caches !== undefined &&
    modules !== undefined
  ) {
    const verdict = held.rss <= TARGET_BYTES ? 'met' : 'missed';
    lines.push(
      `target: RSS ${(held.rss / 1e6).toFixed(0)} MB at rest (${held.step}) with the caches and the model held (target <= 150 MB): ${verdict}; ${(released.rss / 1e6).toFixed(0)} MB once V8 returns its pooled pages; peak ${(held.peakRss / 1e6).toFixed(0)} MB`,
      `caches hold ${mib(caches.heapUsed - modules.heapUsed)} MiB of heap; the model ${mib(held.heapUsed - caches.heapUsed)} MiB of heap + ${mib(held.external - caches.external)} MiB of typed arrays; the program's modules ${mib(modules.heapUsed)} MiB of heap, ${mib(modules.rss)} MiB RSS before any object`,
    );
  }
  const fullCaches = reading(full, 'caches');
  const fullModules = reading(full, 'modules');
  if (
    caches !== undefined &&
    modules !== undefined &&
    fullCaches !== undefined &&
    fullModules !== undefined
  ) {
    const a = caches.heapUsed - modules.heapUsed;
    const b = fullCaches.heapUsed - fullModules.heapUsed;
    lines.push(
      `compaction: caches ${mib(b)} -> ${mib(a)} MiB of heap (${(b / Math.max(a, 1)).toFixed(0)}x smaller); model build ${full?.buildMs.toFixed(0)} -> ${compact.buildMs.toFixed(0)} ms`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  const compact = runChild(opts, 'compact');
  const full = opts.baseline ? runChild(opts, 'full') : undefined;
  const cost = compactionCost(opts);
  const flags = `${opts.nodeFlags.length === 0 ? 'no Node flags' : opts.nodeFlags.join(' ')}${
    opts.runtimeEnv
      ? ` ${Object.entries(SCHEDULER_RUNTIME.env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`
      : ''
  }`;
  process.stdout.write(
    `${BENCHMARK}: ${compact.nodes} nodes (${opts.profile}, ${compact.devices} devices incl. partitions in ${compact.slices} slices, kubelet-sized Node objects), list pages of ${opts.slicePageSize} slices / ${opts.nodePageSize} nodes, ${flags}; ${machineAtStart.cpuCount} × ${machineAtStart.cpuModel}\n`,
  );
  process.stdout.write(`${table(compact, full)}\n`);
  for (const line of summaryLines(compact, full)) process.stdout.write(`${line}\n`);
  process.stdout.write(
    `compaction cost: ${cost.sliceUs.toFixed(1)} µs per slice, ${cost.nodeUs.toFixed(1)} µs per node; intern table ${JSON.stringify(compact.intern)}\n`,
  );
  if (!opts.record) return;
  const held = atRest(compact);
  const released = reading(compact, 'model, pooled pages released');
  const result = {
    ...resultEnvelope({
      benchmark: BENCHMARK,
      root: REPO_ROOT,
      startedAt,
      machineAtStart,
      packages: ['@kubernetes/client-node'],
      input: describeInput(
        'synthetic cluster: N nodes of one fake GPU profile (16 per rack, 8 racks per block), ResourceSlices from the real slice builder (1.36 split layout), kubelet-sized Node objects (bench/lib/kubelet-node.ts), streamed through ClusterInformers in parsed batches',
        {
          nodes: opts.nodes,
          profile: opts.profile,
          slicePageSize: opts.slicePageSize,
          nodePageSize: opts.nodePageSize,
          nodeFlags: opts.nodeFlags,
          env: opts.runtimeEnv ? SCHEDULER_RUNTIME.env : {},
          settleSeconds: opts.settleSeconds,
        },
        null,
      ),
      notes: [
        'Each variant ran in a fresh child process (node --expose-gc plus nodeFlags) that loaded src/cmd/scheduler.ts and its modules, as the live process does.',
        'Readings are process.memoryUsage() and /proc/self/status after a full GC; the last one after a GC that also returns pooled pages (V8 does that only under memory pressure). Bytes.',
        'The synthetic cluster has no pods, claims or queues; a live cluster adds those caches.',
      ],
    }),
    target: {
      rssBytes: TARGET_BYTES,
      heldStep: held?.step ?? null,
      heldRss: held?.rss ?? null,
      releasedRss: released?.rss ?? null,
      met: held !== undefined && held.rss <= TARGET_BYTES,
    },
    compact,
    full: full ?? null,
    compactionCost: cost,
  };
  const host = shortHostName(machineAtStart.hostname);
  const path = writeResult(
    opts.out,
    result,
    host,
    `${compact.nodes} nodes ${opts.profile}, ${flags}: RSS ${mib(held?.rss ?? 0)} MiB at rest with caches + model (${mib(released?.rss ?? 0)} after pooled pages released; as received ${mib(reading(full, 'model')?.rss ?? 0)}); target 150 MB ${result.target.met ? 'met' : 'missed'}`,
    (paths) => formatWithBiome(REPO_ROOT, paths),
  );
  process.stdout.write(`recorded ${path}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${BENCHMARK}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
