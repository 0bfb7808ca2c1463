/**
 * `npm run bench:throughput`: end-to-end scheduling throughput of DRA pods on a real control plane,
 * with (a) the stock kube-scheduler alone and (b) kube-scheduler with the Phalanx extender
 * configured as deploy/examples/scheduler-config.yaml ships it, in the same run on the same
 * cluster (bench/lib/throughput-cluster.ts says what runs where).
 *
 * Every pod asks for one whole GPU through a ResourceClaimTemplate (DeviceClass gpu.phalanx.dev);
 * the nodes are API-only sxm8-80g nodes in blocks and racks. Rounds alternate a, b, a, b … so that
 * drift on the shared machine hits both. A round creates N pods (many creates in flight, so the
 * creation rate is not what is measured), watches them until every one has spec.nodeName, then
 * deletes them and waits until their claims are gone (deallocated and removed). pods/s is N over
 * first create sent → last pod seen bound; bind latency is create sent → bound, per pod.
 *
 * Run it under the machine-wide integration lock (it needs the CPU to itself):
 *   flock /tmp/phalanx-integration.lock npm run bench:throughput
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiListWatch, Informer, RESOURCES } from '../src/kube/informer.ts';
import type { KubeClient } from '../src/kube/rest.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { waitFor } from '../test/cluster/processes.ts';
import { API_ONLY_NODE_TOLERATIONS } from '../test/helpers/api-only-nodes.ts';
import { intFlag } from './lib/args.ts';
import { type MachineInfo, machineInfo, shortHostName } from './lib/machine.ts';
import {
  describeInput,
  formatWithBiome,
  pathsInside,
  type ResultEnvelope,
  resultEnvelope,
  writeResult,
} from './lib/record.ts';
import { roundForReport, roundSummary, type Summary, summarize } from './lib/stats.ts';
import { formatMs, formatTable, markdownTable } from './lib/table.ts';
import {
  type BenchCluster,
  type BenchLayout,
  CLAIM_TEMPLATE,
  type ClientLimits,
  DEFAULT_BENCH_STATE_DIR,
  NAMESPACE,
  NODE_SHAPE,
  PROCESS_NAMES,
  PROFILE,
  processCpuSeconds,
  SCHEDULER_NAMES,
  startBenchCluster,
  stopBenchCluster,
} from './lib/throughput-cluster.ts';
import {
  type HistogramReading,
  histogramDelta,
  histogramQuantile,
  measureRound,
  type PlannedRound,
  pairedRatios,
  parseHistogram,
  type RoundMeasurement,
  roundPlan,
  throughputRatio,
  type Variant,
  type VariantResult,
  variantResult,
} from './lib/throughput-stats.ts';

const BENCHMARK = 'throughput';
const REPO_ROOT = join(import.meta.dirname, '..');
export const TARGET_RATIO = 0.9;
const EXTENDER_HISTOGRAM = 'phalanx_extender_request_duration_seconds';

export interface ThroughputOptions {
  readonly nodes: number;
  readonly layout: BenchLayout;
  readonly pods: number;
  readonly rounds: number;
  readonly warmup: number;
  readonly concurrency: number;
  readonly limits: ClientLimits;
  readonly controllerLimits: ClientLimits;
  readonly stateDir: string;
  readonly out: string;
  readonly record: boolean;
  readonly keepCluster: boolean;
  readonly roundTimeoutS: number;
  /** Variant b's percentageOfNodesToScore instead of the example's (`--percentage-of-nodes-to-score`). */
  readonly percentageOfNodesToScore?: number;
}

export const DEFAULTS = {
  nodes: 256,
  pods: 1000,
  rounds: 3,
  warmup: 50,
  concurrency: 32,
  qps: 1000,
  roundTimeoutS: 600,
} as const;

/** `--quick`: the smallest run that still has ≥ 200 nodes and one round of each variant. */
export const QUICK = { nodes: 200, pods: 200, rounds: 1, warmup: 20 } as const;

const USAGE = `usage: npm run bench:throughput -- [flags]
  --nodes N          API-only ${PROFILE} GPU nodes (default ${DEFAULTS.nodes}; at least 200 for the issue's figure)
  --layout L         whole-gpus (8 devices per node; default) or plugin (the plugin's default for the
                     server: on 1.35+ 8 GPUs + 144 partitions with shared counters, far slower to allocate)
  --pods N           pods per round, one GPU each (default ${DEFAULTS.pods})
  --rounds N         measured rounds per variant, alternating a, b, a, b … (default ${DEFAULTS.rounds})
  --warmup N         pods of one unmeasured round per variant first (default ${DEFAULTS.warmup}; 0: none)
  --concurrency N    pod creates in flight (default ${DEFAULTS.concurrency})
  --qps N            client QPS of both kube-schedulers (burst 2×; default ${DEFAULTS.qps}) and of the controller manager
  --round-timeout S  give up on a round after S seconds (default ${DEFAULTS.roundTimeoutS})
  --percentage-of-nodes-to-score N  variant b's percentageOfNodesToScore instead of the example's
  --state-dir DIR    the benchmark cluster's state (default ${DEFAULT_BENCH_STATE_DIR}; removed at the end)
  --keep-cluster     leave the cluster running at the end (stop it with: rm after killing its pids.json)
  --quick            --nodes ${QUICK.nodes} --pods ${QUICK.pods} --rounds ${QUICK.rounds} --warmup ${QUICK.warmup}
  --out DIR          result directory (default bench/results)
  --no-record        print only
Run it under the integration lock: flock /tmp/phalanx-integration.lock npm run bench:throughput
`;

function layoutFlag(value: string | undefined): BenchLayout {
  if (value === undefined || value === 'whole-gpus') return 'whole-gpus';
  if (value === 'plugin') return 'plugin';
  throw new Error(`--layout ${JSON.stringify(value)} is unknown; use whole-gpus or plugin`);
}

/** Parses the flags; `--quick` sets the small sizes, explicit flags still win. */
export function parseThroughputArgs(argv: readonly string[]): ThroughputOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      nodes: { type: 'string' },
      layout: { type: 'string' },
      pods: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      qps: { type: 'string' },
      'round-timeout': { type: 'string' },
      'percentage-of-nodes-to-score': { type: 'string' },
      'state-dir': { type: 'string' },
      'keep-cluster': { type: 'boolean' },
      quick: { type: 'boolean' },
      out: { type: 'string' },
      'no-record': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const base = values.quick === true ? { ...DEFAULTS, ...QUICK } : DEFAULTS;
  const qps = intFlag('qps', values.qps, base.qps, 1);
  return {
    nodes: intFlag('nodes', values.nodes, base.nodes, 1),
    layout: layoutFlag(values.layout),
    pods: intFlag('pods', values.pods, base.pods, 1),
    rounds: intFlag('rounds', values.rounds, base.rounds, 1),
    warmup: intFlag('warmup', values.warmup, base.warmup, 0),
    concurrency: intFlag('concurrency', values.concurrency, base.concurrency, 1),
    limits: { qps, burst: 2 * qps },
    controllerLimits: { qps, burst: 2 * qps },
    roundTimeoutS: intFlag('round-timeout', values['round-timeout'], base.roundTimeoutS, 1),
    stateDir: values['state-dir'] ?? DEFAULT_BENCH_STATE_DIR,
    out: values.out ?? join(REPO_ROOT, 'bench', 'results'),
    record: values['no-record'] !== true,
    keepCluster: values['keep-cluster'] === true,
    ...(values['percentage-of-nodes-to-score'] === undefined
      ? {}
      : {
          percentageOfNodesToScore: intFlag(
            'percentage-of-nodes-to-score',
            values['percentage-of-nodes-to-score'],
            0,
            0,
          ),
        }),
  };
}

// ---- pods -------------------------------------------------------------------------------------

interface PodView {
  metadata?: { name?: string; namespace?: string };
  spec?: { nodeName?: string };
}

/** A pod asking for one whole GPU through the benchmark's claim template. */
export function benchPod(name: string, schedulerName: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { 'phalanx.dev/bench': BENCHMARK } },
    spec: {
      schedulerName,
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      tolerations: API_ONLY_NODE_TOLERATIONS,
      resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: CLAIM_TEMPLATE }],
      containers: [
        {
          name: 'work',
          image: 'registry.example.com/bench/sleep:1',
          resources: { claims: [{ name: 'gpu' }] },
        },
      ],
    },
  };
}

/** Seen-bound times of the namespace's pods, from one watch kept for the whole run. */
class BindWatch {
  readonly bound = new Map<string, number>();
  readonly #informer: Informer<PodView & { metadata?: { name?: string } }>;

  constructor(kube: KubeClient) {
    this.#informer = new Informer(
      new ApiListWatch(kube, RESOURCES.pods, { namespace: NAMESPACE }),
      { logger: silentLogger() },
    );
    this.#informer.onChange(({ type, object }) => {
      const name = object.metadata?.name ?? '';
      if (type === 'deleted' || (object.spec?.nodeName ?? '') === '' || this.bound.has(name))
        return;
      this.bound.set(name, performance.now());
    });
  }

  async start(): Promise<void> {
    this.#informer.start();
    await this.#informer.synced;
  }

  count(names: readonly string[]): number {
    return names.reduce((n, name) => n + (this.bound.has(name) ? 1 : 0), 0);
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }
}

type CreateTimes = Map<string, { sentMs: number; answeredMs: number }>;

async function createPods(
  kube: KubeClient,
  names: readonly string[],
  schedulerName: string,
  concurrency: number,
): Promise<CreateTimes> {
  const times: CreateTimes = new Map();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let name = names[next++]; name !== undefined; name = names[next++]) {
      const sentMs = performance.now();
      await kube.request('POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
        body: benchPod(name, schedulerName),
      });
      times.set(name, { sentMs, answeredMs: performance.now() });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return times;
}

interface ListCount {
  items?: unknown[];
}

/** Deletes every pod of the namespace at once and waits until they and their claims are gone. */
async function cleanUp(kube: KubeClient): Promise<number> {
  const started = performance.now();
  await kube.request('DELETE', `/api/v1/namespaces/${NAMESPACE}/pods`, {
    query: { gracePeriodSeconds: '0' },
  });
  await waitFor(
    `pods and ResourceClaims in ${NAMESPACE} deleted (claims deallocated)`,
    async () => {
      const pods = await kube.request<ListCount>('GET', `/api/v1/namespaces/${NAMESPACE}/pods`);
      if ((pods.items?.length ?? 0) > 0) return false;
      const claims = await kube.request<ListCount>(
        'GET',
        `/apis/resource.k8s.io/v1/namespaces/${NAMESPACE}/resourceclaims`,
      );
      return (claims.items?.length ?? 0) === 0;
    },
    300_000,
    250,
  );
  return performance.now() - started;
}

// ---- rounds -----------------------------------------------------------------------------------

export interface RoundRecord {
  readonly round: PlannedRound;
  readonly measurement: RoundMeasurement;
  readonly latency: Summary;
  readonly cleanupMs: number;
  /** CPU seconds each process used during the round (create → last bound). */
  readonly cpuSeconds: Readonly<Record<string, number>>;
}

interface Runner {
  readonly cluster: BenchCluster;
  readonly watch: BindWatch;
  readonly options: ThroughputOptions;
}

function cpuDelta(
  after: Readonly<Record<string, number>>,
  before: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(after))
    out[name] = roundForReport(seconds - (before[name] ?? 0));
  return out;
}

/** One round: create, wait for every pod bound, measure, delete, wait for the claims to go. */
async function runRound(
  r: Runner,
  label: string,
  variant: Variant,
  pods: number,
): Promise<{ measurement: RoundMeasurement; cleanupMs: number; cpu: Record<string, number> }> {
  const names = Array.from({ length: pods }, (_, i) => `${label}-${String(i).padStart(5, '0')}`);
  const cpuBefore = processCpuSeconds(r.cluster.harness);
  const created = await createPods(
    r.cluster.kube,
    names,
    SCHEDULER_NAMES[variant],
    r.options.concurrency,
  );
  await r.cluster.harness.supervisor.waitWhileAlive(
    PROCESS_NAMES[variant],
    `${pods} pods of ${label} bound by ${SCHEDULER_NAMES[variant]}`,
    () => r.watch.count(names) === pods,
    r.options.roundTimeoutS * 1000,
    20,
  );
  const cpu = cpuDelta(processCpuSeconds(r.cluster.harness), cpuBefore);
  const measurement = measureRound(created, r.watch.bound);
  const cleanupMs = await cleanUp(r.cluster.kube);
  for (const name of names) r.watch.bound.delete(name);
  return { measurement, cleanupMs, cpu };
}

const VARIANT_TITLES: Readonly<Record<Variant, string>> = {
  a: 'stock kube-scheduler',
  b: 'kube-scheduler + phalanx extender',
};

async function warmUp(r: Runner, progress: (line: string) => void): Promise<void> {
  if (r.options.warmup === 0) return;
  for (const variant of ['a', 'b'] as const) {
    await runRound(r, `warm-${variant}`, variant, r.options.warmup);
    progress(`warm-up ${variant} (${VARIANT_TITLES[variant]}): ${r.options.warmup} pods`);
  }
}

async function measuredRounds(r: Runner, progress: (line: string) => void): Promise<RoundRecord[]> {
  const records: RoundRecord[] = [];
  for (const round of roundPlan(r.options.rounds)) {
    const label = `r${round.index}-${round.variant}`;
    const { measurement, cleanupMs, cpu } = await runRound(r, label, round.variant, r.options.pods);
    const latency = summarize(measurement.latenciesMs);
    records.push({ round, measurement, latency, cleanupMs, cpuSeconds: cpu });
    progress(
      `round ${round.index} ${round.variant}: ${measurement.podsPerSecond.toFixed(1)} pods/s (${(measurement.elapsedMs / 1000).toFixed(1)} s, creates done in ${(measurement.createMs / 1000).toFixed(1)} s), bind p50/p99 ${formatMs(latency.p50)}/${formatMs(latency.p99)} ms; clean-up ${(cleanupMs / 1000).toFixed(1)} s`,
    );
  }
  return records;
}

// ---- extender metrics -------------------------------------------------------------------------

export interface ExtenderVerbStats {
  readonly calls: number;
  readonly meanMs: number;
  /** Estimated from the histogram buckets (linear inside a bucket). */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function scrape(port: number): Promise<string> {
  try {
    return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  } catch {
    return '';
  }
}

type Readings = Partial<Record<'filter' | 'prioritize', HistogramReading>>;

function readExtender(text: string): Readings {
  const out: Readings = {};
  for (const verb of ['filter', 'prioritize'] as const) {
    const h = parseHistogram(text, EXTENDER_HISTOGRAM, { verb });
    if (h !== undefined) out[verb] = h;
  }
  return out;
}

/** The extender's own server-side latency per verb between two scrapes. */
export function extenderStats(
  before: string,
  after: string,
): Partial<Record<'filter' | 'prioritize', ExtenderVerbStats>> {
  const b = readExtender(before);
  const a = readExtender(after);
  const out: Partial<Record<'filter' | 'prioritize', ExtenderVerbStats>> = {};
  for (const verb of ['filter', 'prioritize'] as const) {
    const end = a[verb];
    if (end === undefined) continue;
    const d = histogramDelta(end, b[verb]);
    out[verb] = {
      calls: d.count,
      meanMs: roundForReport(d.count > 0 ? (1000 * d.sum) / d.count : Number.NaN),
      p50Ms: roundForReport(1000 * histogramQuantile(d, 0.5)),
      p99Ms: roundForReport(1000 * histogramQuantile(d, 0.99)),
    };
  }
  return out;
}

// ---- report -----------------------------------------------------------------------------------

export interface ThroughputReport {
  readonly a: VariantResult;
  readonly b: VariantResult;
  readonly ratio: number;
  readonly pairedRatios: readonly number[];
}

export function report(records: readonly RoundRecord[]): ThroughputReport {
  const of = (v: Variant) => records.filter((r) => r.round.variant === v).map((r) => r.measurement);
  const a = variantResult(of('a'));
  const b = variantResult(of('b'));
  return {
    a,
    b,
    ratio: throughputRatio(a, b),
    pairedRatios: pairedRatios(a.podsPerSecond, b.podsPerSecond),
  };
}

const ROUND_COLUMNS = [
  { header: 'round' },
  { header: 'variant' },
  { header: 'pods', align: 'right' },
  { header: 'creates s', align: 'right' },
  { header: 'elapsed s', align: 'right' },
  { header: 'pods/s', align: 'right' },
  { header: 'bind p50 ms', align: 'right' },
  { header: 'bind p99 ms', align: 'right' },
] as const;

export function roundRows(records: readonly RoundRecord[]): string[][] {
  return records.map((r) => [
    String(r.round.index),
    `${r.round.variant}: ${VARIANT_TITLES[r.round.variant]}`,
    String(r.measurement.pods),
    (r.measurement.createMs / 1000).toFixed(2),
    (r.measurement.elapsedMs / 1000).toFixed(2),
    r.measurement.podsPerSecond.toFixed(1),
    formatMs(r.latency.p50),
    formatMs(r.latency.p99),
  ]);
}

export function summaryLines(t: ThroughputReport): string[] {
  const line = (v: Variant, x: VariantResult) =>
    `${v} (${VARIANT_TITLES[v]}): ${x.meanPodsPerSecond.toFixed(1)} pods/s mean (rounds ${x.podsPerSecond.map((p) => p.toFixed(1)).join(', ')}); bind latency p50 ${formatMs(x.latency.p50)} ms, p99 ${formatMs(x.latency.p99)} ms over ${x.latency.n} pods`;
  return [
    line('a', t.a),
    line('b', t.b),
    `ratio b/a: ${t.ratio.toFixed(3)} (round by round ${t.pairedRatios.map((x) => x.toFixed(3)).join(', ')}); target >= ${TARGET_RATIO}: ${t.ratio >= TARGET_RATIO ? 'met' : 'missed'}`,
  ];
}

function extenderLines(
  stats: Partial<Record<'filter' | 'prioritize', ExtenderVerbStats>>,
): string[] {
  return Object.entries(stats).map(
    ([verb, s]) =>
      `extender ${verb} (its own histogram, server side): ${s.calls} calls, mean ${formatMs(s.meanMs)} ms, p50 ~${formatMs(s.p50Ms)} ms, p99 ~${formatMs(s.p99Ms)} ms`,
  );
}

export function markdownReport(
  records: readonly RoundRecord[],
  t: ThroughputReport,
  extra: readonly string[],
  title: string,
): string {
  return [
    `# ${title}`,
    '',
    markdownTable(ROUND_COLUMNS, roundRows(records)),
    '',
    ...[...summaryLines(t), ...extra].map((l) => `- ${l}`),
    '',
  ].join('\n');
}

export function headline(o: ThroughputOptions, t: ThroughputReport): string {
  return `${o.nodes} nodes, ${o.pods} DRA pods × ${o.rounds} rounds: stock ${t.a.meanPodsPerSecond.toFixed(1)} pods/s, with extender ${t.b.meanPodsPerSecond.toFixed(1)} pods/s, ratio ${t.ratio.toFixed(3)} (target >= ${TARGET_RATIO} ${t.ratio >= TARGET_RATIO ? 'met' : 'missed'}); bind p50/p99 ms a ${formatMs(t.a.latency.p50)}/${formatMs(t.a.latency.p99)}, b ${formatMs(t.b.latency.p50)}/${formatMs(t.b.latency.p99)}`;
}

// ---- main -------------------------------------------------------------------------------------

function parameters(o: ThroughputOptions, cluster: BenchCluster): Record<string, unknown> {
  return {
    benchmark: BENCHMARK,
    nodes: o.nodes,
    nodeShape: { ...NODE_SHAPE, profile: PROFILE, kind: 'API-only (no kubelet)' },
    sliceLayout: cluster.layout,
    podsPerRound: o.pods,
    roundsPerVariant: o.rounds,
    warmupPodsPerVariant: o.warmup,
    createConcurrency: o.concurrency,
    pod: `1 container, 1 ResourceClaimTemplate (${CLAIM_TEMPLATE}: 1 device of DeviceClass gpu.phalanx.dev), tolerations for API-only nodes, no resource requests`,
    schedulerClient: o.limits,
    controllerManagerClient: o.controllerLimits,
    kubernetes: cluster.state.version,
    featureGates: cluster.state.featureGates,
    schedulerConfigs: cluster.configs,
  };
}

const NOTES = [
  'a: kube-scheduler with its defaults (adaptive percentageOfNodesToScore), no extender; b: kube-scheduler configured as deploy/examples/scheduler-config.yaml ships (its percentageOfNodesToScore, the extender entry with weight, nodeCacheCapable, ignorable, httpTimeout) calling `phalanx scheduler` on 127.0.0.1 (percentageOfNodesToScore replaced when --percentage-of-nodes-to-score is given; the config recorded under input.parameters.schedulerConfigs is the one used). Same client QPS/burst for both.',
  'Both kube-schedulers and phalanx scheduler run during every round (phalanx scheduler keeps its caches current during a rounds too; cpuSeconds per round shows what each process used).',
  'pods/s: pods of the round over first create sent → last pod seen with spec.nodeName by a watch in the benchmark process. Bind latency: create sent → seen bound. Percentiles by nearest rank, milliseconds.',
  'Pods never run (API-only nodes, no kubelet): the figure covers scheduling, claim allocation (DRA PreBind) and binding, plus the controller manager turning each template into a claim.',
  'Extender latency is its own /metrics histogram (server side, estimated from buckets) over the measured rounds.',
  'Control plane, schedulers, extender and the benchmark share this machine; see machine.loadAverage.',
];

interface Measured {
  readonly startedAt: Date;
  readonly machineAtStart: MachineInfo;
  readonly records: RoundRecord[];
  readonly extender: ReturnType<typeof extenderStats>;
  readonly cluster: BenchCluster;
}

async function measure(o: ThroughputOptions, progress: (line: string) => void): Promise<Measured> {
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  const cluster = await startBenchCluster({
    stateDir: o.stateDir,
    nodes: o.nodes,
    layout: o.layout,
    limits: o.limits,
    controllerLimits: o.controllerLimits,
    ...(o.percentageOfNodesToScore === undefined
      ? {}
      : { percentageOfNodesToScore: o.percentageOfNodesToScore }),
    progress,
  });
  const watch = new BindWatch(cluster.kube);
  await watch.start();
  const runner: Runner = { cluster, watch, options: o };
  try {
    await warmUp(runner, progress);
    const before = await scrape(cluster.extenderMetricsPort);
    const records = await measuredRounds(runner, progress);
    const after = await scrape(cluster.extenderMetricsPort);
    return { startedAt, machineAtStart, records, extender: extenderStats(before, after), cluster };
  } catch (error) {
    for (const name of Object.values(PROCESS_NAMES))
      process.stderr.write(`---- ${name}\n${cluster.harness.supervisor.tail(name, 15)}\n`);
    throw error;
  } finally {
    await watch.stop();
  }
}

function resultOf(
  o: ThroughputOptions,
  m: Measured,
  t: ThroughputReport,
): ResultEnvelope & Record<string, unknown> {
  const variant = (v: Variant, x: VariantResult) => ({
    title: VARIANT_TITLES[v],
    schedulerName: SCHEDULER_NAMES[v],
    meanPodsPerSecond: roundForReport(x.meanPodsPerSecond),
    podsPerSecond: x.podsPerSecond.map(roundForReport),
    latency: roundSummary(x.latency),
  });
  return {
    ...resultEnvelope({
      benchmark: BENCHMARK,
      root: REPO_ROOT,
      startedAt: m.startedAt,
      machineAtStart: m.machineAtStart,
      packages: ['fastify', '@kubernetes/client-node'],
      input: describeInput(
        `${o.nodes} API-only ${PROFILE} nodes (${m.cluster.layout} slices), ${o.pods} one-GPU DRA pods per round, ${o.rounds} rounds per variant alternating a/b, on a local control plane built from source`,
        parameters(o, m.cluster),
        null,
      ),
      notes: NOTES,
    }),
    kubernetes: { version: m.cluster.state.version, featureGates: m.cluster.state.featureGates },
    variants: { a: variant('a', t.a), b: variant('b', t.b) },
    ratio: roundForReport(t.ratio),
    pairedRatios: t.pairedRatios.map(roundForReport),
    target: { ratio: TARGET_RATIO, met: t.ratio >= TARGET_RATIO },
    rounds: m.records.map((r) => ({
      index: r.round.index,
      variant: r.round.variant,
      pods: r.measurement.pods,
      createSeconds: roundForReport(r.measurement.createMs / 1000),
      elapsedSeconds: roundForReport(r.measurement.elapsedMs / 1000),
      podsPerSecond: roundForReport(r.measurement.podsPerSecond),
      latency: roundSummary(r.latency),
      cleanupSeconds: roundForReport(r.cleanupMs / 1000),
      cpuSeconds: r.cpuSeconds,
    })),
    extender: m.extender,
  };
}

function record(o: ThroughputOptions, m: Measured, t: ThroughputReport, extra: string[]): void {
  const host = shortHostName(m.machineAtStart.hostname);
  let formatted = true;
  const path = writeResult(o.out, resultOf(o, m, t), host, headline(o, t), (paths) => {
    formatted = formatWithBiome(REPO_ROOT, paths) || pathsInside(REPO_ROOT, paths).length === 0;
  });
  const md = path.replace(/\.json$/, '.md');
  writeFileSync(
    md,
    markdownReport(
      m.records,
      t,
      extra,
      `Scheduling throughput, ${o.nodes} nodes, ${m.startedAt.toISOString()}`,
    ),
  );
  formatted =
    (formatWithBiome(REPO_ROOT, [md]) || pathsInside(REPO_ROOT, [md]).length === 0) && formatted;
  process.stdout.write(
    `recorded ${path} and ${md}${formatted ? '' : ' (not formatted: run npm run format)'}\n`,
  );
}

async function main(argv: readonly string[]): Promise<void> {
  const o = parseThroughputArgs(argv);
  if (o === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const progress = (line: string) => process.stdout.write(`  ${line}\n`);
  const machine = machineInfo();
  process.stdout.write(
    `${BENCHMARK}: ${o.nodes} nodes, ${o.pods} pods × ${o.rounds} rounds per variant (+${o.warmup} warm-up), ${o.concurrency} creates in flight, scheduler QPS ${o.limits.qps}; ${machine.cpuCount} × ${machine.cpuModel}, load ${machine.loadAverage.join(' ')}\n`,
  );
  let m: Measured | undefined;
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`${BENCHMARK}: ${signal}: stopping the benchmark cluster\n`);
    void stopBenchCluster(o.stateDir).finally(() => process.exit(130));
  };
  if (!o.keepCluster) for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, interrupted);
  try {
    m = await measure(o, progress);
  } finally {
    if (!o.keepCluster) await stopBenchCluster(o.stateDir);
  }
  const t = report(m.records);
  const extra = extenderLines(m.extender);
  process.stdout.write(
    `\n${formatTable(ROUND_COLUMNS, roundRows(m.records))}\n\n${[...summaryLines(t), ...extra].join('\n')}\n`,
  );
  if (o.record) record(o, m, t, extra);
}

if (import.meta.main)
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${BENCHMARK}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
