/**
 * `npm run bench:extender`: latency of the scheduler extender's HTTP verbs, called the way
 * kube-scheduler calls them: one pod at a time, `filter` then `prioritize` (with the nodes that
 * survived filter; skipped when at most one did, as the scheduler skips it), over one keep-alive
 * TCP connection to 127.0.0.1.
 *
 * Scenarios: 500 and 5,000 candidate nodes with `nodeCacheCapable: true` (names only), and 500
 * full v1.Node objects (`nodeCacheCapable: false`). Each is measured against the extender app
 * (`src/extender/app.ts` on `startExtenderServer`) and, interleaved call by call in the same run,
 * against a trivial fastify route that parses the same body and answers the extender's latest
 * reply (so an answer of the same size) without deciding. The ratio extender / trivial is the
 * adapter's and decider's cost over the HTTP + JSON floor.
 *
 * The decider comes from `deciderFor(nodeNames, context)` ({@link runExtenderBench}); the command
 * line uses `PassThroughDecider`. Client and servers share this process and its event loop (the
 * decider is a function, so it cannot be handed to another process); calls are sequential, so
 * they never overlap, but the client's garbage collections land in the timings. Latency runs from
 * the request's first byte written to the reply's last byte received; encoding the request and
 * decoding the reply (kube-scheduler's own work) are outside it.
 */

import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { type ExtenderDecider, PassThroughDecider } from '../src/extender/decider.ts';
import { ExtenderMetrics } from '../src/extender/metrics.ts';
import { startExtenderServer } from '../src/extender/server.ts';
import type { NodeCacheMode } from '../src/extender/wire.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { type BenchArgs, type BenchDefaults, parseBenchArgs, usage } from './lib/args.ts';
import { coreDeciderFor, corePod } from './lib/extender-core.ts';
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
import { formatMs, formatTable } from './lib/table.ts';

const BENCHMARK = 'extender';
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULTS: BenchDefaults = {
  iterations: 1000,
  concurrency: 1,
  warmup: 100,
  out: join(REPO_ROOT, 'bench', 'results'),
};
const QUICK = { iterations: 30, warmup: 5 } as const;

/**
 * The decider `npm run bench:extender` measures: the production one (CoreDecider over the
 * scheduling core, a synthetic sxm8-80g cluster with these node names) with a mix of planned gang
 * members and GPU pods outside gangs (bench/lib/extender-core.ts).
 */
const COMMAND_LINE_DECIDER = {
  name: 'CoreDecider (scheduling core)',
  deciderFor: coreDeciderFor,
  podFor: corePod,
} as const;
const PREFIX = '/scheduler';
const BODY_LIMIT_BYTES = 64 * 1024 * 1024;

// ---- scenarios and payloads -------------------------------------------------------------------

export interface ExtenderBenchScenario {
  readonly id: string;
  readonly mode: NodeCacheMode;
  readonly nodes: number;
}

export const DEFAULT_SCENARIOS: readonly ExtenderBenchScenario[] = [
  { id: 'cache-500', mode: 'cache', nodes: 500 },
  { id: 'cache-5000', mode: 'cache', nodes: 5000 },
  { id: 'full-500', mode: 'full', nodes: 500 },
];

/** `node-r03-0007`: 40 nodes per rack, as a cluster's names often carry the rack. */
export function benchNodeName(i: number): string {
  const rack = String(Math.floor(i / 40)).padStart(2, '0');
  return `node-r${rack}-${String(i).padStart(4, '0')}`;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
const uidOf = (kind: number, i: number): string => `${hex(kind, 8)}-0000-4000-8000-${hex(i, 12)}`;

/** A GPU node as the API server returns it (about 3.5 KB of JSON). */
export function benchNode(i: number): Record<string, unknown> {
  const name = benchNodeName(i);
  const rack = `r${String(Math.floor(i / 40)).padStart(2, '0')}`;
  const images = Array.from({ length: 6 }, (_, k) => ({
    names: [
      `registry.example.com/ml/trainer@sha256:${hex(k * 7919 + i, 16).repeat(4)}`,
      `registry.example.com/ml/trainer:v1.${k}`,
    ],
    sizeBytes: 1_000_000_000 + k * 12_345_678,
  }));
  const condition = (type: string, status: string) => ({
    type,
    status,
    lastHeartbeatTime: '2026-11-21T08:00:00Z',
    lastTransitionTime: '2026-11-01T00:00:00Z',
    reason: `Kubelet${type}`,
    message: `kubelet reports ${type} ${status}`,
  });
  return {
    metadata: {
      name,
      uid: uidOf(1, i),
      resourceVersion: String(100_000 + i),
      creationTimestamp: '2026-11-01T00:00:00Z',
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'gpu-8x-h100',
        'topology.kubernetes.io/region': 'region-1',
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
        'network.topology.nvidia.com/spine': `spine-${Math.floor(i / 320)}`,
        'network.topology.nvidia.com/leaf': rack,
        'nvidia.com/gpu.clique': `${uidOf(2, Math.floor(i / 18))}.${i % 18}`,
      },
      annotations: {
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: {
      podCIDR: `10.${Math.floor(i / 256) % 256}.${i % 256}.0/24`,
      providerID: `fake://${name}`,
    },
    status: {
      capacity: { cpu: '128', memory: '2113929216Ki', pods: '110', 'ephemeral-storage': '3Ti' },
      allocatable: { cpu: '126', memory: '2097152000Ki', pods: '110', 'ephemeral-storage': '3Ti' },
      conditions: [
        condition('MemoryPressure', 'False'),
        condition('DiskPressure', 'False'),
        condition('PIDPressure', 'False'),
        condition('Ready', 'True'),
      ],
      addresses: [
        { type: 'InternalIP', address: `10.0.${Math.floor(i / 256) % 256}.${i % 256}` },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: hex(i, 32),
        systemUUID: uidOf(3, i),
        bootID: uidOf(4, i),
        kernelVersion: '6.8.0-48-generic',
        osImage: 'Ubuntu 24.04.1 LTS',
        containerRuntimeVersion: 'containerd://2.1.0',
        kubeletVersion: 'v1.35.0',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images,
    },
  };
}

/** A gang member asking for GPUs through a ResourceClaimTemplate (about 1.5 KB of JSON). */
export function benchPod(i: number): Record<string, unknown> {
  const gang = `train-${Math.floor(i / 8)}`;
  return {
    metadata: {
      name: `${gang}-worker-${i % 8}`,
      namespace: 'ml',
      uid: uidOf(5, i),
      resourceVersion: String(500_000 + i),
      creationTimestamp: '2026-11-21T08:00:00Z',
      labels: {
        'app.kubernetes.io/name': 'trainer',
        'phalanx.dev/gang': gang,
        'phalanx.dev/gang-size': '8',
        'phalanx.dev/queue': 'research',
      },
      annotations: { 'phalanx.dev/topology-preferred': 'rack' },
    },
    spec: {
      schedulerName: 'phalanx',
      priority: 0,
      containers: [
        {
          name: 'trainer',
          image: 'registry.example.com/ml/trainer:v1.0',
          command: ['python', '-m', 'train', '--config', '/etc/train/config.yaml'],
          resources: {
            requests: { cpu: '16', memory: '256Gi' },
            limits: { memory: '256Gi' },
            claims: [{ name: 'gpus' }],
          },
        },
      ],
      resourceClaims: [{ name: 'gpus', resourceClaimTemplateName: 'eight-gpus' }],
      tolerations: [
        { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 300,
        },
      ],
    },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
}

/** Request bodies of one scenario, built once; only the pod changes from call to call. */
export class ScenarioPayloads {
  readonly scenario: ExtenderBenchScenario;
  readonly names: string[];
  readonly nodes: Record<string, unknown>[] | undefined;
  readonly #nodeJson: Map<string, string>;
  readonly #podFor: (i: number) => unknown;

  constructor(scenario: ExtenderBenchScenario, podFor: (i: number) => unknown) {
    this.scenario = scenario;
    this.names = Array.from({ length: scenario.nodes }, (_, i) => benchNodeName(i));
    this.nodes =
      scenario.mode === 'full'
        ? Array.from({ length: scenario.nodes }, (_, i) => benchNode(i))
        : undefined;
    this.#nodeJson = new Map(
      (this.nodes ?? []).map((n, i) => [this.names[i] ?? '', JSON.stringify(n)]),
    );
    this.#podFor = podFor;
  }

  /** ExtenderArgs for pod `i` with `names` as candidates, exactly as kube-scheduler encodes it. */
  args(i: number, names: readonly string[]): Buffer {
    const pod = JSON.stringify(this.#podFor(i));
    if (this.scenario.mode === 'cache')
      return Buffer.from(`{"Pod":${pod},"Nodes":null,"NodeNames":${JSON.stringify(names)}}`);
    const items = names.map((n) => this.#nodeJson.get(n) ?? '{}').join(',');
    return Buffer.from(
      `{"Pod":${pod},"Nodes":{"metadata":{},"items":[${items}]},"NodeNames":null}`,
    );
  }
}

/** Node names a filter reply passes, in either mode. */
export function survivorsOf(reply: unknown): string[] {
  const r = reply as { NodeNames?: unknown; Nodes?: { items?: unknown } | null };
  if (Array.isArray(r.NodeNames)) return r.NodeNames.filter((n) => typeof n === 'string');
  const items = Array.isArray(r.Nodes?.items) ? r.Nodes.items : [];
  return items.map((n) => (n as { metadata?: { name?: string } }).metadata?.name ?? '');
}

// ---- the trivial baseline ---------------------------------------------------------------------

interface ArgsBody {
  Nodes?: { items?: { metadata?: { name?: string } }[] } | null;
  NodeNames?: string[] | null;
}

const namesIn = (body: ArgsBody): string[] =>
  body.NodeNames ?? (body.Nodes?.items ?? []).map((n) => n.metadata?.name ?? '');

/**
 * The extender's latest replies, parsed. The trivial route answers with them, so its replies are
 * as large as the extender's whatever the decider decides.
 */
export interface ReplyMirror {
  filter?: unknown;
  prioritize?: unknown;
}

/**
 * fastify with its default JSON parser: parses the request, then answers the extender's latest
 * reply (or, before the first, every node passing with score 0) without deciding anything.
 */
export function trivialExtender(mirror: ReplyMirror = {}): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });
  app.post(`${PREFIX}/filter`, async (request) => {
    if (mirror.filter !== undefined) return mirror.filter;
    const body = request.body as ArgsBody;
    const full = body.NodeNames === null || body.NodeNames === undefined;
    return {
      Nodes: full ? { items: body.Nodes?.items ?? [] } : null,
      NodeNames: full ? null : body.NodeNames,
      FailedNodes: {},
      FailedAndUnresolvableNodes: {},
      Error: '',
    };
  });
  app.post(
    `${PREFIX}/prioritize`,
    async (request) =>
      mirror.prioritize ?? namesIn(request.body as ArgsBody).map((Host) => ({ Host, Score: 0 })),
  );
  return app;
}

// ---- the client -------------------------------------------------------------------------------

interface Reply {
  readonly ms: number;
  readonly body: Buffer;
}

/** One POST on a keep-alive connection; times first byte written to last byte read. */
function post(agent: http.Agent, port: number, path: string, body: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const ms = performance.now() - started;
          const reply = Buffer.concat(chunks);
          if (res.statusCode === 200) resolve({ ms, body: reply });
          else reject(new Error(`POST ${path} answered ${res.statusCode}: ${reply.toString()}`));
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A server under test, seen from the client. */
class Target {
  readonly name: string;
  readonly #port: number;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** Where this target's replies are copied for the trivial route (the extender's only). */
  readonly #mirror: ReplyMirror | undefined;
  readonly filter: number[] = [];
  readonly prioritize: number[] = [];
  readonly perPod: number[] = [];
  prioritizeSkipped = 0;
  bytes = { filterRequest: 0, filterReply: 0, prioritizeRequest: 0, prioritizeReply: 0 };

  constructor(name: string, port: number, mirror?: ReplyMirror) {
    this.name = name;
    this.#port = port;
    this.#mirror = mirror;
  }

  /** One pod's scheduling round: filter, then prioritize over the survivors when > 1. */
  async schedule(payloads: ScenarioPayloads, i: number, record: boolean): Promise<void> {
    const filterBody = payloads.args(i, payloads.names);
    const f = await post(this.#agent, this.#port, `${PREFIX}/filter`, filterBody);
    const filterReply: unknown = JSON.parse(f.body.toString('utf8'));
    if (this.#mirror !== undefined) this.#mirror.filter = filterReply;
    const survivors = survivorsOf(filterReply);
    let p: Reply | undefined;
    let prioritizeBody: Buffer | undefined;
    if (survivors.length > 1) {
      prioritizeBody = payloads.args(i, survivors);
      p = await post(this.#agent, this.#port, `${PREFIX}/prioritize`, prioritizeBody);
      if (this.#mirror !== undefined) this.#mirror.prioritize = JSON.parse(p.body.toString('utf8'));
    }
    if (!record) return;
    this.filter.push(f.ms);
    this.perPod.push(f.ms + (p?.ms ?? 0));
    if (p === undefined) this.prioritizeSkipped++;
    else this.prioritize.push(p.ms);
    this.bytes = {
      filterRequest: filterBody.length,
      filterReply: f.body.length,
      prioritizeRequest: prioritizeBody?.length ?? 0,
      prioritizeReply: p?.body.length ?? 0,
    };
  }

  close(): void {
    this.#agent.destroy();
  }
}

// ---- measuring --------------------------------------------------------------------------------

export interface TargetMeasurement {
  readonly filter: Summary;
  /** Undefined when prioritize was always skipped (filter passed at most one node). */
  readonly prioritize: Summary | undefined;
  readonly prioritizeSkipped: number;
  /** filter + prioritize of one pod. */
  readonly perPod: Summary;
  /** Body sizes of the last measured pod, in bytes. */
  readonly bytes: Target['bytes'];
}

export interface ScenarioMeasurement {
  readonly scenario: ExtenderBenchScenario;
  readonly extender: TargetMeasurement;
  readonly trivial: TargetMeasurement;
  /** extender / trivial, per pod (filter + prioritize). */
  readonly ratio: { readonly p50: number; readonly p99: number };
}

export interface DeciderContext {
  readonly mode: NodeCacheMode;
  /** The v1.Node objects in full mode, aligned with the names. */
  readonly nodes?: readonly unknown[];
}

export interface ExtenderBenchOptions {
  /** The decider under test for a cluster of these nodes. Default: PassThroughDecider. */
  readonly deciderFor?: (nodeNames: readonly string[], context: DeciderContext) => ExtenderDecider;
  /** The pod of call `i` (a v1.Pod JSON object). Default: {@link benchPod}. */
  readonly podFor?: (i: number) => unknown;
  readonly iterations: number;
  readonly warmup: number;
  readonly scenarios?: readonly ExtenderBenchScenario[];
  /** Progress lines (one per scenario). */
  readonly progress?: (line: string) => void;
}

function measured(t: Target): TargetMeasurement {
  return {
    filter: summarize(t.filter),
    prioritize: t.prioritize.length > 0 ? summarize(t.prioritize) : undefined,
    prioritizeSkipped: t.prioritizeSkipped,
    perPod: summarize(t.perPod),
    bytes: t.bytes,
  };
}

async function listenTrivial(mirror: ReplyMirror): Promise<{ app: FastifyInstance; port: number }> {
  const app = trivialExtender(mirror);
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, port: (app.server.address() as AddressInfo).port };
}

async function measureScenario(
  scenario: ExtenderBenchScenario,
  options: ExtenderBenchOptions,
): Promise<ScenarioMeasurement> {
  const payloads = new ScenarioPayloads(scenario, options.podFor ?? benchPod);
  const context: DeciderContext =
    payloads.nodes === undefined
      ? { mode: scenario.mode }
      : { mode: scenario.mode, nodes: payloads.nodes };
  const decider = (options.deciderFor ?? (() => new PassThroughDecider()))(payloads.names, context);
  const server = await startExtenderServer({
    host: '127.0.0.1',
    port: 0,
    decider,
    logger: silentLogger(),
    metrics: new ExtenderMetrics(new Registry()),
    bodyLimitBytes: BODY_LIMIT_BYTES,
    pathPrefix: PREFIX,
  });
  const mirror: ReplyMirror = {};
  const trivial = await listenTrivial(mirror);
  const targets = [
    new Target('extender', server.port, mirror),
    new Target('trivial', trivial.port),
  ];
  try {
    for (let i = 0; i < options.warmup + options.iterations; i++) {
      const record = i >= options.warmup;
      // Alternate which target goes first, so neither always runs right after the other.
      const order = i % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) await t.schedule(payloads, i, record);
    }
  } finally {
    for (const t of targets) t.close();
    await Promise.all([server.close(), trivial.app.close()]);
  }
  const [ext, triv] = targets.map(measured);
  if (ext === undefined || triv === undefined) throw new Error('no targets measured');
  return {
    scenario,
    extender: ext,
    trivial: triv,
    ratio: {
      p50: roundForReport(ext.perPod.p50 / triv.perPod.p50),
      p99: roundForReport(ext.perPod.p99 / triv.perPod.p99),
    },
  };
}

/**
 * Measures every scenario, one after another. Plug the production decider in through
 * `deciderFor`; everything else (payloads, client, trivial baseline) stays the same.
 */
export async function runExtenderBench(
  options: ExtenderBenchOptions,
): Promise<ScenarioMeasurement[]> {
  const out: ScenarioMeasurement[] = [];
  for (const scenario of options.scenarios ?? DEFAULT_SCENARIOS) {
    options.progress?.(
      `${scenario.id}: ${scenario.nodes} nodes, ${scenario.mode === 'cache' ? 'names only' : 'full v1.Node objects'}`,
    );
    out.push(await measureScenario(scenario, options));
  }
  return out;
}

// ---- report -----------------------------------------------------------------------------------

const COLUMNS = [
  { header: 'scenario' },
  { header: 'server' },
  { header: 'call' },
  { header: 'n', align: 'right' },
  { header: 'p50 ms', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'max ms', align: 'right' },
  { header: 'mean ms', align: 'right' },
] as const;

function targetRows(id: string, server: string, t: TargetMeasurement): string[][] {
  const row = (call: string, s: Summary) => [
    id,
    server,
    call,
    String(s.n),
    formatMs(s.p50),
    formatMs(s.p99),
    formatMs(s.max),
    formatMs(s.mean),
  ];
  const rows = [row('filter', t.filter)];
  if (t.prioritize !== undefined) rows.push(row('prioritize', t.prioritize));
  rows.push(row('filter+prioritize per pod', t.perPod));
  return rows;
}

export function tableRows(results: readonly ScenarioMeasurement[]): string[][] {
  return results.flatMap((r) => [
    ...targetRows(r.scenario.id, 'extender', r.extender),
    ...targetRows(r.scenario.id, 'trivial', r.trivial),
  ]);
}

function ratioLines(results: readonly ScenarioMeasurement[]): string[] {
  return results.map((r) => {
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    const b = r.extender.bytes;
    return `${r.scenario.id}: extender / trivial per pod p50 ${r.ratio.p50.toFixed(2)}×, p99 ${r.ratio.p99.toFixed(2)}×; filter request ${kb(b.filterRequest)}, reply ${kb(b.filterReply)}; prioritize skipped ${r.extender.prioritizeSkipped}×`;
  });
}

export function markdownReport(results: readonly ScenarioMeasurement[], title: string): string {
  const head = COLUMNS.map((c) => c.header);
  const rule = COLUMNS.map((c) => ('align' in c ? '---:' : '---'));
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    `# ${title}`,
    '',
    line(head),
    line(rule),
    ...tableRows(results).map(line),
    '',
    ...ratioLines(results).map((l) => `- ${l}`),
    '',
  ].join('\n');
}

function headline(results: readonly ScenarioMeasurement[]): string {
  return results
    .map(
      (r) =>
        `${r.scenario.id} per pod p50/p99 ${formatMs(r.extender.perPod.p50)}/${formatMs(r.extender.perPod.p99)} ms (${r.ratio.p50.toFixed(2)}× trivial)`,
    )
    .join('; ');
}

// ---- main -------------------------------------------------------------------------------------

/** Removes `--quick` (few iterations, never recorded) from argv. */
export function takeQuickFlag(argv: readonly string[]): { quick: boolean; rest: string[] } {
  const rest = argv.filter((a) => a !== '--quick');
  return { quick: rest.length !== argv.length, rest };
}

function parameters(args: BenchArgs, decider: string): Record<string, unknown> {
  return {
    benchmark: BENCHMARK,
    decider,
    iterations: args.iterations,
    warmup: args.warmup,
    scenarios: DEFAULT_SCENARIOS,
    pod: 'corePod(i): benchPod(i) (1 container, an 8-GPU ResourceClaimTemplate, a new name and UID per call); even calls without gang labels, odd calls a planned gang member',
    node: 'benchNode(i): v1.Node with 9 labels, 4 conditions, 6 images (~3.5 KB)',
    calls:
      'filter, then prioritize over the survivors when more than one; sequential; one keep-alive connection per server',
    baseline:
      'fastify route with the default JSON parser returning a same-size answer, interleaved call by call',
  };
}

const NOTES = [
  'Client and both servers share one process and event loop; calls never overlap.',
  'Latency: first request byte written to last reply byte read over TCP on 127.0.0.1; request encoding and reply decoding (kube-scheduler work) excluded.',
  'Percentiles by nearest rank; times in milliseconds.',
];

interface Run {
  readonly startedAt: Date;
  readonly machineAtStart: MachineInfo;
  readonly results: ScenarioMeasurement[];
}

function resultOf(r: Run, args: BenchArgs): ResultEnvelope & Record<string, unknown> {
  const round = (t: TargetMeasurement) => ({
    ...t,
    filter: roundSummary(t.filter),
    prioritize: t.prioritize === undefined ? null : roundSummary(t.prioritize),
    perPod: roundSummary(t.perPod),
  });
  return {
    ...resultEnvelope({
      benchmark: BENCHMARK,
      root: REPO_ROOT,
      startedAt: r.startedAt,
      machineAtStart: r.machineAtStart,
      packages: ['fastify', 'prom-client', 'pino'],
      input: describeInput(
        'kube-scheduler-shaped filter + prioritize calls against the extender and a trivial fastify route',
        parameters(args, COMMAND_LINE_DECIDER.name),
      ),
      notes: NOTES,
    }),
    wire: 'k8s.io/kube-scheduler/extender/v1',
    scenarios: r.results.map((s) => ({
      ...s,
      extender: round(s.extender),
      trivial: round(s.trivial),
    })),
  };
}

async function main(): Promise<void> {
  const { quick, rest } = takeQuickFlag(process.argv.slice(2));
  const parsed = parseBenchArgs(rest, DEFAULTS);
  if (parsed.help) {
    process.stdout.write(
      `${usage('npm run bench:extender --', DEFAULTS)}\n  --quick          ${QUICK.iterations} iterations after ${QUICK.warmup} warm-up, nothing recorded (a smoke run)\n  (--concurrency is ignored: kube-scheduler calls an extender one pod at a time)\n`,
    );
    return;
  }
  const args: BenchArgs = quick ? { ...parsed, ...QUICK, record: false } : parsed;
  const startedAt = new Date();
  const machineAtStart = machineInfo();
  process.stdout.write(
    `${BENCHMARK}: ${COMMAND_LINE_DECIDER.name}, ${args.iterations} pods per scenario after ${args.warmup} warm-up; ${machineAtStart.cpuCount} × ${machineAtStart.cpuModel}, load ${machineAtStart.loadAverage.join(' ')}\n`,
  );
  const results = await runExtenderBench({
    deciderFor: COMMAND_LINE_DECIDER.deciderFor,
    podFor: COMMAND_LINE_DECIDER.podFor,
    iterations: args.iterations,
    warmup: args.warmup,
    progress: (line) => process.stdout.write(`  ${line}\n`),
  });
  process.stdout.write(
    `\n${formatTable(COLUMNS, tableRows(results))}\n\n${ratioLines(results).join('\n')}\n`,
  );
  if (!args.record) return;
  const run: Run = { startedAt, machineAtStart, results };
  const host = shortHostName(machineAtStart.hostname);
  let formatted = true;
  const path = writeResult(args.out, resultOf(run, args), host, headline(results), (paths) => {
    formatted = formatWithBiome(REPO_ROOT, paths) || pathsInside(REPO_ROOT, paths).length === 0;
  });
  const md = path.replace(/\.json$/, '.md');
  writeFileSync(md, markdownReport(results, `Extender latency, ${startedAt.toISOString()}`));
  formatted =
    (formatWithBiome(REPO_ROOT, [md]) || pathsInside(REPO_ROOT, [md]).length === 0) && formatted;
  process.stdout.write(
    `recorded ${path} and ${md}${formatted ? '' : ' (not formatted: run npm run format)'}\n`,
  );
}

if (import.meta.main)
  main().catch((err: unknown) => {
    process.stderr.write(`${BENCHMARK}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
