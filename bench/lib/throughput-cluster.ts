/**
 * The cluster the throughput benchmark runs on: a control plane of its own (etcd, kube-apiserver,
 * kube-controller-manager from the local harness, test/cluster/cluster.ts) in its own state
 * directory, never the shared test cluster; API-only GPU nodes with the slices our plugin would
 * publish (test/helpers/api-only-nodes.ts); and three scheduling processes started here:
 *
 *   - `kube-scheduler-stock`: kube-scheduler with its defaults and schedulerName
 *     {@link SCHEDULER_NAMES}.a, no extender;
 *   - `kube-scheduler-phalanx`: kube-scheduler configured as deploy/examples/scheduler-config.yaml
 *     ships (extender weight, percentageOfNodesToScore, nodeCacheCapable, ignorable, timeout),
 *     schedulerName {@link SCHEDULER_NAMES}.b, its extender entry pointing at
 *   - `phalanx-scheduler`: `phalanx scheduler` (extender + planner) on a local port.
 *
 * Both kube-schedulers get the same client QPS and burst (kube-scheduler's default of 50/100
 * would cap both at the same rate, two writes per DRA pod, and hide what the extender costs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { SliceLayout } from '../../src/driver/slices.ts';
import { KubeClient } from '../../src/kube/rest.ts';
import {
  type ClusterState,
  destroyCluster,
  LocalCluster,
  REPO_ROOT,
} from '../../test/cluster/cluster.ts';
import { waitFor } from '../../test/cluster/processes.ts';
import {
  type ApiOnlyNode,
  pluginLayout,
  postApiOnlyNodes,
  topologyNodes,
} from '../../test/helpers/api-only-nodes.ts';
import { freePort } from '../../test/helpers/service-account.ts';
import type { Variant } from './throughput-stats.ts';

export const DEFAULT_BENCH_STATE_DIR = '/tmp/phalanx-bench-cluster';
export const EXAMPLE_SCHEDULER_CONFIG = join(
  REPO_ROOT,
  'deploy',
  'examples',
  'scheduler-config.yaml',
);
export const NAMESPACE = 'phalanx-bench';
export const CLAIM_TEMPLATE = 'one-gpu';
export const DEVICE_CLASS = 'gpu.phalanx.dev';
export const PROFILE = 'sxm8-80g';

export const SCHEDULER_NAMES: Readonly<Record<Variant, string>> = {
  a: 'bench-stock',
  b: 'bench-phalanx',
};
export const PROCESS_NAMES: Readonly<Record<Variant | 'extender', string>> = {
  a: 'kube-scheduler-stock',
  b: 'kube-scheduler-phalanx',
  extender: 'phalanx-scheduler',
};

/** Nodes per rack and racks per block of the benchmark's topology. */
export const NODE_SHAPE = { nodesPerRack: 16, racksPerBlock: 4 } as const;

/** `n` API-only node names and labels, 16 per rack, 4 racks per block (the last block partial). */
export function benchNodes(n: number): ApiOnlyNode[] {
  const perBlock = NODE_SHAPE.nodesPerRack * NODE_SHAPE.racksPerBlock;
  const blocks = Math.ceil(n / perBlock);
  return topologyNodes('tp', { blocks, ...NODE_SHAPE }, { 'phalanx.dev/gpu-node': 'true' }).slice(
    0,
    n,
  );
}

export interface ClientLimits {
  readonly qps: number;
  readonly burst: number;
}

/** The stock scheduler's configuration: kube-scheduler defaults, one profile of its own. */
export function stockSchedulerConfig(kubeconfig: string, limits: ClientLimits): string {
  return stringify({
    apiVersion: 'kubescheduler.config.k8s.io/v1',
    kind: 'KubeSchedulerConfiguration',
    clientConnection: { kubeconfig, ...limits },
    leaderElection: { leaderElect: false },
    profiles: [{ schedulerName: SCHEDULER_NAMES.a }],
  });
}

interface ExampleConfig {
  clientConnection?: Record<string, unknown>;
  extenders?: { urlPrefix?: string }[];
  [key: string]: unknown;
}

/**
 * The shipped example (`exampleYaml`) as this benchmark runs it: the same extender entry with its
 * urlPrefix pointed at `extenderOrigin` (path kept), our kubeconfig and client limits, no leader
 * election, one profile named {@link SCHEDULER_NAMES}.b. Everything else stays as shipped.
 */
export function phalanxSchedulerConfig(
  exampleYaml: string,
  kubeconfig: string,
  limits: ClientLimits,
  extenderOrigin: string,
  percentageOfNodesToScore?: number,
): { yaml: string; pathPrefix: string } {
  const example = parse(exampleYaml) as ExampleConfig;
  const extenders = example.extenders ?? [];
  const first = extenders[0];
  if (extenders.length !== 1 || first?.urlPrefix === undefined)
    throw new Error(
      `${EXAMPLE_SCHEDULER_CONFIG} must have exactly one extender with a urlPrefix; the benchmark points it at the local phalanx scheduler`,
    );
  const pathPrefix = new URL(first.urlPrefix).pathname.replace(/\/$/, '');
  const config = {
    ...example,
    clientConnection: { ...example.clientConnection, kubeconfig, ...limits },
    leaderElection: { leaderElect: false },
    profiles: [{ schedulerName: SCHEDULER_NAMES.b }],
    extenders: [{ ...first, urlPrefix: `${extenderOrigin}${pathPrefix}` }],
    ...(percentageOfNodesToScore === undefined ? {} : { percentageOfNodesToScore }),
  };
  return { yaml: stringify(config), pathPrefix };
}

/**
 * The slice layout of the API-only nodes: `whole-gpus` (8 devices per sxm8-80g node, what the
 * plugin publishes with --slice-layout=whole-gpus) or `plugin` (the plugin's default for the
 * server: on 1.35+ the split layout, 8 GPUs + 144 partitions with shared counters per node).
 */
export type BenchLayout = 'whole-gpus' | 'plugin';

export interface BenchClusterOptions {
  readonly stateDir: string;
  readonly nodes: number;
  readonly layout: BenchLayout;
  readonly limits: ClientLimits;
  /** kube-controller-manager's --kube-api-qps/burst (it turns templates into claims). */
  readonly controllerLimits: ClientLimits;
  /** Overrides the example's percentageOfNodesToScore for variant b (undefined: as shipped). */
  readonly percentageOfNodesToScore?: number;
  readonly progress: (line: string) => void;
}

export interface BenchCluster {
  readonly harness: LocalCluster;
  readonly state: ClusterState;
  readonly kube: KubeClient;
  readonly slices: number;
  readonly layout: SliceLayout;
  readonly extenderPort: number;
  readonly extenderMetricsPort: number;
  /** The two kube-scheduler configurations, as started. */
  readonly configs: Readonly<Record<Variant, string>>;
}

/** Starts the control plane (no scheduler, no kubelets) in a fresh state directory. */
async function controlPlane(o: BenchClusterOptions): Promise<LocalCluster> {
  await destroyCluster(o.stateDir);
  const harness = new LocalCluster({
    stateDir: o.stateDir,
    extender: false,
    scheduler: false,
    controllerManagerArgs: [
      `--kube-api-qps=${o.controllerLimits.qps}`,
      `--kube-api-burst=${o.controllerLimits.burst}`,
    ],
  });
  return harness;
}

async function prepareNamespace(kube: KubeClient): Promise<void> {
  await kube.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
  });
  await kube.request(
    'POST',
    `/apis/resource.k8s.io/v1/namespaces/${NAMESPACE}/resourceclaimtemplates`,
    {
      body: {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceClaimTemplate',
        metadata: { name: CLAIM_TEMPLATE, namespace: NAMESPACE },
        spec: {
          spec: {
            devices: {
              requests: [{ name: 'gpu', exactly: { deviceClassName: DEVICE_CLASS, count: 1 } }],
            },
          },
        },
      },
    },
  );
  // Pods are admitted only once the namespace's default service account exists.
  await waitFor(
    `service account default in ${NAMESPACE}`,
    async () => {
      await kube.request('GET', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/default`);
      return true;
    },
    60_000,
    250,
  );
}

async function startExtender(
  harness: LocalCluster,
  state: ClusterState,
  port: number,
  metricsPort: number,
  pathPrefix: string,
): Promise<void> {
  harness.supervisor.start({
    name: PROCESS_NAMES.extender,
    command: join(REPO_ROOT, 'node_modules', '.bin', 'node'),
    args: [
      join(REPO_ROOT, 'src', 'cmd', 'phalanx.ts'),
      'scheduler',
      `--kubeconfig=${state.kubeconfig}`,
      `--extender-address=127.0.0.1:${port}`,
      `--url-prefix=${pathPrefix}`,
      `--metrics-address=127.0.0.1:${metricsPort}`,
      '--v=1',
    ],
  });
  await harness.supervisor.waitWhileAlive(
    PROCESS_NAMES.extender,
    'phalanx scheduler extender ready',
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok,
    120_000,
    250,
  );
}

/** Brings the whole benchmark cluster up; the caller stops it with {@link stopBenchCluster}. */
export async function startBenchCluster(o: BenchClusterOptions): Promise<BenchCluster> {
  const harness = await controlPlane(o);
  o.progress(`control plane in ${o.stateDir} (Kubernetes ${harness.version})`);
  const state = await harness.up([]);
  const kube = KubeClient.fromOptions({ kubeconfig: state.kubeconfig, userAgent: 'phalanx-bench' });
  const layout = o.layout === 'plugin' ? pluginLayout(state) : o.layout;
  const slices = await postApiOnlyNodes(kube, state, benchNodes(o.nodes), PROFILE, {
    concurrency: 8,
    layout,
  });
  o.progress(`${o.nodes} API-only ${PROFILE} nodes, ${slices} ResourceSlices (${layout} layout)`);
  await prepareNamespace(kube);
  const extenderPort = await freePort();
  const extenderMetricsPort = await freePort();
  const b = phalanxSchedulerConfig(
    readFileSync(EXAMPLE_SCHEDULER_CONFIG, 'utf8'),
    harness.schedulerKubeconfig,
    o.limits,
    `http://127.0.0.1:${extenderPort}`,
    o.percentageOfNodesToScore,
  );
  await startExtender(harness, state, extenderPort, extenderMetricsPort, b.pathPrefix);
  const a = stockSchedulerConfig(harness.schedulerKubeconfig, o.limits);
  await harness.startKubeScheduler(PROCESS_NAMES.a, a);
  await harness.startKubeScheduler(PROCESS_NAMES.b, b.yaml);
  o.progress('kube-scheduler (stock), kube-scheduler (with extender) and phalanx scheduler up');
  return {
    harness,
    state,
    kube,
    slices,
    layout,
    extenderPort,
    extenderMetricsPort,
    configs: { a, b: b.yaml },
  };
}

/** Stops every process of the benchmark cluster and removes its state directory. */
export async function stopBenchCluster(stateDir: string): Promise<void> {
  await destroyCluster(stateDir);
}

/** CPU seconds (user + system) from the text of /proc/<pid>/stat, at `ticksPerSecond`. */
export function cpuSecondsFromStat(stat: string, ticksPerSecond = 100): number {
  // The command name (field 2) is in parentheses and may hold spaces; fields count from after it.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error('not a /proc/<pid>/stat line: utime and stime are missing');
  return (utime + stime) / ticksPerSecond;
}

/** CPU seconds each named process of the cluster has used so far (absent when not running). */
export function processCpuSeconds(harness: LocalCluster): Record<string, number> {
  const out: Record<string, number> = {};
  for (const record of harness.supervisor.records()) {
    try {
      out[record.name] = cpuSecondsFromStat(readFileSync(`/proc/${record.pid}/stat`, 'utf8'));
    } catch {
      // The process is gone or this is not Linux: nothing to report for it.
    }
  }
  return out;
}
